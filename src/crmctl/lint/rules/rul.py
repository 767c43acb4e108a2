"""Rules-artifact rules (RUL3xx): structure, CEL conditions and their cost, entities, targets by scope, capability
requirements, value types, options, ids."""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.cel_checks import ConditionNotBoolRule, CostlyExpressionRule, InvalidExpressionRule
from crmctl.lint.context import Expr, LintContext
from crmctl.lint.structure import StructuralRule
from crmctl.lint.walk import iter_actions
from crmctl.model.cel import cel_type_of
from crmctl.model.diagnostics import Diagnostic
from crmctl.model.fields import ArrayField, EnumField

__all__ = ["RULES"]


class RUL300(StructuralRule):
    code = "RUL300"
    name = "rules-structure"
    summary = "rules.yaml does not match the rules JSON Schema."
    bad = "- {id: r1, scope: field, capability: show}"
    good = "- {id: r1, scope: field, capability: visibility, trigger: onChange, target: company, when: 'x'}"


class RUL301(InvalidExpressionRule):
    code = "RUL301"
    name = "rule-expression-invalid"


class RUL302(ConditionNotBoolRule):
    code = "RUL302"
    name = "rule-condition-not-bool"


def _steps_and_groups(ctx: LintContext, entity: str | None) -> tuple[set[str], set[str]]:
    steps: set[str] = set()
    groups: set[str] = set()
    if ctx.package.ui is not None:
        for form in ctx.package.ui.all_forms().values():
            if entity is not None and ctx.resolve_entity(form.entity) not in (entity, None):
                continue
            for step in form.steps:
                steps.add(step.id)
                groups.update(g.id for g in step.groups)
    return steps, groups


def _transitions(ctx: LintContext, entity: str | None) -> set[str]:
    found: set[str] = set()
    if ctx.package.workflow is not None:
        for flow in ctx.package.workflow.workflows:
            if entity is None or ctx.resolve_entity(flow.entity) in (entity, None):
                found.update(t.id for t in flow.transitions)
    return found


class RUL303(LintRule):
    code = "RUL303"
    name = "rule-unknown-entity"
    summary = "A rule names an entity the schema does not define, or omits it while the schema has several."
    why = "The rule's expressions cannot be bound to fields, so it can never run."
    bad = "entity: Laed"
    good = "entity: Lead"
    fix = "Set `entity` to an entity of schema.yaml (it may be omitted only with a single entity)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.rules is None:
            return
        for i, rule in enumerate(ctx.package.rules.rules):
            problem = ctx.entity_problem(rule.entity)
            if problem:
                where = ("rules", i, "entity") if rule.entity is not None else ("rules", i, "id")
                yield ctx.finding(self, f"rule {rule.id}: {problem}", "rules", where, f"rule:{rule.id}")


class RUL304(LintRule):
    code = "RUL304"
    name = "rule-unknown-target"
    summary = "A rule's target does not exist for its scope (field, step, group or transition) or is missing."
    why = "A rule whose target cannot be found never takes effect, silently."
    bad = "scope: field\ntarget: compnay"
    good = "scope: field\ntarget: company"
    fix = "Point `target` at a field (scope field), step id (step), group id (component) or transition id (workflow)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.rules is None:
            return
        cache: dict[str | None, tuple[set[str], set[str], set[str]]] = {}
        for i, rule in enumerate(ctx.package.rules.rules):
            if rule.scope == "global":
                continue
            entity = ctx.resolve_entity(rule.entity)
            semantic = f"rule:{rule.id}"
            if rule.target is None:
                yield ctx.finding(
                    self, f"rule {rule.id}: scope {rule.scope} needs a target", "rules", ("rules", i, "id"), semantic
                )
                continue
            if entity not in cache:
                steps, groups = _steps_and_groups(ctx, entity)
                cache[entity] = (steps, groups, _transitions(ctx, entity))
            steps, groups, transitions = cache[entity]
            where = ("rules", i, "target")
            if rule.scope == "field":
                if entity is not None and ctx.field_def(entity, rule.target) is None:
                    yield ctx.finding(
                        self, f"rule {rule.id}: {entity} has no field {rule.target!r}", "rules", where, semantic
                    )
            elif rule.scope == "step" and rule.target not in steps:
                yield ctx.finding(self, f"rule {rule.id}: no step {rule.target!r} in ui", "rules", where, semantic)
            elif rule.scope == "component" and rule.target not in groups:
                yield ctx.finding(self, f"rule {rule.id}: no group {rule.target!r} in ui", "rules", where, semantic)
            elif rule.scope == "workflow" and rule.target not in transitions:
                yield ctx.finding(
                    self, f"rule {rule.id}: no workflow transition {rule.target!r}", "rules", where, semantic
                )


_NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "visibility": (("when",), "a `when` condition"),
    "calculation": (("expression",), "an `expression` computing the value"),
    "dependency": (("expression",), "an `expression` giving the allowed options"),
    "transition": (("goto",), "a `goto` step"),
    "guard": (("when",), "a `when` condition"),
}


class RUL305(LintRule):
    code = "RUL305"
    name = "capability-requirements"
    summary = "A rule lacks what its capability needs (when, expression, goto, or a field target)."
    why = "The runtime cannot apply a visibility rule without a condition, a calculation without a value, etc."
    bad = "capability: calculation\nscope: step\ntarget: contact"
    good = "capability: calculation\nscope: field\ntarget: total\nexpression: amount * 1.2"
    fix = (
        "visibility and guard need `when`; calculation and dependency need `expression` and scope field; "
        "transition needs `goto`."
    )

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.rules is None:
            return
        for i, rule in enumerate(ctx.package.rules.rules):
            attrs, wanted = _NEEDS[rule.capability]
            semantic = f"rule:{rule.id}"
            where = ("rules", i, "capability")
            if any(getattr(rule, a) is None for a in attrs):
                yield ctx.finding(self, f"rule {rule.id}: {rule.capability} needs {wanted}", "rules", where, semantic)
            if rule.capability in ("calculation", "dependency") and rule.scope != "field":
                yield ctx.finding(
                    self,
                    f"rule {rule.id}: {rule.capability} needs scope field and a field target (not {rule.scope})",
                    "rules",
                    ("rules", i, "scope"),
                    semantic,
                )


class RUL306(LintRule):
    code = "RUL306"
    name = "calculation-type-mismatch"
    summary = "A calculation rule's expression type differs from the type of its target field."
    why = "The computed value would be stored into a field of another type and be rejected or corrupted."
    bad = "target: total      # currency (double)\nexpression: quantity * 2    # int"
    good = "target: total\nexpression: double(quantity) * 2.0"
    fix = "Convert the value (double(x), int(x), string(x)) or target a field of the computed type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.rules is None:
            return
        for i, rule in enumerate(ctx.package.rules.rules):
            entity = ctx.resolve_entity(rule.entity)
            if rule.capability != "calculation" or entity is None or rule.expression is None or not rule.target:
                continue
            target = ctx.field_def(entity, rule.target)
            if target is None or rule.scope != "field":
                continue
            result = ctx.checker(entity).check(rule.expression)
            wanted = cel_type_of(target)
            if result.ok and result.result_type not in (wanted, "dyn"):
                yield ctx.finding(
                    self,
                    f"rule {rule.id}: expression is {result.result_type} but {entity}.{rule.target} is {wanted}",
                    "rules",
                    ("rules", i, "expression"),
                    f"rule:{rule.id}",
                )


class RUL307(LintRule):
    code = "RUL307"
    name = "dependency-not-list"
    summary = "A dependency rule's expression is not a list(string) of allowed options."
    why = "Dependency rules filter the options of a field; the runtime needs the list of allowed values."
    bad = "expression: country == 'DE'"
    good = "expression: country == 'DE' ? ['BY', 'BE'] : ['CA', 'NY']"
    fix = "Return a list of option values, e.g. `['a', 'b']` or `values.filter(v, ...)`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.rules is None:
            return
        for i, rule in enumerate(ctx.package.rules.rules):
            entity = ctx.resolve_entity(rule.entity)
            if rule.capability != "dependency" or entity is None or rule.expression is None:
                continue
            result = ctx.checker(entity).check(rule.expression)
            if result.ok and result.result_type not in ("list(string)", "list(dyn)", "dyn"):
                yield ctx.finding(
                    self,
                    f"rule {rule.id}: dependency expression is {result.result_type}, not list(string)",
                    "rules",
                    ("rules", i, "expression"),
                    f"rule:{rule.id}",
                )


class RUL308(LintRule):
    code = "RUL308"
    name = "unknown-goto-step"
    summary = "A transition rule's `goto` names a step that no form has."
    why = "The form cannot navigate to a step that does not exist; the rule does nothing or fails."
    bad = "goto: summray"
    good = "goto: summary"
    fix = "Use the id of a step of the entity's form."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.rules is None:
            return
        cache: dict[str | None, set[str]] = {}
        for i, rule in enumerate(ctx.package.rules.rules):
            if rule.goto is None:
                continue
            entity = ctx.resolve_entity(rule.entity)
            if entity not in cache:
                cache[entity] = _steps_and_groups(ctx, entity)[0]
            if rule.goto not in cache[entity]:
                yield ctx.finding(
                    self,
                    f"rule {rule.id}: goto step {rule.goto!r} does not exist",
                    "rules",
                    ("rules", i, "goto"),
                    f"rule:{rule.id}",
                )


class RUL309(LintRule):
    code = "RUL309"
    name = "duplicate-rule-id"
    summary = "Two rules share an id."
    why = "Ids address rules in traces, overrides and diffs; a duplicate makes them ambiguous."
    bad = "- id: showCompany\n- id: showCompany"
    good = "- id: showCompany\n- id: showCompanySize"
    fix = "Give every rule a distinct id."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.rules is None:
            return
        seen: set[str] = set()
        for i, rule in enumerate(ctx.package.rules.rules):
            if rule.id in seen:
                yield ctx.finding(
                    self, f"rule id {rule.id!r} is used twice", "rules", ("rules", i, "id"), f"rule:{rule.id}"
                )
            seen.add(rule.id)


class RUL310(CostlyExpressionRule):
    code = "RUL310"
    name = "rule-expression-too-costly"


class RUL311(LintRule):
    code = "RUL311"
    name = "option-not-in-enum"
    summary = (
        "A dependency rule offers, or a calculation rule or a workflow `set` action sets, a value that its enum "
        "field does not have."
    )
    why = (
        "The form offers only values of the field: an option outside the enum is silently dropped (a rule offering "
        "only such values leaves nothing to choose), and a computed value outside it is refused when the record is "
        "saved, or stops the workflow transition that sets it. It usually means a value was renamed or removed from "
        "the enum and the rule or action was forgotten."
    )
    bad = "target: status     # values: [open, won]\nexpression: \"['open', 'lost']\""
    good = "target: status\nexpression: \"['open', 'won']\""
    fix = "Offer or set values listed in the field's `values`, or add the value to the enum."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, rule in enumerate(ctx.package.rules.rules if ctx.package.rules is not None else []):
            if rule.capability not in ("dependency", "calculation") or rule.scope != "field" or not rule.target:
                continue
            entity = ctx.resolve_entity(rule.entity)
            if rule.expression is None:
                continue
            expr = Expr("RUL", "rules", ("rules", i, "expression"), f"rule:{rule.id}", entity, rule.expression, "")
            verb = "offers" if rule.capability == "dependency" else "sets"
            yield from self._outside(ctx, expr, rule.target, f"rule {rule.id} {verb}")
        for w, flow in enumerate(ctx.package.workflow.workflows if ctx.package.workflow is not None else []):
            entity = ctx.resolve_entity(flow.entity)
            for action, where, sem in iter_actions(flow, w):
                for fpath, text in action.set.items():
                    expr = Expr("WF", "workflow", (*where, "set", fpath), sem, entity, text, "expression")
                    yield from self._outside(ctx, expr, fpath, f"{sem.replace('/', ' ')}: `set` writes")

    def _outside(self, ctx: LintContext, expr: Expr, target_path: str, who: str) -> Iterator[Diagnostic]:
        """A finding for each literal value `expr` can give that the enum field at `target_path` does not have."""
        from crmctl.model.cel import result_strings

        target = ctx.field_def(expr.entity, target_path)
        while isinstance(target, ArrayField):
            target = target.items
        if not isinstance(target, EnumField):
            return
        for result in result_strings(expr.text):
            if result.value not in target.values:
                where = ctx.expr_location(expr, result.line, result.column)
                yield ctx.finding(
                    self,
                    f"{who} {result.value!r}, which is not a value of {expr.entity}.{target_path}",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                    location=where,
                )


RULES: list[type[LintRule]] = [
    RUL300,
    RUL301,
    RUL302,
    RUL303,
    RUL304,
    RUL305,
    RUL306,
    RUL307,
    RUL308,
    RUL309,
    RUL310,
    RUL311,
]
