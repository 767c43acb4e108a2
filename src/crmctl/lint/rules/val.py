"""Validation rules (VAL4xx): structure, CEL conditions and their cost, entities, fields, type requirements, ranges,
regexes, composites, ids."""

from __future__ import annotations

import re
from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.cel_checks import ConditionNotBoolRule, CostlyExpressionRule, InvalidExpressionRule
from crmctl.lint.context import Expr, LintContext
from crmctl.lint.regex_safety import backtracking_risk
from crmctl.lint.structure import StructuralRule
from crmctl.model.artifacts import Validation
from crmctl.model.diagnostics import Diagnostic, Severity

__all__ = ["RULES"]


class VAL400(StructuralRule):
    code = "VAL400"
    name = "validations-structure"
    summary = "validations.yaml does not match the validations JSON Schema."
    bad = "- {id: v1, type: email, field: email}"
    good = "- {id: v1, type: regex, field: email, pattern: '.+@.+', message: invalidEmail}"


class VAL401(InvalidExpressionRule):
    code = "VAL401"
    name = "validation-expression-invalid"
    bad = "expression: closeDate > createdAt + 1"
    good = "expression: closeDate > createdAt"


class VAL402(ConditionNotBoolRule):
    code = "VAL402"
    name = "validation-condition-not-bool"
    summary = "A validation's `when` or cross-field `expression` does not evaluate to bool."

    def is_condition(self, expr: Expr) -> bool:
        return True  # both `when` and the cross-field `expression` are conditions


def _validations(ctx: LintContext) -> list[Validation]:
    return ctx.package.validations.validations if ctx.package.validations else []


class VAL403(LintRule):
    code = "VAL403"
    name = "validation-unknown-entity"
    summary = "A validation names an entity the schema does not define, or omits it while the schema has several."
    why = "The validation cannot be bound to records, so it never runs."
    bad = "entity: Laed"
    good = "entity: Lead"
    fix = "Set `entity` to an entity of schema.yaml (it may be omitted only with a single entity)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, val in enumerate(_validations(ctx)):
            problem = ctx.entity_problem(val.entity)
            if problem:
                where = ("validations", i, "entity" if val.entity is not None else "id")
                yield ctx.finding(self, f"validation {val.id}: {problem}", "validations", where, f"validation:{val.id}")


class VAL404(LintRule):
    code = "VAL404"
    name = "validation-unknown-field"
    summary = "A validation checks a field the entity does not have."
    why = "A validation of a missing field never fires: the data it should protect goes unchecked."
    bad = "field: emial"
    good = "field: email"
    fix = "Name a field of the validation's entity (object members as `address.zip`)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, val in enumerate(_validations(ctx)):
            entity = ctx.resolve_entity(val.entity)
            if val.field is not None and entity is not None and ctx.field_def(entity, val.field) is None:
                yield ctx.finding(
                    self,
                    f"validation {val.id}: {entity} has no field {val.field!r}",
                    "validations",
                    ("validations", i, "field"),
                    f"validation:{val.id}",
                )


class VAL405(LintRule):
    code = "VAL405"
    name = "validation-type-requirements"
    summary = "A validation lacks what its type needs (field, pattern, min/max, provider, operator, expression)."
    why = "The runtime cannot evaluate e.g. a regex validation without a pattern; it would fail or pass everything."
    bad = "- {id: emailFormat, type: regex, field: email, message: badEmail}"
    good = "- {id: emailFormat, type: regex, field: email, pattern: '[^@]+@[^@]+', message: badEmail}"
    fix = (
        "required/regex/range/async need `field`; regex needs `pattern`; range needs `min` or `max`; async needs "
        "`provider`; composite needs `operator` and `validations` (`not`: exactly one); cross-field needs "
        "`expression`."
    )

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, val in enumerate(_validations(ctx)):
            for problem in _missing(val):
                yield ctx.finding(
                    self,
                    f"validation {val.id} ({val.type}): {problem}",
                    "validations",
                    ("validations", i, "type"),
                    f"validation:{val.id}",
                )


def _missing(val: Validation) -> Iterator[str]:
    if val.type in ("required", "regex", "range", "async") and val.field is None:
        yield "needs a `field`"
    if val.type == "regex" and not val.pattern:
        yield "needs a `pattern`"
    if val.type == "range" and val.min is None and val.max is None:
        yield "needs `min` or `max`"
    if val.type == "async" and val.provider is None:
        yield "needs a `provider`"
    if val.type == "composite":
        if val.operator is None:
            yield "needs an `operator` (all, any, not)"
        if not val.validations:
            yield "needs the `validations` it combines"
        elif val.operator == "not" and len(val.validations) != 1:
            yield f"operator `not` takes exactly one validation (got {len(val.validations)})"
    if val.type == "cross-field" and val.expression is None:
        yield "needs an `expression`"


class VAL406(LintRule):
    code = "VAL406"
    name = "range-inverted"
    summary = "A range validation has min greater than max, or mixes a number with a date."
    why = "No value can satisfy the range, so every record fails the validation."
    bad = "min: 100\nmax: 10"
    good = "min: 10\nmax: 100"
    fix = "Swap the bounds or correct the typo."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, val in enumerate(_validations(ctx)):
            if val.type != "range" or val.min is None or val.max is None:
                continue
            low, high = val.min, val.max
            if isinstance(low, str) != isinstance(high, str):
                message = f"validation {val.id}: min {low!r} and max {high!r} are not of the same kind"
            elif low > high:  # type: ignore[operator]  # same kind, checked above
                message = f"validation {val.id}: min {low!r} is greater than max {high!r}"
            else:
                continue
            yield ctx.finding(self, message, "validations", ("validations", i, "min"), f"validation:{val.id}")


class VAL407(LintRule):
    code = "VAL407"
    name = "invalid-regex"
    summary = "A regex validation's pattern does not compile."
    why = "The runtime rejects the validation; a broken pattern can also block every submit."
    bad = "pattern: '[a-z+'"
    good = "pattern: '[a-z]+'"
    fix = (
        "Correct the pattern. It is matched against the whole value with RE2 (linear time), so backreferences "
        "(`\\1`) and lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`) are not available."
    )

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, val in enumerate(_validations(ctx)):
            if val.pattern is None:
                continue
            reason = _re2_rejects(val.pattern)
            if reason is not None:
                yield ctx.finding(
                    self,
                    f"validation {val.id}: pattern does not compile: {reason}",
                    "validations",
                    ("validations", i, "pattern"),
                    f"validation:{val.id}",
                )


def _re2_rejects(pattern: str) -> str | None:
    """RE2's reason for rejecting `pattern`, or None. The runtime matches with RE2, so lint checks with it too."""
    from crmctl.model.regex import PatternError, compile_pattern

    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return exc.reason
    return None


class VAL408(LintRule):
    code = "VAL408"
    name = "regex-catastrophic-backtracking"
    summary = "A regex pattern has nested or ambiguous repeats that take exponential time in backtracking engines."
    why = (
        "crmctl's runtime matches patterns with RE2, in linear time, so it is not at risk; but a pattern is part of "
        "the package every implementation of the platform runs, and the usual engines backtrack (JavaScript's "
        "RegExp in a browser form validating as you type, Java, .NET, Python's re). There one crafted input "
        "freezes the form or the server (ReDoS)."
    )
    bad = "pattern: '^(\\w+\\s?)+$'"
    good = "pattern: '^\\w+(\\s\\w+)*$'"
    fix = "Remove the nesting: make repeated parts unambiguous, e.g. `(a+)+` → `a+`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, val in enumerate(_validations(ctx)):
            if val.pattern is None:
                continue
            try:
                risk = backtracking_risk(val.pattern)
            except re.error:
                continue  # not Python syntax (e.g. `\p{L}`); VAL407 checks it under RE2
            if risk:
                yield ctx.finding(
                    self,
                    f"validation {val.id}: pattern {val.pattern!r} may backtrack catastrophically: {risk}",
                    "validations",
                    ("validations", i, "pattern"),
                    f"validation:{val.id}",
                )


class VAL409(LintRule):
    code = "VAL409"
    name = "unknown-composite-member"
    summary = "A composite validation combines a validation id that does not exist (or itself)."
    why = "The composite can never be evaluated completely; a self-reference would loop."
    bad = "validations: [emailFormt]"
    good = "validations: [emailFormat]"
    fix = "List ids of other validations of this package."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        vals = _validations(ctx)
        ids = {v.id for v in vals}
        for i, val in enumerate(vals):
            for j, member in enumerate(val.validations):
                if member not in ids or member == val.id:
                    what = "itself" if member == val.id else f"unknown validation {member!r}"
                    yield ctx.finding(
                        self,
                        f"validation {val.id}: combines {what}",
                        "validations",
                        ("validations", i, "validations", j),
                        f"validation:{val.id}",
                    )


class VAL410(LintRule):
    code = "VAL410"
    name = "duplicate-validation-id"
    summary = "Two validations share an id."
    why = "Composites and overrides address validations by id; a duplicate makes them ambiguous."
    bad = "- id: emailFormat\n- id: emailFormat"
    good = "- id: emailFormat\n- id: emailRequired"
    fix = "Give every validation a distinct id."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        seen: set[str] = set()
        for i, val in enumerate(_validations(ctx)):
            if val.id in seen:
                yield ctx.finding(
                    self,
                    f"validation id {val.id!r} is used twice",
                    "validations",
                    ("validations", i, "id"),
                    f"validation:{val.id}",
                )
            seen.add(val.id)


class VAL411(CostlyExpressionRule):
    code = "VAL411"
    name = "validation-expression-too-costly"


_FIELD_KINDS = {"regex": ("text",), "range": ("number", "currency", "date", "datetime")}


class VAL412(LintRule):
    code = "VAL412"
    name = "validation-field-type"
    severity = Severity.WARNING
    summary = "A regex validation checks a non-text field, or a range validation a non-numeric, non-date field."
    why = "The check cannot apply to the value's type and will either never fail or always fail."
    bad = "- {type: range, field: email, min: 1}"
    good = "- {type: range, field: amount, min: 1}"
    fix = "Validate a field of a suitable type, or use another validation type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for i, val in enumerate(_validations(ctx)):
            kinds = _FIELD_KINDS.get(val.type)
            entity = ctx.resolve_entity(val.entity)
            if kinds is None or val.field is None or entity is None:
                continue
            fdef = ctx.field_def(entity, val.field)
            ftype = fdef.resultType if fdef is not None and fdef.type == "calculated" else getattr(fdef, "type", None)
            if ftype is not None and ftype not in kinds:
                yield ctx.finding(
                    self,
                    f"validation {val.id}: a {val.type} validation cannot check {ftype} field {val.field!r}",
                    "validations",
                    ("validations", i, "field"),
                    f"validation:{val.id}",
                )


class VAL413(LintRule):
    code = "VAL413"
    name = "default-fails-validation"
    summary = "A field's `default` fails a hard `required`, `regex` or `range` validation of the same field."
    why = (
        "Every record written or read without a value gets the default, so a default the field's own hard "
        "validation refuses makes each such record impossible to save: the form starts invalid, and imports and "
        "records moved to this version are refused."
    )
    bad = "score: {type: number, default: 0}\n- {type: range, field: score, min: 1, max: 5}"
    good = "score: {type: number, default: 1}\n- {type: range, field: score, min: 1, max: 5}"
    fix = "Choose a default the validation accepts, or remove the default (or the validation)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        from crmctl.model.field_checks import FIELD_CHECKS, refuses

        for val in _validations(ctx):
            entity = ctx.resolve_entity(val.entity)
            if val.mode != "hard" or val.when or val.type not in FIELD_CHECKS or not val.field or entity is None:
                continue
            fdef = ctx.field_def(entity, val.field)
            default = getattr(fdef, "default", None)
            if default is None:
                continue
            fullmatch = None
            if val.type == "regex":
                if val.pattern is None or _re2_rejects(val.pattern) is not None:
                    continue  # VAL405 / VAL407
                from crmctl.model.regex import compile_pattern

                fullmatch = compile_pattern(val.pattern).fullmatch
            if refuses(val.type, val.min, val.max, fullmatch)(default):
                yield ctx.finding(
                    self,
                    f"the default {default!r} of {entity}.{val.field} fails validation {val.id} ({val.type})",
                    "schema",
                    _default_path(entity, val.field, ctx),
                    f"{entity}.{val.field}",
                )


def _default_path(entity: str, field_path: str, ctx: LintContext) -> tuple[str | int, ...]:
    """Where the default of a (dotted) field path is written in schema.yaml: through objects and list items."""
    from crmctl.model.fields import ArrayField, ObjectField

    where: list[str | int] = ["entities", entity]
    fields = ctx.entities[entity].fields if entity in ctx.entities else {}
    for part in field_path.split("."):
        where += ["fields", part]
        fdef = fields.get(part)
        while isinstance(fdef, ArrayField):
            where.append("items")
            fdef = fdef.items
        fields = fdef.fields if isinstance(fdef, ObjectField) else {}
    if where[-1] == "items":  # the default belongs to the field, not to its items
        while where[-1] == "items":
            where.pop()
    return (*where, "default")


RULES: list[type[LintRule]] = [
    VAL400,
    VAL401,
    VAL402,
    VAL403,
    VAL404,
    VAL405,
    VAL406,
    VAL407,
    VAL408,
    VAL409,
    VAL410,
    VAL411,
    VAL412,
    VAL413,
]
