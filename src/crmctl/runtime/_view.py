"""The form session's presentation effects: the difference between the view before and after an event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmctl.runtime._session_index import SessionIndex

__all__ = ["diff_view"]


def diff_view(
    index: SessionIndex,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    value_changes: Iterable[str],
    echo: tuple[str, Any] | None,
) -> list[dict[str, Any]]:
    """The effects that take a client from view `old` to view `new` (`old` empty: present everything); only the
    values at `value_changes` can differ, and `echo` is what the client sent for the field it changed."""
    model = index.model
    out: list[dict[str, Any]] = []
    if new["locale"] != old.get("locale"):  # the first event says how to write: locale and text direction
        out.append({"effect": "locale", **new["locale"]})
    if new["step"] != old.get("step") and new["step"] is not None:
        step = model.step(new["step"])
        assert step is not None
        out.append(
            {
                "effect": "step",
                "step": step.id,
                "label": index.step_label(step.id),
                "mode": step.mode,
                "fields": [p for p in model.step_fields[step.id] if p in new["visible"]],
            }
        )
    # Most events change little: a part equal to its old self (one C-level comparison) yields no effects.
    old_steps = old.get("steps", {})
    for step_id, shown in new["steps"].items() if new["steps"] != old_steps else ():
        if old_steps.get(step_id, True) != shown:
            out.append({"effect": "show" if shown else "hide", "step": step_id})
    old_visible = old.get("visible", {})
    for path, shown in new["visible"].items() if new["visible"] != old_visible else ():
        if old_visible.get(path) != shown:
            out.append(
                {"effect": "show", "field": path, "label": index.label(path)}
                if shown
                else {"effect": "hide", "field": path}
            )
    if not old:
        out.extend({"effect": "readonly", "field": p} for p in new["readonly"])
    old_required = old.get("required", {})
    if new["required"] != old_required:
        out.extend(
            {"effect": "required", "field": path, "value": new["required"].get(path, False)}
            for path in new["visible"]
            if new["required"].get(path, False) != old_required.get(path, False)
        )
    old_options = old.get("options", {})
    for path, values in new["options"].items() if new["options"] != old_options else ():
        if old_options.get(path) != values:
            out.append(
                {
                    "effect": "options",
                    "field": path,
                    "values": values,
                    "labels": [index.picklist(path, v) for v in values],
                }
            )
    old_values = old.get("values", {})
    new_values = new["values"]
    for path in value_changes:  # only the fields this event wrote can differ
        before, after = old_values.get(path), new_values.get(path)
        if echo is not None and echo[0] == path:
            before = echo[1]  # the client shows what it sent: tell it when the field ended up otherwise
        if before == after and type(before) is type(after):
            continue
        effect: dict[str, Any] = {"effect": "set", "field": path, "value": after}
        if after is not None:
            effect["display"] = index.display(after, path)
        out.append(effect)
    old_messages = old.get("messages", {})
    if new["messages"] == old_messages and new["errors"] == old.get("errors", {}):
        return out
    for key, item in new["messages"].items():
        if old_messages.get(key) != item:
            out.append({"effect": "message", **item})
    for key, item in old_messages.items():
        if key not in new["messages"]:
            out.append({"effect": "clear", "field": item["field"], "code": item["code"]})
    old_errors = old.get("errors", {})
    for expr_id, detail in new["errors"].items():
        if old_errors.get(expr_id) != detail:
            out.append(
                {"effect": "error", "rule": expr_id, "message": index.message("crmctl.ruleError", {"detail": detail})}
            )
    return out
