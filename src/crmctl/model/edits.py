"""Text edits: what a rename, a quick fix or a formatting run (`crmctl.model.formatting`) asks an editor (or
`crmctl`) to change.

Positions are those of `Location`: 1-based lines, 1-based columns counted in characters (code points), the end
exclusive. Files are named as the package names them (`SourceDoc.file`: the package label joined with the
relative path), so that an editor front end maps them back to its documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crmctl.model.diagnostics import Location

__all__ = ["TextEdit", "apply_edits", "group_by_file", "unified_diff"]


@dataclass(frozen=True, order=True)
class TextEdit:
    """Replace the text from (`line`, `column`) up to, not including, (`end_line`, `end_column`) of `file` by
    `new_text`; an insertion has equal start and end."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    new_text: str

    @classmethod
    def replacing(cls, span: Location, new_text: str) -> TextEdit:
        """An edit replacing the text `span` covers (a `SourceDoc.span`); a span without an end is an insertion."""
        end_line = span.end_line if span.end_line is not None else span.line
        end_column = span.end_column if span.end_column is not None else span.column
        return cls(span.file, span.line, span.column, end_line, end_column, new_text)


def group_by_file(edits: Iterable[TextEdit]) -> dict[str, list[TextEdit]]:
    """Edits per file, each file's in document order."""
    out: dict[str, list[TextEdit]] = {}
    for edit in sorted(edits):
        out.setdefault(edit.file, []).append(edit)
    return out


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """`text` with `edits` (all of one file, none overlapping) applied; raises ValueError on overlapping edits or
    positions outside the text, so that a wrong edit is never half-applied."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        if not 1 <= line <= len(lines) + 1:
            raise ValueError(f"line {line} is outside the text ({len(lines)} lines)")
        width = len(lines[line - 1].rstrip("\r\n")) if line <= len(lines) else 0
        if not 1 <= column <= width + 1:
            raise ValueError(f"column {column} is outside line {line} ({width} characters)")
        return starts[line - 1] + column - 1

    out: list[str] = []
    cursor = 0
    for edit in sorted(edits, key=lambda e: (e.line, e.column, e.end_line, e.end_column)):
        start, end = offset(edit.line, edit.column), offset(edit.end_line, edit.end_column)
        if start < cursor or end < start:
            raise ValueError(f"overlapping or reversed edit at {edit.line}:{edit.column}")
        out.append(text[cursor:start])
        out.append(edit.new_text)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def unified_diff(name: str, before: str | None, after: str) -> str:
    """The unified diff of file `name` from `before` (None: a new file, `--- /dev/null`) to `after`, with the
    `a/` and `b/` prefixes of `git diff` (so `git apply` takes it); empty when nothing changes."""
    import difflib

    old = "/dev/null" if before is None else f"a/{name}"
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True), after.splitlines(keepends=True), old, f"b/{name}"
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
