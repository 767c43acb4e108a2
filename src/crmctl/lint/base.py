"""What a lint rule is: a small class named by its code, documented once (code, name, summary, why, examples)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from crmctl.model.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from crmctl.lint.context import LintContext

__all__ = ["FAMILIES", "LintRule", "family"]

FAMILIES = ("PKG", "SCH", "UI", "RUL", "VAL", "WF", "EVT", "L10N")
"""The rule code families in catalogue order; each is one module of `crmctl.lint.rules`, named for it in lower case."""


def family(code: str) -> str | None:
    """The family of a rule code (`WF` for WF514, `L10N` for L10N601), or None when it has none of `FAMILIES`."""
    match = re.fullmatch(r"(L10N|[A-Z]+)\d+", code)
    return match.group(1) if match and match.group(1) in FAMILIES else None


class LintRule:
    """Base of every rule. Subclasses set the documentation attributes and implement `check`.

    Structural rules (`structural = True`) are emitted by the package loader from the JSON Schemas; they are in
    the catalogue so that they can be explained, selected, ignored and baselined like any other rule.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.ERROR
    summary: ClassVar[str]
    why: ClassVar[str]
    bad: ClassVar[str]
    good: ClassVar[str]
    fix: ClassVar[str]
    structural: ClassVar[bool] = False

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        """Yield findings for the package in `ctx`; structural rules yield nothing here."""
        return iter(())
