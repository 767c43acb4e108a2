"""The record path: input checks, calculated fields, validations, versions, imports and replay of record entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.errors import InputError, UserError
from crmctl.model.package import Package, load_package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest
from crmctl.runtime.form import FormModel
from crmctl.runtime.record_files import json_object, read_rows
from crmctl.runtime.record_service import RecordService, Row
from crmctl.runtime.records import RecordEngine, merge_patch
from crmctl.runtime.replay import replay
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Store
from tests.conftest import REPO

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LEADS = REPO / "packages" / "LeadLifecycle" / "v1"

SCHEMA = """\
entities:
  Order:
    fields:
      customer: {type: text, required: true, maxLength: 10, aliases: [client]}
      quantity: {type: number, integer: true}
      price: {type: number}
      status: {type: enum, values: [open, paid]}
      tags: {type: array, items: {type: text, maxLength: 3}, maxItems: 2}
      address:
        type: object
        fields:
          city: {type: text, required: true}
          zip: {type: text}
      due: {type: date}
      note: {type: text}
      total: {type: calculated, resultType: number, expression: "double(quantity) * price"}
      big: {type: calculated, resultType: boolean, expression: "total > 1000.0"}
      dueDay: {type: calculated, resultType: date, expression: "now"}
"""
RULES = """\
rules:
  - id: stampNote
    entity: Order
    scope: field
    target: note
    trigger: onSave
    capability: calculation
    expression: "'qty ' + string(quantity)"
"""
VALIDATIONS = """\
validations:
  - {id: qtyRange, entity: Order, type: range, field: quantity, min: 1, max: 100, message: v.qty}
  - {id: priceHigh, entity: Order, type: range, mode: soft, field: price, max: 500, message: v.price}
  - {id: stock, entity: Order, type: async, field: customer, provider: crm, message: v.stock}
"""
EN = """\
labels:
  Order.quantity: Quantity
messages:
  v.qty: "{field} must be between {min} and {max}."
  v.price: "{field} is unusually high."
  v.stock: Unknown customer.
"""
DE = """\
labels:
  Order.quantity: Menge
messages:
  v.qty: "{field} muss zwischen {min} und {max} liegen."
"""


def shop(version: str = "1.0.0", schema: str = SCHEMA, validations: str = VALIDATIONS) -> Package:
    files = {
        "package.yaml": f"name: Shop\nversion: {version}\nscope: global\ndescription: Orders.\nlocales: [en, de]\n",
        "schema.yaml": schema,
        "rules.yaml": RULES,
        "validations.yaml": validations,
        "localization/en.yaml": EN,
        "localization/de.yaml": DE,
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "Shop"))
    assert package.valid, package.diagnostics
    return package


GOOD = {"customer": "ada", "quantity": 3, "price": 12, "status": "open"}


@pytest.fixture
def engine() -> RecordEngine:
    return RecordEngine(shop(), "Order")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "runtime.duckdb") as opened:
        yield opened


@pytest.fixture
def service(store: Store) -> RecordService:
    return RecordService(Runtime(store, "acme"))


def codes(findings: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(f["field"], f["code"]) for f in findings]


# --- the engine ---------------------------------------------------------------------------------------------------


def test_calculated_fields_in_dependency_order_and_onsave_rules(engine: RecordEngine) -> None:
    result = engine.check(GOOD, AT)
    assert result.ok
    assert result.data == {
        "customer": "ada",
        "quantity": 3,
        "price": 12.0,
        "status": "open",
        "total": 36.0,
        "big": False,
        "dueDay": "2026-11-26",
        "note": "qty 3",
    }
    assert type(result.data["price"]) is float  # whole numbers of double fields are stored as floats
    assert engine.check({**GOOD, "quantity": 100, "price": 20}, AT).data["big"] is True


def test_hard_findings_reject_and_soft_ones_are_warnings(engine: RecordEngine) -> None:
    rejected = engine.check({**GOOD, "quantity": 0, "price": 900}, AT)
    assert not rejected.ok
    assert codes(rejected.errors) == [("quantity", "qtyRange")]
    assert rejected.errors[0]["message"] == "Quantity must be between 1 and 100."
    assert codes(rejected.warnings) == [("price", "priceHigh")]
    warned = engine.check({**GOOD, "price": 900}, AT)
    assert warned.ok
    assert warned.warnings == [
        {"field": "price", "code": "priceHigh", "severity": "warning", "message": "Price is unusually high."}
    ]


def test_messages_are_localized() -> None:
    german = RecordEngine(shop(), "Order", "de")
    assert german.check({**GOOD, "quantity": 0}, AT).errors[0]["message"] == "Menge muss zwischen 1 und 100 liegen."


def test_required_fields_of_the_schema_and_of_present_objects(engine: RecordEngine) -> None:
    result = engine.check({"quantity": 2, "price": 1, "address": {"zip": "1"}}, AT)
    assert codes(result.errors) == [("address.city", "required"), ("customer", "required")]  # by field path
    assert result.errors[0]["message"] == "This field is required."


def test_input_checks_name_every_bad_field(engine: RecordEngine) -> None:
    result = engine.check(
        {
            "customer": "a" * 11,
            "quantity": 1.5,
            "status": "lost",
            "bogus": 1,
            "total": 3,
            "tags": ["a", "b", "c"],
            "due": "26.11.2026",
            "price": float("nan"),
        },
        AT,
    )
    assert codes(result.errors) == [
        ("customer", "maxLength"),
        ("quantity", "type"),
        ("status", "notOffered"),
        ("bogus", "unknownField"),
        ("total", "calculated"),
        ("tags", "maxItems"),
        ("due", "type"),
        ("price", "type"),
    ]
    assert "expected integer, got float" in result.errors[1]["message"]
    assert codes(engine.check({**GOOD, "customer": "a\x00b"}, AT).errors) == [("customer", "type")]  # fast path too
    nested = engine.check({**GOOD, "tags": ["abcd"], "address": {"city": "X", "planet": "Mars"}}, AT)
    assert codes(nested.errors) == [("tags[0]", "maxLength"), ("address.planet", "type")]


def test_aliases_lead_to_the_renamed_field(engine: RecordEngine) -> None:
    result = engine.check({"client": "ada", "quantity": 1, "price": 1}, AT)
    assert result.ok
    assert result.data["customer"] == "ada"
    assert "client" not in result.data


def test_async_validations_only_through_a_resolver(engine: RecordEngine) -> None:
    asked: list[AsyncRequest] = []

    def resolver(request: AsyncRequest) -> AsyncAnswer:
        asked.append(request)
        return AsyncAnswer(request.value == "ada")

    assert engine.check({**GOOD, "customer": "bob"}, AT).ok  # no resolver: not checked
    refused = engine.check({**GOOD, "customer": "bob"}, AT, resolver)
    assert codes(refused.errors) == [("customer", "stock")]
    accepted = engine.check(GOOD, AT, resolver)
    assert accepted.ok
    assert accepted.answers_json() == [
        {"request": {"validation": "stock", "provider": "crm", "params": {}, "value": "ada"}, "answer": {"ok": True}}
    ]


def test_evaluation_errors_reject_the_record() -> None:
    schema = SCHEMA.replace('"double(quantity) * price"', '"price / 0.0"')
    result = RecordEngine(shop(schema=schema), "Order").check(GOOD, AT)
    assert not result.ok
    assert codes(result.errors) == [("total", "ruleError")]
    assert "not a finite number" in result.errors[0]["message"]


def test_entities_without_a_form_work() -> None:
    leads = load_package(LEADS)
    user = RecordEngine(leads, "User")
    assert user.check({"displayName": "Bob", "email": "bob@example.com", "active": True}, AT).ok
    assert codes(user.check({"displayName": "Bob"}, AT).errors) == [("email", "required")]
    model = FormModel.for_entity(leads, "User")
    assert model.steps == () and model.entity == "User"
    assert FormModel.for_entity(leads, "User") is model
    with pytest.raises(UserError, match="no entity 'Nope'"):
        FormModel.for_entity(leads, "Nope")


def test_record_path_matches_the_submitted_form() -> None:
    from crmctl.runtime.l10n import Localizer
    from crmctl.runtime.session import Session, SessionState

    leads = load_package(LEADS)
    values = {
        "firstName": "Ada",
        "lastName": "L",
        "email": "ada@example.com",
        "company": "X",
        "companySize": 300,
        "annualRevenue": 2e11,
        "source": "referral",
    }
    session = Session(FormModel.build(leads, "Lead"), Localizer(leads), "salesManager")
    state = session.apply(SessionState(), {"type": "load", "data": values}, AT).state
    submit = session.apply(state, {"type": "submit"}, AT).effects[-1]
    result = RecordEngine(leads, "Lead").check(values, AT)
    assert submit["ok"] and result.ok
    # The form proposes a follow-up date on load (an onLoad rule); records run no onLoad rules.
    assert {k: v for k, v in submit["record"].items() if k != "nextFollowUp"} == result.data
    assert submit["report"] == result.warnings


def test_merge_patch() -> None:
    assert merge_patch({"a": 1, "o": {"x": 1, "y": 2}}, {"a": None, "o": {"x": None, "z": 3}, "b": [1]}) == {
        "o": {"y": 2, "z": 3},
        "b": [1],
    }


# --- the service: versions, updates, log --------------------------------------------------------------------------


def test_create_logs_an_entry_with_the_record_in_one_transaction(service: RecordService, store: Store) -> None:
    outcome = service.create(shop(), "Order", "o1", {**GOOD, "price": 900}, AT)
    assert outcome.ok and outcome.record is not None
    stored = store.get_record("acme", "Order", "o1")
    assert stored is not None and stored.data == outcome.result.data and stored.revision == 1
    (entry,) = list(store.events("acme"))
    assert entry["session"] == "record:Order:o1" and entry["kind"] == "record" and entry["op"] == "create"
    assert entry["package"]["name"] == "Shop" and entry["entity"] == "Order" and entry["locale"] == "en"
    assert entry["input"] == {**GOOD, "price": 900}
    assert entry["effects"] == [
        {"effect": "record", "id": "o1", "data": stored.data, "warnings": outcome.result.warnings}
    ]


def test_a_rejected_record_writes_nothing(service: RecordService, store: Store) -> None:
    outcome = service.create(shop(), "Order", "o1", {**GOOD, "quantity": 0}, AT)
    assert not outcome.ok and outcome.record is None
    assert store.count_records("acme") == 0 and list(store.events("acme")) == []


def test_update_merges_revalidates_and_bumps_the_revision(service: RecordService, store: Store) -> None:
    service.create(shop(), "Order", "o1", GOOD, AT)
    outcome = service.update("Order", "o1", {"quantity": 5, "status": None}, LATER)
    assert outcome.ok and outcome.record is not None
    assert outcome.record.revision == 2
    assert outcome.record.created_at == "2026-11-26T09:00:00Z" and outcome.record.updated_at == "2026-11-27T09:00:00Z"
    assert outcome.record.data["total"] == 60.0 and "status" not in outcome.record.data
    assert outcome.record.data["dueDay"] == "2026-11-27"
    refused = service.update("Order", "o1", {"quantity": 500}, LATER)
    assert not refused.ok
    assert store.get_record("acme", "Order", "o1").revision == 2  # type: ignore[union-attr]
    with pytest.raises(UserError, match="no Order record 'nope'"):
        service.update("Order", "nope", {}, LATER)


def test_reads_use_the_pinned_version_after_the_working_copy_changed(service: RecordService) -> None:
    service.create(shop(), "Order", "o1", GOOD, AT)
    v2_schema = SCHEMA.replace("status: {type: enum, values: [open, paid]}", "status: {type: enum, values: [new]}")
    v2 = shop("2.0.0", schema=v2_schema)
    record, pinned = service.get("Order", "o1")
    assert pinned.manifest is not None and pinned.manifest.version == "1.0.0"
    assert record.package_version == "1.0.0"
    # An update without --package stays on the pinned version: 'paid' is still offered there.
    assert service.update("Order", "o1", {"status": "paid"}, LATER).ok
    # Moving to v2 validates under v2: 'paid' is gone.
    moved = service.update("Order", "o1", {}, LATER, package=v2)
    assert codes(moved.result.errors) == [("status", "notOffered")]
    moved = service.update("Order", "o1", {"status": "new"}, LATER, package=v2)
    assert moved.ok and moved.record is not None and moved.record.package_version == "2.0.0"
    other = load_package(LEADS)
    with pytest.raises(UserError, match="belongs to package Shop, not LeadLifecycle"):
        service.update("Order", "o1", {}, LATER, package=other)


def test_replay_reproduces_record_entries_byte_for_byte(service: RecordService, store: Store) -> None:
    def resolver(request: AsyncRequest) -> AsyncAnswer:
        return AsyncAnswer(True, "known")

    service.create(shop(), "Order", "o1", {**GOOD, "price": 900}, AT, resolver)
    service.create(shop(), "Order", "o2", GOOD, AT)
    service.update("Order", "o1", {"quantity": 7}, LATER)
    report = replay(service.runtime, store.events("acme"))
    assert report.ok, report.to_json()
    assert (report.sessions, report.events) == (2, 3)
    # Against a version with a tighter range the same inputs differ, classified.
    tighter = VALIDATIONS.replace("max: 100,", "max: 5,")
    diff = replay(service.runtime, store.events("acme"), against=shop("1.1.0", validations=tighter))
    assert [d.categories for d in diff.divergences] == [("rejected",)]
    assert diff.divergences[0].session == "record:Order:o1" and diff.divergences[0].index == 2


def test_tampered_record_effects_are_a_divergence(service: RecordService, store: Store) -> None:
    service.create(shop(), "Order", "o1", GOOD, AT)
    entries = list(store.events("acme"))
    entries[0]["effects"][0]["data"]["total"] = 1.0
    report = replay(service.runtime, entries)
    assert [d.categories for d in report.divergences] == [("effects", "calculated")]


# --- imports ------------------------------------------------------------------------------------------------------


def rows(n: int, bad: int | None = None) -> list[Row]:
    out: list[Row] = []
    for i in range(1, n + 1):
        values: dict[str, Any] = {"customer": f"c{i}", "quantity": 1 + i % 50, "price": 2.5}
        if i == bad:
            values["quantity"] = 0
        out.append((i, None, values))
    return out


def test_import_is_all_or_nothing(service: RecordService, store: Store) -> None:
    report = service.import_rows(shop(), "Order", rows(1000, bad=500), AT, batch_size=100)
    assert not report.ok and report.written == 0
    assert [(row, codes(found)) for row, found in report.rejected] == [(500, [("quantity", "qtyRange")])]
    assert store.count_records("acme") == 0 and list(store.events("acme")) == []


def test_import_skip_invalid_writes_the_valid_rows(service: RecordService, store: Store) -> None:
    done: list[int] = []
    report = service.import_rows(
        shop(), "Order", rows(1000, bad=500), AT, skip_invalid=True, batch_size=100, progress=done.append
    )
    assert report.written == 999 and [row for row, _ in report.rejected] == [500]
    assert store.count_records("acme", "Order") == 999
    assert store.get_record("acme", "Order", "Order-500") is None
    assert store.get_record("acme", "Order", "Order-501") is not None
    assert done[-1] == 1000 and done == sorted(done)
    entries = list(store.events("acme"))
    assert len(entries) == 999
    assert replay(service.runtime, entries).ok


def test_import_failing_midway_leaves_nothing(service: RecordService, store: Store) -> None:
    def broken() -> Iterator[Row]:
        yield from rows(250)
        raise InputError("data.csv:252: CSV syntax: unexpected end of data")

    with pytest.raises(InputError):
        service.import_rows(shop(), "Order", broken(), AT, batch_size=100)
    assert store.count_records("acme") == 0 and list(store.events("acme")) == []


def test_import_refuses_duplicate_ids(service: RecordService, store: Store) -> None:
    twice: list[Row] = [(1, "same", {"customer": "a"}), (2, "same", {"customer": "b"})]
    with pytest.raises(UserError, match="more than once"):
        service.import_rows(shop(), "Order", twice, AT)
    assert store.count_records("acme") == 0


# --- files --------------------------------------------------------------------------------------------------------


def test_csv_cells_convert_by_field_type(tmp_path: Path, engine: RecordEngine) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "id,client,quantity,price,tags,address,note\n"
        'x1,ada,3,2,"[""a""]","{""city"": ""Rome""}",\n'
        ",bob,many,1.5,,,hi\n",
        encoding="utf-8",
    )
    got = list(read_rows(path, engine))
    assert got == [
        (1, "x1", {"customer": "ada", "quantity": 3, "price": 2.0, "tags": ["a"], "address": {"city": "Rome"}}),
        (2, None, {"customer": "bob", "quantity": "many", "price": 1.5, "note": "hi"}),
    ]
    assert codes(engine.check(got[1][2], AT).errors) == [("quantity", "type")]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.csv", "customer,colour\nx,red\n", "a.csv:1:2: column 'colour' is unknown"),
        ("a.csv", "customer,total\nx,1\n", "a.csv:1:2: column 'total' is a calculated field"),
        ("a.csv", 'customer\n"x\n', "a.csv:2: CSV syntax"),
        ("a.csv", "customer\nx,y\n", "a.csv:2:2: row 1 has 2 cells"),
        ("a.jsonl", '{"customer": "x"}\n\n{"customer": \n', "a.jsonl:3:14: JSON syntax"),
        ("a.jsonl", "[1]\n", "a.jsonl:1:1: expected a JSON object of field values, got list"),
        ("a.jsonl", '{"customer": "x"}\n{"quantity": NaN}\n', "a.jsonl:2: NaN is not a JSON number"),
        ("a.jsonl", '{"price": -Infinity}\n', "a.jsonl:1: -Infinity is not a JSON number"),
        ("a.jsonl", '{"quantity": ' + "7" * 5000 + "}\n", "a.jsonl:1:14: integer has 5000 digits; the limit is 4300"),
        ("a.txt", "", "import reads .csv or .jsonl files"),
        ("missing.csv", None, "missing.csv: cannot read"),
    ],
)
def test_bad_files_are_located_input_errors(
    tmp_path: Path, engine: RecordEngine, name: str, text: str | None, message: str
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_rows(path, engine))
    assert message in str(caught.value)


def test_jsonl_rows_carry_ids(tmp_path: Path, engine: RecordEngine) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text(json.dumps({"id": "a", "customer": "x"}) + "\n\n" + json.dumps({"customer": "y"}) + "\n")
    assert list(read_rows(path, engine)) == [(1, "a", {"customer": "x"}), (2, None, {"customer": "y"})]


# --- a field is named once (issue 9 §3: duplicate columns and keys kept the last value) -------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "a.csv",
            "customer,quantity,customer\nx,1,y\n",
            "a.csv:1:3: column 'customer' names the same field as column 1 ('customer')",
        ),
        (
            "a.csv",
            "customer,client\nx,y\n",
            "a.csv:1:2: column 'client' (a former name of 'customer') names the same field as column 1 ('customer')",
        ),
        (
            "a.csv",
            "client,quantity,customer\nx,1,y\n",
            "a.csv:1:3: column 'customer' (a former name of 'customer') names the same field as column 1 ('client')",
        ),
        ("a.csv", "id,customer,id\n1,x,2\n", "a.csv:1:3: column 'id' names the same field as column 1 ('id')"),
        (
            "a.jsonl",
            '{"customer": "x"}\n{"customer": "x", "quantity": 1, "customer": "y"}\n',
            "a.jsonl:2:34: duplicate key 'customer'",
        ),
        (
            "a.jsonl",
            '\n{"customer": "x", "address": {"city": "Rome", "city": "Paris"}}\n',
            "a.jsonl:2:47: duplicate key 'city'",
        ),
        ("a.jsonl", '{"customer": "x", "tags": [{"a": 1, "a": 2}]}\n', "a.jsonl:1:37: duplicate key 'a'"),
        ("a.jsonl", '{"id": "1", "customer": "x", "id": "2"}\n', "a.jsonl:1:30: duplicate key 'id'"),
        (
            "a.jsonl",
            '{"customer": "x", "client": "y"}\n',
            "a.jsonl:1: keys 'customer' and 'client' name the same field 'customer'",
        ),
    ],
)
def test_a_field_named_twice_is_refused_where_it_is(
    tmp_path: Path, engine: RecordEngine, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_rows(path, engine))
    assert message in str(caught.value)


KEYS = st.text(alphabet="abcxyz", min_size=1, max_size=3)


def _nest(inner: str, depth: int) -> str:
    for level in range(depth):
        inner = f'{{"n{level}": [{inner}]}}' if level % 2 else f'{{"n{level}": {inner}}}'
    return inner


@settings(derandomize=True, max_examples=150)
@given(st.lists(KEYS, min_size=1, max_size=6, unique=True), st.data())
def test_any_repeated_key_at_any_depth_is_refused(keys: list[str], data: st.DataObject) -> None:
    """A JSON object of field values with one key repeated somewhere inside: never a value silently dropped."""
    repeated = data.draw(st.sampled_from(keys))
    members = [f'"{key}": {index}' for index, key in enumerate(keys)]
    depth = data.draw(st.integers(0, 3))
    assert json_object(_nest("{" + ", ".join(members) + "}", depth), "rows.jsonl") is not None
    members.insert(data.draw(st.integers(0, len(members))), f'"{repeated}": "again"')
    line = data.draw(st.integers(1, 50))
    with pytest.raises(InputError, match=rf"^rows\.jsonl:{line}:\d+: duplicate key '{repeated}'$"):
        json_object(_nest("{" + ", ".join(members) + "}", depth), "rows.jsonl", line=line)


@pytest.mark.parametrize("cell", ["1_000", "١٢", "+5", " 5", "nan", "inf", "1e999", "007", "0x1F", ".5"])
def test_a_csv_cell_that_is_no_json_number_stays_text_and_is_rejected(
    tmp_path: Path, engine: RecordEngine, cell: str
) -> None:
    """int() and float() read `1_000`, `١٢`, `+5`, `nan`...: the row got a number nobody wrote."""
    path = tmp_path / "a.csv"
    path.write_text(f'customer,quantity,price\nada,"{cell}","{cell}"\n', encoding="utf-8")
    [(_, _, values)] = list(read_rows(path, engine))
    assert values == {"customer": "ada", "quantity": cell, "price": cell}
    assert codes(engine.check(values, AT).errors) == [("quantity", "type"), ("price", "type")]


@pytest.mark.parametrize(
    ("quantity", "price", "says"),
    [
        # A cell of 5,000 digits is an integer nobody can store, not a string ("expected integer, got str").
        ("9" * 5000, "1", "quantity: expected integer, got text: '" + "9" * 40 + "'… has 5000 digits, more than"),
        ("1", "-" + "9" * 5000, "price: expected number, got text: '-" + "9" * 39 + "'… has 5000 digits, more"),
        ("1", "9" * 400, "price: expected number, got text: '" + "9" * 40 + "'… is beyond the range of a number"),
        ("1e400", "1", "quantity: expected integer, got text: '1e400' is beyond the range of a number"),
        ("1_000", "1", "quantity: expected integer, got text: '1_000' is not a number (JSON syntax in ASCII digits"),
    ],
)
def test_a_csv_number_the_engine_refuses_says_why(
    tmp_path: Path, engine: RecordEngine, quantity: str, price: str, says: str
) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"customer,quantity,price\nada,{quantity},{price}\n", encoding="utf-8")
    [(_, _, values)] = list(read_rows(path, engine))
    [error] = engine.check(values, AT).errors
    field, _, reason = says.partition(": ")
    assert error["field"] == field
    assert error["message"].startswith(reason), error["message"]  # the field once, not again in the message


def test_csv_numbers_in_json_syntax_are_read(tmp_path: Path, engine: RecordEngine) -> None:
    path = tmp_path / "a.csv"
    path.write_text("customer,quantity,price\nada,12,-2.5e1\nbob,1.5,3\n", encoding="utf-8")
    assert [values for *_, values in read_rows(path, engine)] == [
        {"customer": "ada", "quantity": 12, "price": -25.0},
        {"customer": "bob", "quantity": 1.5, "price": 3.0},
    ]


def test_an_integer_beyond_a_double_is_a_finding_not_a_crash(tmp_path: Path, engine: RecordEngine) -> None:
    """float() of an int of more than 308 digits raises OverflowError: it escaped the engine as a traceback."""
    assert codes(engine.check({"customer": "ada", "price": 10**400}, AT).errors) == [("price", "type")]
    path = tmp_path / "a.csv"
    path.write_text(f"customer,price\nada,{10**400}\n", encoding="utf-8")
    [(_, _, values)] = list(read_rows(path, engine))
    assert values["price"] == str(10**400)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"quantity": "lots"}, "quantity"),
        ({"quantity": 2**70}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"customer": "a\x00b"}, "customer"),
        ({"customer": 3}, "customer"),
        ({"price": float("inf")}, "price"),
    ],
)
def test_a_type_finding_does_not_repeat_its_field(engine: RecordEngine, values: dict[str, Any], field: str) -> None:
    """Regression (issue 12): `companySize: type: companySize: expected integer` — the finding names the field, and
    its message said it again. Every refusal of the `type` family words it once."""
    errors = [e for e in engine.check({"customer": "ada", "quantity": 1, **values}, AT).errors if e["code"] == "type"]
    assert [e["field"] for e in errors] == [field]
    assert not errors[0]["message"].startswith(f"{field}:"), errors[0]["message"]
