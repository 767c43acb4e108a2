"""Following renamed fields through CEL (`rename_references`) and the literals an expression yields
(`result_strings`): examples for every kind of token, and a property over random expressions that renders each
one twice, with the old and the new names, and requires the rewrite of the first to be exactly the second and to
evaluate to the same value over the same record stored under the new names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.cel import Renamed, referenced_names, rename_references, result_strings
from crmctl.model.fields import SchemaArtifact
from crmctl.runtime.cel import CompiledProgram, Context, EvaluationError
from tests.model._cel_renames import NEW, OLD, TREE, Names, Render, bools, field_defs

RENAMES = {
    "phone": Renamed("mobilePhone"),
    "address": Renamed("address", {"zip": Renamed("postalCode")}),
    "lines": Renamed("items", {"sku": Renamed("code")}, lists=1),
    "grid": Renamed("grid", {"v": Renamed("value")}, lists=2),
}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("phone != ''", "mobilePhone != ''"),
        # Text is text: a field's name inside a string literal, raw or triple-quoted, is not a reference.
        ("phone == 'phone' && \"lead.phone\" != r'phone'", "mobilePhone == 'phone' && \"lead.phone\" != r'phone'"),
        ("'''phone''' + phone", "'''phone''' + mobilePhone"),
        # Comments and layout survive byte for byte.
        (
            "phone != '' // phone is optional\n  && phone.size() > 3",
            "mobilePhone != '' // phone is optional\n  && mobilePhone.size() > 3",
        ),
        # Members of values that are not renamed fields (another variable, a map literal) are left alone.
        ("lead.phone == phone", "lead.phone == mobilePhone"),
        ("{'phone': phone}['phone'] == phone", "{'phone': mobilePhone}['phone'] == mobilePhone"),
        ("M{phone: phone}", "M{phone: mobilePhone}"),
        # Members of object fields, by `.` and by a string index; a dynamic index leaves the members unknown.
        (
            "address.zip + address['zip'] + address[\"zip\"]",
            "address.postalCode + address['postalCode'] + address[\"postalCode\"]",
        ),
        ("has(address.zip) && address.city != ''", "has(address.postalCode) && address.city != ''"),
        ("address[phone].zip", "address[mobilePhone].zip"),
        # Items of lists of objects, through an index or a comprehension variable.
        ("lines[0].sku == lines[size(lines) - 1].sku", "items[0].code == items[size(items) - 1].code"),
        (
            "lines.exists(l, l.sku == 'x') && lines.map(l, l.sku).size() > 0",
            "items.exists(l, l.code == 'x') && items.map(l, l.code).size() > 0",
        ),
        (
            "grid[0][1].v + grid.all(row, row.all(c, c.v > 0))",
            "grid[0][1].value + grid.all(row, row.all(c, c.value > 0))",
        ),
        # A comprehension variable shadows a field of the same name inside its macro, and only there.
        (
            "lines.exists(phone, phone.sku == 'x') || phone == ''",
            "items.exists(phone, phone.code == 'x') || mobilePhone == ''",
        ),
        ("['a'].all(phone, phone != '') && phone != ''", "['a'].all(phone, phone != '') && mobilePhone != ''"),
        # Function and method names are not fields; a call's receiver and arguments are.
        ("size(phone) + phone.size()", "size(mobilePhone) + mobilePhone.size()"),
        ("lines.filter(l, l.sku.startsWith('A'))", "items.filter(l, l.code.startsWith('A'))"),
    ],
)
def test_rename_references(before: str, after: str) -> None:
    assert rename_references(before, RENAMES) == after


@pytest.mark.parametrize(
    "expr",
    [
        "['a'].exists(mobilePhone, mobilePhone == phone)",  # inside, mobilePhone is the variable, not the field
        "['x'].exists(items, size(lines) > 0)",  # lines is renamed to items
    ],
)
def test_a_rename_a_comprehension_variable_would_capture_cannot_be_spelled(expr: str) -> None:
    assert rename_references(expr, RENAMES) is None


def test_a_variable_called_like_the_new_name_captures_nothing_outside_its_macro() -> None:
    expr = "['a'].exists(mobilePhone, mobilePhone != '') && phone != ''"
    assert rename_references(expr, RENAMES) == "['a'].exists(mobilePhone, mobilePhone != '') && mobilePhone != ''"


def test_nothing_to_rename_returns_the_text_itself() -> None:
    text = "other /* not a comment in CEL */ != ''"
    assert rename_references(text, {}) is text
    assert rename_references("email != ''", RENAMES) == "email != ''"


def test_referenced_names_agrees_with_what_is_renamed() -> None:
    expr = "lines.exists(phone, phone.sku == 'x') || phone == '' || lead.address == address.zip"
    assert referenced_names(expr) == {"lines", "phone", "lead", "address"}


@pytest.mark.parametrize(
    ("expr", "values"),
    [
        ("['software', 'retail', 'other']", ["software", "retail", "other"]),
        ("amount > 1.0 ? ['won'] : (b ? ['open', \"won\"] : ['x'] + ['y', c])", ["won", "open", "won", "x", "y"]),
        ("x ? 'a' : y ? 'b' : 'c'", ["a", "b", "c"]),
        ("a ? (b ? 'p' : 'q') : 'r'", ["p", "q", "r"]),
        # Conditions, concatenated strings, calls and comprehensions compute values that are not literal results.
        ("status in ['lost'] ? ['open'] : []", ["open"]),
        ("'a' + 'b'", []),
        ("['open', 'won'].filter(v, v != 'lost')", []),
        ("status", []),
        ("['a\\nb', r'c']", ["c"]),
    ],
)
def test_result_strings(expr: str, values: list[str]) -> None:
    assert [r.value for r in result_strings(expr)] == values


def test_result_strings_positions_are_one_based_lines_and_columns() -> None:
    found = result_strings("a > 0.0\n  ? ['x']\n  : ['y', 'z']")
    assert [(r.value, r.line, r.column) for r in found] == [("x", 2, 6), ("y", 3, 6), ("z", 3, 11)]


# --- property: a rename rewrites exactly the references, and the rewrite means the same ---------------------

RECORDS = st.fixed_dictionaries(
    {
        "a": st.sampled_from(["", "a", "zip", "x"]),
        "n": st.sampled_from([0.0, 1.5, 7.0]),
        "o": st.fixed_dictionaries({"zip": st.sampled_from(["", "a", "10115"]), "k": st.sampled_from([0.0, 2.0])}),
        "items": st.lists(
            st.fixed_dictionaries({"sku": st.sampled_from(["", "a", "x"]), "q": st.sampled_from([0.0, 3.0])}),
            max_size=3,
        ),
        "tags": st.lists(st.sampled_from(["", "a", "zip"]), max_size=3),
    }
)
CTX = Context("s", "r", datetime(2026, 1, 1, tzinfo=UTC), "en")


def _schema(names: Names) -> SchemaArtifact:
    return SchemaArtifact.model_validate({"entities": {"T": {"fields": field_defs(names)}}})


OLD_SCHEMA, NEW_SCHEMA = _schema(OLD), _schema(NEW)


def _renamed_record(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": record["a"],
        "n": record["n"],
        "addr": {"postal": record["o"]["zip"], "k": record["o"]["k"]},
        "lines": [{"code": item["sku"], "q": item["q"]} for item in record["items"]],
        "tags": record["tags"],
    }


def _evaluate(schema: SchemaArtifact, expr: str, record: dict[str, Any]) -> tuple[str, Any]:
    program = CompiledProgram.build(f"rename:{id(schema)}:{expr}", schema, "T", {"e": expr})
    try:
        return "ok", program.evaluate("e", record, CTX)
    except EvaluationError:
        return "error", None


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bools(3), RECORDS)
def test_a_rename_rewrites_exactly_the_references_and_keeps_the_meaning(render: Render, record: dict[str, Any]) -> None:
    before, after = render(OLD), render(NEW)
    assert rename_references(before, TREE) == after
    assert _evaluate(OLD_SCHEMA, before, record) == _evaluate(NEW_SCHEMA, after, _renamed_record(record))
