"""Former names (`aliases`) in the runtime, at every depth: a value given or stored under a field's former name is
the field's value — in the record engine, updates and moves, CEL bindings (a migrated workflow instance), the form
— and data naming a field twice (by its name and a former one) is refused instead of keeping one value silently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmctl.errors import InputError
from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.form import FormModel
from crmctl.runtime.l10n import Localizer
from crmctl.runtime.record_files import read_rows
from crmctl.runtime.record_service import RecordService
from crmctl.runtime.records import RecordEngine
from crmctl.runtime.replay import replay
from crmctl.runtime.service import Runtime
from crmctl.runtime.session import Session, SessionState
from crmctl.runtime.store import Store
from crmctl.runtime.workflow import Actor, WorkflowEngine, WorkflowModel

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

V1_SCHEMA = """\
entities:
  Acct:
    fields:
      name: {type: text, required: true}
      region: {type: enum, values: [emea, amer]}
      addr: {type: object, fields: {zip: {type: text}, city: {type: text}}}
      lines: {type: array, items: {type: object, fields: {sku: {type: text}}}}
"""
V2_SCHEMA = """\
entities:
  Acct:
    fields:
      name: {type: text, required: true}
      area: {type: enum, values: [emea, amer], aliases: [region], default: emea}
      addr: {type: object, fields: {postcode: {type: text, aliases: [zip], default: "00000"}, city: {type: text}}}
      lines: {type: array, items: {type: object, fields: {code: {type: text, aliases: [sku]}}}}
"""
FLOW = """\
workflows:
  - id: flow
    entity: Acct
    initial: open
    states: {open: {}, done: {final: true}}
    transitions:
      - {id: close, from: open, to: done, guard: "GUARD"}
"""
UI = "entity: Acct\nsteps:\n  - id: one\n    fields: [name, area, addr.postcode, addr.city]\n"


def acct(version: str, schema: str, guard: str) -> Package:
    manifest = f"name: Accts\nversion: {version}\nscope: global\ndescription: A.\nlocales: [en]\nroles: [rep]\n"
    files = {
        "package.yaml": manifest,
        "localization/en.yaml": "labels: {}\n",
        "schema.yaml": schema,
        "workflow.yaml": FLOW.replace("GUARD", guard),
        "ui.yaml": UI if version != "1.0.0" else "",
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items() if v}, f"Accts@{version}"))
    assert package.valid, package.diagnostics
    return package


V1 = acct("1.0.0", V1_SCHEMA, "region == 'amer'")
V2 = acct("2.0.0", V2_SCHEMA, "area == 'amer' && addr.postcode == '123'")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"region": "amer", "area": "emea"}, "area"),
        ({"area": "emea", "region": None}, "area"),  # a null under the other name is still naming it twice
        ({"addr": {"zip": "1", "postcode": "2"}}, "addr.postcode"),
        ({"lines": [{"code": "a"}, {"sku": "b", "code": "c"}]}, "lines[1].code"),
    ],
)
def test_data_naming_a_field_and_its_former_name_is_refused_where_it_is(data: dict[str, object], field: str) -> None:
    result = RecordEngine(V2, "Acct").check({"name": "a", **data}, AT)
    assert not result.ok
    assert [(e["field"], e["code"]) for e in result.errors] == [(field, "type")]
    assert f"name the same field {field!r} (one is a former name); give it once" in result.errors[0]["message"]


def test_former_names_at_any_depth_are_stored_under_the_current_names() -> None:
    given = {"name": "a", "region": "amer", "addr": {"zip": "1"}, "lines": [{"sku": "x"}, {"code": "y"}]}
    result = RecordEngine(V2, "Acct").check(given, AT)
    assert result.ok, result.errors
    assert result.data == {
        "name": "a",
        "area": "amer",
        "addr": {"postcode": "1"},
        "lines": [{"code": "x"}, {"code": "y"}],
    }


def test_an_update_by_a_former_name_sets_or_clears_the_field(store: Store) -> None:
    service = RecordService(Runtime(store, "t1"))
    at = iter(AT + timedelta(seconds=i) for i in range(10))
    assert service.create(V2, "Acct", "a1", {"name": "a", "area": "amer", "addr": {"city": "X"}}, next(at)).ok

    def data() -> dict[str, object]:
        stored = store.get_record("t1", "Acct", "a1")
        assert stored is not None
        return dict(stored.data)

    assert service.update("Acct", "a1", {"region": None}, next(at)).ok
    assert data()["area"] == "emea"  # cleared by its former name: back to the default
    assert service.update("Acct", "a1", {"region": "amer", "addr": {"zip": "9"}}, next(at)).ok
    assert data() == {"name": "a", "area": "amer", "addr": {"postcode": "9", "city": "X"}}
    refused = service.update("Acct", "a1", {"area": "emea", "region": "amer"}, next(at))
    assert not refused.ok and refused.record is None
    assert [e["field"] for e in refused.result.errors] == ["area"]
    assert data()["area"] == "amer"  # nothing written
    assert replay(service.runtime, store.events("t1")).ok


def test_a_record_moves_across_renames_at_any_depth_and_replays(store: Store) -> None:
    service = RecordService(Runtime(store, "t1"))
    v1_data = {"name": "a", "region": "amer", "addr": {"zip": "123"}, "lines": [{"sku": "x"}]}
    assert service.create(V1, "Acct", "a1", v1_data, AT).ok
    moved = service.update("Acct", "a1", {"addr": {"city": "B"}}, AT + timedelta(seconds=1), package=V2)
    assert moved.ok, moved.result.errors
    assert moved.record is not None
    assert moved.record.data == {
        "name": "a",
        "area": "amer",
        "addr": {"postcode": "123", "city": "B"},
        "lines": [{"code": "x"}],
    }
    assert replay(service.runtime, store.events("t1")).ok


def test_a_migrated_workflow_instance_reads_fields_renamed_at_any_depth() -> None:
    old = WorkflowEngine(WorkflowModel.build(V1))
    started = old.start("w1", {"name": "a", "region": "amer", "addr": {"zip": "123"}}, AT).instance
    new = WorkflowEngine(WorkflowModel.build(V2))
    later = AT + timedelta(minutes=1)
    moved = new.adopt(started, {}, later).instance
    closed = new.fire(moved, "close", Actor("u", "rep"), later)
    assert [e["result"] for e in closed.effects if e["effect"] == "guard"] == [True]
    assert closed.instance["state"] == "done"


def test_a_form_event_naming_a_nested_former_name_changes_the_field() -> None:
    sess = Session(FormModel.build(V2), Localizer(V2, "en"), "rep")
    state = sess.apply(SessionState(), {"type": "load"}, AT).state
    outcome = sess.apply(state, {"type": "change", "field": "addr.zip", "value": "123"}, AT + timedelta(seconds=1))
    assert outcome.state.data["addr"] == {"postcode": "123"}


def test_a_jsonl_row_naming_a_nested_field_twice_is_refused_located(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"name": "a"}\n{"name": "b", "addr": {"zip": "1", "postcode": "2"}}\n', encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"rows\.jsonl:2: keys 'zip' and 'postcode' name the same field "
        r"'addr\.postcode'",
    ):
        list(read_rows(rows, RecordEngine(V2, "Acct")))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_reads_older_rows_under_the_newest_names_at_any_depth(store: Store, tmp_path: Path, fmt: str) -> None:
    """A v1 row's addr.zip is the dataset's addr.postcode (not a column of its own, and not the default)."""
    import csv
    import json

    import pyarrow.parquet as pq

    from crmctl.runtime.export import ExportOptions, export

    service = RecordService(Runtime(store, "t1"))
    v1_data = {"name": "a", "region": "amer", "addr": {"zip": "123", "city": "X"}, "lines": [{"sku": "s"}]}
    assert service.create(V1, "Acct", "a1", v1_data, AT).ok
    assert service.create(V1, "Acct", "a2", {"name": "b", "addr": {"city": "Y"}}, AT).ok
    assert service.create(V2, "Acct", "a3", {"name": "c", "addr": {"city": "Z"}, "lines": [{"code": "t"}]}, AT).ok
    out = tmp_path / fmt
    export(store, "records", ExportOptions(out, fmt))  # type: ignore[arg-type]
    if fmt == "csv":
        with (out / "records" / "Acct" / "part-0.csv").open(encoding="utf-8", newline="") as handle:
            cells = {row["id"]: row for row in csv.DictReader(handle)}
        assert "addr.zip" not in cells["a1"] and "region" not in cells["a1"]
        assert [(cells[i]["area"], cells[i]["addr.postcode"]) for i in ("a1", "a2", "a3")] == [
            ("amer", "123"),
            ("emea", "00000"),
            ("emea", "00000"),
        ]
        assert json.loads(cells["a1"]["lines"]) == [{"code": "s"}]
        return
    rows = {row["id"]: row for row in pq.read_table(out / "records" / "Acct" / "part-0.parquet").to_pylist()}
    assert rows["a1"]["addr"] == {"postcode": "123", "city": "X"}  # the stored value, not the default
    assert rows["a2"]["addr"] == {"postcode": "00000", "city": "Y"}
    assert rows["a1"]["lines"] == [{"code": "s"}] and rows["a3"]["lines"] == [{"code": "t"}]
    assert rows["a1"]["area"] == "amer"
