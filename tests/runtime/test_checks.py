"""The validation engine: every validation type, `when` conditions, soft and hard severity, async answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.cel import Context
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Finding, Validator, is_blank
from crmctl.runtime.form import FormModel

CLOCK = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)

SCHEMA = """\
entities:
  Order:
    fields:
      code: {type: text}
      note: {type: text}
      qty: {type: number, integer: true}
      price: {type: number}
      due: {type: date}
      placedAt: {type: datetime}
      rush: {type: boolean}
      start: {type: date}
      end: {type: date}
      address:
        type: object
        fields:
          city: {type: text}
          zip: {type: text}
"""
UI = "entity: Order\nsteps:\n  - id: main\n    fields: [code, note, qty, price, due, placedAt, rush, start, end]\n"
VALIDATIONS = """\
validations:
  - {id: codeRequired, type: required, field: code, message: m.codeRequired}
  - {id: noteWhenRush, type: required, field: note, when: rush, message: m.noteWhenRush}
  - {id: codeFormat, type: regex, field: code, pattern: '[A-Z]{2}-[0-9]+', message: m.codeFormat}
  - {id: qtyRange, type: range, field: qty, min: 1, max: 10, message: m.qtyRange}
  - {id: priceRange, type: range, mode: soft, field: price, min: 0.5, message: m.priceRange}
  - {id: dueRange, type: range, field: due, min: '2026-01-01', max: '2026-12-31', message: m.dueRange}
  - {id: placedRange, type: range, field: placedAt, min: '2026-11-01', max: '2026-11-30', message: m.placedRange}
  - {id: startBeforeEnd, type: cross-field, expression: start <= end, message: m.startBeforeEnd}
  - {id: cityKnown, type: cross-field, mode: soft, expression: "address.city != 'Nowhere'", message: m.cityKnown}
  - id: stock
    type: async
    field: code
    provider: inventory
    params: {warehouse: main}
    message: m.stock
  - {id: isTest, type: regex, field: code, pattern: 'TE-[0-9]+', message: m.isTest}
  - {id: hasNote, type: required, field: note, message: m.hasNote}
  - {id: bigQty, type: range, field: qty, min: 5, message: m.bigQty}
  - {id: notTest, type: composite, operator: not, validations: [isTest], message: m.notTest}
  - id: noteOrBig
    type: composite
    mode: soft
    operator: any
    validations: [hasNote, bigQty]
    when: price > 100.0
    message: m.noteOrBig
  - {id: codeValid, type: composite, operator: all, validations: [codeFormat, stock], message: m.codeValid}
"""


def package(validations: str = VALIDATIONS) -> Package:
    files = {
        "package.yaml": "name: Orders\nversion: 1.0.0\nscope: global\ndescription: Orders.\nlocales: [en]\n",
        "schema.yaml": SCHEMA,
        "ui.yaml": UI,
        "validations.yaml": validations,
        "localization/en.yaml": "labels:\n  Order.code: Code\n",
    }
    return load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "Orders"))


MODEL = FormModel.build(package())
VALIDATOR = Validator(MODEL)
VALID: dict[str, Any] = {
    "code": "AB-1",
    "qty": 3,
    "price": 1.0,
    "due": "2026-06-01",
    "start": "2026-01-01",
    "end": "2026-01-02",
    "note": "n",
}


def bind(data: dict[str, Any]) -> dict[str, Any]:
    return MODEL.program.bind(data, Context("main", "clerk", CLOCK, "en"), zero_absent=True)


def findings(data: dict[str, Any], **kwargs: Any) -> dict[str, Finding]:
    return {f.validation: f for f in VALIDATOR.run(data, bind(data), **kwargs)}


def codes(data: dict[str, Any], **kwargs: Any) -> set[str]:
    return set(findings(data, **kwargs))


def test_valid_record_has_no_findings() -> None:
    assert codes(VALID) == set()


def test_composite_members_only_run_inside_their_composite() -> None:
    assert {v.id for v in VALIDATOR.top}.isdisjoint({"isTest", "hasNote", "bigQty", "stock", "codeFormat"})
    # codeFormat fails, but only its composite codeValid reports it.
    assert codes({**VALID, "code": "bad"}) == {"codeValid"}


def test_required() -> None:
    assert "codeRequired" in codes({**VALID, "code": ""})
    assert "codeRequired" in codes({k: v for k, v in VALID.items() if k != "code"})
    assert "codeRequired" not in codes({**VALID, "code": " "})
    assert is_blank(None) and is_blank("") and is_blank([]) and is_blank({})
    assert not (is_blank(0) or is_blank(False) or is_blank(" "))


def test_required_with_when_and_required_when() -> None:
    rush = {**VALID, "rush": True}
    del rush["note"]
    assert "noteWhenRush" in codes(rush)
    assert "noteWhenRush" not in codes({**rush, "rush": False})
    assert VALIDATOR.required_when(bind(rush)) == {"code": True, "note": True}
    assert VALIDATOR.required_when(bind({**rush, "rush": False})) == {"code": True, "note": False}


@pytest.mark.parametrize(
    ("code", "ok"),
    [("AB-1", True), ("AB-123456", True), ("xAB-1", False), ("AB-1x", False), ("AB-", False), ("ab-1", False)],
)
def test_regex_matches_the_whole_value(code: str, ok: bool) -> None:
    # codeFormat is a member of codeValid (all), so the composite reports it.
    assert ("codeValid" not in codes({**VALID, "code": code})) is ok


def test_regex_does_not_apply_to_blank_values() -> None:
    assert codes({**VALID, "code": ""}) == {"codeRequired"}


@pytest.mark.parametrize(("qty", "ok"), [(1, True), (10, True), (0, False), (11, False), (-3, False)])
def test_range_of_numbers(qty: int, ok: bool) -> None:
    found = findings({**VALID, "qty": qty})
    assert ("qtyRange" not in found) is ok
    if not ok:
        assert found["qtyRange"].params == {"min": 1, "max": 10, "value": qty}
        assert found["qtyRange"].field == "qty"
        assert found["qtyRange"].message_key == "m.qtyRange"


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("due", "2026-01-01", True),
        ("due", "2026-12-31", True),
        ("due", "2025-12-31", False),
        ("due", "2027-01-01", False),
        ("placedAt", "2026-11-30T23:59:59Z", True),
        ("placedAt", "2026-11-01T00:00:00Z", True),
        ("placedAt", "2026-10-31T23:59:59Z", False),
        ("placedAt", "2026-12-01T00:00:00Z", False),
    ],
)
def test_range_of_iso_dates(field: str, value: str, ok: bool) -> None:
    code = "dueRange" if field == "due" else "placedRange"
    assert (code not in codes({**VALID, field: value})) is ok


def test_soft_and_hard_severity() -> None:
    found = findings({**VALID, "price": 0.1, "qty": 0})
    assert found["priceRange"].severity == "warning"
    assert found["qtyRange"].severity == "error"


def test_cross_field() -> None:
    assert "startBeforeEnd" in codes({**VALID, "start": "2026-02-01"})
    assert "startBeforeEnd" not in codes({**VALID, "start": "2026-01-02"})


def test_cross_field_reading_an_unset_nested_key_does_not_apply() -> None:
    # SQL CHECK semantics: address.city is unknown, so the check neither passes nor fails.
    assert "cityKnown" not in codes({**VALID, "address": {"zip": "1"}})
    assert "cityKnown" not in codes(VALID)
    assert findings({**VALID, "address": {"city": "Nowhere"}})["cityKnown"].severity == "warning"


def test_async_runs_only_with_a_resolver_and_records_answers() -> None:
    asked: list[AsyncRequest] = []
    answers: list[tuple[AsyncRequest, AsyncAnswer]] = []

    def resolver(request: AsyncRequest) -> AsyncAnswer:
        asked.append(request)
        return AsyncAnswer(request.value == "AB-1", None if request.value == "AB-1" else "out of stock")

    assert codes(VALID, answers=answers) == set()
    assert answers == []
    assert codes(VALID, resolver=resolver, answers=answers) == set()
    assert codes({**VALID, "code": "AB-2"}, resolver=resolver, answers=answers) == {"codeValid"}
    assert [q for q, _ in answers] == asked
    assert [(q.to_json(), a.to_json()) for q, a in answers] == [
        (
            {"validation": "stock", "provider": "inventory", "params": {"warehouse": "main"}, "value": "AB-1"},
            {"ok": True},
        ),
        (
            {"validation": "stock", "provider": "inventory", "params": {"warehouse": "main"}, "value": "AB-2"},
            {"ok": False, "detail": "out of stock"},
        ),
    ]
    # A blank value is not sent to the provider.
    before = len(asked)
    codes({**VALID, "code": ""}, resolver=resolver)
    assert len(asked) == before


def test_replay_answers_from_the_record() -> None:
    record = {("inventory", "AB-1"): AsyncAnswer(False, "recalled")}
    assert codes(VALID, resolver=lambda q: record[(q.provider, q.value)]) == {"codeValid"}


def test_composite_not() -> None:
    assert "notTest" in codes({**VALID, "code": "TE-1"})
    assert "notTest" not in codes(VALID)
    # The member does not apply to a blank value, so neither does the composite.
    assert "notTest" not in codes({**VALID, "code": ""})


def test_composite_any_with_when_and_not_applicable_members() -> None:
    pricey = {**VALID, "price": 500.0, "qty": 2}
    del pricey["note"]
    assert findings(pricey)["noteOrBig"].severity == "warning"
    assert "noteOrBig" not in codes({**pricey, "qty": 7})
    assert "noteOrBig" not in codes({**pricey, "note": "x"})
    assert "noteOrBig" not in codes({**pricey, "price": 50.0})  # `when` is false
    # bigQty does not apply without a quantity; hasNote alone decides.
    no_qty = {k: v for k, v in pricey.items() if k != "qty"}
    assert "noteOrBig" in codes(no_qty)
    assert "noteOrBig" not in codes({**no_qty, "note": "x"})


def test_composite_all_ignores_members_that_do_not_apply() -> None:
    # Without a resolver the async member does not apply: codeFormat alone decides.
    assert "codeValid" not in codes(VALID)
    assert "codeValid" in codes({**VALID, "code": "A-1"})


def test_select_filters_top_level_validations() -> None:
    bad = {**VALID, "qty": 0, "price": 0.1}
    assert codes(bad, select=lambda v: v.mode == "soft") == {"priceRange"}


def test_evaluation_errors_count_as_invalid_and_are_reported() -> None:
    ratio = "  - {id: ratio, type: cross-field, expression: 'qty / (qty - qty) > 0', message: m.ratio}\n"
    model = FormModel.build(package(VALIDATIONS + ratio))
    errors: dict[str, str] = {}
    data = {**VALID}
    bound = model.program.bind(data, Context("main", "clerk", CLOCK, "en"), zero_absent=True)
    found = Validator(model).run(data, bound, errors=errors)
    assert [f.validation for f in found] == ["ratio"]
    assert list(errors) == ["validation:ratio/expression"]
    assert "divide by zero" in errors["validation:ratio/expression"]
