"""Moving a stored record to another version of its package: the changes between the two versions that break it.

A record is pinned to the version that wrote it. Moving it (`records update --package`, `workflow migrate` for an
instance's record) reads its stored values under the target version. The record engine re-validates the moved
record, but some changes keep a value valid while changing what it means: a currency amount stored in EUR read as
USD, a reference id read as an id of another entity, a number with more decimals than the new scale. So a move
is refused when a breaking or data-dependent change between the two versions hits the record, as
`crmctl diff --records` would count it (`record_probes`); the diff is computed once per pair of versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crmctl.compat.classify import diff_packages
from crmctl.compat.kinds import ChangeClass
from crmctl.compat.record_probes import PatternCompiler, Probe, plan_probes

if TYPE_CHECKING:
    from crmctl.compat.change import Change
    from crmctl.model.package import Package

__all__ = ["MoveCheck", "move_check"]

_GATED = (ChangeClass.BREAKING, ChangeClass.DATA_DEPENDENT)


class MoveCheck:
    """The record-level consequences of moving from `old` to `new` (two versions of one package)."""

    def __init__(self, old: Package, new: Package, compile_pattern: PatternCompiler | None = None) -> None:
        self.result = diff_packages(old, new)
        self._probes: list[Probe] = [
            p for p in plan_probes(self.result, compile_pattern) if p.test is not None and p.change.cls in _GATED
        ]

    def breaking(self, entity: str, data: Mapping[str, Any]) -> list[tuple[Change, str]]:
        """The changes that break a record of `entity` holding `data` (stored under the old version), each with
        the question its probe answered yes (e.g. "carry a value")."""
        return [
            (p.change, p.question) for p in self._probes if p.entity == entity and p.test is not None and p.test(data)
        ]

    def findings(self, entity: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`breaking` as the record path's findings: field, code (the change code), severity, message."""
        old_version = self.result.old.manifest.version if self.result.old.manifest else "?"
        new_version = self.result.new.manifest.version if self.result.new.manifest else "?"
        found = []
        for change, question in self.breaking(entity, data):
            field = change.path.partition(".")[2] or None
            message = (
                f"cannot move from {old_version} to {new_version}: {change.kind.id} ({change.cls.value}): "
                f"{change.message}; this record is one of those that {question}"
            )
            if change.hint:
                message += f" (hint: {change.hint})"
            found.append({"field": field, "code": change.code, "severity": "error", "message": message})
        return found


def move_check(old: Package, new: Package, entity: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The changes between two versions of a package that break a record moved from `old` to `new`, as findings:
    what `RecordService.update` refuses a move with (`crmctl records update --package`, the sandbox's records API)."""
    from crmctl.model.regex import compile_pattern

    return MoveCheck(old, new, compile_pattern).findings(entity, data)
