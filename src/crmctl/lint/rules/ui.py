"""UI rules (UI2xx): ui.yaml's structure; forms, steps, groups and role views refer to real entities and fields."""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.context import LintContext
from crmctl.lint.structure import StructuralRule
from crmctl.lint.walk import forms
from crmctl.model.artifacts import Form
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.source import JsonPath

__all__ = ["RULES"]


class UI200(StructuralRule):
    code = "UI200"
    name = "ui-structure"
    summary = "ui.yaml does not match the UI JSON Schema."
    bad = "steps: [{fields: [email]}]      # no id"
    good = "steps: [{id: contact, fields: [email]}]"


def _field_refs(form: Form, base: JsonPath) -> Iterator[tuple[str, JsonPath, str]]:
    """(field path, json path, semantic path) for every field a form mentions."""
    for s, step in enumerate(form.steps):
        for f, fpath in enumerate(step.fields):
            yield fpath, (*base, "steps", s, "fields", f), f"step:{step.id}"
        for g, group in enumerate(step.groups):
            for f, fpath in enumerate(group.fields):
                yield fpath, (*base, "steps", s, "groups", g, "fields", f), f"step:{step.id}/group:{group.id}"
    for role, view in form.roles.items():
        for attr in ("hidden", "readOnly"):
            for f, fpath in enumerate(getattr(view, attr)):
                yield fpath, (*base, "roles", role, attr, f), f"role:{role}/{attr}"


class UI201(LintRule):
    code = "UI201"
    name = "ui-unknown-entity"
    summary = "A form names an entity the schema does not define, or omits it while the schema has several."
    why = "The form cannot be bound to records; nothing it shows or edits can be resolved."
    bad = "entity: Laed"
    good = "entity: Lead"
    fix = "Set `entity` to an entity of schema.yaml (it may be omitted only with a single entity)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for name, form, base in forms(ctx):
            problem = ctx.entity_problem(form.entity)
            if problem:
                where = (*base, "entity") if form.entity is not None else base
                yield ctx.finding(self, f"form {name}: {problem}", "ui", where, f"ui:{name}")


class UI202(LintRule):
    code = "UI202"
    name = "ui-unknown-field"
    summary = "A step, group or role view lists a field the entity does not have."
    why = "The runtime cannot render or protect a field that does not exist; the step shows a hole."
    bad = "fields: [email, phnoe]"
    good = "fields: [email, phone]"
    fix = "Use a field of the form's entity (object members as `address.city`)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for name, form, base in forms(ctx):
            entity = ctx.resolve_entity(form.entity)
            if entity is None:
                continue
            for fpath, where, semantic in _field_refs(form, base):
                if ctx.field_def(entity, fpath) is None:
                    yield ctx.finding(
                        self,
                        f"form {name}, {semantic}: {entity} has no field {fpath!r}",
                        "ui",
                        where,
                        f"ui:{name}/{semantic}/{fpath}",
                    )


class UI203(LintRule):
    code = "UI203"
    name = "duplicate-step-id"
    summary = "Two steps of one form share an id."
    why = "Rules, `goto` and labels address steps by id; a duplicate makes them ambiguous."
    bad = "steps: [{id: contact, ...}, {id: contact, ...}]"
    good = "steps: [{id: contact, ...}, {id: company, ...}]"
    fix = "Give every step of the form a distinct id."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for name, form, base in forms(ctx):
            seen: set[str] = set()
            for s, step in enumerate(form.steps):
                if step.id in seen:
                    yield ctx.finding(
                        self,
                        f"form {name}: step id {step.id!r} is used twice",
                        "ui",
                        (*base, "steps", s, "id"),
                        f"ui:{name}/step:{step.id}",
                    )
                seen.add(step.id)


class UI204(LintRule):
    code = "UI204"
    name = "duplicate-group-id"
    summary = "Two groups (components) of one form share an id."
    why = "Component-scoped rules target groups by id; a duplicate makes the target ambiguous."
    bad = "groups: [{id: address, ...}, {id: address, ...}]"
    good = "groups: [{id: billing, ...}, {id: shipping, ...}]"
    fix = "Give every group of the form a distinct id."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for name, form, base in forms(ctx):
            seen: set[str] = set()
            for s, step in enumerate(form.steps):
                for g, group in enumerate(step.groups):
                    if group.id in seen:
                        yield ctx.finding(
                            self,
                            f"form {name}: group id {group.id!r} is used twice",
                            "ui",
                            (*base, "steps", s, "groups", g, "id"),
                            f"ui:{name}/group:{group.id}",
                        )
                    seen.add(group.id)


class UI205(LintRule):
    code = "UI205"
    name = "empty-step"
    summary = "A step shows no fields and no groups and is not a summary step."
    why = "People would see an empty page in the middle of the form."
    bad = "- {id: extra}"
    good = "- {id: extra, fields: [notes]}    # or mode: summary"
    fix = "Add fields or groups, set `mode: summary`, or remove the step."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for name, form, base in forms(ctx):
            for s, step in enumerate(form.steps):
                if not step.fields and not step.groups and step.mode != "summary":
                    yield ctx.finding(
                        self,
                        f"form {name}: step {step.id!r} has no fields",
                        "ui",
                        (*base, "steps", s),
                        f"ui:{name}/step:{step.id}",
                    )


class UI206(LintRule):
    code = "UI206"
    name = "field-never-shown"
    severity = Severity.INFO
    summary = "A field of an entity with a form is not shown on any step."
    why = "Nobody can enter the value through the UI; often a field added to the schema but forgotten in ui.yaml."
    bad = "schema: {phone, email}; ui steps: [email]"
    good = "ui steps: [email, phone]"
    fix = "Show the field on a step, or make it calculated if it is never entered."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        shown: dict[str, set[str]] = {}
        for _, form, base in forms(ctx):
            entity = ctx.resolve_entity(form.entity)
            if entity is None:
                continue
            bucket = shown.setdefault(entity, set())
            for fpath, where, _semantic in _field_refs(form, base):
                if "roles" not in where:
                    bucket.add(fpath.split(".")[0])
        for entity, names in shown.items():
            for fname, fdef in ctx.entities[entity].fields.items():
                if fname not in names and fdef.type != "calculated" and not fdef.deprecated:
                    yield ctx.finding(
                        self,
                        f"{entity}.{fname} is not shown on any step",
                        "schema",
                        ("entities", entity, "fields", fname),
                        f"{entity}.{fname}",
                        key=True,
                    )


class UI207(LintRule):
    code = "UI207"
    name = "field-shown-twice"
    severity = Severity.WARNING
    summary = "A field appears more than once in the steps of one form."
    why = "Two inputs for one value confuse people and make rules that hide the field hide only one of them."
    bad = "steps: [{id: a, fields: [email]}, {id: b, fields: [email]}]"
    good = "steps: [{id: a, fields: [email]}, {id: b, fields: [phone]}]"
    fix = "Keep the field on one step (use a summary step to review values)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for name, form, base in forms(ctx):
            seen: set[str] = set()
            summary_steps = {s for s, step in enumerate(form.steps) if step.mode == "summary"}
            for fpath, where, semantic in _field_refs(form, base):
                if where[len(base)] != "steps" or where[len(base) + 1] in summary_steps:
                    continue
                if fpath in seen:
                    yield ctx.finding(
                        self,
                        f"form {name}: field {fpath!r} is shown again in {semantic}",
                        "ui",
                        where,
                        f"ui:{name}/{semantic}/{fpath}",
                    )
                seen.add(fpath)


RULES: list[type[LintRule]] = [UI200, UI201, UI202, UI203, UI204, UI205, UI206, UI207]
