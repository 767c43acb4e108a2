"""The runtime store on DuckDB only: files missing or read-only, locks, formats and migrations, damaged files, tampering
(what both backends share is the contract suite, tests/runtime/store_contract)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmctl.runtime.storage import schema as schema_module
from crmctl.runtime.store import (
    Store,
    StoreError,
    StoreFormatError,
    StoreLockedError,
    StoreMissingError,
    read_event_export,
)
from tests.runtime.store_contract.rows import events, record

HEX = "sha256:" + "ab" * 32
_WEBHOOK_TABLES = ("webhook_cursors", "webhook_outbox", "webhook_attempts")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".crm" / "runtime.duckdb"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store.open(path) as opened:
        yield opened


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


def test_foreign_files_are_not_event_exports(tmp_path: Path) -> None:
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"entry": ["{}"]}), other)
    with pytest.raises(StoreFormatError, match="not a crmctl event log export"):
        read_event_export(other)
    text = tmp_path / "notes.txt"
    text.write_text("not parquet")
    with pytest.raises(StoreFormatError, match="not a Parquet file"):
        read_event_export(text)


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


def test_a_bulk_insert_writes_full_row_groups_before_its_commit(path: Path, store: Store) -> None:
    """An import's records reach the file as each row group fills, not all at its commit: the commit is what runs
    alone after a parallel import's rows are checked, and five row groups held back are ~600,000 rows in memory.
    DuckDB's row group is 122,880 rows: of these 300,000 rows, the two full row groups reach the file (in blocks of
    256 KiB) while the transaction is open; held back until the commit, nothing would."""

    class Abandon(Exception):
        pass

    before = path.stat().st_size
    rows = [(f"r-{i}", '{"n":1}') for i in range(300_000)]
    with pytest.raises(Abandon), store.transaction():
        for start in range(0, len(rows), 10_000):
            batch = rows[start : start + 10_000]
            store.records.create_encoded("acme", "Lead", ("P", "1.0.0", HEX), batch, "2026-11-26T09:00:00Z")
        during = path.stat().st_size
        raise Abandon
    assert during >= before + 262_144, (before, during)
    assert store.count_records("acme", "Lead") == 0


def test_a_write_batch_is_built_outside_arrows_default_pool() -> None:
    """Batches the store writes keep their buffers in the C library's heap (`write_array`), not in Arrow's default
    pool, whose huge pages cost milliseconds each on a virtual machine: the same array, in the other pool."""
    from crmctl.runtime.storage.connection import write_array

    system, default = pa.system_memory_pool(), pa.default_memory_pool()
    if default.backend_name == system.backend_name:
        pytest.skip("Arrow's default pool is the system one here (ARROW_DEFAULT_MEMORY_POOL=system)")
    texts = [f"entry {i} " + "x" * 1_000 for i in range(2_000)]
    before = system.bytes_allocated(), default.bytes_allocated()
    built = write_array(texts, pa.string())
    assert built.equals(pa.array(texts, pa.string()))
    assert system.bytes_allocated() - before[0] >= sum(map(len, texts))
    assert default.bytes_allocated() - before[1] < 1_000_000
