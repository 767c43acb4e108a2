"""The tolerant cursor reader: paths, positions and words in half-typed YAML."""

from __future__ import annotations

import pytest

from crmctl.lang.cursor import Cursor, cursor_at, scalar_text
from tests.lang.cases import MARK


def _at(marked: str) -> Cursor:
    index = marked.index(MARK)
    before = marked[:index]
    return cursor_at(marked.replace(MARK, ""), before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


@pytest.mark.parametrize(
    ("marked", "path", "position", "prefix"),
    [
        ("entities:\n  Lead:\n    fie‸\n", ("entities", "Lead"), "key", "fie"),
        ("a:\n  b: 1\n  c:\n    d: x\n  ‸", ("a",), "key", ""),
        ("rules:\n- id: a\n- id: b\n  ta‸", ("rules", 1), "key", "ta"),  # an indentless sequence
        ("x:\n  - - a\n    - b‸", ("x", 0, 1), "value", "b"),  # compact nested sequences
        ("x:\n  - - a\n  - - b‸", ("x", 1, 0), "value", "b"),
        ("w:\n  - id: t\n    actions:\n      - set:\n          st‸", ("w", 0, "actions", 0, "set"), "key", "st"),
        ("a:\n  'quoted key': 1\n  \"b\":\n    c: d‸", ("a", "b", "c"), "value", "d"),
        ("labels:\n  Lead.first‸", ("labels",), "key", "Lead.first"),
        ("f: [a, 'b', c‸", ("f", 2), "value", "c"),
        ("f: [a, 'b‸", ("f", 1), "value", "b"),
        ("a:\r\n  b: x‸\r\n", ("a", "b"), "value", "x"),
        ("a:\n  b: |\n    one\n    tw‸", ("a", "b"), "value", "tw"),
        ("a:\n  b: one\n    tw‸", ("a", "b"), "value", "tw"),  # a folded plain scalar
        ("a:\n  b: 'one\n    tw‸", ("a", "b"), "value", "tw"),
        ('a:\n  b: "one \\" two‸', ("a", "b"), "value", "two"),
        ("a:\n  b: 'it''s‸", ("a", "b"), "value", "s"),
    ],
)
def test_cursor_paths(marked: str, path: tuple[object, ...], position: str, prefix: str) -> None:
    cursor = _at(marked)
    assert (cursor.path, cursor.position, cursor.prefix) == (path, position, prefix)


@pytest.mark.parametrize(
    "marked",
    [
        "a: 'closed' ‸",
        "a: [x, y] ‸",
        "a: {b: ‸",  # flow mappings are not read
        "a: |‸",
        "# comment ‸",
        "a: b # comment ‸",
        "a:\n  b: 'one\n  c: 'x' ‸",
        "a:\n  b: 'one'\n    two' ‸",  # a continuation after a closed quote
        "f: [a, b c‸",
        "- x\n  b c‸",
    ],
)
def test_nothing_to_complete(marked: str) -> None:
    assert _at(marked).position == "none"


def test_siblings_and_lookup_read_the_enclosing_mappings() -> None:
    cursor = _at("rules:\n  - id: r\n    entity: Lead\n    when: a‸\n    scope: 'field'  # the scope\n  - id: s\n")
    assert cursor.siblings() == {"id": "r", "entity": "Lead", "when": "a", "scope": "'field'  # the scope"}
    assert cursor.lookup("scope") == "field"
    assert cursor.lookup("rules") == ""
    assert cursor.lookup("nothing") is None


def test_positions_outside_the_text_are_moved_to_its_end() -> None:
    assert cursor_at("a:\n  b: x", 99, 99) == cursor_at("a:\n  b: x", 2, 7)
    assert cursor_at("", -3, -3).position == "key"


def test_scalar_text() -> None:
    assert scalar_text(" 'a b' ") == "a b"
    assert scalar_text('"open') == "open"
    assert scalar_text("plain # comment") == "plain"


@pytest.mark.parametrize(
    ("marked", "others"),
    [
        ("f: [a, 'b', c‸]", ["a", "b"]),
        ("f: [a, ‸, d]", ["a", "d"]),
        ("f: [‸", []),
        ("f:\n  - a\n  - sub:\n      - x\n  # note\n  - b‸\n  - c\ng: 1", ["a", "sub:", "c"]),
        ("f:\n  - ‸", []),
        ("f: x‸", []),
    ],
)
def test_other_items_of_the_sequence(marked: str, others: list[str]) -> None:
    assert _at(marked).other_items() == others
