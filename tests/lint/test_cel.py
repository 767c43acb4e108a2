"""The CEL adapter: types of fields, checking, referenced names, cost and positions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmctl.model.cel import (
    CelChecker,
    expression_cost,
    map_position,
    referenced_names,
)
from crmctl.model.diagnostics import Location
from crmctl.model.fields import SchemaArtifact

SCHEMA = SchemaArtifact.model_validate(
    {
        "entities": {
            "Lead": {
                "fields": {
                    "amount": {"type": "currency", "currency": "EUR"},
                    "count": {"type": "number", "integer": True},
                    "status": {"type": "enum", "values": ["open", "won"]},
                    "tags": {"type": "array", "items": {"type": "text"}},
                    "address": {"type": "object", "fields": {"city": {"type": "text"}}},
                    "closedAt": {"type": "date"},
                    "score": {"type": "calculated", "expression": "amount * 2.0", "resultType": "number"},
                    "active": {"type": "boolean"},
                }
            }
        }
    }
)


@pytest.fixture(scope="module")
def checker() -> CelChecker:
    return CelChecker.for_entity(SCHEMA, "Lead", None)


@pytest.mark.parametrize(
    ("expr", "result_type"),
    [
        ("amount > 10.0", "bool"),
        ("count + 1", "int"),
        ("status == 'won'", "bool"),
        ("tags.filter(t, t != 'x')", "list(string)"),
        ("address", "map(string, dyn)"),
        ("closedAt", "google.protobuf.Timestamp"),
        ("score", "double"),
        ("now", "google.protobuf.Timestamp"),
        ("step + role + locale", "string"),
    ],
)
def test_check_result_types(checker: CelChecker, expr: str, result_type: str) -> None:
    result = checker.check(expr)
    assert result.ok, result.errors
    assert result.result_type == result_type


def test_int_double_mismatch_has_hint(checker: CelChecker) -> None:
    result = checker.check("amount > 10")
    assert not result.ok
    (issue,) = result.errors
    assert (issue.line, issue.column) == (1, 8)
    assert issue.message == "found no matching overload for '_>_' applied to '(double, int)'"
    assert issue.hint is not None and "10.0" in issue.hint


def test_undeclared_names_are_each_reported(checker: CelChecker) -> None:
    result = checker.check("foo + bar")
    assert [(e.column, e.message) for e in result.errors] == [
        (1, "undeclared reference to 'foo'"),
        (7, "undeclared reference to 'bar'"),
    ]


def test_syntax_error_position(checker: CelChecker) -> None:
    result = checker.check("amount >")
    assert not result.ok
    assert result.errors[0].column == 9
    assert result.errors[0].message.startswith("Syntax error")


def test_referenced_names_skips_members_calls_and_comprehension_vars() -> None:
    expr = "a.b + size(c) + tags.all(t, t == x) && 'q w' == y ? z : M{f: v}"
    assert referenced_names(expr) == {"a", "c", "tags", "x", "y", "z", "M", "v"}


def test_comprehension_variable_is_only_bound_inside_its_macro() -> None:
    assert referenced_names("tags.exists(t, t == 'a') || t") == {"tags", "t"}


@given(st.text(alphabet="abcxyz _.", min_size=1, max_size=12).filter(lambda s: "\n" not in s))
def test_referenced_names_never_sees_inside_string_literals(inner: str) -> None:
    expr = f"other == \"{inner}\" && another == '{inner}'"
    assert referenced_names(expr) == {"other", "another"}


def test_expression_cost_counts_tokens_and_macro_nesting() -> None:
    assert expression_cost("a > 1.0") == (3, 0)
    size, depth = expression_cost("xs.all(x, x.exists(y, y.map(z, z)))")
    assert depth == 3 and size > 10


@pytest.mark.parametrize(
    ("line", "col", "cel", "expected"),
    [
        ("    when: amount > 10", 11, (1, 8), (5, 18)),
        ('    when: "amount > 10"', 11, (1, 8), (5, 19)),
    ],
)
def test_map_position_single_line(line: str, col: int, cel: tuple[int, int], expected: tuple[int, int]) -> None:
    loc = map_position(Location("r.yaml", 5, col), line, *cel, [""] * 4 + [line])
    assert (loc.line, loc.column) == expected


def test_map_position_block_scalar() -> None:
    lines = ["rules:", "  - when: |", "      a > 1.0 &&", "      b > 10"]
    loc = map_position(Location("r.yaml", 2, 11), lines[1], 2, 3, lines)
    assert (loc.line, loc.column) == (4, 9)


def test_map_position_block_scalar_with_deeper_lines_counts_the_block_indentation_once() -> None:
    # The CEL text keeps the two extra spaces of `? 'won'`: column 3 of CEL line 2 is the `'`, column 11 in the file.
    lines = ["rules:", "  - expression: |", "      a > 1.0", "        ? 'won'", "        : 'lost'"]
    loc = map_position(Location("r.yaml", 2, 17), lines[1], 2, 5, lines)
    assert (loc.line, loc.column) == (4, 11)
    assert lines[3][loc.column - 1] == "'"
