"""Positions between the core (1-based, code points) and LSP (0-based, negotiated encoding)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from crmctl.lang.edits import TextEdit
from crmctl.lsp.convert import LineIndex, apply_change, diagnostic_span, file_uri, to_lsp_diagnostic, to_workspace_edit
from crmctl.model.diagnostics import Diagnostic, Location, Severity
from crmctl.model.source import parse_text

U16, U32, U8 = lsp.PositionEncodingKind.Utf16, lsp.PositionEncodingKind.Utf32, lsp.PositionEncodingKind.Utf8


def test_astral_characters_count_two_utf16_units_one_utf32_four_utf8() -> None:
    text = "a: '😀x'\n"
    column = text.index("x") + 1
    assert LineIndex(text, U16).position(1, column) == lsp.Position(0, column)  # 😀 is 2 units, 1 code point
    assert LineIndex(text, U32).position(1, column) == lsp.Position(0, column - 1)
    assert LineIndex(text, U8).position(1, column) == lsp.Position(0, column + 2)


def test_positions_are_clamped_and_line_breaks_are_lsps() -> None:
    index = LineIndex("ab\r\ncd\re\n")
    assert index.lines == ["ab", "cd", "e", ""]
    assert index.position(9, 9) == lsp.Position(3, 0)
    assert index.position(1, 99) == lsp.Position(0, 2)
    assert index.line_text(0) == ""


@settings(derandomize=True, max_examples=200)
@given(st.text(alphabet=st.sampled_from("aé😀\u4e00 "), max_size=12), st.sampled_from([U16, U32, U8]))
def test_column_and_position_are_inverse(line: str, encoding: str) -> None:
    index = LineIndex(line, encoding)
    for column in range(1, len(line) + 2):
        assert index.column(index.position(1, column)) == (1, column)


def test_a_position_inside_a_surrogate_pair_is_the_characters_start() -> None:
    index = LineIndex("😀b", U16)
    assert index.column(lsp.Position(0, 1)) == (1, 1)
    assert index.column(lsp.Position(0, 2)) == (1, 2)


def test_diagnostic_spans() -> None:
    text = "rules:\n  - when: a && compny\n    id: x\n"
    doc = parse_text(text, "/p/rules.yaml")
    index = LineIndex(text)
    # at a value's start: the whole value; at a key: the key; inside a value: the word there
    assert diagnostic_span(Location(doc.file, 2, 11), doc, index) == Location(doc.file, 2, 11, 2, 22)
    assert diagnostic_span(Location(doc.file, 3, 5), doc, index) == Location(doc.file, 3, 5, 3, 7)
    assert diagnostic_span(Location(doc.file, 2, 16), doc, index) == Location(doc.file, 2, 16, 2, 22)
    # an explicit end is kept; no document: the first line for a whole-file finding, one character elsewhere
    assert diagnostic_span(Location(doc.file, 1, 1, 1, 3), doc, index) == Location(doc.file, 1, 1, 1, 3)
    assert diagnostic_span(Location(doc.file), None, index) == Location(doc.file, 1, 1, 1, 7)
    assert diagnostic_span(Location(doc.file, 2, 5), None, index) == Location(doc.file, 2, 5, 2, 9)
    assert diagnostic_span(Location(doc.file, 2, 3), None, index) == Location(doc.file, 2, 3, 2, 4)


def test_lsp_diagnostic_and_workspace_edit() -> None:
    diag = Diagnostic("SCH106", "twice", Location("/p/a.yaml", 1, 1), Severity.WARNING, fix="Remove it.")
    out = to_lsp_diagnostic(diag, None, LineIndex("abc\n"), "file:///docs#sch106")
    assert out.message == "twice\nRemove it." and out.severity == lsp.DiagnosticSeverity.Warning
    assert out.code_description is not None and out.source == "crmctl"
    edit = to_workspace_edit([TextEdit("/p/a.yaml", 1, 2, 1, 3, "X")], {"/p/a.yaml": "abc\n"}, U16)
    assert edit.changes == {
        file_uri("/p/a.yaml"): [lsp.TextEdit(lsp.Range(lsp.Position(0, 1), lsp.Position(0, 2)), "X")]
    }


@settings(derandomize=True, max_examples=200)
@given(
    st.text(alphabet=st.sampled_from(["a", "é", "𝄞", "\n", "\r", "\u2028", "\x85", "\x0c"]), max_size=30),
    st.integers(0, 40),
    st.integers(0, 40),
    st.text(alphabet=st.sampled_from(["x", "𝄞", "\n"]), max_size=3),
    st.sampled_from(list(lsp.PositionEncodingKind)),
)
def test_a_change_replaces_exactly_its_range(text: str, a: int, b: int, new: str, encoding: str) -> None:
    """A didChange range, read with LSP's line breaks (LF, CR, CRLF) in any position encoding, replaces the text
    between its two offsets; characters Python's splitlines breaks at (U+2028, NEL, form feed) are not breaks."""
    start, end = sorted((min(a, len(text)), min(b, len(text))))
    if text[start - 1 : start + 1] == "\r\n" or text[end - 1 : end + 1] == "\r\n":
        return  # no position lies inside a CRLF
    index = LineIndex(text, encoding)

    def position(offset: int) -> lsp.Position:
        before = re.split(r"\r\n|\r|\n", text[:offset])
        return index.position(len(before), len(before[-1]) + 1)

    partial = lsp.TextDocumentContentChangePartial(range=lsp.Range(position(start), position(end)), text=new)
    assert apply_change(text, partial, encoding) == text[:start] + new + text[end:]
    assert apply_change(text, lsp.TextDocumentContentChangeWholeDocument(text=new), encoding) == new
    past = lsp.Position(len(index.lines) + 3, 0)
    assert apply_change(
        text, lsp.TextDocumentContentChangePartial(range=lsp.Range(past, past), text=new), encoding
    ) == (text + new)
