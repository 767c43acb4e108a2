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

    return _scan(sre_parse.parse(pattern).data, sre_parse, inside_repeat=False)


def _scan(items: list[tuple[Any, Any]], sre: Any, *, inside_repeat: bool) -> str | None:
    constants = sre
    for op, av in items:
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT, getattr(constants, "POSSESSIVE_REPEAT", None)):
            _low, high, body = av
            unbounded = high == _MAXREPEAT or high > 100
            if op == getattr(constants, "POSSESSIVE_REPEAT", None):
                continue
            if unbounded and inside_repeat:
                return "a repeated group contains another unbounded repeat, e.g. (a+)+"
            if unbounded and _ambiguous_alternation(list(body.data), sre):
                return "a repeated alternation has branches that can match the same text, e.g. (a|a)*"
            found = _scan(list(body.data), sre, inside_repeat=inside_repeat or unbounded)
            if found:
                return found
        elif op == constants.SUBPATTERN:
            found = _scan(list(av[-1].data), sre, inside_repeat=inside_repeat)
            if found:
                return found
        elif op == constants.BRANCH:
            for branch in av[1]:
                found = _scan(list(branch.data), sre, inside_repeat=inside_repeat)
                if found:
                    return found
    return None


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
