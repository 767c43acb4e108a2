"""Every place a package names the fields of an entity: field paths (UI, targets, payloads, workflow assignments)
and CEL expressions (rules, validations, calculated fields, guards, SLA conditions, timers, `set` values)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmctl.compat.ui_diff import form_base

if TYPE_CHECKING:
    from crmctl.model.artifacts import Action, Workflow
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = ["FieldRef", "entity_of", "field_refs", "workflow_actions"]


@dataclass(frozen=True)
class FieldRef:
    """One reference. `key` matches it across versions; `label` is the semantic path of the referencing place.

    `text` is a field path (`address.city`) or, when `cel`, an expression; `is_key` marks a path that is a
    mapping key in its document (the field of a `set` action) rather than a value.
    """

    key: tuple[str, ...]
    label: str
    entity: str | None
    text: str
    cel: bool
    doc: str
    json_path: JsonPath
    is_key: bool = False


def entity_of(pkg: Package, explicit: str | None) -> str | None:
    """The entity an artifact reads: the explicit one, else the package's only entity."""
    if explicit:
        return explicit
    entities = pkg.schema.entities if pkg.schema else {}
    return next(iter(entities)) if len(entities) == 1 else None


def field_refs(pkg: Package) -> list[FieldRef]:
    return [*_schema(pkg), *_rules(pkg), *_validations(pkg), *_ui(pkg), *_workflows(pkg), *_events(pkg)]


def _schema(pkg: Package) -> Iterator[FieldRef]:
    for ename, entity in (pkg.schema.entities if pkg.schema else {}).items():
        for fname, fdef in entity.fields.items():
            if fdef.type == "calculated":
                yield FieldRef(
                    ("calculated", ename, fname),
                    f"{ename}.{fname}",
                    ename,
                    fdef.expression,
                    True,
                    "schema",
                    ("entities", ename, "fields", fname, "expression"),
                )


def _rules(pkg: Package) -> Iterator[FieldRef]:
    for i, rule in enumerate(pkg.rules.rules if pkg.rules else []):
        ent = entity_of(pkg, rule.entity)
        label = f"rule:{rule.id}"
        if rule.scope == "field" and rule.target:
            yield FieldRef(
                ("rule", rule.id, "target"),
                f"{label} (target)",
                ent,
                rule.target,
                False,
                "rules",
                ("rules", i, "target"),
            )
        for prop in ("when", "expression"):
            expr = getattr(rule, prop)
            if expr:
                yield FieldRef(("rule", rule.id, prop), label, ent, expr, True, "rules", ("rules", i, prop))


def _validations(pkg: Package) -> Iterator[FieldRef]:
    for i, val in enumerate(pkg.validations.validations if pkg.validations else []):
        ent = entity_of(pkg, val.entity)
        label = f"validation:{val.id}"
        if val.field:
            yield FieldRef(
                ("validation", val.id, "field"),
                label,
                ent,
                val.field,
                False,
                "validations",
                ("validations", i, "field"),
            )
        for prop in ("expression", "when"):
            expr = getattr(val, prop)
            if expr:
                yield FieldRef(
                    ("validation", val.id, prop), label, ent, expr, True, "validations", ("validations", i, prop)
                )


def _ui(pkg: Package) -> Iterator[FieldRef]:
    for fname, form in (pkg.ui.all_forms() if pkg.ui else {}).items():
        ent = entity_of(pkg, form.entity)
        base = form_base(fname)
        for i, step in enumerate(form.steps):
            label = f"ui:{fname}.step:{step.id}"
            for k, fld in enumerate(step.fields):
                yield FieldRef(
                    ("ui", fname, step.id, fld), label, ent, fld, False, "ui", (*base, "steps", i, "fields", k)
                )
            for g, group in enumerate(step.groups):
                for k, fld in enumerate(group.fields):
                    yield FieldRef(
                        ("ui", fname, step.id, group.id, fld),
                        f"{label}.group:{group.id}",
                        ent,
                        fld,
                        False,
                        "ui",
                        (*base, "steps", i, "groups", g, "fields", k),
                    )
        for role, view in form.roles.items():
            for prop in ("hidden", "readOnly"):
                for k, fld in enumerate(getattr(view, prop)):
                    yield FieldRef(
                        ("ui", fname, role, prop, fld),
                        f"ui:{fname}.role:{role}",
                        ent,
                        fld,
                        False,
                        "ui",
                        (*base, "roles", role, prop, k),
                    )


def workflow_actions(wf: Workflow) -> Iterator[tuple[Action, tuple[str | int, ...], str]]:
    """Every action of a workflow (`Workflow.actions`): the action, its path inside the workflow, and a label
    saying whose it is (an open parenthesis the caller closes)."""
    for action, where, owner in wf.actions():
        what = "action" if owner.startswith("transition:") else "SLA onSuccess"
        yield action, where, f"workflow:{wf.id}.{owner} ({what} {int(where[-1]) + 1}"


def _workflows(pkg: Package) -> Iterator[FieldRef]:
    for w, wf in enumerate(pkg.workflow.workflows if pkg.workflow else []):
        ent = entity_of(pkg, wf.entity)
        base: JsonPath = ("workflows", w)
        for k, tr in enumerate(wf.transitions):
            label = f"workflow:{wf.id}.transition:{tr.id}"
            if tr.guard:
                yield FieldRef(
                    ("guard", wf.id, tr.id), label, ent, tr.guard, True, "workflow", (*base, "transitions", k, "guard")
                )
            if tr.approval is not None and tr.approval.approverField:
                yield FieldRef(
                    ("approver", wf.id, tr.id),
                    f"{label} (approverField)",
                    ent,
                    tr.approval.approverField,
                    False,
                    "workflow",
                    (*base, "transitions", k, "approval", "approverField"),
                )
        for state, sdef in wf.states.items():
            label = f"workflow:{wf.id}.state:{state}"
            if sdef.sla is not None:
                for prop in ("start", "pause", "stop", "reset"):
                    expr = getattr(sdef.sla, prop)
                    if expr:
                        yield FieldRef(
                            ("sla", wf.id, state, prop),
                            f"{label} (SLA {prop})",
                            ent,
                            expr,
                            True,
                            "workflow",
                            (*base, "states", state, "sla", prop),
                        )
            if sdef.task is not None and sdef.task.assign.field:
                yield FieldRef(
                    ("assignee", wf.id, state),
                    f"{label}.task:{sdef.task.id} (assign)",
                    ent,
                    sdef.task.assign.field,
                    False,
                    "workflow",
                    (*base, "states", state, "task", "assign", "field"),
                )
        for m, timer in enumerate(wf.timers):
            if timer.at:
                yield FieldRef(
                    ("timer", wf.id, timer.id),
                    f"workflow:{wf.id}.timer:{timer.id}",
                    ent,
                    timer.at,
                    True,
                    "workflow",
                    (*base, "timers", m, "at"),
                )
        for action, where, label in workflow_actions(wf):
            for fpath, expr in action.set.items():
                jp = (*base, *where, "set", fpath)
                key = ("set", wf.id, *map(str, where), fpath)
                yield FieldRef(key, f"{label}: set)", ent, fpath, False, "workflow", jp, is_key=True)
                yield FieldRef((*key, "value"), f"{label}: value of {fpath})", ent, expr, True, "workflow", jp)


def _events(pkg: Package) -> Iterator[FieldRef]:
    for name, event in (pkg.events.events if pkg.events else {}).items():
        ent = entity_of(pkg, event.entity)
        for k, fld in enumerate(event.payload):
            yield FieldRef(
                ("event", name, fld), f"event:{name} payload", ent, fld, False, "events", ("events", name, "payload", k)
            )
