"""Loading YAML/JSON with positions, and the clear located errors bad input gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crmctl.errors import InputError
from crmctl.model.source import MAX_DEPTH, load_document, parse_json, parse_text


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
        ('{"a": NaN}', "NaN is not a JSON number"),
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


# Tens of thousands of levels used to crash the interpreter inside libyaml's recursive composer (exit 139) before
# the builder's depth check ran. The script runs in a subprocess, so that a regression fails this test instead of
# killing the test run.
_DEEP = 30_000
_DEEP_TEXTS = {
    "flow sequence": "a: " + "[" * _DEEP + "]" * _DEEP + "\n",
    "flow mapping": "a: " + "{b: " * _DEEP + "1" + "}" * _DEEP + "\n",
    "compact block sequence": "- " * _DEEP + "x\n",
    "complex keys": "? " * _DEEP + "x\n",
    "indented mappings": "".join(" " * i + "a:\n" for i in range(3_000)),
    "after carriage returns": "a:\r" + "- " * _DEEP + "x\r",
    "after line separators": "a:\u2028" + "- " * _DEEP + "x\u2028",
    "after next-line characters": "a:\x85" + "- " * _DEEP + "x\x85",
    "refused by libyaml first": "x: {a: 0?}\ny: " + "[" * _DEEP + "]" * _DEEP + "\n",
}
_DEEP_SCRIPT = """
import json, sys
from crmctl.errors import InputError
from crmctl.model.source import parse_text
results = {}
for name, (text, as_json) in json.loads(sys.stdin.read()).items():
    try:
        parse_text(text, "f.yaml", as_json=as_json)
        results[name] = "loaded"
    except InputError as exc:
        results[name] = exc.message
print(json.dumps(results))
"""


def test_nesting_too_deep_for_the_c_composer_is_refused_before_it_runs() -> None:
    import json
    import subprocess
    import sys

    cases = {name: (text, False) for name, text in _DEEP_TEXTS.items()}
    cases["json document"] = ("[" * _DEEP + "]" * _DEEP, True)
    cases["json given to yaml"] = ('{"a": ' + "[" * _DEEP + "]" * _DEEP + "}", False)
    done = subprocess.run(
        [sys.executable, "-c", _DEEP_SCRIPT], input=json.dumps(cases), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert results == {
        "flow sequence": "f.yaml:1:68: nesting is deeper than 64 levels",
        "flow mapping": "f.yaml:1:260: nesting is deeper than 64 levels",
        "compact block sequence": "f.yaml:1:131: nesting is deeper than 64 levels",
        "complex keys": "f.yaml:2:1: nesting is deeper than 64 levels",  # the keys are collections: the value
        "indented mappings": "f.yaml:66:66: nesting is deeper than 64 levels",
        "after carriage returns": "f.yaml:2:129: nesting is deeper than 64 levels",
        "after line separators": "f.yaml:2:129: nesting is deeper than 64 levels",
        "after next-line characters": "f.yaml:2:129: nesting is deeper than 64 levels",
        "refused by libyaml first": "f.yaml:2:68: nesting is deeper than 64 levels",
        "json document": "f.yaml:1:66: nesting is deeper than 64 levels",
        "json given to yaml": "f.yaml:1:71: nesting is deeper than 64 levels",
    }


@pytest.mark.parametrize(
    ("text", "as_json", "expected"),
    [
        ("a: " + "1" * 4301 + "\n", False, "f.yaml:1:4: integer has 4301 digits; the limit is 4300"),
        ("a: [-" + "9" * 5000 + "]\n", False, "f.yaml:1:5: integer has 5000 digits; the limit is 4300"),
        ('{\n  "a": ' + "1" * 4301 + "}", True, "f.yaml:2:8: integer has 4301 digits; the limit is 4300"),
        ('{"a": [-' + "1" * 5000 + "]}", True, "f.yaml:1:8: integer has 5000 digits; the limit is 4300"),
    ],
)
def test_integers_too_long_to_convert_are_located(text: str, as_json: bool, expected: str) -> None:
    with pytest.raises(InputError) as info:
        parse_text(text, "f.yaml", as_json=as_json)
    assert info.value.message == expected


def test_long_digit_strings_that_are_not_integers_load() -> None:
    digits = "1" * 5000
    assert parse_text(f"a: '{digits}'\n", "f.yaml").data == {"a": digits}
    assert parse_text(f'{{"a": "{digits}", "b": 1.5}}', "f.json", as_json=True).data == {"a": digits, "b": 1.5}
    assert parse_text("a: " + "1" * 4300 + "\n", "f.yaml").data == {"a": int("1" * 4300)}
    with pytest.raises(InputError, match=r"f.json: invalid JSON: 1{37}\.\.\. is not a finite number"):
        parse_text(f'{{"a": {digits}.5}}', "f.json", as_json=True)


def test_json_nesting_is_refused_like_yaml_nesting() -> None:
    text = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    assert parse_text(text, "f.json", as_json=True).data is not None  # 65 levels: the deepest at depth 64
    deeper = "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)
    with pytest.raises(InputError, match=f"^f.json:1:{MAX_DEPTH + 2}: nesting is deeper than {MAX_DEPTH} levels$"):
        parse_text(deeper, "f.json", as_json=True)
    with pytest.raises(InputError, match=f"^f.json:1:{MAX_DEPTH + 2}: nesting is deeper than {MAX_DEPTH} levels$"):
        parse_text(deeper, "f.json")  # a JSON document read as YAML
    strings = '["' + "[" * 200 + '", "\\"[[[["]'  # brackets inside strings are text
    assert parse_text(strings, "f.json", as_json=True).data == ["[" * 200, '"[[[[']


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("\n\n" + "[" * 70 + "]" * 70, "rows.jsonl:9:66: nesting is deeper than 64 levels"),
        ('{"a": ' + "7" * 4301 + "}", "rows.jsonl:7:7: integer has 4301 digits; the limit is 4300"),
        ('{"a": 1,}', "rows.jsonl:7:9: JSON syntax: Expecting property name enclosed in double quotes"),
        ('{\n"a": x}', "rows.jsonl:8:6: JSON syntax: Expecting value"),
    ],
)
def test_parse_json_gives_data_or_a_located_error(text: str, expected: Any) -> None:
    if isinstance(expected, dict):
        assert parse_json(text, "rows.jsonl", line=7) == expected
        return
    with pytest.raises(InputError) as info:
        parse_json(text, "rows.jsonl", line=7)
    assert info.value.message == expected


def _leaves(data: Any, path: tuple[str | int, ...] = ()) -> Any:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, (*path, i))
    else:
        yield path, data


def test_span_and_path_at_agree_on_every_scalar_of_the_reference_packages() -> None:
    root = Path(__file__).parents[2] / "packages"
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".json"))
    assert len(files) > 15
    for file in files:
        doc = load_document(file, file.name)
        lines = doc.text.splitlines()
        for path, value in _leaves(doc.data):
            span = doc.span(path)
            assert span.end_line is not None and span.end_column is not None
            assert doc.path_at(span.line, span.column) == (path, False), (file, path)
            assert doc.path_at(span.end_line, span.end_column) == (path, False), (file, path)
            if span.end_line == span.line and isinstance(value, str) and value and value[0] not in "\"'":
                text = lines[span.line - 1][span.column - 1 : span.end_column - 1]
                quoted = text[:1] in ("'", '"') and text[-1:] == text[:1]
                assert (text[1:-1] if quoted else text) == value, (file, path)
            if path and isinstance(path[-1], str):
                key = doc.span(path, key=True)
                assert doc.path_at(key.line, key.column) == (path, True)


def test_span_of_a_multiline_scalar_ends_at_its_last_character() -> None:
    doc = parse_text('a:\n  - "multi\n    line"\n  - plain\n    words\n\nb: 1\n', "f.yaml")
    first, second = doc.span(("a", 0)), doc.span(("a", 1))
    assert (first.line, first.column, first.end_line, first.end_column) == (2, 5, 3, 10)
    assert (second.line, second.column, second.end_line, second.end_column) == (4, 5, 5, 10)


def test_path_at_outside_any_value() -> None:
    doc = parse_text("a: [1,  2]  # note\n", "f.yaml")
    assert doc.path_at(1, 7) == (("a",), False)  # between items: on the list, not an item
    assert doc.path_at(1, 14) == ((), False)  # a comment is on no value: only the document
    assert parse_text("", "f.yaml").path_at(1, 1) is None
    assert parse_text('{"a": {"b": 1}}', "f.json", as_json=True).path_at(1, 13) == (("a", "b"), False)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('name: Lead\ndescription: "a\x0cb"\n', "f.yaml:2:16:"),
        ('name: "é😀"\nx: "a\x1cb"\n', "f.yaml:2:6:"),  # libyaml counts UTF-8 bytes; the location counts characters
        ("a: 1\n\x0c", "f.yaml:2:1:"),
    ],
)
def test_a_character_yaml_does_not_allow_is_located(text: str, where: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_text(text, "f.yaml")
    assert str(exc.value).startswith(where) and "unacceptable character U+00" in str(exc.value)


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDFFF", "\\ude00\\ud83d"])
def test_an_unpaired_surrogate_in_record_json_is_refused(escape: str) -> None:
    """It parses, but no store can hold it (canonical JSON): `records create --data` crashed with exit 3."""
    from crmctl.model.source import parse_json

    with pytest.raises(InputError, match=r"--data:1: a string holds an unpaired surrogate"):
        parse_json(f'{{"a": "x{escape}"}}', "--data")
    assert parse_json('{"a": "\\ud83d\\ude00"}', "--data") == {"a": "\U0001f600"}  # a pair is one character
