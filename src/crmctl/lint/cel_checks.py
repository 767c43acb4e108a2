"""CEL checks that the SCH, RUL, VAL and WF families share: an expression that does not compile, a condition that
is not bool, an expression over the cost limits.

This module defines no rule code. Each family's rule (SCH102, RUL301, VAL401, WF501, ...) is a class in the module
named for its family that takes one of the bases below and sets `code` and `name`; the bases carry the shared
documentation and the check, which reads the expressions of the rule's own family (calculated fields for SCH, rule
conditions for RUL, validations for VAL, guards for WF). Rules that check other expressions (WF524, WF525) build
their findings with `invalid_findings` and `type_findings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from crmctl.lint.base import LintRule, family
from crmctl.lint.context import Expr, LintContext
from crmctl.model.cel import MAX_COMPREHENSION_NESTING, MAX_EXPRESSION_TOKENS, expression_cost
from crmctl.model.diagnostics import Diagnostic

__all__ = [
    "MAX_NESTING",
    "MAX_TOKENS",
    "ConditionNotBoolRule",
    "CostlyExpressionRule",
    "InvalidExpressionRule",
    "invalid_findings",
    "role_label",
    "short",
    "type_findings",
]

MAX_TOKENS = MAX_EXPRESSION_TOKENS
MAX_NESTING = MAX_COMPREHENSION_NESTING

_ROLE_NAMES = {"when": "condition", "expression": "expression", "guard": "guard", "calculated": "calculation"}


def short(text: str) -> str:
    """`text` on one line, cut to 60 characters, as findings quote an expression."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


def role_label(expr: Expr) -> str:
    """What the expression is to its artifact, as a finding names it: condition, expression, guard, calculation."""
    return _ROLE_NAMES[expr.role]


def invalid_findings(rule: LintRule, ctx: LintContext, labelled: Iterable[tuple[Expr, str]]) -> Iterator[Diagnostic]:
    """A finding for each compile or type error of each (expression, label), located inside the expression."""
    for expr, label in labelled:
        result = ctx.check(expr)
        if result is None or result.ok:
            continue
        for issue in result.errors:
            yield ctx.finding(
                rule,
                f"{label} `{short(expr.text)}`: {issue.message}",
                expr.kind,
                expr.json_path,
                expr.semantic,
                location=ctx.expr_location(expr, issue.line, issue.column),
                fix=issue.hint,
            )


def type_findings(
    rule: LintRule, ctx: LintContext, expected: Iterable[tuple[Expr, str, str, tuple[str, ...]]]
) -> Iterator[Diagnostic]:
    """A finding for each (expression, label, wanted type, accepted types) that compiles to a type not accepted."""
    for expr, label, wanted, accepted in expected:
        result = ctx.check(expr)
        if result is None or not result.ok or result.result_type in accepted:
            continue
        yield ctx.finding(
            rule,
            f"{label} `{short(expr.text)}` is {result.result_type}, not {wanted}",
            expr.kind,
            expr.json_path,
            expr.semantic,
            location=ctx.expr_location(expr, 1, 1),
        )


def _of_family(ctx: LintContext, rule: LintRule) -> Iterator[Expr]:
    """The expressions of the rule's own family: SCH102 checks calculated fields, WF501 guards."""
    prefix = family(rule.code)
    return (expr for expr in ctx.expressions() if expr.code_prefix == prefix)


class InvalidExpressionRule(LintRule):
    """Base of SCH102, RUL301, VAL401 and WF501: an expression of the rule's family does not compile."""

    summary = "A CEL expression does not parse or type-check against the entity's fields."
    why = (
        "The runtime compiles every expression when the package is installed; an expression that does not "
        "type-check fails the installation, or worse, is skipped at run time."
    )
    bad = "when: amount > 10        # amount is a currency (double); 10 is an int"
    good = "when: amount > 10.0"
    fix = "Correct the expression; fields are top-level variables, numbers compare only with the same type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        return invalid_findings(self, ctx, ((expr, role_label(expr)) for expr in _of_family(ctx, self)))


class ConditionNotBoolRule(LintRule):
    """Base of RUL302, VAL402 and WF502: a condition of the rule's family is not bool."""

    summary = "A condition (when, guard, cross-field expression) does not evaluate to bool."
    why = "The runtime needs true or false to decide; any other type is an error when the rule runs."
    bad = "when: company        # a string"
    good = "when: company != ''"
    fix = "Compare the value, e.g. `x != ''`, `size(x) > 0` or `has(...)`, so the condition is a bool."

    def is_condition(self, expr: Expr) -> bool:
        """Whether `expr` must be bool: `when` and `guard` by default."""
        return expr.role in ("when", "guard")

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        conditions = (expr for expr in _of_family(ctx, self) if self.is_condition(expr))
        return type_findings(self, ctx, ((expr, role_label(expr), "bool", ("bool", "dyn")) for expr in conditions))


class CostlyExpressionRule(LintRule):
    """Base of SCH111, RUL310, VAL411 and WF510: an expression of the rule's family is over the cost limits."""

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
        for expr in _of_family(ctx, self):
            size, depth = expression_cost(expr.text)
            if size > MAX_TOKENS or depth > MAX_NESTING:
                yield ctx.finding(
                    self,
                    f"{role_label(expr)} has {size} tokens and comprehension nesting {depth} "
                    f"(limits {MAX_TOKENS} and {MAX_NESTING})",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                )
