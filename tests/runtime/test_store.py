"""The runtime store: round trips, tenant isolation, all-or-nothing writes, locks, formats, tampering, export."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
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
from crmctl.runtime.storage import schema as schema_module
from crmctl.runtime.store import (
    Draft,
    RecordExistsError,
    RecordNotFoundError,
    Store,
    StoredRecord,
    StoreError,
    StoreFormatError,
    StoreIntegrityError,
    StoreLockedError,
    StoreMissingError,
    read_event_export,
)

T0 = "2026-11-26T10:00:00Z"
T1 = "2026-11-26T11:30:00.250000Z"
DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".crm" / "runtime.duckdb"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store.open(path) as opened:
        yield opened


def record(id_: str, tenant: str = "acme", entity: str = "Lead", **data: Any) -> StoredRecord:
    return StoredRecord(tenant, entity, id_, "crm", "1.0.0", DIGEST, {"name": id_, **data}, 1, T0, T0)


def draft(draft_id: str, tenant: str = "acme", updated_at: str = T0, entity: str = "Lead") -> Draft:
    return Draft(
        tenant, draft_id, entity, "crm", "1.0.0", DIGEST, {"amount": 40.0}, {"step": "details"}, "details", updated_at
    )


def events(n: int, session: str = "s1") -> list[dict[str, Any]]:
    return [{"session": session, "at": T0, "kind": "set", "n": i} for i in range(n)]


def test_new_store_has_meta_and_empty_tables(path: Path, store: Store) -> None:
    info = store.info()
    assert info["path"] == str(path) and info["format"] == store_module.FORMAT == 3
    assert info["written_by"] == info["created_by"] == __version__
    assert info["duckdb"] == duckdb.__version__
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


def test_read_only_and_missing(path: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreMissingError):
        Store.open(path, create=False)
    with pytest.raises(StoreMissingError):
        Store.open(path, read_only=True)
    with Store.open(path) as store:
        store.put_records([record("L1")])
    with Store.open(path, read_only=True) as store:
        assert store.count_records("acme") == 1
        with pytest.raises(StoreError, match="read-only"):
            store.put_records([record("L2")])


_HOLDER = """
import sys
from pathlib import Path
from crmctl.runtime.store import Store
store = Store.open(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()
"""


def test_lock_held_by_another_process_names_its_pid(path: Path) -> None:
    Store.open(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        for read_only in (False, True):
            with pytest.raises(StoreLockedError) as caught:
                Store.open(path, read_only=read_only)
            assert caught.value.pid == holder.pid
            assert f"in use by PID {holder.pid} (" in caught.value.message
            assert "--store" in caught.value.message
    finally:
        holder.communicate("", timeout=30)
    Store.open(path).close()


def _set_meta(path: Path, key: str, value: str) -> None:
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = ?", [value, key]).fetchall()
    con.close()


def test_newer_store_format_asks_for_a_newer_crmctl(path: Path) -> None:
    Store.open(path).close()
    _set_meta(path, "format", "99")
    _set_meta(path, "written_by", "9.9.9")
    with pytest.raises(StoreFormatError, match=r"crmctl 9\.9\.9 in store format 99") as caught:
        Store.open(path)
    assert caught.value.hint == "upgrade crmctl"


def test_older_store_format_names_the_migration(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(path).close()

    notes = schema_module.Table("notes", (schema_module.Column("tenant", "text"), schema_module.Column("note", "text")))
    current = schema_module.FORMAT
    monkeypatch.setattr(schema_module, "FORMAT", current + 1)
    monkeypatch.setitem(schema_module.MIGRATIONS, current, ("notes",))
    monkeypatch.setitem(schema_module.TABLES, "notes", notes)
    with pytest.raises(StoreFormatError, match=f"format {current}") as caught:
        Store.open(path)
    assert caught.value.hint is not None and "crmctl store migrate" in caught.value.hint
    with Store.open(path, allow_old_format=True) as store:
        assert store.migrate() == [current]
        assert store.info()["format"] == current + 1
    with Store.open(path) as store:
        assert store.migrate() == []


@pytest.mark.parametrize("content", [b"hello world\n" * 100, b"\x00" * 8192])
def test_a_file_that_is_not_duckdb_is_a_format_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "runtime.duckdb"
    path.write_bytes(content)
    with pytest.raises(StoreFormatError, match="not a runtime store"):
        Store.open(path)


def test_a_duckdb_file_without_meta_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (x INTEGER)").fetchall()
    con.close()
    with pytest.raises(StoreFormatError, match="not a crmctl runtime store"):
        Store.open(path)


def test_tampered_event_is_found_at_its_seq(path: Path) -> None:
    with Store.open(path) as store:
        store.append_events("acme", events(8))
        store.append_events("other", events(8))
    con = duckdb.connect(str(path))
    con.execute("""UPDATE events SET entry = replace(entry, '"n":4', '"n":40') WHERE tenant = 'acme' AND seq = 5""")
    con.execute("UPDATE events SET session = 'forged' WHERE tenant = 'other' AND seq = 3").fetchall()
    con.execute("UPDATE events SET entry = '{\"at\": 1' WHERE tenant = 'other' AND seq = 7").fetchall()
    con.execute("""UPDATE events SET entry = replace(entry, '"at":"2026', '"at":"1999') WHERE tenant = 'other'
                   AND seq = 8""").fetchall()
    con.close()
    with Store.open(path) as store:
        problems = store.verify_log("acme")
        assert [(p.seq, p.position, p.code) for p in problems] == [(5, 4, "LOG001")]
        problems = store.verify_log("other")
        # Seq 7 is unreadable, so seq 8 also shows as a gap after seq 6; its edited `at` is an edit and a column clash.
        assert [(p.seq, p.position, p.code) for p in problems] == [
            (3, 2, "LOG001"),
            (None, 6, "LOG005"),
            (8, 7, "LOG001"),
            (8, 7, "LOG003"),
            (8, 7, "LOG002"),
            (8, 7, "LOG001"),
        ]
        assert "session" in problems[0].message and "at column" in problems[-1].message


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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".crm", "events.parquet"]


def test_foreign_files_are_not_event_exports(tmp_path: Path) -> None:
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"entry": ["{}"]}), other)
    with pytest.raises(StoreFormatError, match="not a crmctl event log export"):
        read_event_export(other)
    text = tmp_path / "notes.txt"
    text.write_text("not parquet")
    with pytest.raises(StoreFormatError, match="not a Parquet file"):
        read_event_export(text)


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


def test_workflow_instances_round_trip_per_tenant(path: Path) -> None:
    instance = {
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
    with Store.open(path) as store:
        store.put_instances("a", [instance, {**instance, "id": "w0", "status": "completed"}])
        store.put_instances("a", [{**instance, "state": "contacted"}])  # replaces
        assert store.get_instance("a", "w1") == {**instance, "state": "contacted"}
        assert store.get_instance("b", "w1") is None
        assert [i["id"] for i in store.list_instances("a")] == ["w0", "w1"]
        assert [i["id"] for i in store.list_instances("a", status="running")] == ["w1"]
        assert store.list_instances("a", workflow="other") == []
        assert store.info()["counts"]["workflow_instances"] == {"a": 2}


_WEBHOOK_TABLES = ("webhook_cursors", "webhook_outbox", "webhook_attempts")


def test_a_format_1_store_migrates_to_the_current_format(path: Path) -> None:
    """A store written before workflow instances existed: refused with the way out, then migrated in place."""
    import duckdb

    with Store.open(path) as store:
        store.append_events("t", [{"session": "s", "at": "2026-11-26T10:00:00Z"}])
    with duckdb.connect(str(path)) as con:  # as crmctl wrote it before format 2
        for table in ("workflow_instances", *_WEBHOOK_TABLES):
            con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'format'")
    with pytest.raises(StoreFormatError, match="store format 1, this crmctl uses format 3"):
        Store.open(path)
    with Store.open(path, allow_old_format=True) as store:
        assert store.migrate() == [1, 2]
    with Store.open(path) as store:
        assert store.info()["format"] == 3 and store.list_instances("t") == []
        assert store.verify_log("t") == []  # nothing else touched


def test_a_format_2_store_migrates_to_3_with_an_empty_outbox(path: Path) -> None:
    """A store written before the webhook outbox: migrated in place; its log is relayed from the start."""
    import duckdb

    with Store.open(path) as store:
        store.append_events("t", [{"session": "s", "at": "2026-11-26T10:00:00Z"}])
    with duckdb.connect(str(path)) as con:  # as crmctl wrote it before format 3
        for table in _WEBHOOK_TABLES:
            con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    with pytest.raises(StoreFormatError, match="store format 2, this crmctl uses format 3"):
        Store.open(path)
    with Store.open(path, allow_old_format=True) as store:
        assert store.migrate() == [2]
    with Store.open(path) as store:
        assert store.info()["format"] == 3 and store.outbox.counts("t") == {"pending": 0, "delivered": 0, "dead": 0}
        assert store.verify_log("t") == []
