"""Linear-time regex validations: whole-value semantics, RE2 syntax, errors and the compile cache."""

from __future__ import annotations

import pytest

from crmctl.errors import UserError
from crmctl.model.regex import Matcher, PatternError, compile_pattern


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("[0-9]+", "12", True),
        ("[0-9]+", "12a", False),
        ("[0-9]+", "a12", False),
        ("[0-9]+", "", False),
        ("a|ab", "ab", True),  # the whole value, not the first alternative that matches a prefix
        ("[^@]+@[^@]+", "ada@example.org", True),
        ("[a-z]+", "abc\n", False),  # no `$`-before-a-final-newline leniency
        ("[a-z]+$", "abc\n", False),
        ("", "", True),
        ("", "x", False),
    ],
)
def test_matches_the_whole_value(pattern: str, text: str, expected: bool) -> None:
    assert compile_pattern(pattern).fullmatch(text) is expected


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("\\p{L}+", "Müller", True),
        ("\\p{L}+", "محمد", True),
        ("\\p{L}+", "Müller1", False),
        ("...", "日本語", True),  # `.` is one code point, not one byte
        ("..", "日本語", False),
        ("\\d+", "١٢٣", False),  # Perl classes are ASCII-only in RE2
        ("\\w+", "héllo", False),
        ("[a-zé]+", "héllo", True),
        ("(?i)straße", "STRASSE", False),
        ("(?i)straße", "STRAßE", True),
    ],
)
def test_unicode_text(pattern: str, text: str, expected: bool) -> None:
    assert compile_pattern(pattern).fullmatch(text) is expected


def test_lone_surrogate_is_matched_as_replacement_character() -> None:
    assert compile_pattern("a.b").fullmatch("a\ud800b")
    assert compile_pattern("a\\x{FFFD}b").fullmatch("a\udfffb")
    assert not compile_pattern("ab").fullmatch("a\ud800b")


def test_catastrophic_pattern_is_answered_correctly() -> None:
    # Under a backtracking engine this input takes exponential time; RE2 answers in one linear pass.
    matcher = compile_pattern("(a+)+$")
    assert matcher.fullmatch("a" * 30_000 + "b") is False
    assert matcher.fullmatch("a" * 30_000) is True


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "invalid escape sequence: \\1"),  # backreference: Python `re` would accept it
        ("(?=a)a", "invalid perl operator: (?="),  # lookahead
        ("(?<!a)b", "invalid perl operator: (?<!"),  # lookbehind
        ("[a-z+", "missing ]: [a-z+"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("(", "missing ): ("),
    ],
)
def test_pattern_error_names_pattern_and_reason(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as info:
        compile_pattern(pattern)
    assert isinstance(info.value, UserError)
    assert info.value.pattern == pattern
    assert info.value.reason == reason
    assert info.value.message == f"pattern {pattern!r} does not compile under RE2: {reason}"
    assert info.value.hint is not None
    assert "backreferences" in info.value.hint


def test_pattern_too_large_for_the_memory_budget_is_rejected() -> None:
    with pytest.raises(PatternError, match="pattern too large"):
        compile_pattern("\\p{L}{1000}" * 20)


def test_compiled_matchers_are_cached() -> None:
    first = compile_pattern("[A-Z]{2}-[0-9]{6,10}")
    assert compile_pattern("[A-Z]{2}-[0-9]{6,10}") is first
    assert isinstance(first, Matcher)
    assert first.pattern == "[A-Z]{2}-[0-9]{6,10}"
    assert repr(first) == "Matcher('[A-Z]{2}-[0-9]{6,10}')"
    assert first.fullmatch("AB-123456")
    assert not first.fullmatch("AB-12345")


def test_re2_is_not_imported_by_importing_the_module() -> None:
    import subprocess
    import sys

    code = "import sys, crmctl.model.regex; print('re2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
