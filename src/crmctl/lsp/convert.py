"""Positions between the core and the protocol.

The core counts 1-based lines and 1-based columns in characters (code points), ends exclusive (`Location`,
`crmctl.lang.edits.TextEdit`). LSP counts 0-based lines and columns in the position encoding negotiated at
`initialize`: UTF-16 code units unless the client offers UTF-32 or UTF-8 (pygls picks the client's first choice it
supports). Every conversion takes the text of the line, so that a character outside the Basic Multilingual Plane
(two UTF-16 units, four UTF-8 bytes) before a position shifts it right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from crmctl.lang.edits import TextEdit, group_by_file
from crmctl.model.diagnostics import Diagnostic, Location, Severity
from crmctl.model.source import SourceDoc

__all__ = [
    "LineIndex",
    "apply_change",
    "diagnostic_span",
    "file_uri",
    "to_lsp_diagnostic",
    "to_text_edits",
    "to_workspace_edit",
]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"[\w.]+")
_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}


def _units(text: str, encoding: str) -> int:
    if encoding == lsp.PositionEncodingKind.Utf32:
        return len(text)
    if encoding == lsp.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class LineIndex:
    """The lines of one text (split at LSP's line breaks: LF, CRLF, CR) for position conversion."""

    def __init__(self, text: str, encoding: str = lsp.PositionEncodingKind.Utf16) -> None:
        self.lines = _LINE_BREAK.split(text)
        self.encoding = encoding
        self._starts = [0, *(m.end() for m in _LINE_BREAK.finditer(text))]
        self._length = len(text)

    def offset(self, position: lsp.Position) -> int:
        """The index in the text of an LSP position (clamped to its line; past the last line, the end)."""
        if position.line >= len(self.lines):
            return self._length
        line, column = self.column(position)
        return self._starts[line - 1] + column - 1

    def line_text(self, line: int) -> str:
        """The text of 1-based `line`, empty past the end."""
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""

    def position(self, line: int, column: int) -> lsp.Position:
        """The LSP position of a 1-based line and 1-based character column (clamped to the text)."""
        line = max(1, min(line, len(self.lines)))
        text = self.line_text(line)
        column = max(1, min(column, len(text) + 1))
        return lsp.Position(line - 1, _units(text[: column - 1], self.encoding))

    def column(self, position: lsp.Position) -> tuple[int, int]:
        """The 1-based (line, character column) of an LSP position; a position inside a character (half of a
        surrogate pair, a byte of a multi-byte sequence) counts as that character's start."""
        line = position.line + 1
        text = self.line_text(line)
        units = 0
        for index, char in enumerate(text):
            if units >= position.character:
                return line, index + 1
            units += _units(char, self.encoding)
            if units > position.character:
                return line, index + 1
        return line, len(text) + 1

    def range(self, span: Location) -> lsp.Range:
        end_line = span.end_line if span.end_line is not None else span.line
        end_column = span.end_column if span.end_column is not None else span.column
        return lsp.Range(self.position(span.line, span.column), self.position(end_line, end_column))


def apply_change(text: str, change: lsp.TextDocumentContentChangeEvent, encoding: str) -> str:
    """`text` after one change of a `didChange` notification, its range read with LSP's line breaks (pygls's own
    documents split lines with `str.splitlines`, which also breaks at U+2028, NEL, form feed…, so an edit after
    such a character landed on the wrong line)."""
    if not isinstance(change, lsp.TextDocumentContentChangePartial):
        return change.text
    index = LineIndex(text, encoding)
    return text[: index.offset(change.range.start)] + change.text + text[index.offset(change.range.end) :]


def file_uri(file: str) -> str:
    """The `file:` URI of an absolute file name as the package names it."""
    return from_fs_path(file) or Path(file).as_uri()


def diagnostic_span(location: Location, doc: SourceDoc | None, index: LineIndex) -> Location:
    """The text a finding underlines. A location with an end is taken as it is; one at the start of a value or key
    spans that value or key (`SourceDoc.span`); one inside a value (a CEL position inside an expression) spans the
    word there; a finding without a line (a whole file) spans the first line."""
    if location.end_line is not None:
        return location
    line, column = location.line, location.column
    if doc is not None:
        found = doc.path_at(line, column)
        if found is not None:
            path, is_key = found
            span = doc.span(path, key=is_key)
            if (span.line, span.column) == (line, column) and (span.end_line, span.end_column) != (line, column):
                return span
    text = index.line_text(line)
    if (line, column) == (1, 1) and doc is None:
        return Location(location.file, 1, 1, 1, len(text) + 1)
    word = _WORD.match(text, column - 1) if column - 1 < len(text) else None
    end = word.end() + 1 if word else min(column + 1, len(text) + 1)
    return Location(location.file, line, column, line, max(end, column))


def to_lsp_diagnostic(
    diag: Diagnostic, doc: SourceDoc | None, index: LineIndex, href: str | None, *, source: str = "crmctl"
) -> lsp.Diagnostic:
    """A finding as an LSP diagnostic: exact range, severity, code (linked to its documentation), the fix text
    after the message."""
    message = diag.message if not diag.fix else f"{diag.message}\n{diag.fix}"
    return lsp.Diagnostic(
        range=index.range(diagnostic_span(diag.location, doc, index)),
        message=message,
        severity=_SEVERITY[diag.severity],
        code=diag.code,
        code_description=lsp.CodeDescription(href=href) if href else None,
        source=source,
    )


def to_text_edits(edits: Iterable[TextEdit], index: LineIndex) -> list[lsp.TextEdit]:
    """Edits of one file (whose text `index` holds) as LSP text edits."""
    return [
        lsp.TextEdit(
            range=lsp.Range(index.position(e.line, e.column), index.position(e.end_line, e.end_column)),
            new_text=e.new_text,
        )
        for e in edits
    ]


def to_workspace_edit(edits: Iterable[TextEdit], texts: dict[str, str], encoding: str) -> lsp.WorkspaceEdit:
    """Edits over several files as a workspace edit; `texts` gives each file's current text (for positions)."""
    changes = {
        file_uri(file): to_text_edits(file_edits, LineIndex(texts.get(file, ""), encoding))
        for file, file_edits in group_by_file(edits).items()
    }
    return lsp.WorkspaceEdit(changes=changes)
