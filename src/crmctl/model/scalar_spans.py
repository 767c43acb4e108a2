"""Exact positions inside YAML and JSON scalars: where character `i` of a scalar's value is in the file.

The value of a scalar is aligned with its source text (plain, single- and double-quoted, multi-line plain,
literal and folded block scalars, JSON strings), skipping what quoting and folding add: the quotes, an escaping
backslash, a doubled single quote, line breaks and indentation, a block scalar's header line. Where the alignment
fails (an escape sequence such as `\\u0041` spelling a character), the answer is the span of the whole scalar and
says it is not exact. Positions are `Location`s: 1-based lines and columns in characters (code points).

One implementation for the whole tree: the symbol index (`crmctl.lang.symbols`) places names with it, lint places
CEL diagnostics with it (`crmctl.model.cel.expression_location`).
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

from crmctl.model.diagnostics import Location

if TYPE_CHECKING:
    from crmctl.model.source import JsonPath, SourceDoc

__all__ = ["ScalarSpans", "exact_span"]

_NEWLINE = re.compile("\n")
_SKIPPABLE = frozenset(" \t\r\n'\"\\")


class ScalarSpans:
    """Maps character offsets of a scalar's value to file positions, per document."""

    def __init__(self) -> None:
        self._starts: dict[str, list[int]] = {}
        self._aligned: dict[tuple[str, JsonPath, bool], tuple[int | list[int] | None, Location]] = {}

    def _line_starts(self, doc: SourceDoc) -> list[int]:
        starts = self._starts.get(doc.file)
        if starts is None:
            starts = [0, *(m.end() for m in _NEWLINE.finditer(doc.text))]
            self._starts[doc.file] = starts
        return starts

    def _align(self, doc: SourceDoc, path: JsonPath, key: bool, value: str) -> tuple[int | list[int] | None, Location]:
        """Where the characters of `value` are in `doc.text`: an offset when the value is written as is (a plain or
        simply quoted one-line scalar, the common case), else an offset per character (-1 for whitespace, which
        folding may move), or None when the value cannot be aligned with its source; and the span of the whole
        scalar."""
        cached = self._aligned.get((doc.file, path, key))
        if cached is not None:
            return cached
        span = doc.span(path, key=key)
        starts = self._line_starts(doc)
        lo = _offset(starts, span.line, span.column)
        hi = _offset(starts, span.end_line or span.line, span.end_column or span.column)
        # The loader's marks count U+0085/U+2028/U+2029 inside quoted scalars and comments as line breaks (libyaml),
        # this text does not: a span may then point past the text. The alignment below rejects what does not match.
        lo, hi = min(lo, len(doc.text)), min(hi, len(doc.text))
        text = doc.text
        found: int | list[int] | None = None
        for start in (lo, lo + 1):
            if start + len(value) <= hi and text.startswith(value, start) and hi - start - len(value) == start - lo:
                found = start  # plain (`name`) or quoted (`'name'`, `"name"`) without anything between
        if found is None:
            found = _walk(text, lo, hi, value)
        result = (found, span)
        self._aligned[(doc.file, path, key)] = result
        return result

    def name(
        self,
        doc: SourceDoc,
        path: JsonPath,
        value: str,
        offset: int = 0,
        length: int | None = None,
        *,
        key: bool = False,
    ) -> tuple[Location, bool]:
        """The span of `value[offset:offset + length]` inside the scalar (or key) at `path`, and whether it is exact;
        an inexact answer is the span of the whole scalar."""
        length = len(value) - offset if length is None else length
        aligned, whole = self._align(doc, path, key, value)
        if aligned is None or length <= 0 or offset + length > len(value):
            return whole, False
        if isinstance(aligned, int):
            first = aligned + offset
            last = first + length - 1
        else:
            first, last = aligned[offset], aligned[offset + length - 1]
        if first < 0 or last - first != length - 1 or doc.text[first : last + 1] != value[offset : offset + length]:
            return whole, False
        starts = self._line_starts(doc)
        line, column = _position(starts, first)
        return Location(doc.file, line, column, line, column + length), True


def exact_span(
    doc: SourceDoc, path: JsonPath, value: str, offset: int = 0, length: int | None = None, *, key: bool = False
) -> tuple[Location, bool]:
    """The span of `value[offset:offset + length]` (all of it by default) inside the scalar or key at `path` of
    `doc` whose value is `value`, and whether it is exact (else the span of the whole scalar)."""
    return ScalarSpans().name(doc, path, value, offset, length, key=key)


def _walk(text: str, lo: int, hi: int, value: str) -> list[int] | None:
    """Align `value` with the scalar's source `text[lo:hi]`, skipping what quoting and folding add: the quotes, an
    escaping backslash, a doubled single quote, line breaks and indentation, a block scalar's header line."""
    j = lo
    if j < hi and text[j] in "|>":  # a block scalar: its content starts on the next line
        newline = text.find("\n", j, hi)
        j = hi if newline < 0 else newline + 1
    aligned: list[int] = []
    for ch in value:
        if ch.isspace():
            aligned.append(-1)
            continue
        while j < hi and text[j] != ch and text[j] in _SKIPPABLE:
            j += 1
        if j >= hi or text[j] != ch:
            return None
        aligned.append(j)
        j += 1
    return aligned


def _offset(starts: list[int], line: int, column: int) -> int:
    return starts[min(line, len(starts)) - 1] + column - 1


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1
