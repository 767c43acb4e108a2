"""VAL408's rationale matches what crmctl does: its runtime matches regexes with RE2 (linear time), so the pattern
VAL408 flags is harmless to crmctl and the rule guards the backtracking engines that run the same package."""

from __future__ import annotations

import re
import time

from crmctl.lint import get_rule
from crmctl.model.regex import compile_pattern

EVIL = "a" * 40 + "!"  # `^(\w+\s?)+$` on this input takes 2^40 steps in a backtracking engine


def _pattern() -> str:
    rule = get_rule("VAL408")
    assert rule is not None
    bad = rule.bad.split(":", 1)[1].strip().strip("'")
    return bad.replace("\\\\", "\\")


def test_the_runtime_matches_the_flagged_pattern_in_linear_time() -> None:
    pattern = _pattern()
    assert pattern == r"^(\w+\s?)+$"
    matcher = compile_pattern(pattern)
    started = time.monotonic()
    assert not matcher.fullmatch(EVIL * 1000)
    assert time.monotonic() - started < 1.0


def test_a_backtracking_engine_is_what_the_rule_protects() -> None:
    started = time.monotonic()
    assert not re.fullmatch(_pattern(), "a" * 22 + "!")  # 2^22 steps: already measurable
    assert time.monotonic() - started > 0.05


def test_the_rationale_says_so() -> None:
    rule = get_rule("VAL408")
    assert rule is not None
    assert "RE2" in rule.why and "not at risk" in rule.why and "backtrack" in rule.why
