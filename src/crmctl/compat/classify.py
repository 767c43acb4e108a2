"""Compare two loaded packages: every change, classified, with the proposed semver bump."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmctl.compat.api_diff import diff_api
from crmctl.compat.behaviour_diff import diff_rules, diff_validations
from crmctl.compat.change import Change, Collector
from crmctl.compat.contract_diff import diff_events, diff_localization, diff_manifest
from crmctl.compat.expressions import check_expressions, expression_sites
from crmctl.compat.kinds import ChangeClass
from crmctl.compat.references import find_stale_references
from crmctl.compat.renames import follow_renames
from crmctl.compat.schema_diff import diff_schema
from crmctl.compat.semver import VersionVerdict, check_version, propose_bump
from crmctl.compat.ui_diff import diff_ui
from crmctl.compat.workflow_diff import diff_workflows
from crmctl.errors import InputError
from crmctl.model.diagnostics import Severity

if TYPE_CHECKING:
    from crmctl.model.package import Package

__all__ = ["DiffResult", "diff_packages", "require_valid"]


@dataclass
class DiffResult:
    """`changes` are the package's own (records, rules, UI, workflows, ...); `api` what they do to the records API
    (section `api`, `crmctl.compat.api_diff`). The bump and the verdict cover both; `counts` are the package's
    changes only (an API change restates one of them for clients, never in a stricter class, so counting it again
    would count one edit several times); `reported` is every change in the order reporters show them."""

    old: Package
    new: Package
    changes: list[Change]
    bump: str
    verdict: VersionVerdict
    counts: dict[str, int] = field(default_factory=dict)
    api: list[Change] = field(default_factory=list)

    def by_class(self, cls: ChangeClass) -> list[Change]:
        return [c for c in self.changes if c.cls is cls]

    @property
    def reported(self) -> list[Change]:
        return [*self.changes, *self.api]


def require_valid(pkg: Package, role: str) -> None:
    """Both sides must be structurally valid: a diff of broken YAML would classify noise."""
    errors = [d for d in pkg.diagnostics if d.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        raise InputError(
            f"{role} package {pkg.label} is not structurally valid: {first.location}: {first.message} "
            f"({first.code}){f' and {len(errors) - 1} more' if len(errors) > 1 else ''}",
            hint=f"run `crmctl lint` on the {role} package and fix its errors first",
        )


def diff_packages(old: Package, new: Package) -> DiffResult:
    require_valid(old, "old")
    require_valid(new, "new")
    # The comparers see the old package through the new version's aliases: a reference rewritten to follow a
    # rename is no change (see crmctl.compat.renames); `old` itself stays what records and locations refer to.
    collector = Collector(follow_renames(old, new), new)
    diff_manifest(collector)
    delta = diff_schema(collector)
    diff_rules(collector)
    diff_validations(collector)
    diff_ui(collector)
    diff_workflows(collector)
    diff_events(collector)
    diff_localization(collector)
    old_sites, new_sites = expression_sites(old), expression_sites(new)
    find_stale_references(collector, delta)
    check_expressions(collector, delta, old_sites, new_sites)
    api_collector = Collector(collector.old_pkg, new)
    diff_api(api_collector)
    changes, api = _ordered(collector.changes), _ordered(api_collector.changes)
    old_version = old.manifest.version if old.manifest else "0.0.0"
    new_version = new.manifest.version if new.manifest else "0.0.0"
    bump = propose_bump([*changes, *api], old_version)
    breaking = any(c.cls is ChangeClass.BREAKING for c in [*changes, *api])
    verdict = check_version(old_version, new_version, bump, breaking=breaking)
    counts = Counter(c.cls.value for c in changes)
    by_class = {cls.value: counts.get(cls.value, 0) for cls in ChangeClass}
    return DiffResult(old, new, changes, bump, verdict, by_class, api)


def _ordered(changes: list[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (-c.cls.rank, c.code, c.path, c.message))
