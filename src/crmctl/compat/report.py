"""Turning a `DiffResult` into the `Report` every reporter renders: one diagnostic per change (the package's, then
the records API's, `extra.section` telling which), plus a summary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from crmctl.compat.kinds import ChangeClass
from crmctl.errors import UsageError
from crmctl.model.diagnostics import Diagnostic, Location, Report, Severity

if TYPE_CHECKING:
    from crmctl.compat.change import Change
    from crmctl.compat.classify import DiffResult
    from crmctl.compat.records_impact import RecordsImpact
    from crmctl.model.package import Package

__all__ = ["build_report", "failed", "parse_fail_on"]


def parse_fail_on(text: str) -> frozenset[ChangeClass]:
    """`data-dependent,behavioral` → classes that fail the command; `breaking` is always included."""
    classes = {ChangeClass.BREAKING}
    known = {c.value: c for c in ChangeClass}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part not in known or part == "compatible":
            allowed = ", ".join(c.value for c in ChangeClass if c is not ChangeClass.COMPATIBLE)
            raise UsageError(f"--fail-on: unknown change class {part!r}; choose from {allowed}")
        classes.add(known[part])
    return frozenset(classes)


def failed(change: Change, failing: frozenset[ChangeClass], records: RecordsImpact | None = None) -> bool:
    """Whether `change` fails the diff: its class is failing, or the stored records show it breaks some of them
    (a change the tool itself finds breaking stored data never passes with exit 0)."""
    return change.cls in failing or (records is not None and records.harms(change))


def _side(pkg: Package, with_digest: bool) -> dict[str, object]:
    from crmctl.model.canonical import digest

    side: dict[str, object] = {"name": pkg.name, "version": pkg.manifest.version if pkg.manifest else None}
    if with_digest:
        side["digest"] = digest(pkg)
    side["source"] = pkg.label
    return side


def build_report(
    result: DiffResult, failing: Iterable[ChangeClass], *, digests: bool = True, records: RecordsImpact | None = None
) -> Report:
    """The diff as a `Report`; `digests=False` skips the canonical digests, which only machine output shows.

    With `records`, each change the stored records answer carries the answer in `extra["records"]`, and the
    summary gains a `records` section; neither touches the message, so fingerprints stay stable."""
    fail = frozenset(failing)
    diagnostics: list[Diagnostic] = []
    package = result.new.name
    manifest_file = result.new.docs["package"].file if "package" in result.new.docs else result.new.label
    for change in result.reported:
        if change.cls in fail or (records is not None and records.harms(change)):
            severity = Severity.ERROR
        elif change.cls is ChangeClass.COMPATIBLE:
            severity = Severity.INFO
        else:
            severity = Severity.WARNING
        extra = {
            "class": change.cls.value,
            "kind": change.kind.id,
            "section": change.kind.section,
            "reason": change.reason,
        }
        if change.old:
            extra["old"] = str(change.old)
        if change.new:
            extra["new"] = str(change.new)
        impact = records.for_change(change) if records is not None else None
        if impact is not None:
            extra["records"] = impact.describe()
        diagnostics.append(
            Diagnostic(
                change.code,
                f"[{change.cls.value}] {change.message}",
                change.location or Location(manifest_file),
                severity=severity,
                path=change.path,
                fix=change.hint,
                package=package,
                extra=extra,
            )
        )
    sources = {doc.file: doc.text for pkg in (result.old, result.new) for doc in pkg.docs.values()}
    summary: dict[str, object] = {
        "proposed_bump": result.bump,
        "old": _side(result.old, digests),
        "new": _side(result.new, digests),
        "counts": dict(result.counts),
        "changes": len(result.changes),
        "api": {
            "changes": len(result.api),
            "counts": {cls.value: sum(1 for c in result.api if c.cls is cls) for cls in ChangeClass},
        },
        "fail_on": sorted(c.value for c in fail),
        "failed": sum(1 for c in result.changes if failed(c, fail, records)),
        "version_check": {
            "ok": result.verdict.ok,
            "expected": result.verdict.expected,
            "message": result.verdict.message,
        },
    }
    if records is not None:
        summary["records"] = records.as_dict()
        summary["failed_by_records"] = sum(1 for c in result.changes if c.cls not in fail and records.harms(c))
    return Report(command="diff", diagnostics=diagnostics, sources=sources, summary=summary)
