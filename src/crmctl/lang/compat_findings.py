"""Compatibility as findings: the changes of a diff against a baseline that harm stored records or their readers,
as diagnostics at the place in the new files where each change was made (an editor shows them as you type)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmctl.compat.kinds import ChangeClass
from crmctl.model.diagnostics import Diagnostic, Location, Severity

if TYPE_CHECKING:
    from crmctl.compat.classify import DiffResult

__all__ = ["compat_findings"]

_SEVERITY = {ChangeClass.BREAKING: Severity.ERROR, ChangeClass.DATA_DEPENDENT: Severity.WARNING}


def compat_findings(result: DiffResult, baseline: str) -> list[Diagnostic]:
    """A finding per breaking (error) or data-dependent (warning) change of `result.new` against `result.old`,
    which came from `baseline` (e.g. `git:main`). A change is placed where it was made in the new files; a
    removal where the removed thing was (the nearest surviving key, e.g. the entity's `fields:`); a change with no
    place in the new files on package.yaml."""
    new = result.new
    files = {doc.file for doc in new.docs.values()}
    manifest = new.docs["package"].file if "package" in new.docs else new.label
    old_version = result.old.manifest.version if result.old.manifest else "?"
    found: list[Diagnostic] = []
    for change in result.changes:
        severity = _SEVERITY.get(change.cls)
        if severity is None:
            continue
        where = change.new or change.anchor
        location = where if where is not None and where.file in files else Location(manifest)
        message = f"{change.message}: {change.cls.value} against {baseline} ({old_version}); {change.reason}"
        found.append(
            Diagnostic(
                change.code,
                message,
                location,
                severity=severity,
                path=change.path,
                fix=change.hint,
                package=new.name,
                extra={"class": change.cls.value, "kind": change.kind.id, "baseline": baseline},
            )
        )
    return sorted(found, key=Diagnostic.sort_key)
