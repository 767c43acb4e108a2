"""The registry of lint rules: code → rule class, in catalogue order."""

from __future__ import annotations

from functools import cache

from crmctl.lint.base import FAMILIES, LintRule, family

__all__ = ["all_rules", "get_rule", "matches"]


@cache
def all_rules() -> dict[str, type[LintRule]]:
    """Every rule by code, sorted by family then number."""
    from crmctl.lint.rules import evt, l10n, pkg, rul, sch, ui, val, wf

    found: dict[str, type[LintRule]] = {}
    for module in (pkg, sch, ui, rul, val, wf, evt, l10n):
        for rule in module.RULES:
            if rule.code in found:  # pragma: no cover - guarded by tests
                raise RuntimeError(f"duplicate rule code {rule.code}")
            found[rule.code] = rule
    return dict(sorted(found.items(), key=lambda item: _sort_key(item[0])))


def _sort_key(code: str) -> tuple[int, int]:
    prefix = family(code)
    if prefix is None:  # pragma: no cover - every registered code has a family (tests/lint/test_docs.py)
        return (len(FAMILIES), 0)
    return (FAMILIES.index(prefix), int(code[len(prefix) :]))


def get_rule(code: str) -> type[LintRule] | None:
    return all_rules().get(code.upper())


def matches(code: str, selectors: tuple[str, ...] | list[str]) -> bool:
    """Whether `code` is one of `selectors` (codes or prefixes such as `RUL` or `RUL3`)."""
    return any(code.startswith(sel) for sel in selectors)
