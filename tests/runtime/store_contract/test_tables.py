"""The store contract, on both backends (DuckDB and PostgreSQL): round trips of every table, tenants kept apart,
all-or-nothing writes, transactions that join, the log chained, read in windows, verified and exported."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmctl import __version__
from crmctl.errors import InputError, UserError
from crmctl.runtime import store as store_module
from crmctl.runtime.eventlog import GENESIS, verify_chain
from crmctl.runtime.storage.locator import StoreURL
from crmctl.runtime.store import (
    RecordExistsError,
    RecordNotFoundError,
    Store,
    StoreError,
    StoreIntegrityError,
    read_event_export,
)
from tests.runtime.store_contract.rows import DIGEST, T0, T1, draft, events, record

_INSTANCE = {
    "id": "w1",
    "workflow": "flow",
    "entity": "Lead",
    "digest": "sha256:" + "1" * 64,
    "package": {"name": "P", "version": "1.0.0"},
    "status": "running",
    "clock": "2026-11-26T10:00:00Z",
    "state": "new",
    "data": {"a": 1.0},
}


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def test_new_store_has_meta_and_empty_tables(store_target: Path | StoreURL, store: Store) -> None:
    info = store.info()
    assert info["path"] == str(store_target) and info["format"] == store_module.FORMAT == 3
    assert info["written_by"] == info["created_by"] == __version__
    assert info["engine"] == store.engine
    if store.engine == "duckdb":
        assert info["duckdb"] == duckdb.__version__ and info["postgresql"] is None and info["isolation"] is None
    else:
        assert info["duckdb"] is None and info["postgresql"].startswith("1") and info["isolation"] == "enforced"
    assert info["packages"] == 0 and info["counts"] == {
        "drafts": {},
        "records": {},
        "events": {},
        "workflow_instances": {},
        "webhook_outbox": {},
    }
    assert store.tenants() == []


def test_packages_are_content_addressed(store: Store) -> None:
    blob = b'{"package":{"name":"crm"}}'
    import hashlib

    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    store.put_package(digest, "crm", "1.0.0", blob)
    store.put_package(digest, "crm", "1.0.0", blob)
    assert store.get_package(digest) == blob
    assert store.get_package(DIGEST) is None
    assert store.package_digests() == [(digest, "crm", "1.0.0")]
    with pytest.raises(StoreIntegrityError, match="hash to"):
        store.put_package(digest, "crm", "1.0.0", blob + b" ")


def test_drafts_round_trip_and_order(store: Store) -> None:
    store.save_draft(draft("d1", updated_at=T0))
    store.save_draft(draft("d2", updated_at=T1))
    store.save_draft(draft("d3", updated_at=T1, entity="Deal"))
    assert store.get_draft("acme", "d1") == draft("d1", updated_at=T0)
    assert [d.draft_id for d in store.list_drafts("acme")] == ["d2", "d3", "d1"]
    assert [d.draft_id for d in store.list_drafts("acme", "Lead")] == ["d2", "d1"]
    changed = replace(draft("d1"), data={"amount": 41.5}, last_step=None, updated_at="2026-11-26T12:00:00+01:00")
    store.save_draft(changed)
    got = store.get_draft("acme", "d1")
    assert got is not None and got.data == {"amount": 41.5} and got.last_step is None
    assert got.updated_at == "2026-11-26T11:00:00Z"
    store.delete_draft("acme", "d1")
    assert store.get_draft("acme", "d1") is None


def test_records_round_trip(store: Store) -> None:
    store.put_records([record("L2", amount=40.0), record("L1"), record("D1", entity="Deal")])
    got = store.get_record("acme", "Lead", "L2")
    assert got == record("L2", amount=40.0)
    assert got is not None and isinstance(got.data["amount"], float)
    assert [r.id for r in store.list_records("acme")] == ["D1", "L1", "L2"]
    assert [r.id for r in store.list_records("acme", "Lead", limit=1, offset=1)] == ["L2"]
    assert store.count_records("acme") == 3 and store.count_records("acme", "Lead") == 2
    assert store.record_ids("acme", "Lead") == {"L1", "L2"}
    assert [r.id for r in store.iter_records("acme", batch=2)] == ["D1", "L1", "L2"]
    assert [r.id for r in store.iter_records("acme", "Lead", batch=1)] == ["L1", "L2"]
    assert store.get_record("acme", "Lead", "nope") is None


def test_update_and_upsert(store: Store) -> None:
    store.put_records([record("L1")])
    newer = replace(record("L1", stage="won"), revision=2, updated_at=T1)
    store.put_records([newer], mode="update")
    assert store.get_record("acme", "Lead", "L1") == newer
    with pytest.raises(RecordNotFoundError, match="Lead/L9") as caught:
        store.put_records([newer, record("L9")], mode="update")
    assert caught.value.keys == [("Lead", "L9")]
    store.put_records([record("L1"), record("L9")], mode="upsert")
    assert store.get_record("acme", "Lead", "L1") == record("L1")
    assert store.count_records("acme") == 2


def test_put_records_is_all_or_nothing(store: Store) -> None:
    store.put_records([record("r0500")])
    batch = [record(f"r{i:04d}") for i in range(1000)]
    with pytest.raises(RecordExistsError, match="Lead/r0500; nothing was written") as caught:
        store.put_records(batch)
    assert isinstance(caught.value, UserError)
    assert caught.value.keys == [("Lead", "r0500")]
    assert store.count_records("acme") == 1


def test_put_records_refuses_duplicates_and_mixed_tenants(store: Store) -> None:
    with pytest.raises(InputError, match="more than once"):
        store.put_records([record("L1"), record("L1")])
    with pytest.raises(InputError, match="one tenant"):
        store.put_records([record("L1"), record("L2", tenant="other")])
    with pytest.raises(InputError, match="UTC timestamp"):
        store.put_records([replace(record("L1"), created_at="2026-11-26T10:00:00")])
    store.put_records([])
    assert store.count_records("acme") == 0


def test_many_clashes_are_listed_briefly(store: Store) -> None:
    store.put_records([record(f"r{i:02d}") for i in range(30)])
    with pytest.raises(RecordExistsError, match="and 20 more") as caught:
        store.put_records([record(f"r{i:02d}") for i in range(30)])
    assert len(caught.value.keys) == 10


def test_tenants_are_isolated(store: Store) -> None:
    store.put_records([record("L1", tenant="a")])
    store.save_draft(draft("d1", tenant="a"))
    store.append_events("a", events(3))
    store.put_records([record("L1", tenant="b", owner="b")])
    assert store.get_record("b", "Lead", "L1") == record("L1", tenant="b", owner="b")
    assert store.get_draft("b", "d1") is None and store.list_drafts("b") == []
    assert list(store.events("b")) == [] and store.head("b") is None and store.sessions("b") == []
    first_b = store.append_events("b", events(1))[0]
    assert first_b["seq"] == 1 and first_b["prev"] == GENESIS and first_b["tenant"] == "b"
    head_a = store.head("a")
    assert head_a is not None and head_a[0] == 3
    assert store.verify_log("a") == [] and store.verify_log("b") == []
    assert store.tenants() == ["a", "b"]
    assert store.info()["counts"] == {
        "drafts": {"a": 1},
        "records": {"a": 1, "b": 1},
        "events": {"a": 3, "b": 1},
        "workflow_instances": {},
        "webhook_outbox": {},
    }


def test_events_chain_and_read_back(store: Store) -> None:
    first = store.append_events("acme", events(3, "s1"))
    second = store.append_events("acme", [{"session": "s0", "at": T1}, {"session": "s1", "at": T0}])
    assert [e["seq"] for e in first + second] == [1, 2, 3, 4, 5]
    assert second[0]["prev"] == first[-1]["hash"]
    assert list(store.events("acme")) == first + second
    assert [e["seq"] for e in store.events("acme", session="s1")] == [1, 2, 3, 5]
    assert [e["seq"] for e in store.events("acme", after_seq=3)] == [4, 5]
    assert store.sessions("acme") == ["s1", "s0"]
    assert store.head("acme") == (5, second[-1]["hash"])
    assert store.verify_log("acme") == []
    assert verify_chain(store.events("acme"), expected_head=second[-1]["hash"]) == []
    assert store.append_events("acme", []) == []


def test_events_are_read_in_chunks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patching `_CHUNK` of `runtime.store` used to change nothing (the log read its own import of it), so this
    read the log in one window; the chunk is now the event log's own setting."""
    store.append_events("acme", events(6) + events(4, "s2"))
    monkeypatch.setattr(store.log, "chunk", 4)
    statements: list[str] = []
    real = store.connection.all

    def counted(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        statements.append(sql)
        return real(sql, params)

    monkeypatch.setattr(store.connection, "all", counted)
    assert [e["seq"] for e in store.events("acme")] == list(range(1, 11))
    assert sum("seq <= ?" in sql for sql in statements) == 3  # the windows (0, 4], (4, 8], (8, 10]
    statements.clear()
    assert [e["seq"] for e in store.events("acme", session="s1")] == [1, 2, 3, 4, 5, 6]
    assert [e["seq"] for e in store.events("acme", session="s2", after_seq=7)] == [8, 9, 10]
    assert sum("LIMIT 4" in sql for sql in statements) == 3  # s1 in two chunks, s2 in one
    assert store.verify_log("acme") == []
    # A gap wider than a window (entries deleted by hand) is jumped over, not taken for the end of the log.
    with store.transaction(), store.connection.tenant("acme"):
        real("DELETE FROM events WHERE tenant = 'acme' AND seq BETWEEN 2 AND 8")
    assert [e["seq"] for e in store.events("acme")] == [1, 9, 10]


@pytest.mark.parametrize(
    "body",
    [
        {"at": T0},
        {"session": 1, "at": T0},
        {"session": "s", "at": "yesterday"},
        {"session": "s"},
        {"session": "s", "at": T0, "seq": 9},
        {"session": "s", "at": T0, "tenant": "other"},
    ],
)
def test_bad_event_bodies_are_refused(store: Store, body: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        store.append_events("acme", [{"session": "ok", "at": T0}, body])
    assert store.head("acme") is None


def test_transaction_groups_writes_and_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_records([record("L1")])
        with store.transaction():
            store.append_events("acme", events(2))
        raise RuntimeError("boom")
    assert store.count_records("acme") == 0 and store.head("acme") is None
    with store.transaction():
        store.put_records([record("L1")])
        store.append_events("acme", events(2))
    assert store.count_records("acme") == 1 and store.head("acme") is not None


def test_a_swallowed_inner_failure_still_rolls_back(store: Store) -> None:
    with pytest.raises(StoreError, match="nothing of it was written"), store.transaction():
        store.put_records([record("L1")])
        with pytest.raises(RecordExistsError):
            store.put_records([record("L1")])
    assert store.count_records("acme") == 0


def test_the_tables_share_one_connection_and_one_transaction(store: Store) -> None:
    """Each table is its own collaborator, but all of them write through the store's one connection: a refusal
    by one (here a record that exists) undoes what the others wrote in the same transaction."""
    store.records.put([record("L1")])
    with pytest.raises(StoreError, match="nothing of it was written"), store.transaction():
        store.log.append("acme", events(2))
        store.drafts.save(draft("d1"))
        with pytest.raises(RecordExistsError):
            store.records.put([record("L1")])
    assert store.head("acme") is None and store.list_drafts("acme") == []
    assert store.records.count("acme") == 1


def test_export_round_trip_verifies(store: Store, tmp_path: Path) -> None:
    store.append_events("b", events(5))
    store.append_events("a", events(7))
    target = tmp_path / "events.parquet"
    assert store.export_events(None, target) == 12
    entries = list(read_event_export(target))
    assert [e["tenant"] for e in entries] == ["a"] * 7 + ["b"] * 5
    assert entries == list(store.events("a")) + list(store.events("b"))
    heads = {t: h[1] for t in ("a", "b") if (h := store.head(t))}
    assert verify_chain(entries, expected_head=heads) == []
    table = pq.read_table(target)
    assert table.column_names == ["tenant", "seq", "session", "at", "entry", "hash"]
    assert table.schema.metadata[b"crmctl.format"] == b"eventlog/1"
    assert table.schema.field("at").type == pa.timestamp("us", "UTC")
    assert store.export_events("b", target) == 5
    assert [e["tenant"] for e in read_event_export(target)] == ["b"] * 5
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".crm") == ["events.parquet"]


def test_export_is_atomic(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store.append_events("acme", events(3))
    with pytest.raises(StoreError, match="cannot write"):
        store.export_events("acme", tmp_path / "missing" / "events.parquet")
    target = tmp_path / "out" / "events.parquet"
    target.parent.mkdir()
    target.write_bytes(b"previous export")

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        store.export_events("acme", target)
    assert list(target.parent.iterdir()) == [target]
    assert target.read_bytes() == b"previous export"
    assert store.head("acme") is not None


def test_workflow_instances_round_trip_per_tenant(store: Store) -> None:
    instance = _INSTANCE
    store.put_instances("a", [instance, {**instance, "id": "w0", "status": "completed"}])
    store.put_instances("a", [{**instance, "state": "contacted"}])  # replaces
    assert store.get_instance("a", "w1") == {**instance, "state": "contacted"}
    assert store.get_instance("b", "w1") is None
    assert [i["id"] for i in store.list_instances("a")] == ["w0", "w1"]
    assert [i["id"] for i in store.list_instances("a", status="running")] == ["w1"]
    assert store.list_instances("a", workflow="other") == []
    assert store.info()["counts"]["workflow_instances"] == {"a": 2}


def test_another_reader_sees_what_was_committed_and_cannot_write(store_target: Path | StoreURL, store: Store) -> None:
    store.put_records([record("L1")])
    store.put_instances("acme", [{**_INSTANCE, "clock": T1}, {**_INSTANCE, "id": "w0"}])
    store.append_events("acme", events(2))
    store.close()  # DuckDB: one process holds a file at a time
    with Store.open(store_target, read_only=True) as reader:
        assert reader.read_only and reader.get_record("acme", "Lead", "L1") == record("L1")
        assert reader.workflow_clock("acme") == "2026-11-26T11:30:00.250000Z"
        assert reader.workflow_clock("other") is None
        assert reader.verify_log("acme") == [] and reader.tenants() == ["acme"]
        with pytest.raises(StoreError, match="read-only"):
            reader.put_records([record("L2")])
        with pytest.raises(StoreError, match="read-only"):
            reader.append_events("acme", events(1))
        with pytest.raises(StoreError, match="read-only"):
            reader.save_draft(draft("d1"))
        assert reader.count_records("acme") == 1
