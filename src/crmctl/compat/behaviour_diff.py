"""Comparing rules and validations, matched by id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from crmctl.model.artifacts import Rule, Validation

if TYPE_CHECKING:
    from crmctl.compat.change import Collector

__all__ = ["diff_rules", "diff_validations", "index_by_id"]

_T = TypeVar("_T", Rule, Validation)

_RULE_TARGET = ("target", "scope", "entity", "goto")
_VALIDATION_SHAPE = (
    "type",
    "field",
    "entity",
    "pattern",
    "expression",
    "provider",
    "params",
    "operator",
    "validations",
    "when",
)


def index_by_id(items: list[_T]) -> dict[str, tuple[int, _T]]:
    """`id -> (position, item)`; the first of duplicated ids wins (lint reports duplicates)."""
    out: dict[str, tuple[int, _T]] = {}
    for i, item in enumerate(items):
        out.setdefault(item.id, (i, item))
    return out


def diff_rules(c: Collector) -> None:
    old = index_by_id(c.old_pkg.rules.rules if c.old_pkg.rules else [])
    new = index_by_id(c.new_pkg.rules.rules if c.new_pkg.rules else [])
    for rid, (i, rule) in old.items():
        path = f"rule:{rid}"
        if rid not in new:
            guard = " (a guard: what it blocked is now allowed)" if rule.capability == "guard" else ""
            c.add("rule-removed", path, f"rule {rid} was removed{guard}", old=("rules", ("rules", i)))
            continue
        j, other = new[rid]
        if rule == other:
            continue

        def add(kind_id: str, message: str, prop: str, i: int = i, j: int = j, path: str = path) -> None:
            c.add(kind_id, path, message, old=("rules", ("rules", i, prop)), new=("rules", ("rules", j, prop)))

        if rule.when != other.when:
            add("rule-condition-changed", f"condition of rule {rid} changed", "when")
        if rule.expression != other.expression:
            add("rule-expression-changed", f"expression of rule {rid} changed", "expression")
        if set(rule.triggers()) != set(other.triggers()):
            add(
                "rule-trigger-changed",
                f"triggers of rule {rid} changed from {', '.join(rule.triggers())} to {', '.join(other.triggers())}",
                "trigger",
            )
        if rule.capability != other.capability:
            add(
                "rule-capability-changed",
                f"capability of rule {rid} changed from {rule.capability} to {other.capability}",
                "capability",
            )
        moved = [p for p in _RULE_TARGET if getattr(rule, p) != getattr(other, p)]
        if moved:
            add("rule-target-changed", f"{', '.join(moved)} of rule {rid} changed", moved[0])
        if rule.priority != other.priority:
            add(
                "rule-priority-changed",
                f"priority of rule {rid} changed from {rule.priority} to {other.priority}",
                "priority",
            )
        if rule.description != other.description or rule.message != other.message:
            add(
                "rule-text-changed",
                f"description or message of rule {rid} changed",
                "message" if rule.message != other.message else "description",
            )
    for rid, (j, rule) in new.items():
        if rid not in old:
            guard = " (a guard: it may block what was allowed)" if rule.capability == "guard" else ""
            c.add("rule-added", f"rule:{rid}", f"rule {rid} was added{guard}", new=("rules", ("rules", j)))


def diff_validations(c: Collector) -> None:
    old = index_by_id(c.old_pkg.validations.validations if c.old_pkg.validations else [])
    new = index_by_id(c.new_pkg.validations.validations if c.new_pkg.validations else [])
    for vid, (i, val) in old.items():
        path = f"validation:{vid}"
        if vid not in new:
            c.add(
                "validation-removed",
                path,
                f"{val.mode} validation {vid} was removed",
                old=("validations", ("validations", i)),
            )
            continue
        j, other = new[vid]
        if val != other:
            _compare_validation(c, path, vid, val, other, i, j)
    for vid, (j, val) in new.items():
        if vid not in old:
            kind_id = "hard-validation-added" if val.mode == "hard" else "soft-validation-added"
            hint = None
            if val.mode == "hard":
                hint = "check that stored records satisfy it, or add it as `mode: soft` first"
            c.add(
                kind_id,
                f"validation:{vid}",
                f"{val.mode} {val.type} validation {vid} was added",
                new=("validations", ("validations", j)),
                hint=hint,
            )


def _compare_validation(c: Collector, path: str, vid: str, old: Validation, new: Validation, i: int, j: int) -> None:
    def add(kind_id: str, message: str, prop: str, hint: str | None = None) -> None:
        c.add(
            kind_id,
            path,
            message,
            old=("validations", ("validations", i, prop)),
            new=("validations", ("validations", j, prop)),
            hint=hint,
        )

    if old.mode != new.mode:
        if new.mode == "hard":
            add(
                "validation-hardened",
                f"validation {vid} changed from soft to hard",
                "mode",
                hint="records that only warned before can no longer be saved; check stored data first",
            )
        else:
            add("validation-softened", f"validation {vid} changed from hard to soft", "mode")
    shape = [p for p in _VALIDATION_SHAPE if getattr(old, p) != getattr(new, p)]
    direction = None if shape else _range_direction(old, new)
    soft = new.mode == "soft"
    if shape:
        add(
            "soft-validation-changed" if soft else "validation-changed",
            f"{', '.join(shape)} of validation {vid} changed",
            shape[0],
        )
    elif direction == "narrowed":
        add(
            "soft-validation-changed" if soft else "validation-narrowed",
            f"range of validation {vid} narrowed",
            "min" if old.min != new.min else "max",
        )
    elif direction == "widened":
        add("validation-widened", f"range of validation {vid} widened", "min" if old.min != new.min else "max")
    elif direction == "unknown":
        add(
            "soft-validation-changed" if soft else "validation-changed",
            f"range of validation {vid} changed in both directions",
            "min",
        )
    if old.message != new.message:
        add("validation-text-changed", f"message key of validation {vid} changed", "message")


def _range_direction(old: Validation, new: Validation) -> str | None:
    """`narrowed`, `widened`, `unknown` (both or incomparable) or None when the bounds are equal."""
    moves = {_bound_move(old.min, new.min, lower=True), _bound_move(old.max, new.max, lower=False)} - {None}
    if not moves:
        return None
    return moves.pop() if len(moves) == 1 else "unknown"


def _bound_move(old: Any, new: Any, *, lower: bool) -> str | None:
    if old == new:
        return None
    if old is None:
        return "narrowed"
    if new is None:
        return "widened"
    if isinstance(old, str) != isinstance(new, str):
        return "unknown"
    tighter = new > old if lower else new < old
    return "narrowed" if tighter else "widened"
