"""Regex validations in linear time (RE2), shared by lint rules (pattern checks) and the runtime (matching).

A `type: regex` validation matches its `pattern` against the whole value. Patterns are compiled with RE2
(google-re2), whose automaton runs in time linear in the text whatever the pattern, so no input can make a match
backtrack catastrophically (ReDoS). The price is RE2 syntax: no backreferences (`\\1`) and no lookaround
(`(?=`, `(?!`, `(?<=`, `(?<!`); such patterns raise `PatternError` rather than silently running under Python's
backtracking `re`. Perl classes (`\\d`, `\\w`, `\\s`, `\\b`) are ASCII-only in RE2; `\\p{L}` and friends match
Unicode, and `.` matches one code point.

`re2` is imported on first compile. Compiled matchers are cached by pattern.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from crmctl.errors import UserError

__all__ = ["MAX_PROGRAM_MEMORY", "Matcher", "PatternError", "compile_pattern"]

# RE2's memory budget for one compiled pattern; a bigger pattern (e.g. `(a{100}){100}`) is rejected.
MAX_PROGRAM_MEMORY = 8 << 20
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class PatternError(UserError):
    """A pattern RE2 cannot compile (a syntax error, or a construct RE2 does not support)."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(
            f"pattern {pattern!r} does not compile under RE2: {reason}",
            hint="RE2 has no backreferences or lookaround; rewrite the pattern without them.",
        )
        self.pattern = pattern
        self.reason = reason


class Matcher:
    """A compiled pattern, matched against whole values."""

    __slots__ = ("_anchor", "_match", "_regexp", "pattern")

    def __init__(self, pattern: str, regexp: Any) -> None:
        self.pattern = pattern
        self._regexp = regexp
        # The wrapper's fullmatch maps every span back to str offsets (a third of an import's regex time); a
        # yes/no answer only needs RE2's own anchored match on the UTF-8 bytes. Fall back if the internals move.
        import re2  # type: ignore[import-untyped,unused-ignore]

        anchor = getattr(getattr(re2, "_Anchor", None), "ANCHOR_BOTH", None)
        low_level = getattr(regexp, "_regexp", None)
        self._match = getattr(low_level, "Match", None) if anchor is not None else None
        self._anchor = anchor

    def fullmatch(self, text: str) -> bool:
        """True when the pattern matches all of `text` (not a prefix or a substring).

        RE2 matches UTF-8; a lone surrogate (valid in JSON, not in UTF-8) is matched as U+FFFD.
        """
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATE_RE.sub("\ufffd", text)
            encoded = text.encode("utf-8")
        if self._match is None:  # pragma: no cover - a google-re2 without the internals used below
            return self._regexp.fullmatch(text) is not None
        return bool(self._match(self._anchor, encoded, 0, len(encoded))[0] != (-1, -1))

    def __repr__(self) -> str:
        return f"Matcher({self.pattern!r})"


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Matcher:
    """Compile `pattern` with RE2 (cached); raise `PatternError` when RE2 rejects it."""
    import re2  # type: ignore[import-untyped,unused-ignore]

    options = re2.Options()
    options.max_mem = MAX_PROGRAM_MEMORY
    options.log_errors = False  # the reason goes into PatternError, not to stderr
    try:
        regexp = re2.compile(pattern, options)
    except re2.error as exc:
        raise PatternError(pattern, _reason(exc)) from None
    if not isinstance(regexp, re2._Regexp):  # pragma: no cover - a wrapper that falls back to `re` must not pass
        raise PatternError(pattern, "not compiled by RE2")
    return Matcher(pattern, regexp)


def _reason(exc: BaseException) -> str:
    reason = exc.args[0] if exc.args else str(exc)
    if isinstance(reason, bytes):
        return reason.decode("utf-8", "replace")
    return str(reason)
