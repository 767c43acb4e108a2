"""Text edits apply exactly where they say, all or nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.model.diagnostics import Location
from crmctl.model.edits import TextEdit, apply_edits, group_by_file


def test_replace_insert_and_delete_in_one_pass() -> None:
    text = "name: Lead\nfields:\n  phone: {type: string}\n"
    edits = [
        TextEdit.replacing(Location("f", 3, 3, 3, 8), "mobile"),
        TextEdit("f", 1, 11, 1, 11, "  # renamed"),
        TextEdit("f", 2, 1, 3, 1, ""),
    ]
    assert apply_edits(text, edits) == "name: Lead  # renamed\n  mobile: {type: string}\n"


@pytest.mark.parametrize(
    "edit",
    [
        TextEdit("f", 5, 1, 5, 1, "x"),  # past the last line
        TextEdit("f", 1, 9, 1, 9, "x"),  # past the end of the line
        TextEdit("f", 1, 3, 1, 2, "x"),  # reversed
    ],
)
def test_edits_outside_the_text_are_refused(edit: TextEdit) -> None:
    with pytest.raises(ValueError):
        apply_edits("a: 1\nb: 2\n", [edit])


def test_overlapping_edits_are_refused_not_half_applied() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        apply_edits("abcdef\n", [TextEdit("f", 1, 1, 1, 4, "x"), TextEdit("f", 1, 3, 1, 5, "y")])


def test_group_by_file_sorts_each_file() -> None:
    a2, a1, b1 = TextEdit("a", 2, 1, 2, 1, ""), TextEdit("a", 1, 1, 1, 1, ""), TextEdit("b", 1, 1, 1, 1, "")
    assert group_by_file([a2, b1, a1]) == {"a": [a1, a2], "b": [b1]}


@settings(derandomize=True, max_examples=200)
@given(st.text(alphabet="ab\n", max_size=30), st.data())
def test_an_edit_replaces_exactly_its_span(text: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))

    def position(offset: int) -> tuple[int, int]:
        before = text[:offset]
        return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1

    (line, column), (end_line, end_column) = position(i), position(j)
    edit = TextEdit("f", line, column, end_line, end_column, "XY")
    assert apply_edits(text, [edit]) == text[:i] + "XY" + text[j:]


def test_lang_edits_re_exports_the_model_types() -> None:
    import crmctl.lang.edits as lang_edits

    assert (lang_edits.TextEdit, lang_edits.apply_edits, lang_edits.group_by_file) == (
        TextEdit,
        apply_edits,
        group_by_file,
    )
