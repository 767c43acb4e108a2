"""The registry of lint rules: code → rule class, in catalogue order."""

from __future__ import annotations

import re
from functools import cache

from crmctl.lint.base import LintRule

__all__ = ["all_rules", "get_rule", "matches"]

_FAMILY_ORDER = ("PKG", "SCH", "UI", "RUL", "VAL", "WF", "EVT", "L10N")


@cache
def all_rules() -> dict[str, type[LintRule]]:
    """Every rule by code, sorted by family then number."""
    from crmctl.lint.rules import expressions, l10n, pkg, rul, sch, structural, ui, val, wf, workflow_extras

    found: dict[str, type[LintRule]] = {}
    for module in (structural, pkg, sch, ui, rul, val, wf, workflow_extras, l10n, expressions):
        for rule in module.RULES:
            if rule.code in found:  # pragma: no cover - guarded by tests
                raise RuntimeError(f"duplicate rule code {rule.code}")
            found[rule.code] = rule
    return dict(sorted(found.items(), key=lambda item: _sort_key(item[0])))


def _sort_key(code: str) -> tuple[int, int]:
    match = re.fullmatch(r"([A-Z]+?)(\d+)", code)
    family, number = (match.group(1), int(match.group(2))) if match else (code, 0)
    return (_FAMILY_ORDER.index(family) if family in _FAMILY_ORDER else 99, number)


def get_rule(code: str) -> type[LintRule] | None:
    return all_rules().get(code.upper())


def matches(code: str, selectors: tuple[str, ...] | list[str]) -> bool:
    """Whether `code` is one of `selectors` (codes or prefixes such as `RUL` or `RUL3`)."""
    return any(code.startswith(sel) for sel in selectors)
