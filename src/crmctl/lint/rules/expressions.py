"""CEL expression rules, one code per artifact family: compile errors, condition types and cost limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from crmctl.lint.base import LintRule
from crmctl.lint.context import Expr, LintContext
from crmctl.model.cel import (
    MAX_COMPREHENSION_NESTING,
    MAX_EXPRESSION_TOKENS,
    cel_type_of,
    expression_cost,
)
from crmctl.model.diagnostics import Diagnostic

__all__ = ["RULES"]

MAX_TOKENS = MAX_EXPRESSION_TOKENS
MAX_NESTING = MAX_COMPREHENSION_NESTING


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


_ROLE_NAMES = {"when": "condition", "expression": "expression", "guard": "guard", "calculated": "calculation"}


class _CelInvalid(LintRule):
    prefix: ClassVar[str]
    summary = "A CEL expression does not parse or type-check against the entity's fields."
    why = (
        "The runtime compiles every expression when the package is installed; an expression that does not "
        "type-check fails the installation, or worse, is skipped at run time."
    )
    bad = "when: amount > 10        # amount is a currency (double); 10 is an int"
    good = "when: amount > 10.0"
    fix = "Correct the expression; fields are top-level variables, numbers compare only with the same type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for expr in ctx.expressions():
            if expr.code_prefix != self.prefix:
                continue
            result = ctx.check(expr)
            if result is None or result.ok:
                continue
            for issue in result.errors:
                yield ctx.finding(
                    self,
                    f"{_ROLE_NAMES[expr.role]} `{_short(expr.text)}`: {issue.message}",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                    location=ctx.expr_location(expr, issue.line, issue.column),
                    fix=issue.hint,
                )


class SCH102(_CelInvalid):
    code = "SCH102"
    name = "calculated-expression-invalid"
    prefix = "SCH"
    bad = "score: {type: calculated, resultType: number, expression: 'amount * 2'}"
    good = "score: {type: calculated, resultType: number, expression: 'amount * 2.0'}"


class RUL301(_CelInvalid):
    code = "RUL301"
    name = "rule-expression-invalid"
    prefix = "RUL"


class VAL401(_CelInvalid):
    code = "VAL401"
    name = "validation-expression-invalid"
    prefix = "VAL"
    bad = "expression: closeDate > createdAt + 1"
    good = "expression: closeDate > createdAt"


class WF501(_CelInvalid):
    code = "WF501"
    name = "guard-expression-invalid"
    prefix = "WF"
    bad = "guard: amount > 1000"
    good = "guard: amount > 1000.0"


class _NotBool(LintRule):
    prefix: ClassVar[str]
    summary = "A condition (when, guard, cross-field expression) does not evaluate to bool."
    why = "The runtime needs true or false to decide; any other type is an error when the rule runs."
    bad = "when: company        # a string"
    good = "when: company != ''"
    fix = "Compare the value, e.g. `x != ''`, `size(x) > 0` or `has(...)`, so the condition is a bool."

    def _is_condition(self, expr: Expr) -> bool:
        return expr.role in ("when", "guard")

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for expr in ctx.expressions():
            if expr.code_prefix != self.prefix or not self._is_condition(expr):
                continue
            result = ctx.check(expr)
            if result is None or not result.ok or result.result_type in ("bool", "dyn"):
                continue
            yield ctx.finding(
                self,
                f"{_ROLE_NAMES[expr.role]} `{_short(expr.text)}` is {result.result_type}, not bool",
                expr.kind,
                expr.json_path,
                expr.semantic,
                location=ctx.expr_location(expr, 1, 1),
            )


class RUL302(_NotBool):
    code = "RUL302"
    name = "rule-condition-not-bool"
    prefix = "RUL"


class VAL402(_NotBool):
    code = "VAL402"
    name = "validation-condition-not-bool"
    prefix = "VAL"
    summary = "A validation's `when` or cross-field `expression` does not evaluate to bool."

    def _is_condition(self, expr: Expr) -> bool:
        return True  # both `when` and the cross-field `expression` are conditions


class WF502(_NotBool):
    code = "WF502"
    name = "guard-not-bool"
    prefix = "WF"
    bad = "guard: amount"
    good = "guard: amount > 0.0"


class SCH103(LintRule):
    code = "SCH103"
    name = "calculated-type-mismatch"
    summary = "A calculated field's expression type differs from its declared resultType."
    why = "Consumers read the field as its resultType; a value of another type breaks storage and reports."
    bad = "total: {type: calculated, resultType: text, expression: 'amount * 2.0'}"
    good = "total: {type: calculated, resultType: number, expression: 'amount * 2.0'}"
    fix = "Change resultType or convert the value, e.g. `string(x)` or `double(n)`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        schema = ctx.package.schema
        for expr in ctx.expressions():
            if expr.role != "calculated" or schema is None or expr.entity is None:
                continue
            result = ctx.check(expr)
            if result is None or not result.ok or result.result_type == "dyn":
                continue
            fname = expr.semantic.split(".", 1)[1]
            wanted = cel_type_of(schema.entities[expr.entity].fields[fname])
            if result.result_type != wanted:
                yield ctx.finding(
                    self,
                    f"expression of {expr.semantic} is {result.result_type} but resultType needs {wanted}",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                )


class _Cost(LintRule):
    prefix: ClassVar[str]
    summary = f"A CEL expression is too costly: more than {MAX_TOKENS} tokens or macros nested over {MAX_NESTING}."
    why = (
        "No CEL library bounds evaluation cost, so crmctl does: the runtime evaluates rules on every change, and "
        "very large expressions or nested comprehensions (quadratic or worse over lists) make forms slow. The "
        "runtime refuses what exceeds these limits, so lint does too."
    )
    bad = "when: a.all(x, b.all(y, c.exists(z, x == y && y == z)))"
    good = "when: a.all(x, x in b)   # or split into a calculated field"
    fix = "Split the expression into calculated fields or simpler rules."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for expr in ctx.expressions():
            if expr.code_prefix != self.prefix:
                continue
            size, depth = expression_cost(expr.text)
            if size > MAX_TOKENS or depth > MAX_NESTING:
                yield ctx.finding(
                    self,
                    f"{_ROLE_NAMES[expr.role]} has {size} tokens and comprehension nesting {depth} "
                    f"(limits {MAX_TOKENS} and {MAX_NESTING})",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                )


class SCH111(_Cost):
    code = "SCH111"
    name = "calculated-expression-too-costly"
    prefix = "SCH"


class RUL310(_Cost):
    code = "RUL310"
    name = "rule-expression-too-costly"
    prefix = "RUL"


class VAL411(_Cost):
    code = "VAL411"
    name = "validation-expression-too-costly"
    prefix = "VAL"


class WF510(_Cost):
    code = "WF510"
    name = "guard-expression-too-costly"
    prefix = "WF"


RULES: list[type[LintRule]] = [
    SCH102,
    SCH103,
    SCH111,
    RUL301,
    RUL302,
    RUL310,
    VAL401,
    VAL402,
    VAL411,
    WF501,
    WF502,
    WF510,
]
