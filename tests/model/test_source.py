"""Loading YAML/JSON with positions, and the clear located errors bad input gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.errors import InputError
from crmctl.model.source import MAX_DEPTH, load_document, parse_text


def test_positions_of_values_and_keys() -> None:
    doc = parse_text("a: 1\nb:\n  - x: yes\n", "f.yaml")
    assert doc.data == {"a": 1, "b": [{"x": "yes"}]}
    assert str(doc.loc(("b", 0, "x"))) == "f.yaml:3:8"
    assert str(doc.loc(("b", 0, "x"), key=True)) == "f.yaml:3:5"
    assert str(doc.loc(("b", 0, "missing"))) == "f.yaml:3:5"  # nearest ancestor


def test_yaml_12_keeps_yes_and_dates_as_strings() -> None:
    doc = parse_text("a: yes\nb: 2026-01-01\nc: on\n", "f.yaml")
    assert doc.data == {"a": "yes", "b": "2026-01-01", "c": "on"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\na: 2\n", "f.yaml:2:1: duplicate key 'a'"),
        ("a: [1\n", "f.yaml:2:1: invalid YAML"),
        ("a: .inf\n", "f.yaml:1:4: '.inf' is not a finite number"),
        ("a: !custom 1\n", "f.yaml:1:4: unsupported YAML tag"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
        ("? [a, b]\n: 1\n", "mapping keys must be plain strings"),
    ],
)
def test_bad_yaml_is_located(text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected.replace("[", r"\[")):
        parse_text(text, "f.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "a": 2}', "f.json:1:10: duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not a valid number"),
        ('{"a": 1,}', "f.json:1:9: invalid JSON"),
    ],
)
def test_bad_json_is_located(text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        parse_text(text, "f.json", as_json=True)


def test_deep_nesting_is_refused_not_crashing() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(InputError, match="nesting is deeper"):
        parse_text(text, "f.yaml")


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(InputError, match="alias bomb"):
        parse_text("\n".join(lines) + "\n", "f.yaml")


def test_non_utf8_bytes_are_located(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InputError, match=r"f.yaml:2:7: file is not valid UTF-8 \(byte 0xe9\)"):
        load_document(path, "f.yaml")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes("\ufeffa: café\n".encode())
    assert load_document(path, "f.yaml").data == {"a": "café"}
