"""The compiled form of one entity of one package version: what the form session and record engines run.

`FormModel.build` resolves everything a session needs once per (package digest, entity, form): the flattened
field paths, the steps and groups in display order, the role views, the rules grouped by trigger in their
evaluation order, the calculated fields in dependency order and the validations, with every CEL expression
compiled through `runtime.cel`. Building is pure; models are cached by digest like the CEL programs.

Evaluation order (stable, documented in docs/runtime.md): among the rules run by one trigger, lower `priority`
first, then the order of `rules.yaml`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.aliases import Renamer, renamer_for
from crmctl.model.canonical import digest as package_digest
from crmctl.model.cel import CONTEXT_VARIABLES, referenced_names
from crmctl.model.defaults import DefaultFiller, filler_for
from crmctl.model.fields import CalculatedField, EnumField, ObjectField
from crmctl.runtime.cel import CompiledProgram, entity_expressions
from crmctl.runtime.values import FieldValues

if TYPE_CHECKING:
    from crmctl.model.artifacts import Form, Rule, Step, Validation
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package

__all__ = ["CompiledRule", "FormError", "FormModel", "bind_value", "field_at", "set_field"]


class FormError(UserError):
    """The package has no usable form for the entity asked for (no schema, no UI, unknown entity or form)."""


@dataclass(frozen=True)
class CompiledRule:
    """One rule with the ids of its compiled expressions and the names it reads (fields and context)."""

    rule: Rule
    order: int
    when_id: str | None
    expr_id: str | None
    reads: frozenset[str]

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.rule.priority, self.order)


@dataclass(frozen=True)
class CalcField:
    name: str
    expr_id: str
    reads: frozenset[str]
    field_def: CalculatedField


_CACHE: OrderedDict[tuple[str, str, str], FormModel] = OrderedDict()
_CACHE_SIZE = 32


@dataclass(frozen=True)
class FormModel:
    package: Package
    digest: str
    entity: str
    form_name: str
    form: Form
    program: CompiledProgram
    fields: Mapping[str, FieldDef]  # every field path of the entity, nested object fields as `obj.sub`
    steps: tuple[Step, ...]
    step_fields: Mapping[str, tuple[str, ...]]  # step id → field paths shown on it, groups included, in order
    group_fields: Mapping[str, tuple[str, ...]]
    field_group: Mapping[str, str]
    field_step: Mapping[str, str]
    form_fields: tuple[str, ...]  # every field on the form, in display order
    rules: Mapping[str, tuple[CompiledRule, ...]]  # trigger → rules in evaluation order
    calculated: tuple[CalcField, ...]  # in dependency order
    validations: tuple[Validation, ...]
    validation_reads: Mapping[str, frozenset[str]]
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)  # former top-level name → field
    fill: DefaultFiller | None = None  # the entity's field defaults (None: it declares none)
    rename: Renamer | None = None  # the entity's former field names at any depth (None: it has none)

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> str:
        return self.package.manifest.version if self.package.manifest else "0.0.0"

    @classmethod
    def build(cls, package: Package, entity: str | None = None, form: str | None = None) -> FormModel:
        """The form of `entity` (default: the UI's entity, or the schema's only entity) named `form`."""
        if package.schema is None or not package.schema.entities:
            raise FormError(f"{package.name}: the package has no schema")
        forms = package.ui.all_forms() if package.ui else {}
        form_name, chosen = _choose_form(package, forms, entity, form)
        entity = entity or chosen.entity or _single_entity(package)
        if entity not in package.schema.entities:
            known = ", ".join(sorted(package.schema.entities))
            raise FormError(f"{package.name}: no entity {entity!r}; the schema has {known}")
        return _cached(package, entity, form_name, chosen)

    @classmethod
    def for_entity(cls, package: Package, entity: str) -> FormModel:
        """The model of `entity` without any UI form (the record engine's view): rules, calculated fields and
        validations, no steps. Works for entities no form edits; cached like `build`."""
        from crmctl.model.artifacts import Form

        if package.schema is None or entity not in package.schema.entities:
            known = ", ".join(sorted(package.schema.entities)) if package.schema else "no schema"
            raise FormError(f"{package.name}: no entity {entity!r}; the schema has {known}")
        return _cached(package, entity, "", Form.model_construct(entity=entity, steps=[], roles={}))

    @functools.cached_property
    def values(self) -> Mapping[str, FieldValues]:
        """How values of each field path are checked and stored (`values.FieldValues`), built once per model."""
        return {path: FieldValues(fdef) for path, fdef in self.fields.items()}

    def step(self, step_id: str) -> Step | None:
        for step in self.steps:
            if step.id == step_id:
                return step
        return None

    def rules_for(self, trigger: str) -> tuple[CompiledRule, ...]:
        return self.rules.get(trigger, ())

    def rule_step(self, rule: CompiledRule) -> str | None:
        """The step a rule belongs to (its target's step), None for global and workflow rules."""
        target = rule.rule.target or ""
        scope = rule.rule.scope
        if scope == "step":
            return target
        if scope == "field":
            return self.field_step.get(target)
        if scope == "component":
            fields = self.group_fields.get(target, ())
            return self.field_step.get(fields[0]) if fields else None
        return None

    def options(self, path: str) -> list[str] | None:
        fdef = self.fields.get(path)
        return list(fdef.values) if isinstance(fdef, EnumField) else None


def _cached(package: Package, entity: str, form_name: str, form: Form) -> FormModel:
    """The model of (package digest, entity, form name), built on the first request (least recently used out)."""
    digest = package_digest(package)
    key = (digest, entity, form_name)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    model = _build(package, digest, entity, form_name, form)
    _CACHE[key] = model
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return model


def _single_entity(package: Package) -> str:
    assert package.schema is not None
    if package.ui and package.ui.entity:
        return package.ui.entity
    if len(package.schema.entities) == 1:
        return next(iter(package.schema.entities))
    raise FormError(f"{package.name}: the form does not say which entity it edits; pass --entity")


def _choose_form(package: Package, forms: Mapping[str, Form], entity: str | None, form: str | None) -> tuple[str, Form]:
    if not forms:
        raise FormError(f"{package.name}: the package has no UI (ui.yaml with steps); nothing to simulate")
    if form is not None:
        if form not in forms:
            raise FormError(f"{package.name}: no form {form!r}; the UI has {', '.join(sorted(forms))}")
        return form, forms[form]
    if entity is None:
        name = "default" if "default" in forms else sorted(forms)[0]
        return name, forms[name]
    matching = [name for name, f in sorted(forms.items()) if (f.entity or (package.ui and package.ui.entity)) == entity]
    if not matching and len(forms) == 1 and next(iter(forms.values())).entity is None:
        matching = list(forms)
    if not matching:
        raise FormError(f"{package.name}: no form edits entity {entity!r}")
    return matching[0], forms[matching[0]]


def _flatten(fields: Mapping[str, FieldDef], prefix: str = "") -> Iterator[tuple[str, FieldDef]]:
    for name, fdef in fields.items():
        path = f"{prefix}{name}"
        yield path, fdef
        if isinstance(fdef, ObjectField):
            yield from _flatten(fdef.fields, f"{path}.")


def _reads(source: str) -> frozenset[str]:
    return frozenset(referenced_names(source))


def _build(package: Package, digest: str, entity: str, form_name: str, form: Form) -> FormModel:
    assert package.schema is not None
    entity_def = package.schema.entities[entity]
    expressions = entity_expressions(package, entity)
    program = CompiledProgram.build(digest, package.schema, entity, expressions)
    fields = dict(_flatten(entity_def.fields))
    step_fields: dict[str, tuple[str, ...]] = {}
    group_fields: dict[str, tuple[str, ...]] = {}
    field_group: dict[str, str] = {}
    field_step: dict[str, str] = {}
    for step in form.steps:
        shown = list(step.fields)
        for group in step.groups:
            group_fields[group.id] = tuple(group.fields)
            shown.extend(group.fields)
            for path in group.fields:
                field_group.setdefault(path, group.id)
        step_fields[step.id] = tuple(dict.fromkeys(p for p in shown if p in fields))
        for path in step_fields[step.id]:
            field_step.setdefault(path, step.id)
    form_fields = tuple(dict.fromkeys(p for step in form.steps for p in step_fields[step.id]))
    single = len(package.schema.entities) == 1
    by_trigger: dict[str, list[CompiledRule]] = {}
    for order, rule in enumerate(package.rules.rules if package.rules else []):
        if not (rule.entity == entity or (rule.entity is None and single)):
            continue
        when_id = f"rule:{rule.id}/when" if rule.when else None
        expr_id = f"rule:{rule.id}/expression" if rule.expression else None
        reads = _reads(rule.when or "") | _reads(rule.expression or "")
        compiled = CompiledRule(rule, order, when_id, expr_id, reads)
        for trigger in rule.triggers():
            by_trigger.setdefault(trigger, []).append(compiled)
    rules = {t: tuple(sorted(rs, key=lambda r: r.sort_key)) for t, rs in by_trigger.items()}
    validations = tuple(
        v
        for v in (package.validations.validations if package.validations else [])
        if v.entity == entity or (v.entity is None and single)
    )
    own_reads = {
        v.id: _reads(v.when or "") | _reads(v.expression or "") | ({v.field.split(".")[0]} if v.field else set())
        for v in validations
    }
    by_id = {v.id: v for v in validations}

    def reads_of(check_id: str, trail: frozenset[str]) -> frozenset[str]:
        """What a validation reads; a composite also what its members read, at any depth (members are only
        evaluated inside their composite, which may come before them in the file)."""
        members = by_id[check_id].validations if by_id[check_id].type == "composite" else []
        inner = (reads_of(m, trail | {check_id}) for m in members if m in by_id and m not in trail)
        return own_reads[check_id].union(*inner)

    validation_reads = {v.id: reads_of(v.id, frozenset()) for v in validations}
    return FormModel(
        package=package,
        digest=digest,
        entity=entity,
        form_name=form_name,
        form=form,
        program=program,
        fields=fields,
        steps=tuple(form.steps),
        step_fields=step_fields,
        group_fields=group_fields,
        field_group=field_group,
        field_step=field_step,
        form_fields=form_fields,
        rules=rules,
        calculated=_calculation_order(entity_def.fields, entity),
        validations=validations,
        validation_reads=validation_reads,
        aliases={old: name for name, fdef in entity_def.fields.items() for old in fdef.aliases},
        fill=filler_for(entity_def.fields),
        rename=renamer_for(entity_def.fields),
    )


def _calculation_order(fields: Mapping[str, FieldDef], entity: str) -> tuple[CalcField, ...]:
    """Calculated fields in dependency order (inputs first), ties by name. Cycles are refused.

    Nothing here follows the order of keys in the schema: the canonical form (and so the pinned copy a replay
    runs) sorts them, and the same package must give the same effects from any copy."""
    calcs = {name: fdef for name, fdef in sorted(fields.items()) if isinstance(fdef, CalculatedField)}
    reads = {name: _reads(fdef.expression) - CONTEXT_VARIABLES.keys() for name, fdef in calcs.items()}
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " → ".join((*trail[trail.index(name) :], name))
            raise FormError(f"{entity}: calculated fields depend on each other in a cycle: {cycle}")
        state[name] = 1
        for dep in sorted(reads[name] & calcs.keys()):
            visit(dep, (*trail, name))
        state[name] = 2
        done.append(name)

    for name in calcs:
        visit(name, ())
    return tuple(
        CalcField(
            n,
            f"calc:{entity}.{n}",
            frozenset(reads[n] | (_reads(calcs[n].expression) & CONTEXT_VARIABLES.keys())),
            calcs[n],
        )
        for n in done
    )


def field_at(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted field path, or None."""
    if "." not in path:  # the common case, on the hot path of every check
        return data.get(path)
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict | Mapping):
            return None
        node = node.get(part)
    return node


def set_field(data: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with the dotted path set (None removes it; emptied objects are removed too)."""
    head, _, rest = path.partition(".")
    out = dict(data)
    if not rest:
        if value is None:
            out.pop(head, None)
        else:
            out[head] = value
        return out
    inner = out.get(head)
    updated = set_field(dict(inner) if isinstance(inner, Mapping) else {}, rest, value)
    if updated:
        out[head] = updated
    else:
        out.pop(head, None)
    return out


def bind_value(bound: dict[str, Any], path: str, cel: Any, zeros: Mapping[str, Any]) -> None:
    """Keep the CEL variables `bound` (`CompiledProgram.bind`) in step with data after `set_field(data, path, v)`,
    given `cel`, the value CEL reads for `v` (None: cleared): a member changes inside its object, a cleared field
    reads its type's zero value (or is unbound when the type has none), as binding the changed data would."""
    top, _, rest = path.partition(".")
    if rest:
        inner = bound.get(top)
        bound[top] = set_field(inner if isinstance(inner, Mapping) else {}, rest, cel)
    elif cel is not None:
        bound[top] = cel
    elif top in zeros:
        bound[top] = zeros[top]
    else:
        bound.pop(top, None)
