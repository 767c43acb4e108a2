"""Field defaults in the runtime: every reader and writer sees a field's default where a record has no value —
the record engine, CEL (rules, validations, calculated fields, workflow guards), the form, `records get`, export.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.cel import Context, program_for
from crmctl.runtime.export import ExportOptions, export
from crmctl.runtime.form import FormModel
from crmctl.runtime.l10n import Localizer
from crmctl.runtime.record_service import RecordService
from crmctl.runtime.records import RecordEngine
from crmctl.runtime.service import Runtime
from crmctl.runtime.session import Session, SessionState
from crmctl.runtime.store import Store, StoredRecord
from crmctl.runtime.values import ValueSizeError, ValueTypeError, to_cel
from crmctl.runtime.workflow import Actor, WorkflowEngine, WorkflowModel

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

V1_SCHEMA = """\
entities:
  Deal:
    fields:
      name: {type: text, required: true}
      address:
        type: object
        fields:
          city: {type: text}
      lines:
        type: array
        items:
          type: object
          fields:
            sku: {type: text}
"""
V2_SCHEMA = """\
entities:
  Deal:
    fields:
      name: {type: text, required: true}
      region: {type: enum, values: [emea, amer], required: true, default: emea}
      budget: {type: currency, currency: EUR, default: 1000}
      since: {type: date, default: "2020-01-01"}
      seen: {type: datetime, default: "2020-01-01T08:00:00Z"}
      vip: {type: boolean, default: false}
      priority: {type: number, integer: true, default: 3}
      code: {type: text, aliases: [oldCode], default: X}
      tags: {type: array, items: {type: text}, default: [new]}
      address:
        type: object
        fields:
          city: {type: text}
          country: {type: text, required: true, default: DE}
      lines:
        type: array
        items:
          type: object
          fields:
            sku: {type: text}
            qty: {type: number, integer: true, default: 1}
      label: {type: calculated, resultType: text, expression: "region + '/' + string(priority)"}
"""
RULES = """\
rules:
  - id: vipNote
    entity: Deal
    scope: field
    target: code
    trigger: onSave
    capability: calculation
    when: "budget >= 1000.0 && !vip"
    expression: "'standard'"
"""
VALIDATIONS = """\
validations:
  - {id: priorityRange, entity: Deal, type: range, field: priority, min: 1, max: 5, message: v.priority}
"""
UI = """\
entity: Deal
steps:
  - id: one
    fields: [name, region, budget, address.city, address.country]
roles:
  guest:
    hidden: [budget]
"""
FLOW = """\
workflows:
  - id: deal
    entity: Deal
    initial: open
    states:
      open: {}
      won: {final: true}
    transitions:
      - {id: win, from: open, to: won, guard: "region == 'emea' && priority == 3"}
"""


def deals(version: str, schema: str, **extra: str) -> Package:
    manifest = (
        f"name: Deals\nversion: {version}\nscope: global\ndescription: D.\nlocales: [en]\nroles: [seller, guest]\n"
    )
    files = {"package.yaml": manifest, "localization/en.yaml": "labels: {}\n", "schema.yaml": schema, **extra}
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, f"Deals@{version}"))
    assert package.valid, package.diagnostics
    return package


V1 = deals("1.0.0", V1_SCHEMA)
V2 = deals(
    "1.1.0", V2_SCHEMA, **{"rules.yaml": RULES, "validations.yaml": VALIDATIONS, "ui.yaml": UI, "workflow.yaml": FLOW}
)
FILLED = {
    "region": "emea",
    "budget": 1000.0,
    "since": "2020-01-01",
    "seen": "2020-01-01T08:00:00Z",
    "vip": False,
    "priority": 3,
    "tags": ["new"],
}


def test_a_record_written_without_a_value_stores_the_default() -> None:
    result = RecordEngine(V2, "Deal").check({"name": "a"}, AT)
    assert result.ok, result.errors
    assert result.data == {"name": "a", **FILLED, "code": "standard", "label": "emea/3"}  # the rule saw the defaults
    assert type(result.data["budget"]) is float  # stored as a typed-in whole number of a currency would be


def test_defaults_fill_present_objects_and_list_items_and_keep_values() -> None:
    engine = RecordEngine(V2, "Deal")
    result = engine.check(
        {
            "name": "a",
            "region": None,
            "vip": True,
            "code": "",
            "address": {"city": "B"},
            "lines": [{"sku": "a"}, {"sku": "b", "qty": 5}],
            "tags": [],
        },
        AT,
    )
    assert result.ok, result.errors
    assert result.data["region"] == "emea"  # null is no value
    assert result.data["code"] == ""  # an empty text is a value (the rule did not fire: vip)
    assert result.data["tags"] == []
    assert result.data["address"] == {"city": "B", "country": "DE"}
    assert result.data["lines"] == [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 5}]
    assert "address" not in engine.check({"name": "a"}, AT).data  # an absent object stays absent
    aliased = engine.check({"name": "a", "oldCode": "Y", "vip": True}, AT)
    assert aliased.data["code"] == "Y"  # a value under the former name is a value


def test_validations_and_required_checks_see_the_default() -> None:
    engine = RecordEngine(V2, "Deal")
    bad = engine.check({"name": "a", "priority": 9}, AT)
    assert [e["code"] for e in bad.errors] == ["priorityRange"]
    assert engine.check({"name": "a"}, AT).ok  # required region, and range over the default priority 3


def test_cel_binding_reads_the_default_for_a_record_without_the_field() -> None:
    program = program_for(V2, "Deal")
    context = Context("", "system", AT, "en")
    v1_record = {"name": "a", "address": {"city": "B"}}
    for zero_absent in (False, True):
        bound = program.bind(v1_record, context, zero_absent=zero_absent)
        assert bound["region"] == "emea" and bound["priority"] == 3 and bound["vip"] is False
        assert bound["address"] == {"city": "B", "country": "DE"}
    assert program.evaluate("calc:Deal.label", v1_record, context) == "emea/3"


def test_a_workflow_guard_of_a_migrated_instance_reads_the_default() -> None:
    old = WorkflowEngine(
        WorkflowModel.build(
            deals(
                "1.0.0",
                V1_SCHEMA,
                **{
                    "workflow.yaml": FLOW.replace(
                        "guard: \"region == 'emea' && priority == 3\"", "guard: \"name != ''\""
                    )
                },
            )
        )
    )
    started = old.start("w1", {"name": "a"}, AT).instance
    assert "region" not in started["data"]
    new = WorkflowEngine(WorkflowModel.build(V2))
    later = AT + timedelta(minutes=1)
    moved = new.adopt(started, {}, later).instance
    won = new.fire(moved, "win", Actor("u", "seller"), later)
    assert [e["result"] for e in won.effects if e["effect"] == "guard"] == [True]
    assert won.instance["state"] == "won"


def play(sess: Session, events: list[dict[str, Any]]) -> tuple[SessionState, list[list[dict[str, Any]]]]:
    state, effects = SessionState(), []
    for i, event in enumerate(events):
        outcome = sess.apply(state, event, AT + timedelta(seconds=i))
        state = outcome.state
        effects.append(outcome.effects)
    return state, effects


def test_a_new_form_starts_with_the_defaults_and_a_cleared_field_returns_to_its_default() -> None:
    sess = Session(FormModel.build(V2), Localizer(V2, "en"), "guest")
    state, effects = play(sess, [{"type": "load", "data": {"priority": 4}}])
    assert state.data == {**FILLED, "priority": 4, "code": "X", "label": "emea/4"}  # budget too: guest cannot see it
    shown = {e["field"]: e["value"] for e in effects[0] if e["effect"] == "set"}
    assert shown == {"region": "emea", "label": "emea/4"}  # the view shows what the role may see
    state, effects = play(sess, [{"type": "load"}, {"type": "change", "field": "region", "value": None}])
    assert state.data["region"] == "emea"
    assert {"effect": "set", "field": "region", "value": "emea", "display": "emea"} in effects[1]
    state, effects = play(
        sess,
        [
            {"type": "load", "data": {"name": "n"}},
            {"type": "change", "field": "address.city", "value": "B"},
            {"type": "submit"},
        ],
    )
    assert state.data["address"] == {"city": "B", "country": "DE"}
    assert [e["value"] for e in effects[1] if e["effect"] == "set" and e["field"] == "address.country"] == ["DE"]
    submitted = next(e for e in effects[2] if e["effect"] == "submit")
    assert submitted["ok"], submitted
    assert submitted["record"]["region"] == "emea" and "budget" not in submitted["record"]  # hidden from guest


def test_a_record_moved_to_a_version_with_defaults_stores_them(store: Store) -> None:
    service = RecordService(Runtime(store, "t1"))
    assert service.create(V1, "Deal", "d1", {"name": "a", "address": {"city": "B"}}, AT).ok
    moved = service.update("Deal", "d1", {}, AT + timedelta(seconds=1), package=V2)
    assert moved.ok, moved.result.errors
    stored = store.get_record("t1", "Deal", "d1")
    assert stored is not None and stored.package_version == "1.1.0"
    assert stored.data["region"] == "emea" and stored.data["address"] == {"city": "B", "country": "DE"}


def test_records_get_reads_the_default_where_stored_data_has_none(store: Store) -> None:
    runtime = Runtime(store, "t1")
    ref = runtime.pin(V2)
    with store.transaction():  # data as no engine of this version would write it: e.g. restored from elsewhere
        store.put_records(
            [
                StoredRecord(
                    "t1",
                    "Deal",
                    "d1",
                    ref.name,
                    ref.version,
                    ref.digest,
                    {"name": "a"},
                    1,
                    "2026-11-26T09:00:00Z",
                    "2026-11-26T09:00:00Z",
                )
            ]
        )
    record, _ = RecordService(runtime).get("Deal", "d1")
    assert record.data == {"name": "a", **FILLED, "code": "X"}
    assert [r.data for r in RecordService(runtime).list("Deal")] == [record.data]  # list shows what get shows


def test_records_list_and_get_show_the_same_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crmctl.cli.main import run

    path = tmp_path / "rt.duckdb"
    with Store.open(path) as opened:
        runtime = Runtime(opened, "t1")
        ref = runtime.pin(V2)
        service = RecordService(runtime)
        assert service.create(V1, "Deal", "d0", {"name": "old"}, AT).ok  # no defaults in its version
        with opened.transaction():
            opened.put_records(
                [
                    StoredRecord(
                        "t1",
                        "Deal",
                        "d1",
                        ref.name,
                        ref.version,
                        ref.digest,
                        {"name": "a"},
                        1,
                        "2026-11-26T09:00:00Z",
                        "2026-11-26T09:00:00Z",
                    )
                ]
            )
    common = ["--store", str(path), "--tenant", "t1", "--format", "json"]
    capsys.readouterr()
    assert run(["records", "list", *common]) == 0
    listed = {r["id"]: r["data"] for r in json.loads(capsys.readouterr().out)["result"]["records"]}
    for record_id in ("d0", "d1"):
        assert run(["records", "get", record_id, "--entity", "Deal", *common]) == 0
        assert json.loads(capsys.readouterr().out)["result"]["data"] == listed[record_id]
    assert listed == {"d0": {"name": "old"}, "d1": {"name": "a", **FILLED, "code": "X"}}


def export_rows(store: Store, out: Path, fmt: str) -> list[dict[str, Any]]:
    export(store, "records", ExportOptions(out, fmt))  # type: ignore[arg-type]
    if fmt == "csv":
        with (out / "records" / "Deal" / "part-0.csv").open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    return pq.read_table(out / "records" / "Deal" / "part-0.parquet").to_pylist()


def test_export_reads_every_row_as_the_newest_version_with_its_defaults(store: Store, tmp_path: Path) -> None:
    service = RecordService(Runtime(store, "t1"))
    assert service.create(V1, "Deal", "d1", {"name": "old", "address": {"city": "B"}, "lines": [{"sku": "s"}]}, AT).ok
    assert service.create(V2, "Deal", "d2", {"name": "new", "region": "amer", "lines": [{"sku": "t", "qty": 7}]}, AT).ok
    rows = {r["id"]: r for r in export_rows(store, tmp_path / "pq", "parquet")}
    old = rows["d1"]
    assert old["package_version"] == "1.0.0"
    assert (old["region"], old["budget"], old["vip"], old["priority"]) == ("emea", Decimal("1000.00"), False, 3)
    assert str(old["since"]) == "2020-01-01" and old["seen"] == datetime(2020, 1, 1, 8, tzinfo=UTC)
    assert old["tags"] == ["new"]
    assert old["address"] == {"city": "B", "country": "DE"}
    assert old["lines"] == [{"sku": "s", "qty": 1}]
    assert rows["d2"]["region"] == "amer" and rows["d2"]["lines"] == [{"sku": "t", "qty": 7}]
    cells = {r["id"]: r for r in export_rows(store, tmp_path / "csv", "csv")}
    assert (cells["d1"]["region"], cells["d1"]["budget"], cells["d1"]["address.country"]) == ("emea", "1000.00", "DE")
    assert json.loads(cells["d1"]["lines"]) == [{"sku": "s", "qty": 1}]
    assert json.loads(cells["d1"]["tags"]) == ["new"]


def test_an_export_without_defaults_is_unchanged(store: Store, tmp_path: Path) -> None:
    service = RecordService(Runtime(store, "t1"))
    assert service.create(V1, "Deal", "d1", {"name": "old", "address": {"city": "B"}}, AT).ok
    assert export_rows(store, tmp_path / "pq", "parquet")[0]["address"] == {"city": "B"}


# --- a declared default is always a value the runtime stores -----------------------------------------------------

FIELD_DEFS = st.one_of(
    st.builds(lambda n: {"type": "text", **({"maxLength": n} if n else {})}, st.none() | st.integers(1, 5)),
    st.builds(
        lambda i, s: {"type": "number", "integer": i, **({"scale": s} if s is not None and not i else {})},
        st.booleans(),
        st.none() | st.integers(0, 3),
    ),
    st.builds(lambda s: {"type": "currency", "currency": "EUR", "scale": s}, st.integers(0, 4)),
    st.just({"type": "boolean"}),
    st.just({"type": "date"}),
    st.just({"type": "datetime"}),
    st.just({"type": "enum", "values": ["a", "b"]}),
    st.builds(
        lambda m: {"type": "array", "items": {"type": "text"}, **({"maxItems": m} if m else {})},
        st.none() | st.integers(1, 3),
    ),
    st.just({"type": "object", "fields": {"n": {"type": "number"}, "t": {"type": "text"}}}),
    st.just({"type": "object", "fields": {"n": {"type": "number", "required": True}, "t": {"type": "text"}}}),
    st.just({"type": "array", "items": {"type": "object", "fields": {"t": {"type": "text", "required": True}}}}),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(
        ["a", "b", "", "abcdef", "2024-02-29", "2023-02-29", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "\x00"]
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["n", "t", "x"]), inner, max_size=3),
    max_leaves=8,
)


def fitting(field: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that often fit `field` (and sometimes only nearly: too long, too precise, wrongly typed)."""
    kind = field["type"]
    if kind == "text":
        return st.text(max_size=7)
    if kind in ("number", "currency"):
        return st.integers(-(10**9), 10**9) | st.decimals(-1000, 1000, places=3).map(float)
    if kind == "boolean":
        return st.booleans()
    if kind == "date":
        return st.dates().map(lambda d: d.isoformat())
    if kind == "datetime":
        return st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    if kind == "enum":
        return st.sampled_from([*field["values"], "zz"])
    if kind == "array":
        item = field["items"]
        return st.lists(
            fitting(item) if item["type"] != "object" else st.fixed_dictionaries({"t": st.text()}), max_size=4
        )
    members = {name: fitting(sub) for name, sub in field["fields"].items()}
    return st.fixed_dictionaries({}, optional=members)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(FIELD_DEFS, st.booleans(), st.data())
def test_a_default_the_model_accepts_is_one_the_record_engine_stores(
    field: dict[str, Any], required: bool, data: st.DataObject
) -> None:
    """Differential: a package whose default the model accepts (`model.defaults`) never has a default that the
    runtime's own type, limit and required checks refuse."""
    value = data.draw(fitting(field) | JSON_VALUES)
    field = {**field, **({"required": True} if required else {})}
    schema = json.dumps({"entities": {"E": {"fields": {"f": {**field, "default": value}}}}})
    files = {
        "package.yaml": "name: P\nversion: 1.0.0\nscope: global\ndescription: P.\nlocales: [en]\n",
        "schema.json": schema,
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "P"))
    if not package.valid or value is None:
        return  # refused where it is declared (located SCH100, see tests/model/test_defaults.py)
    assert package.schema is not None
    try:
        to_cel(value, package.schema.entities["E"].fields["f"], "f")
    except (ValueTypeError, ValueSizeError) as exc:  # pragma: no cover - the failure this test looks for
        pytest.fail(f"the model accepts {value!r} for {field} but the runtime refuses it: {exc}")
    result = RecordEngine(package, "E").check({}, AT)
    assert result.ok, (field, value, result.errors)


def test_defaults_reach_cel_with_their_fields_cel_types() -> None:
    """A whole-number default of a currency or decimal field is a double, a date a timestamp at midnight UTC, a
    datetime with an offset its UTC instant, a number inside an object default a double: as entered values are."""
    schema = """\
entities:
  Deal:
    fields:
      price: {type: currency, currency: EUR, default: 10}
      ratio: {type: number, scale: 2, default: 1}
      since: {type: date, default: "2020-01-01"}
      seen: {type: datetime, default: "2020-01-01T08:00:00+02:00"}
      box: {type: object, fields: {n: {type: number, default: 5}}, default: {}}
      check:
        type: calculated
        resultType: boolean
        expression: >-
          price * ratio == 10.0 && since == timestamp('2020-01-01T00:00:00Z')
          && seen == timestamp('2020-01-01T06:00:00Z') && box.n / 2.0 == 2.5
"""
    package = deals("1.0.0", schema)
    program = program_for(package, "Deal")
    context = Context("", "system", AT, "en")
    for zero_absent in (False, True):
        bound = program.bind({}, context, zero_absent=zero_absent)
        assert (type(bound["price"]), type(bound["ratio"]), bound["box"]) == (float, float, {"n": 5.0})
        assert bound["seen"] == datetime(2020, 1, 1, 6, tzinfo=UTC)
        assert program.evaluate_bound("calc:Deal.check", bound) is True
    assert RecordEngine(package, "Deal").check({}, AT).data["check"] is True
