"""Where a cursor stands in a YAML buffer that may not parse: the JSON path around it, whether a key or a value is
being typed there, the word typed so far and the quoting of the scalar it is in.

Completion runs on the buffer as it is being typed, which is half-written YAML more often than not (a key without
its colon, an unterminated string or expression), so this reads the text by its block structure (indentation,
`- ` items, `key:` pairs) line by line instead of parsing it. It reads only the lines between the cursor and its
top-level ancestor, so it costs the same whether or not the rest of the file is valid. Flow collections are
understood only on the cursor's line (`fields: [a, b, |]`); a flow mapping is not.

Lines and columns are 1-based, columns counted in characters (as in `Location`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from crmctl.model.source import JsonPath

__all__ = ["Cursor", "Position", "cursor_at", "scalar_text"]

Position = Literal["key", "value", "none"]

# A mapping key at the start of what remains of a line: a quoted key, or a plain one without spaces (keys in
# package files are names, paths and codes), followed by a colon that ends the line or is followed by a blank.
_KEY = re.compile(
    r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s#'"\[\]{}|>,:-][^\s:#]*|-[^\s:#]+))[ \t]*:(?=[ \t]|$)"""
)
_BLOCK_INDICATOR = re.compile(r"^[|>][-+0-9]*\s*(#.*)?$")
_WORD = re.compile(r"[A-Za-z0-9_.\-/]*$")


@dataclass(frozen=True)
class _Entry:
    kind: Literal["item", "key"]
    column: int  # 0-based column where the `-` or the key starts
    key: str = ""
    value_column: int = 0  # 0-based column where the key's value text starts (after the colon and blanks)
    value: str = ""  # the value text on this line (comments not stripped)


def _entries(line: str) -> list[_Entry]:
    """The block structure a line opens: its `- ` items, then at most one `key:`."""
    out: list[_Entry] = []
    i = len(line) - len(line.lstrip(" \t"))
    while i < len(line) and line[i] == "-" and (i + 1 == len(line) or line[i + 1] in " \t"):
        out.append(_Entry("item", i))
        i += 1
        while i < len(line) and line[i] in " \t":
            i += 1
    match = _KEY.match(line, i)
    if match is not None:
        key = match.group(1) if match.group(1) is not None else match.group(2)
        if key is None:
            key = match.group(3)
        elif match.group(2) is not None:
            key = key.replace("''", "'")
        start = match.end() + 1
        while start < len(line) and line[start] in " \t":
            start += 1
        start = min(start, len(line))
        out.append(_Entry("key", i, key, start, line[start:]))
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def scalar_text(raw: str) -> str:
    """A one-line scalar's value as written after `key:`: quotes and a trailing comment removed."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        return raw[1:end] if end > 0 else raw[1:]
    return re.split(r"\s#", raw, maxsplit=1)[0].strip()


@dataclass(frozen=True)
class Cursor:
    """What the text says at a cursor.

    `path` is the JSON path of the mapping a key is being typed in (`position == "key"`), or of the value being
    typed (`position == "value"`; a sequence item's path ends with its index). `item` marks a value that is a block
    sequence item (`- |`), where a mapping may start as well. `prefix` is the word typed before the cursor and
    `prefix_column` the column where it starts (what a completion replaces). `value_before` is the value's text up
    to the cursor, its opening quote and block indentation removed (for expressions); `quote` is the YAML quote
    the value is in (`"`, `'` or empty).
    """

    path: JsonPath
    position: Position
    line: int
    column: int
    prefix: str = ""
    prefix_column: int = 0
    value_before: str = ""
    quote: str = ""
    item: bool = False
    _lines: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _scopes: tuple[tuple[int, int], ...] = field(default=(), repr=False, compare=False)
    _sequence: int | None = field(default=None, repr=False, compare=False)  # a block item's dash column; -1: flow

    def other_items(self) -> list[str]:
        """The other items of the sequence the value being typed is an item of (to leave out names already
        listed), as plain text; empty when the value is no sequence item."""
        if self._sequence is None:
            return []
        index = self.line - 1
        if self._sequence < 0:
            text = self._lines[index]
            start = text.rfind("[", 0, self.column - 1)
            end = text.find("]", self.column - 1)
            body = text[start + 1 : end if end >= 0 else len(text)]
            cut = self.column - 2 - start
            items = body[: cut - len(self.prefix)].split(",")[:-1] + body[cut:].split(",")[1:]
            return [scalar_text(item) for item in items if item.strip()]
        return [
            scalar_text(self._lines[i][self._sequence + 1 :])
            for i in _sequence_lines(self._lines, index, self._sequence)
            if i != index
        ]

    def siblings(self) -> dict[str, str]:
        """The keys of the mapping around the cursor (innermost), with their one-line values as written."""
        return _mapping_at(self._lines, *self._scopes[0]) if self._scopes else {}

    def lookup(self, key: str) -> str | None:
        """The value of `key` in the innermost enclosing mapping that has it (e.g. the `entity` of a rule)."""
        for scope in self._scopes:
            found = _mapping_at(self._lines, *scope).get(key)
            if found is not None:
                return scalar_text(found)
        return None


def _mapping_at(lines: tuple[str, ...], index: int, column: int) -> dict[str, str]:
    """Keys (and their values on the key's line) of the block mapping whose keys stand at `column` and which
    contains line `index` (0-based)."""
    found: dict[str, str] = {}

    def visit(i: int) -> bool:
        line = lines[i]
        if len(line) - len(line.lstrip(" \t")) > column or _blank(line):
            return True  # deeper content (or nothing): neither a key of this mapping nor its end
        entries = _entries(line)
        for entry in entries:
            if entry.column == column and entry.kind == "key":
                found.setdefault(entry.key, entry.value)
        leftmost = entries[0].column if entries else _indent(line)
        if leftmost < column:
            return False
        return not any(e.column == column and e.kind == "item" for e in entries)

    for i in range(index, -1, -1):
        if not visit(i):
            break
    for i in range(index + 1, len(lines)):
        if not visit(i):
            break
    return found


def _sequence_lines(lines: tuple[str, ...], index: int, column: int) -> list[int]:
    """The lines of the block sequence whose dashes stand at `column` and which contains line `index`."""
    found: list[int] = []
    for step in (-1, 1):
        i = index + (step if step > 0 else 0)
        while 0 <= i < len(lines):
            line = lines[i]
            indent = len(line) - len(line.lstrip(" \t"))
            if indent > column or _blank(line):
                i += step
                continue
            if indent < column or line[indent : indent + 1] != "-":
                break
            found.append(i)
            i += step
    return sorted(set(found))


def _in_comment(text: str) -> bool:
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"') and (i == 0 or text[i - 1] in " \t[{,:"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return True
    return False


def _open_quote(value: str) -> tuple[str, str] | None:
    """For a value starting with a quote: (quote, text inside so far) when still open at the end, None when closed."""
    quote = value[0]
    i = 1
    while i < len(value):
        if quote == '"' and value[i] == "\\":
            i += 2
            continue
        if value[i] == quote:
            if quote == "'" and value[i + 1 : i + 2] == "'":
                i += 2
                continue
            return None
        i += 1
    return quote, value[1:]


def cursor_at(text: str, line: int, column: int) -> Cursor:
    """The `Cursor` at 1-based (`line`, `column`) of `text`; positions past the end are moved to the end."""
    lines = tuple(text.split("\n")) if "\r" not in text else tuple(part.rstrip("\r") for part in text.split("\n"))
    line = min(max(line, 1), len(lines))
    current = lines[line - 1]
    column = min(max(column, 1), len(current) + 1)
    before = current[: column - 1]
    none = Cursor((), "none", line, column, _lines=lines)
    if _in_comment(before):
        return none
    entries = _entries(before)
    items = [e for e in entries if e.kind == "item"]
    key = next((e for e in entries if e.kind == "key"), None)
    rest_column = (items[-1].column + 2) if items else _indent(before)
    if key is not None:
        rest_column = key.column
    ancestors = _ancestors(lines, line - 1, rest_column, [e.column for e in items])
    if ancestors is None:
        return _continuation(lines, line - 1, before, column)
    parts, scopes = ancestors
    if key is not None:
        return _value(
            lines, line, column, (*parts, key.key), key.value, key.value_column, ((line - 1, key.column), *scopes)
        )
    rest = before[rest_column:]
    if not re.fullmatch(r"[\"']?[A-Za-z0-9_.\-/]*", rest):
        return none
    word = rest.lstrip("\"'")
    at = column - len(word)
    if items and not rest_column < len(before) and not word:
        # `- |`: an item with nothing typed yet
        return Cursor(
            tuple(parts),
            "value",
            line,
            column,
            "",
            at,
            "",
            item=True,
            _lines=lines,
            _scopes=tuple(scopes),
            _sequence=items[-1].column,
        )
    if items:
        return Cursor(
            tuple(parts),
            "value",
            line,
            column,
            word,
            at,
            word,
            item=True,
            _lines=lines,
            _scopes=tuple(scopes),
            _sequence=items[-1].column,
        )
    scope = ((line - 1, rest_column), *scopes)
    return Cursor(tuple(parts), "key", line, column, word, at, _lines=lines, _scopes=scope)


def _value(
    lines: tuple[str, ...],
    line: int,
    column: int,
    path: JsonPath,
    value: str,
    value_column: int,
    scopes: tuple[tuple[int, int], ...],
) -> Cursor:
    """The cursor in the value of `path`'s key, whose text up to the cursor is `value` (starting at `value_column`)."""
    stripped = value.lstrip()
    if _BLOCK_INDICATOR.match(stripped) or stripped.startswith("{"):
        return Cursor((), "none", line, column, _lines=lines)
    if stripped.startswith("["):
        return _flow_item(lines, line, column, path, stripped, scopes)
    quote = ""
    inside = value
    if value[:1] in ("'", '"'):
        opened = _open_quote(value)
        if opened is None:
            return Cursor((), "none", line, column, _lines=lines)
        quote, inside = opened
    word = _WORD.search(inside)
    prefix = word.group() if word else ""
    return Cursor(
        path, "value", line, column, prefix, column - len(prefix), inside, quote, _lines=lines, _scopes=scopes
    )


def _flow_item(
    lines: tuple[str, ...], line: int, column: int, path: JsonPath, value: str, scopes: tuple[tuple[int, int], ...]
) -> Cursor:
    inner = value[1:]
    if "]" in inner:
        return Cursor((), "none", line, column, _lines=lines)
    index = inner.count(",")
    piece = inner.rsplit(",", 1)[-1].lstrip()
    quote = piece[:1] if piece[:1] in ("'", '"') else ""
    word = piece[1:] if quote else piece
    if not re.fullmatch(r"[A-Za-z0-9_.\-/]*", word):
        return Cursor((), "none", line, column, _lines=lines)
    return Cursor(
        (*path, index),
        "value",
        line,
        column,
        word,
        column - len(word),
        word,
        quote,
        _lines=lines,
        _scopes=scopes,
        _sequence=-1,
    )


def _continuation(lines: tuple[str, ...], index: int, before: str, column: int) -> Cursor:
    """The cursor on a continuation line of a multi-line scalar (a block scalar or a folded plain/quoted one)."""
    none = Cursor((), "none", index + 1, column, _lines=lines)
    threshold = _indent(before) if before.strip() else len(before)
    for i in range(index - 1, -1, -1):
        line = lines[i]
        if _blank(line):
            continue
        entries = _entries(line)
        key = next((e for e in reversed(entries) if e.kind == "key" and e.column < threshold), None)
        if key is None:
            if _indent(line) < threshold:
                return none
            continue
        found = _ancestors(lines, i, key.column, [e.column for e in entries if e.kind == "item"])
        if found is None:
            return none
        parts, scopes = found
        head = key.value.strip()
        block = bool(_BLOCK_INDICATOR.match(head))
        pieces = [] if block else [head]
        pieces += [text.strip() for text in lines[i + 1 : index]]
        pieces.append(before.lstrip(" \t"))
        text = ("\n" if block and head.startswith("|") else " ").join(pieces)
        quote = ""
        if not block and head[:1] in ("'", '"'):
            opened = _open_quote(text)
            if opened is None:
                return none
            quote, text = opened
        word = _WORD.search(text)
        prefix = word.group() if word else ""
        return Cursor(
            (*parts, key.key),
            "value",
            index + 1,
            column,
            prefix,
            column - len(prefix),
            text,
            quote,
            _lines=lines,
            _scopes=((i, key.column), *scopes),
        )
    return none


def _ancestors(
    lines: tuple[str, ...], index: int, column: int, items: list[int]
) -> tuple[list[str | int], list[tuple[int, int]]] | None:
    """The path to the collection at `column` of line `index` (whose `items` columns open sequence items before
    it), and the (line, column) of each enclosing mapping, innermost first. None when the line continues the
    scalar value of the key above it (a multi-line scalar, not a structure)."""
    parts: list[str | int] = []  # innermost first
    scopes: list[tuple[int, int]] = []
    counting: int | None = None  # column of the sequence whose item's index is being counted
    count = 0
    threshold = column
    for position, item_column in enumerate(reversed(items)):
        if position < len(items) - 1:
            parts.append(0)  # an item opened on the same line as an outer item is the first of its sequence
        else:
            counting, count = item_column, 0
        threshold = item_column
    for i in range(index - 1, -1, -1):
        line = lines[i]
        indent = _indent(line)
        if (indent > counting) if counting is not None else (indent >= threshold):
            continue
        if _blank(line):
            continue
        entries = _entries(line)
        leftmost = entries[0].column if entries else indent
        indentless = False
        if counting is not None:
            sibling = any(e.kind == "item" and e.column == counting for e in entries)
            count += sibling
            if leftmost == counting and (sibling or not entries):
                continue
            indentless = not sibling and leftmost == counting
            parts.append(count)
            threshold, counting = counting, None
        for entry in reversed(entries):
            if entry.column > threshold or (entry.column == threshold and not (indentless and entry.kind == "key")):
                continue
            indentless = False
            if entry.kind == "key":
                value = entry.value.strip()
                if value and not value.startswith("#") and not parts and not items:
                    return None
                parts.append(entry.key)
                scopes.append((i, entry.column))
            elif entry is not entries[0]:
                parts.append(0)
            else:
                counting, count = entry.column, 0
            threshold = entry.column
        if threshold == 0 and counting is None:
            break
    if counting is not None:
        parts.append(count)
    return list(reversed(parts)), scopes
