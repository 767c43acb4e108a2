"""Stale references: places in the NEW package that still name something the old package had and the new one has
no longer. Fields (removed, renamed without alias, or an alias dropped), entities, UI steps and groups, workflow
states, transitions, tasks and calendars, validations, events, roles, and enum values a rule still offers: each
use is reported at its own location, as `stale-reference` (breaking: it would fail, or silently do nothing, at
runtime)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmctl.compat.expressions import names_in
from crmctl.compat.field_refs import entity_of, field_refs, workflow_actions
from crmctl.compat.renames import field_renames, old_path
from crmctl.compat.ui_diff import form_base
from crmctl.model.artifacts import BUILTIN_CALENDARS
from crmctl.model.cel import Renamed, rename_references
from crmctl.model.fields import ArrayField, EnumField, ObjectField

if TYPE_CHECKING:
    from crmctl.compat.change import Collector
    from crmctl.compat.schema_diff import SchemaDelta
    from crmctl.model.artifacts import Workflow
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = ["IdUse", "find_stale_references", "id_targets", "id_uses"]


def find_stale_references(c: Collector, delta: SchemaDelta) -> None:
    _stale_fields(c, delta)
    _stale_ids(c)
    _stale_offers(c)


def _top(field_path: str) -> str:
    return field_path.split(".", 1)[0]


def _stale_fields(c: Collector, delta: SchemaDelta) -> None:
    gone = {e: names for e, names in delta.gone.items() if names}
    members = _gone_members(c.old_pkg, c.new_pkg)
    if not gone and not members:
        return
    pkg = c.new_pkg

    def report(entity: str, name: str, where: str, doc: str, jp: JsonPath, key: bool = False) -> None:
        target = delta.renamed.get((entity, name))
        hint = (
            f"use {target}, or add `aliases: [{name}]` to {entity}.{target}"
            if target
            else f"remove the reference, or keep {entity}.{name} (deprecated)"
        )
        c.add(
            "stale-reference",
            f"{entity}.{name}",
            f"{where} still references {entity}.{name}, which no longer exists",
            new=(doc, jp),
            hint=hint,
            key=key,
        )

    for ref in field_refs(pkg):
        entity = ref.entity or ""
        dead = gone.get(entity, set())
        for name in sorted(dead & (names_in(ref.text) if ref.cel else {_top(ref.text)})):
            report(entity, name, ref.label, ref.doc, ref.json_path, ref.is_key)
        for path, shown, tree in members.get(entity, ()):
            if (rename_references(ref.text, tree) != ref.text) if ref.cel else _within(ref.text, path):
                report(entity, shown, ref.label, ref.doc, ref.json_path, ref.is_key)
    for locale, loc in sorted(pkg.localization.items()):
        for section, keys in (("labels", loc.labels), ("picklists", loc.picklists)):
            for key in keys:  # once per key: a picklist's values are one reference
                ent, _, rest = key.partition(".")
                if rest and _top(rest) in gone.get(ent, ()):
                    report(
                        ent,
                        _top(rest),
                        f"localization/{locale} {section} key {key!r}",
                        f"localization/{locale}",
                        (section, key),
                    )
                    continue
                for path, shown, _ in members.get(ent, ()):
                    if rest and _within(rest, path):
                        report(
                            ent,
                            shown,
                            f"localization/{locale} {section} key {key!r}",
                            f"localization/{locale}",
                            (section, key),
                        )


def _within(field_path: str, path: str) -> bool:
    """Whether `field_path` names the field at `path` or something inside it."""
    return field_path == path or field_path.startswith(path + ".")


_GONE = "\x00"  # what a removed member is "renamed" to: a name no expression can spell


def _gone_members(old: Package, new: Package) -> dict[str, list[tuple[str, str, dict[str, Renamed]]]]:
    """Per entity, every member of an object (at any depth, inside lists too) that the old schema has and the new
    one no longer resolves, following renames through aliases: its field path as the new package would spell it
    (`address.zip`, `lines.sku`), its path as changes name it (`lines[].sku`), and a rename tree that turns a CEL
    reference to it into `_GONE`, so that `rename_references` finds the expressions reading it with the same walk
    that follows renames (members, `[...]`, comprehension variables)."""
    if old.schema is None or new.schema is None:
        return {}
    renames = field_renames(old.schema, new.schema)
    out: dict[str, list[tuple[str, str, dict[str, Renamed]]]] = {}

    def walk(
        entity: str,
        before: Mapping[str, FieldDef],
        after: Mapping[str, FieldDef],
        moved: Mapping[str, Renamed],
        trail: list[tuple[str, int]],
    ) -> None:
        for name, fdef in before.items():
            node = moved.get(name)
            now = after.get(node.name if node is not None else name)
            if now is None:
                if trail:  # a top-level field is SchemaDelta.gone's
                    tree, child = Renamed(_GONE), name
                    for parent, levels in reversed(trail):
                        tree, child = Renamed(parent, {child: tree}, levels), parent
                    path = ".".join([*(part for part, _ in trail), name])
                    shown = ".".join([*(part + "[]" * levels for part, levels in trail), name])
                    out.setdefault(entity, []).append((path, shown, {child: tree}))
                continue
            lists = 0
            while isinstance(fdef, ArrayField) and isinstance(now, ArrayField):
                fdef, now, lists = fdef.items, now.items, lists + 1
            if isinstance(fdef, ObjectField) and isinstance(now, ObjectField):
                inner = node.members if node is not None else {}
                walk(entity, fdef.fields, now.fields, inner, [*trail, (node.name if node else name, lists)])

    for ename, entity in old.schema.entities.items():
        other = new.schema.entities.get(ename)
        if other is not None:
            walk(ename, entity.fields, other.fields, renames.get(ename, {}), [])
    return out


# --- ids: everything else a package names --------------------------------------------------------------------

# target kind → the noun people read; a rule's `scope: workflow` names a transition of any workflow of its entity.
_NOUNS = {
    "entity": "entity",
    "step": "step",
    "group": "group",
    "state": "state",
    "transition": "transition",
    "entity-transition": "transition",
    "task": "task",
    "calendar": "calendar",
    "validation": "validation",
    "event": "event",
    "role": "role",
}

_Target = tuple[str, ...]


@dataclass(frozen=True)
class IdUse:
    target: _Target
    where: str
    doc: str
    json_path: JsonPath
    is_key: bool = False


def _stale_ids(c: Collector) -> None:
    before, after = id_targets(c.old_pkg), id_targets(c.new_pkg)
    for use in id_uses(c.new_pkg):
        if use.target in after or use.target not in before:
            continue  # alive, or never existed (lint reports those)
        noun = _NOUNS[use.target[0]]
        c.add(
            "stale-reference",
            before[use.target],
            f"{use.where} still references {noun} {use.target[-1]}, which no longer exists",
            new=(use.doc, use.json_path),
            key=use.is_key,
            hint=f"keep the {noun}, or remove or update the reference",
        )


def id_targets(pkg: Package) -> dict[_Target, str]:
    """Everything of `pkg` that other parts may name, with the semantic path the diff reports it under."""
    out: dict[_Target, str] = {}
    for name in pkg.schema.entities if pkg.schema else {}:
        out[("entity", name)] = name
    for role in pkg.manifest.roles if pkg.manifest else []:
        out[("role", role)] = f"role:{role}"
    for fname, form in (pkg.ui.all_forms() if pkg.ui else {}).items():
        ent = entity_of(pkg, form.entity)
        for step in form.steps:
            out.setdefault(("step", ent or "", step.id), f"ui:{fname}.step:{step.id}")
            for group in step.groups:
                out.setdefault(("group", ent or "", group.id), f"ui:{fname}.step:{step.id}.group:{group.id}")
    for val in pkg.validations.validations if pkg.validations else []:
        out.setdefault(("validation", val.id), f"validation:{val.id}")
    for name in pkg.events.events if pkg.events else {}:
        out[("event", name)] = f"event:{name}"
    for wf in pkg.workflow.workflows if pkg.workflow else []:
        base = f"workflow:{wf.id}"
        for state, sdef in wf.states.items():
            out.setdefault(("state", wf.id, state), f"{base}.state:{state}")
            if sdef.task is not None:
                out.setdefault(("task", wf.id, sdef.task.id), f"{base}.state:{state}.task:{sdef.task.id}")
        for tr in wf.transitions:
            out.setdefault(("transition", wf.id, tr.id), f"{base}.transition:{tr.id}")
            out.setdefault(("entity-transition", entity_of(pkg, wf.entity) or "", tr.id), f"{base}.transition:{tr.id}")
        for name in wf.calendars:
            out.setdefault(("calendar", wf.id, name), f"{base}.calendar:{name}")
    return out


def id_uses(pkg: Package) -> Iterator[IdUse]:
    """Every place of `pkg` that names an id (fields are `field_refs`)."""
    yield from _schema_uses(pkg)
    for i, rule in enumerate(pkg.rules.rules if pkg.rules else []):
        ent = entity_of(pkg, rule.entity) or ""
        label = f"rule:{rule.id}"
        if rule.entity:
            yield IdUse(("entity", rule.entity), f"{label} (entity)", "rules", ("rules", i, "entity"))
        kind = {"step": "step", "component": "group", "workflow": "entity-transition"}.get(rule.scope)
        if kind and rule.target:
            yield IdUse((kind, ent, rule.target), f"{label} (target)", "rules", ("rules", i, "target"))
        if rule.goto:
            yield IdUse(("step", ent, rule.goto), f"{label} (goto)", "rules", ("rules", i, "goto"))
    for i, val in enumerate(pkg.validations.validations if pkg.validations else []):
        label = f"validation:{val.id}"
        if val.entity:
            yield IdUse(("entity", val.entity), f"{label} (entity)", "validations", ("validations", i, "entity"))
        for k, member in enumerate(val.validations):
            yield IdUse(
                ("validation", member), f"{label} (member)", "validations", ("validations", i, "validations", k)
            )
    yield from _ui_uses(pkg)
    for w, wf in enumerate(pkg.workflow.workflows if pkg.workflow else []):
        yield from _workflow_uses(wf, ("workflows", w))
    for name, event in (pkg.events.events if pkg.events else {}).items():
        if event.entity:
            yield IdUse(("entity", event.entity), f"event:{name} (entity)", "events", ("events", name, "entity"))


def _schema_uses(pkg: Package) -> Iterator[IdUse]:
    def walk(path: str, fdef: FieldDef, jp: JsonPath) -> Iterator[IdUse]:
        if fdef.type == "reference":
            yield IdUse(("entity", fdef.to), f"{path} (to)", "schema", (*jp, "to"))
        elif isinstance(fdef, ObjectField):
            for name, inner in fdef.fields.items():
                yield from walk(f"{path}.{name}", inner, (*jp, "fields", name))
        elif isinstance(fdef, ArrayField):
            yield from walk(f"{path}[]", fdef.items, (*jp, "items"))

    for ename, entity in (pkg.schema.entities if pkg.schema else {}).items():
        for fname, fdef in entity.fields.items():
            yield from walk(f"{ename}.{fname}", fdef, ("entities", ename, "fields", fname))


def _ui_uses(pkg: Package) -> Iterator[IdUse]:
    if pkg.ui is None:
        return
    for fname, form in pkg.ui.all_forms().items():
        base = form_base(fname)
        if form.entity:
            yield IdUse(("entity", form.entity), f"ui:{fname} (entity)", "ui", (*base, "entity"))
        for i, step in enumerate(form.steps):
            for k, role in enumerate(step.roles):
                yield IdUse(("role", role), f"ui:{fname}.step:{step.id} (roles)", "ui", (*base, "steps", i, "roles", k))
        for role in form.roles:
            yield IdUse(("role", role), f"ui:{fname}.role:{role}", "ui", (*base, "roles", role), is_key=True)


def _workflow_uses(wf: Workflow, base: JsonPath) -> Iterator[IdUse]:
    label = f"workflow:{wf.id}"
    W = "workflow"  # the document of every use below

    def transition(tid: str, where: str, jp: JsonPath) -> IdUse:
        return IdUse(("transition", wf.id, tid), where, W, (*base, *jp))

    def role(name: str, where: str, jp: JsonPath) -> IdUse:
        return IdUse(("role", name), where, W, (*base, *jp))

    if wf.entity:
        yield IdUse(("entity", wf.entity), f"{label} (entity)", W, (*base, "entity"))
    yield IdUse(("state", wf.id, wf.initial), f"{label} (initial)", W, (*base, "initial"))
    for k, tr in enumerate(wf.transitions):
        at = f"{label}.transition:{tr.id}"
        sources = tr.sources()
        for m, src in enumerate(sources):
            where = (*base, "transitions", k, "from", *((m,) if isinstance(tr.source, list) else ()))
            yield IdUse(("state", wf.id, src), f"{at} (from)", W, where)
        yield IdUse(("state", wf.id, tr.to), f"{at} (to)", W, (*base, "transitions", k, "to"))
        for m, name in enumerate(tr.roles):
            yield role(name, f"{at} (roles)", ("transitions", k, "roles", m))
        for m, name in enumerate(tr.approval.approvers if tr.approval else []):
            yield role(name, f"{at} (approvers)", ("transitions", k, "approval", "approvers", m))
        for m, event in enumerate(tr.emits):
            yield IdUse(("event", event), f"{at} (emits)", W, (*base, "transitions", k, "emits", m))
    for action, where, owner in workflow_actions(wf):
        if action.emit:
            yield IdUse(("event", action.emit), f"{owner}: emit)", W, (*base, *where, "emit"))
        if action.task:
            yield IdUse(("task", wf.id, action.task), f"{owner}: task)", W, (*base, *where, "task"))
        if action.notify:
            yield role(action.notify, f"{owner}: notify)", (*where, "notify"))
    for state, sdef in wf.states.items():
        at = f"{label}.state:{state}"
        sla, task = sdef.sla, sdef.task
        if sla is not None:
            jp: JsonPath = ("states", state, "sla")
            if sla.calendar not in BUILTIN_CALENDARS:
                yield IdUse(("calendar", wf.id, sla.calendar), f"{at} (SLA calendar)", W, (*base, *jp, "calendar"))
            if sla.escalateTo:
                yield role(sla.escalateTo, f"{at} (SLA escalateTo)", (*jp, "escalateTo"))
            if sla.onBreach:
                yield transition(sla.onBreach, f"{at} (SLA onBreach)", (*jp, "onBreach"))
            for e, esc in enumerate(sla.escalations):
                what = f"{at} (SLA escalation {e + 1}"
                for prop in ("reassignTo", "notify"):
                    if getattr(esc, prop):
                        yield role(getattr(esc, prop), f"{what}: {prop})", (*jp, "escalations", e, prop))
                if esc.transition:
                    yield transition(esc.transition, f"{what}: transition)", (*jp, "escalations", e, "transition"))
        if task is not None:
            jp = ("states", state, "task")
            if task.assign.role:
                yield role(task.assign.role, f"{at}.task:{task.id} (assign)", (*jp, "assign", "role"))
            for decision, tid in task.outcomes.items():
                yield transition(tid, f"{at}.task:{task.id} (outcome {decision})", (*jp, "outcomes", decision))
    for m, timer in enumerate(wf.timers):
        at = f"{label}.timer:{timer.id}"
        yield IdUse(("state", wf.id, timer.state), f"{at} (state)", W, (*base, "timers", m, "state"))
        yield transition(timer.transition, f"{at} (transition)", ("timers", m, "transition"))


# --- enum values a rule still offers -------------------------------------------------------------------------


def _stale_offers(c: Collector) -> None:
    """A dependency rule offering, a calculation rule setting, or a workflow `set` action writing a value the new
    version removed from the enum."""
    from crmctl.model.cel import result_strings

    old, new = c.old_pkg, c.new_pkg
    if old.schema is None or new.schema is None:
        return
    renames = field_renames(old.schema, new.schema)
    writes: list[tuple[str, str, str, str, str, JsonPath]] = []  # (entity, target, expression, who, doc, where)
    for i, rule in enumerate(new.rules.rules if new.rules else []):
        if rule.capability in ("dependency", "calculation") and rule.target and rule.expression:
            who = f"rule:{rule.id} still {'offers' if rule.capability == 'dependency' else 'sets'}"
            writes.append(
                (
                    entity_of(new, rule.entity) or "",
                    rule.target,
                    rule.expression,
                    who,
                    "rules",
                    ("rules", i, "expression"),
                )
            )
    for w, wf in enumerate(new.workflow.workflows if new.workflow else []):
        for action, where, owner in workflow_actions(wf):
            for fpath, text in action.set.items():
                writes.append(
                    (
                        entity_of(new, wf.entity) or "",
                        fpath,
                        text,
                        f"{owner}: set) still writes",
                        "workflow",
                        ("workflows", w, *where, "set", fpath),
                    )
                )
    for ent, target, text, who, doc, jp in writes:
        now = _enum_values(new, ent, target)
        was = _enum_values(old, ent, old_path(renames.get(ent, {}), target))
        for offered in result_strings(text):
            if offered.value in was and offered.value not in now:
                c.add(
                    "stale-reference",
                    f"{ent}.{target}:{offered.value}",
                    f"{who} {offered.value!r} for {ent}.{target}, a value the new version removed",
                    new=(doc, jp),
                    key=False,
                    hint=f"remove {offered.value!r} from it, or keep it in {ent}.{target}",
                )


def _enum_values(pkg: Package, entity: str, path: str) -> frozenset[str]:
    definition = pkg.schema.entities.get(entity) if pkg.schema else None
    fdef = definition.field_def(path) if definition is not None else None
    while isinstance(fdef, ArrayField):
        fdef = fdef.items
    return frozenset(fdef.values) if isinstance(fdef, EnumField) else frozenset()
