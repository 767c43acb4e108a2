"""`crmctl.model.cel.expression_location`: a CEL position inside a YAML or JSON scalar mapped to the exact file
position, in every scalar style (plain, single- and double-quoted with escapes, multi-line plain, literal and
folded block scalars with indentation indicators and chomping, JSON strings), astral characters included. For
every non-blank character of the expression, the file holds that very character where the mapping says."""

from __future__ import annotations

import json

import pytest

from crmctl.model.cel import expression_location
from crmctl.model.source import parse_text

EXPR = "name == 'a:b' && size(tags) > 1"
# (file, text holding the expression at `rules[0].when`)
LAYOUTS = [
    ("rules.yaml", f"rules:\n  - id: r\n    when: {EXPR}\n"),
    ("rules.yaml", f'rules:\n  - id: r\n    when: "{EXPR}"\n'),
    ("rules.yaml", "rules:\n  - id: r\n    when: '" + EXPR.replace("'", "''") + "'\n"),
    ("rules.yaml", 'rules:\n  - id: r\n    when: "name == \\"a\\" && size(tags) > 1"\n'),
    ("rules.yaml", "rules:\n  - id: r\n    when: name == 'a:b'\n      && size(tags) > 1\n"),
    ("rules.yaml", "rules:\n  - id: r\n    when: \"name == 'a:b'\n      && size(tags) > 1\"\n"),
    ("rules.yaml", "rules:\n  - id: r\n    when: |\n      name == 'a:b'\n        && size(tags) > 1\n"),
    ("rules.yaml", "rules:\n  - id: r\n    when: |-\n      name == 'a:b'\n      && size(tags) > 1\n"),
    ("rules.yaml", "rules:\n  - id: r\n    when: |2\n        name == 'a:b'\n       && size(tags) > 1\n"),
    ("rules.yaml", "rules:\n  - id: r\n    when: >+\n      name == 'a:b'\n      && size(tags) > 1\n\n"),
    ("rules.yaml", "rules:\n  - id: r\n    when: >-\n      name == 'a:b'\n\n      && size(tags) > 1\n"),
    ("rules.yaml", "rules:\n  - id: r\n    when: \"name == 'é😀' &&\\\n      size(tags) > 1\"\n"),
    ("rules.yaml", "rules:\n  - {id: r, when: \"name == '😀' && size(tags) > 1\"}\n"),
    (
        "rules.json",
        json.dumps({"rules": [{"id": "r", "when": 'name == "😀" && size(tags) > 1'}]}, indent=2, ensure_ascii=False),
    ),
    ("rules.json", json.dumps({"rules": [{"id": "r", "when": "name == '\\t' && x"}]})),
]


@pytest.mark.parametrize(("file", "text"), LAYOUTS)
def test_every_character_of_an_expression_maps_to_itself_in_the_file(file: str, text: str) -> None:
    doc = parse_text(text, file, as_json=file.endswith(".json"))
    path = ("rules", 0, "when")
    value = doc.data["rules"][0]["when"]
    lines = text.split("\n")
    for cel_line, part in enumerate(value.split("\n"), start=1):
        for cel_col, char in enumerate(part, start=1):
            if char.isspace():
                continue
            where = expression_location(doc, path, cel_line, cel_col)
            line_text = lines[where.line - 1]
            assert line_text[where.column - 1 : where.column] == char, (cel_line, cel_col, char, where, line_text)


def test_a_position_just_past_the_end_is_just_past_the_last_character() -> None:
    text = 'rules:\n  - id: r\n    when: "a &&"  # unterminated\n'
    doc = parse_text(text, "rules.yaml")
    where = expression_location(doc, ("rules", 0, "when"), 1, 5)
    assert (where.line, where.column) == (3, 16)  # after `&&`: the closing quote


def test_a_value_spelled_with_escape_sequences_is_placed_approximately_never_wrongly_past_the_scalar() -> None:
    text = json.dumps({"rules": [{"id": "r", "when": "name == '😀' && x"}]})  # `\\ud83d\\ude00` in the file
    doc = parse_text(text, "rules.json", as_json=True)
    where = expression_location(doc, ("rules", 0, "when"), 1, 1)
    assert (where.line, where.column) == (1, text.index("name") + 1)


@pytest.mark.parametrize(("line", "column"), [(0, 1), (1, 0), (3, 1), (1, 99), (2, 99)])
def test_a_position_outside_the_expression_falls_back_without_raising(line: int, column: int) -> None:
    doc = parse_text("rules:\n  - id: r\n    when: |\n      a &&\n      b\n", "rules.yaml")
    where = expression_location(doc, ("rules", 0, "when"), line, column)
    assert where.file == "rules.yaml" and where.line >= 1


@pytest.mark.parametrize(
    "when",
    [
        '"name == \\"a\\" && nope"',  # escapes before the error: the old mapping was 2 columns short
        "'name == ''a'' && nope'",  # doubled quotes
        "name == 'a'\n      && nope",  # a multi-line plain scalar: the old mapping gave the indentation
        ">-\n      name == 'a'\n        && nope",  # folded, a more indented line
    ],
)
def test_lint_places_a_cel_finding_on_the_offending_identifier(when: str) -> None:
    from crmctl.lint.runner import lint_package
    from crmctl.model.package import load_tree
    from crmctl.model.tree import MemoryTree

    files = {
        "package.yaml": "name: P\nversion: 1.0.0\nscope: global\ndescription: d\nlocales: [en]\ndefaultLocale: en\n",
        "schema.yaml": "entities:\n  Lead:\n    fields:\n      name: {type: text}\n",
        "rules.yaml": "rules:\n  - id: r\n    entity: Lead\n    scope: global\n    trigger: onSave\n"
        f"    capability: guard\n    message: m\n    when: {when}\n",
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "."))
    found = [d for d in lint_package(package) if "nope" in d.message and d.location.file.endswith("rules.yaml")]
    assert found, lint_package(package)
    lines = files["rules.yaml"].split("\n")
    for finding in found:
        loc = finding.location
        assert lines[loc.line - 1][loc.column - 1 :].startswith("nope"), (loc, lines[loc.line - 1])


@pytest.mark.parametrize("brk", ["\u2028", "\x85", "\u2029"])
def test_a_unicode_line_separator_in_a_quoted_scalar_never_breaks_the_symbol_index(brk: str) -> None:
    """libyaml's marks count U+2028/U+0085/U+2029 inside quoted scalars as line breaks, the text does not: spans
    after one pointed past the text and the index raised IndexError (found by fuzzing the language services)."""
    from crmctl.lang.navigation import definition, references
    from crmctl.lang.symbols import build_index
    from crmctl.model.package import load_tree
    from crmctl.model.tree import MemoryTree

    files = {
        "package.yaml": "name: P\nversion: 1.0.0\nscope: global\ndescription: d\nlocales: [en]\ndefaultLocale: en\n",
        "schema.yaml": f'entities:\n  Lead:\n    description: "a{brk}b"\n    fields:\n      name: {{type: text}}\n',
        "rules.yaml": f"rules:\n  - id: r\n    entity: Lead\n    scope: global\n    trigger: onSave\n"
        f'    capability: guard\n    message: "m{brk}"\n    when: "name != \'\'"\n',
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "."))
    build_index(package)
    text = files["rules.yaml"].split("\n")
    for line in range(1, len(text) + 2):
        for column in range(1, 30):
            definition(package, "rules.yaml", line, column)
            references(package, "rules.yaml", line, column)
