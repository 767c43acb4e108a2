"""Structural check for regular expressions prone to catastrophic backtracking (nested or ambiguous repeats).

This looks at the parse tree Python's `re` builds; it does not simulate matching. A repeat is flagged when its
body can itself repeat unboundedly (`(a+)+`, `(.*)*`) or is an alternation whose branches can start the same way
(`(a|a)*`, `(a|ab)*`), the two shapes behind almost every real-world ReDoS.
"""

from __future__ import annotations

from typing import Any

__all__ = ["backtracking_risk"]

_MAXREPEAT = 4294967295


def backtracking_risk(pattern: str) -> str | None:
    """A description of the risky construct, or None. `pattern` must compile."""
    import re._parser as sre_parse  # type: ignore[import-not-found,unused-ignore]

    return _scan(list(sre_parse.parse(pattern).data), sre_parse)


def _scan(items: list[tuple[Any, Any]], sre: Any) -> str | None:
    for op, av in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            _low, high, body = av
            inner = list(body.data)
            if high == _MAXREPEAT or high > 100:
                if _has_unbounded(inner, sre) and _only_repeats(inner, sre):
                    return "a repeated group contains another unbounded repeat, e.g. (a+)+"
                if _ambiguous_alternation(inner, sre):
                    return "a repeated alternation has branches that can match the same text, e.g. (a|a)*"
            found = _scan(inner, sre)
        elif op == sre.SUBPATTERN:
            found = _scan(list(av[-1].data), sre)
        elif op == sre.BRANCH:
            found = next((r for b in av[1] if (r := _scan(list(b.data), sre))), None)
        else:
            found = None
        if found:
            return found
    return None


def _has_unbounded(items: list[tuple[Any, Any]], sre: Any) -> bool:
    for op, av in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and (av[1] == _MAXREPEAT or av[1] > 100):
            return True
        if op == sre.SUBPATTERN and _has_unbounded(list(av[-1].data), sre):
            return True
    return False


def _only_repeats(items: list[tuple[Any, Any]], sre: Any) -> bool:
    """Every element may repeat or be skipped, so one text can be split among them in many ways."""
    for op, av in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            continue
        if op == sre.SUBPATTERN and _only_repeats(list(av[-1].data), sre):
            continue
        if op in (sre.AT,):
            continue
        return False
    return True


def _ambiguous_alternation(items: list[tuple[Any, Any]], sre: Any) -> bool:
    """True when an alternation directly in a repeated body has two branches that can match alike."""
    for op, av in items:
        if op == sre.SUBPATTERN and _ambiguous_alternation(list(av[-1].data), sre):
            return True
        if op == sre.BRANCH:
            branches = [list(b.data) for b in av[1]]
            for i, a in enumerate(branches):
                for b in branches[i + 1 :]:
                    if a == b:
                        return True
                    first_a, first_b = _first(a, sre), _first(b, sre)
                    if first_a and first_b and first_a & first_b:
                        return True
    return False


def _first(items: list[tuple[Any, Any]], sre: Any) -> set[int] | None:
    """Characters a branch must start with; None when unknown or broad (classes, any, empty)."""
    if not items:
        return None
    op, av = items[0]
    if op == sre.LITERAL:
        return {av}
    if op == sre.SUBPATTERN:
        return _first(list(av[-1].data), sre)
    return None
