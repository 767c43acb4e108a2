"""Comparing UI metadata: forms, steps (by id), fields shown, layout and role views. All behavioral."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmctl.compat.change import Collector
    from crmctl.model.artifacts import Form, Step
    from crmctl.model.source import JsonPath

__all__ = ["diff_ui", "form_base", "step_fields"]


def form_base(name: str) -> JsonPath:
    """JSON path of a form inside `ui.yaml`: the top level for the single `default` form."""
    return () if name == "default" else ("forms", name)


def step_fields(step: Step) -> list[str]:
    out = list(step.fields)
    for group in step.groups:
        out.extend(group.fields)
    return out


def diff_ui(c: Collector) -> None:
    old = c.old_pkg.ui.all_forms() if c.old_pkg.ui else {}
    new = c.new_pkg.ui.all_forms() if c.new_pkg.ui else {}
    for name, form in old.items():
        if name not in new:
            c.add("form-removed", f"ui:{name}", f"form {name} was removed", old=("ui", form_base(name) or ("steps",)))
        else:
            _diff_form(c, name, form, new[name])
    for name in new:
        if name not in old:
            c.add("form-added", f"ui:{name}", f"form {name} was added", new=("ui", form_base(name) or ("steps",)))


def _diff_form(c: Collector, name: str, old: Form, new: Form) -> None:
    if old == new:
        return
    base = form_base(name)
    if old.entity != new.entity:
        c.add(
            "ui-layout-changed",
            f"ui:{name}",
            f"form {name} now edits {new.entity} instead of {old.entity}",
            old=("ui", (*base, "entity")),
            new=("ui", (*base, "entity")),
        )
    old_steps = {s.id: (i, s) for i, s in enumerate(old.steps)}
    new_steps = {s.id: (i, s) for i, s in enumerate(new.steps)}
    for sid, (i, step) in old_steps.items():
        path = f"ui:{name}.step:{sid}"
        if sid not in new_steps:
            c.add("step-removed", path, f"step {sid} was removed from form {name}", old=("ui", (*base, "steps", i)))
            continue
        j, other = new_steps[sid]
        if step != other:
            _diff_step(c, path, step, other, (*base, "steps", i), (*base, "steps", j))
    for sid, (j, _step) in new_steps.items():
        if sid not in old_steps:
            c.add(
                "step-added",
                f"ui:{name}.step:{sid}",
                f"step {sid} was added to form {name}",
                new=("ui", (*base, "steps", j)),
            )
    common_old = [s.id for s in old.steps if s.id in new_steps]
    common_new = [s.id for s in new.steps if s.id in old_steps]
    if common_old != common_new:
        c.add(
            "steps-reordered",
            f"ui:{name}",
            f"steps of form {name} were reordered: {' → '.join(common_new)}",
            old=("ui", (*base, "steps")),
            new=("ui", (*base, "steps")),
        )
    for role in sorted(set(old.roles) | set(new.roles)):
        if old.roles.get(role) != new.roles.get(role):
            c.add(
                "role-view-changed",
                f"ui:{name}.role:{role}",
                f"what role {role} sees on form {name} changed",
                old=("ui", (*base, "roles", role)) if role in old.roles else None,
                new=("ui", (*base, "roles", role)) if role in new.roles else None,
            )


def _diff_step(c: Collector, path: str, old: Step, new: Step, ojp: JsonPath, njp: JsonPath) -> None:
    old_fields, new_fields = step_fields(old), step_fields(new)
    old_set, new_set = set(old_fields), set(new_fields)
    for fld in old_fields:
        if fld not in new_set:
            c.add(
                "ui-field-removed",
                f"{path}.{fld}",
                f"field {fld} is no longer shown on step {old.id}",
                old=("ui", ojp),
                new=("ui", njp),
            )
    for fld in new_fields:
        if fld not in old_set:
            c.add("ui-field-added", f"{path}.{fld}", f"field {fld} is now shown on step {new.id}", new=("ui", njp))
    layout_old = (old.mode, old.columns, old.roles, [(g.id, g.columns) for g in old.groups])
    layout_new = (new.mode, new.columns, new.roles, [(g.id, g.columns) for g in new.groups])
    same_fields_moved = old_set == new_set and old_fields != new_fields
    if layout_old != layout_new or same_fields_moved:
        c.add("ui-layout-changed", path, f"layout of step {new.id} changed", old=("ui", ojp), new=("ui", njp))
