"""Writes encoded ahead (`encode_body` + `EventLog.append_encoded`, `Records.create_encoded`): what `records import`
writes from its worker processes. The promise: byte for byte what `append` and `put` write for the same bodies and
records — the spliced text is `eventlog.dumps` of the entry and its hash is `eventlog.link`'s — on DuckDB and on
PostgreSQL, under the same checks."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.errors import EnvironmentFailure, InputError, UserError
from crmctl.model.package import load_package
from crmctl.runtime import eventlog
from crmctl.runtime.record_files import read_rows
from crmctl.runtime.record_service import RecordService
from crmctl.runtime.service import Runtime
from crmctl.runtime.storage.events import encode_body, link_encoded
from crmctl.runtime.store import RecordExistsError, Store, StoredRecord, StoreURL
from tests.conftest import REPO

AT = "2026-11-26T09:00:00Z"
HEX = "sha256:" + "ab" * 32

# Keys around the chain keys: before `hash`, between `hash`/`prev`/`seq`, after `seq`, prefixes of them, and
# non-ASCII ones (orjson and Python both sort by code point: the runs must split where dumps sorts).
_NEAR = ["", "a", "h", "has", "hash_", "hasi", "p", "pre", "prev0", "prew", "s", "se", "seq0", "seqa", "ser", "z"]
_KEYS = st.one_of(st.sampled_from(_NEAR), st.text(max_size=6)).filter(lambda k: k not in eventlog.CHAIN_KEYS)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_BODIES = st.dictionaries(_KEYS, _JSON, max_size=8).map(
    lambda extra: {**{k: v for k, v in extra.items() if k not in ("session", "at", "tenant")}, "session": "s"}
)


@settings(max_examples=150, deadline=None)
@given(body=_BODIES, seq=st.integers(1, 10**12), prev=st.sampled_from([eventlog.GENESIS, HEX]))
def test_spliced_text_and_hash_are_dumps_and_link(body: dict[str, Any], seq: int, prev: str) -> None:
    """The splice itself, for any body: its text is `dumps(link(...))` and its hash `link`'s."""
    encoded = encode_body("acme", {**body, "at": AT})
    text, digest = link_encoded(encoded, seq, prev)
    expected = eventlog.link({**body, "at": AT, "tenant": "acme"}, seq, prev)
    assert digest == expected["hash"]
    assert text == eventlog.dumps(expected)


@pytest.fixture(params=["duckdb", "postgresql"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty store of each backend (PostgreSQL: skipped without its binaries, see tests/postgres.py)."""
    target = tmp_path / "rt.duckdb" if request.param == "duckdb" else StoreURL(request.getfixturevalue("pg_url"))
    with Store.open(target) as opened:
        yield opened


BODIES = [
    {"session": "record:Lead:1", "at": AT, "kind": "record", "input": {"name": "Ada", "prev": 1}},
    {"session": "record:Lead:2", "at": "2026-11-26T09:00:01.5Z", "kind": "record", "a": [1.0, "é"], "zz": None},
    {"session": "s", "at": AT, "hash_": 1, "prevx": 2, "seq0": 3, "tenant": "acme"},
]


def _contents(store: Store, scratch: Path) -> list[Any]:
    """The tenant acme's log (each entry's text as stored, through an export), head and records."""
    import pyarrow.parquet as pq

    store.export_events("acme", scratch)
    texts = pq.read_table(scratch, columns=["entry"]).column(0).to_pylist()
    records = [dataclasses.asdict(r) for r in store.list_records("acme")]
    return [texts, store.head("acme"), records]


def test_the_same_entries_and_records_as_append_and_put(store: Store, tmp_path: Path) -> None:
    with Store.open(tmp_path / "plain.duckdb") as plain:
        for batch in (BODIES, BODIES[:1]):  # the second batch chains onto the first
            plain.append_events("acme", batch)
            store.log.append_encoded("acme", [encode_body("acme", body) for body in batch])
        records = [
            StoredRecord("acme", "Lead", f"L-{i}", "P", "1.0.0", HEX, {"n": i, "é": [True, None]}, 1, AT, AT)
            for i in range(3)
        ]
        plain.put_records(records)
        store.records.create_encoded(
            "acme", "Lead", ("P", "1.0.0", HEX), [(r.id, eventlog.dumps(r.data)) for r in records], AT
        )
        assert _contents(store, tmp_path / "a.parquet") == _contents(plain, tmp_path / "b.parquet")
        assert store.verify_log("acme") == []


def test_encoded_writes_are_refused_as_plain_ones(store: Store) -> None:
    with pytest.raises(InputError, match="may not set"):
        encode_body("acme", {"session": "s", "at": AT, "prev": "x"})
    with pytest.raises(InputError, match="string session"):
        encode_body("acme", {"session": 1, "at": AT})
    with pytest.raises(InputError, match="belongs to tenant acme"):
        encode_body("acme", {"session": "s", "at": AT, "tenant": "other"})
    with pytest.raises(InputError, match="cannot join the log of acme"):
        store.log.append_encoded("acme", [encode_body("other", {"session": "s", "at": AT})])
    with pytest.raises(InputError):
        store.log.append_encoded("acme", [encode_body("acme", {"session": "s", "at": "yesterday"})])
    assert store.head("acme") is None and store.log.append_encoded("acme", []) is None
    store.records.create_encoded("acme", "Lead", ("P", "1.0.0", HEX), [("L-1", "{}")], AT)
    with pytest.raises(RecordExistsError, match="Lead/L-1"):
        store.records.create_encoded("acme", "Lead", ("P", "1.0.0", HEX), [("L-1", "{}"), ("L-2", "{}")], AT)
    with pytest.raises(InputError, match="more than once"):
        store.records.create_encoded("acme", "Lead", ("P", "1.0.0", HEX), [("L-3", "{}"), ("L-3", "{}")], AT)
    assert [r.id for r in store.list_records("acme")] == ["L-1"]


LEADS = REPO / "packages" / "LeadLifecycle" / "v1"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _lead(i: int) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "firstName": "Ådå" if i % 5 == 0 else "Ada",
        "lastName": f"L{i}",
        "email": f"ada{i}@example.com",
        "companySize": 0 if i == 7 else 10 + i,  # row 7 is rejected
        "annualRevenue": 2e11 if i % 9 == 0 else i * 1000.5,  # every ninth: a soft warning
        "industry": "software",
    }
    if i % 4 == 0:
        lead["id"] = f"given-{i}"
    return lead


def _files(tmp_path: Path, count: int) -> list[Path]:
    leads = [_lead(i) for i in range(1, count + 1)]
    jsonl = tmp_path / "leads.jsonl"
    jsonl.write_text("".join(json.dumps(lead) + "\n" for lead in leads), encoding="utf-8")
    table = tmp_path / "leads.csv"
    columns = ["id", "firstName", "lastName", "email", "companySize", "annualRevenue", "industry"]
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([[lead.get(c, "") for c in columns] for lead in leads])
    return [jsonl, table]


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_import_writes_what_a_create_per_row_writes(
    tmp_path: Path, jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The encoded path (in process, and in worker processes converting raw rows) against `create`, which writes
    through `put` and `append`: the same records, entries and head, for JSONL and CSV."""
    from crmctl.runtime import row_checks

    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 20)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 8)
    package = load_package(LEADS)
    for source in _files(tmp_path, 60):
        with Store.open(tmp_path / f"import-{source.suffix}.duckdb") as imported:
            service = RecordService(Runtime(imported, "acme"))
            rows = read_rows(source, service.engine(package, "Lead"))
            report = service.import_rows(package, "Lead", rows, NOW, skip_invalid=True, jobs=jobs)
            assert [row for row, _ in report.rejected] == [7] and report.written == 59
            with Store.open(tmp_path / f"create-{source.suffix}.duckdb") as created:
                one_by_one = RecordService(Runtime(created, "acme"))
                for number, given, values in read_rows(source, one_by_one.engine(package, "Lead")):
                    if number != 7:
                        assert one_by_one.create(package, "Lead", given or f"Lead-{number}", values, NOW).ok
                assert _contents(imported, tmp_path / "a.parquet") == _contents(created, tmp_path / "b.parquet")


@pytest.mark.parametrize(
    ("count", "padded", "read_at_start"),
    [(240, False, 10), (240, True, 100), (60, False, None)],
    ids=["big-file-starts-at-once", "long-first-rows-read-on", "small-file-no-pool"],
)
def test_the_pool_starts_as_soon_as_the_file_is_known_to_be_big(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, padded: bool, read_at_start: int | None
) -> None:
    """A file's rows are estimated from its size and its first `SAMPLE_ROWS` rows: for a big one the workers start
    (import, compile) while the rest is read, instead of after `POOL_MIN_ROWS` rows. When the first rows do not
    show enough (here they are long, so the file looks short) it reads on until `POOL_MIN_ROWS`; a file with fewer
    is checked in process. Either way the import writes what one process writes."""
    from crmctl.runtime import pool, record_files, row_checks

    monkeypatch.setattr(row_checks, "SAMPLE_ROWS", 10)
    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 100)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 16)
    read = [0]
    started: list[int] = []
    items, workers = record_files.RowFile.items, pool.Workers.__init__

    def counted(self: record_files.RowFile) -> Iterator[Any]:
        for item in items(self):
            read[0] += 1
            yield item

    def starting(self: pool.Workers, *args: Any, **kwargs: Any) -> None:
        started.append(read[0])
        workers(self, *args, **kwargs)

    monkeypatch.setattr(record_files.RowFile, "items", counted)
    monkeypatch.setattr(pool.Workers, "__init__", starting)
    package = load_package(LEADS)
    for source in _files(tmp_path, count)[: 1 if padded else 2]:
        if padded:  # JSON allows whitespace after the object: the first ten lines become ~5 kB each
            lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
            source.write_text("".join(line[:-1] + " " * 5000 + "\n" for line in lines[:10]) + "".join(lines[10:]))
        contents = []
        for jobs in (2, 1):
            read[0] = 0
            started.clear()
            with Store.open(tmp_path / f"{source.suffix}-{jobs}.duckdb") as store:
                service = RecordService(Runtime(store, "acme"))
                rows = read_rows(source, service.engine(package, "Lead"))
                report = service.import_rows(package, "Lead", rows, NOW, skip_invalid=True, jobs=jobs)
                assert report.written == count - 1
                contents.append(_contents(store, tmp_path / f"{jobs}.parquet"))
            if jobs == 2:
                assert started == ([] if read_at_start is None else [read_at_start]), source.name
        assert contents[0] == contents[1]


@pytest.mark.parametrize(("pad", "chunks_ahead"), [(0, 8), (5000, 4)], ids=["narrow-rows", "wide-rows"])
def test_the_rows_in_flight_are_bounded_in_bytes_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pad: int, chunks_ahead: int
) -> None:
    """At most `AHEAD_ROWS` rows are read ahead of the import's writing, and of a file at most `AHEAD_BYTES` (rows
    of the sample's size): wide rows keep fewer in memory, never fewer than two chunks a worker."""
    from crmctl.runtime import pool, row_checks

    monkeypatch.setattr(row_checks, "SAMPLE_ROWS", 10)
    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 100)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 16)
    monkeypatch.setattr(row_checks, "AHEAD_ROWS", 128)
    monkeypatch.setattr(row_checks, "AHEAD_BYTES", 30_000)
    asked: list[int] = []
    ordered_map = pool.ordered_map

    def spied(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs["ahead"])
        return ordered_map(*args, **kwargs)

    monkeypatch.setattr(pool, "ordered_map", spied)
    [source, _] = _files(tmp_path, 240)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    source.write_text("".join(line[:-1] + " " * pad + "\n" for line in lines), encoding="utf-8")
    package = load_package(LEADS)
    with Store.open(tmp_path / "store.duckdb") as store:
        service = RecordService(Runtime(store, "acme"))
        rows = read_rows(source, service.engine(package, "Lead"))
        report = service.import_rows(package, "Lead", rows, NOW, skip_invalid=True, jobs=2)
    assert report.written == 239
    # narrow: 30,000 bytes hold more than 128 rows of ~150 bytes: 128 rows, 8 chunks; wide: 5 rows, so 2 × jobs
    assert [max(ahead, 4) for ahead in asked] == [chunks_ahead]


@pytest.mark.parametrize("short", [False, True], ids=["leads", "one-letter-rows"])
def test_a_files_rows_are_estimated_from_its_first_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short: bool
) -> None:
    """The estimate that starts the pool at once: a file's size over the mean size of its first rows as the file
    holds them (UTF-8, line breaks counted; CSV lines kept as text or read into cells alike), close to its rows."""
    from itertools import islice

    from crmctl.runtime import row_checks

    monkeypatch.setattr(row_checks, "SAMPLE_ROWS", 50)
    package = load_package(LEADS)
    with Store.open(tmp_path / "store.duckdb") as store:
        engine = RecordService(Runtime(store, "acme")).engine(package, "Lead")
    sources = _files(tmp_path, 400)
    if short:  # rows of one cell of one letter (and one quoted cell, read by the csv module): 2 bytes a row
        sources[1].write_text("lastName\n" + "x\n" * 399 + '"y"\n', encoding="utf-8")
    for source in sources[1:] if short else sources:
        rows = read_rows(source, engine)
        with closing(rows.items()) as items:
            head = list(islice(items, 50))
        estimate = row_checks._estimated_rows(rows, head, row_checks._row_bytes(rows, head))
        assert 0.85 * 400 <= estimate <= 1.2 * 400, (source.name, estimate)  # the first leads are shorter


def test_a_chunks_result_crosses_through_a_file_in_the_spool(tmp_path: Path) -> None:
    """A worker writes its result into a new file in the spool and returns the file's path; the import reads it
    back (the same result) and removes the file. A result that cannot be written there comes back as itself."""
    from crmctl.runtime import row_checks

    checked: row_checks.Checked = ([(1, None, "Lead-1", False, '{"a":"é"}', None)], ("bad row", None))
    spooled = row_checks._spooled(checked, str(tmp_path))
    again = row_checks._spooled(checked, str(tmp_path))
    assert isinstance(spooled, Path) and isinstance(again, Path)
    assert spooled.parent == tmp_path and spooled != again
    assert row_checks._unspooled(spooled) == checked
    assert sorted(tmp_path.iterdir()) == [again]
    assert row_checks._spooled(checked, str(tmp_path / "gone")) == checked  # e.g. a full disk: through the pipe
    assert row_checks._unspooled(checked) == checked
    again.unlink()  # say, by a cleaner of temporary files
    with pytest.raises(EnvironmentFailure, match=r"cannot be read .*Nothing was written"):
        row_checks._unspooled(again)


@pytest.mark.parametrize("spool", ["written", "unwritable", "none"])
def test_a_pooled_import_leaves_no_spool_and_writes_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spool: str
) -> None:
    """After an import through the pool, its spool is gone from the temporary directory; and an import whose
    workers cannot write there (the spool missing), or that gets no temporary directory at all, gets every result
    through the pipe: the same store either way."""
    import tempfile

    from crmctl.runtime import row_checks

    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 20)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 8)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    if spool == "unwritable":
        monkeypatch.setattr(tempfile, "mkdtemp", lambda **_: str(tmp_path / "no-such-directory"))
    if spool == "none":

        def refused(**_: Any) -> str:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkdtemp", refused)
    received: list[Any] = []
    unspooled = row_checks._unspooled

    def spied(result: Any) -> Any:
        received.append(result)
        return unspooled(result)

    monkeypatch.setattr(row_checks, "_unspooled", spied)
    package = load_package(LEADS)
    [source, _] = _files(tmp_path, 60)
    contents = []
    for jobs in (2, 1):
        with Store.open(tmp_path / f"{jobs}.duckdb") as store:
            service = RecordService(Runtime(store, "acme"))
            rows = read_rows(source, service.engine(package, "Lead"))
            assert service.import_rows(package, "Lead", rows, NOW, skip_invalid=True, jobs=jobs).written == 59
            contents.append(_contents(store, tmp_path / f"{jobs}.parquet"))
        assert list(temporary.iterdir()) == []
    assert len(received) == 8  # 60 rows in chunks of 8
    if spool == "written":
        assert all(isinstance(r, Path) and r.parent.parent == temporary for r in received)
    else:
        assert not any(isinstance(r, Path) for r in received)
    assert contents[0] == contents[1]


@pytest.mark.skipif(os.name != "posix", reason="spools are swept on POSIX only")
def test_a_pooled_import_removes_the_spools_no_process_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent killed before its workers started leaves its spool to no one: the next pooled import removes this
    user's spools that no process holds a lock on, and keeps a held one (a live import's, whatever its pid says),
    a symlink (and what it points to), a directory others may enter, and what is not a directory."""
    import fcntl
    import tempfile

    from crmctl.runtime import row_checks

    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 20)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 8)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    left = [temporary / "crmctl-import-99999999999-abc", temporary / "crmctl-import-\u00b2-z"]
    held, shared, target = temporary / "crmctl-import-1-live", temporary / "crmctl-import-2-open", tmp_path / "mine"
    for directory in (*left, held, shared, target):
        directory.mkdir(mode=0o700)
        (directory / "1-0").write_bytes(b"left")
    shared.chmod(0o755)
    link, plain = temporary / "crmctl-import-3-link", temporary / "crmctl-import-4-file"
    link.symlink_to(target, target_is_directory=True)
    plain.write_bytes(b"")
    lock = os.open(held, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        package = load_package(LEADS)
        [source, _] = _files(tmp_path, 60)
        with Store.open(tmp_path / "store.duckdb") as store:
            service = RecordService(Runtime(store, "acme"))
            rows = read_rows(source, service.engine(package, "Lead"))
            assert service.import_rows(package, "Lead", rows, NOW, skip_invalid=True, jobs=2).written == 59
    finally:
        os.close(lock)
    assert sorted(temporary.iterdir()) == sorted([held, shared, link, plain])
    assert (target / "1-0").read_bytes() == b"left"


def _pooled_import(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    lines: dict[int, str] | None = None,
    skip_invalid: bool = True,
    **options: Any,
) -> Any:
    """120 leads imported with two jobs in batches of 10, written behind the import loop (`runtime.batch_writes`);
    `lines` replaces lines of the JSONL file (by number)."""
    from crmctl.runtime import row_checks

    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 20)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 8)
    package = load_package(LEADS)
    [source, _] = _files(tmp_path, 120)
    if lines:
        text = source.read_text(encoding="utf-8").splitlines()
        for number, line in lines.items():
            text[number - 1] = line
        source.write_text("\n".join(text) + "\n", encoding="utf-8")
    service = RecordService(Runtime(store, "acme"))
    rows = read_rows(source, service.engine(package, "Lead"))
    return service.import_rows(package, "Lead", rows, NOW, skip_invalid=skip_invalid, batch_size=10, **options)


def test_batches_written_behind_the_loop_are_what_one_process_writes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve batches, most of them written by the writing thread while the loop gathers the next: the same log,
    head and records as one process writing each batch in turn (on each backend)."""
    import threading

    from crmctl.runtime.storage.events import EventLog

    writers: list[str] = []
    append = EventLog.append_encoded

    def spied(self: EventLog, tenant: str, bodies: Any) -> Any:
        writers.append(threading.current_thread().name)
        return append(self, tenant, bodies)

    monkeypatch.setattr(EventLog, "append_encoded", spied)
    assert _pooled_import(store, tmp_path, monkeypatch, jobs=2).written == 119
    assert len(writers) == 12 and all(name.startswith("crmctl-write") for name in writers)
    with Store.open(tmp_path / "one.duckdb") as one:
        assert _pooled_import(one, tmp_path, monkeypatch, jobs=1).written == 119
        assert writers[12:] == ["MainThread"] * 12
        assert _contents(store, tmp_path / "a.parquet") == _contents(one, tmp_path / "b.parquet")


def test_a_batch_refused_behind_the_loop_fails_the_import_as_in_one_process(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record of the sixth batch exists already: the import fails with the store's error, whichever thread
    wrote that batch, and nothing of it is written."""
    store.records.create_encoded("acme", "Lead", ("P", "1.0.0", HEX), [("given-56", "{}")], AT)
    before = _contents(store, tmp_path / "before.parquet")
    for jobs in (2, 1):
        with pytest.raises(RecordExistsError, match="Lead/given-56"):
            _pooled_import(store, tmp_path, monkeypatch, jobs=jobs)
        assert _contents(store, tmp_path / f"after-{jobs}.parquet") == before


@pytest.mark.parametrize(
    ("later", "skip_invalid"),
    [
        ({7: json.dumps(_lead(107)), 35: json.dumps({**_lead(35), "companySize": 0})}, False),  # a rejected row
        ({40: "{not json"}, True),  # an unreadable row
    ],
    ids=["rejected-row", "unreadable-row"],
)
def test_a_batch_refused_behind_the_loop_comes_before_a_later_rows_error(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: dict[int, str], skip_invalid: bool
) -> None:
    """The first batch (rows 1-10) holds a record that exists already, and row 35 or 40 fails on its own: the loop
    reaches that row while the first batch is written behind it, yet the import fails with the store's error, as
    one process, which wrote the first batch before reading on, does."""
    store.records.create_encoded("acme", "Lead", ("P", "1.0.0", HEX), [("given-8", "{}")], AT)
    errors: dict[int, BaseException] = {}
    for jobs in (2, 1):
        with pytest.raises(UserError) as raised:
            _pooled_import(store, tmp_path, monkeypatch, jobs=jobs, lines=later, skip_invalid=skip_invalid)
        errors[jobs] = raised.value
        assert store.count_records("acme") == 1 and store.head("acme") is None
    assert isinstance(errors[2], RecordExistsError) and "Lead/given-8" in str(errors[2])
    assert type(errors[1]) is type(errors[2]) and str(errors[1]) == str(errors[2])


def test_an_import_stopped_while_a_batch_is_written_behind_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (here: raised from the progress callback) while the writing thread is inside the store: the import
    waits for that batch's query before rolling back, drops the batches waiting, and leaves no thread behind."""
    import threading

    from crmctl.runtime.storage.events import EventLog

    entered, release = threading.Event(), threading.Event()
    append = EventLog.append_encoded
    calls: list[int] = []

    def slow(self: EventLog, tenant: str, bodies: Any) -> Any:
        calls.append(len(bodies))
        if len(calls) == 2:
            entered.set()
            assert release.wait(10)
        return append(self, tenant, bodies)

    def progress(rows: int) -> None:
        if rows >= 20:  # the second batch is handed to the writing thread: wait until it is inside the store
            assert entered.wait(10)
            threading.Timer(0.2, release.set).start()
            raise KeyboardInterrupt

    monkeypatch.setattr(EventLog, "append_encoded", slow)
    with Store.open(tmp_path / "rt.duckdb") as store:
        with pytest.raises(KeyboardInterrupt):
            _pooled_import(store, tmp_path, monkeypatch, jobs=2, progress=progress)
        assert release.is_set()  # the rollback came after the batch being written
        assert len(calls) == 2  # the batches waiting were dropped
        assert not [t for t in threading.enumerate() if t.name.startswith("crmctl-write")]
        assert store.count_records("acme") == 0 and store.head("acme") is None


@pytest.mark.parametrize("server", ["answering", "hung"])
def test_ctrl_c_stops_a_postgresql_batch_waiting_behind_the_loop(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    """Another writer holds the tenant's chain, so the writing thread's first batch waits for it inside
    PostgreSQL. Ctrl-C (a real SIGINT) must stop that statement, which psycopg does only for the thread that gets
    the interrupt: by a cancel, or, when the server does not answer (its backend stopped, as on a hung host),
    by cutting the connection `CANCEL_GRACE` seconds later. The import ends with nothing written, long before the
    other writer lets go."""
    import signal
    import threading
    import time

    import psycopg

    from crmctl.runtime.storage import postgresql_backend

    monkeypatch.setattr(postgresql_backend, "CANCEL_GRACE", 1.0)
    stop = threading.Event()
    stopped: list[int] = []

    def press_when_waiting(url: str) -> None:
        with psycopg.connect(url, autocommit=True) as watcher:
            while not stop.is_set():
                waiting = watcher.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                pids = [pid for (pid,) in waiting.fetchall()]
                if pids:
                    if server == "hung":
                        os.kill(pids[0], signal.SIGSTOP)
                        stopped.append(pids[0])
                    os.kill(os.getpid(), signal.SIGINT)
                    return
                time.sleep(0.05)

    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended('crmctl.events/acme', 0))")
        presser = threading.Thread(target=press_when_waiting, args=(pg_url,))
        presser.start()

        def let_go() -> None:  # if the statement is not stopped: fail, rather than hang
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            other.close()

        lets_go = threading.Timer(30, let_go)
        lets_go.start()
        started = time.monotonic()
        try:
            with Store.open(StoreURL(pg_url)) as store, pytest.raises(KeyboardInterrupt):
                _pooled_import(store, tmp_path, monkeypatch, jobs=2)
            took = time.monotonic() - started
        finally:
            stop.set()
            presser.join(10)
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            lets_go.cancel()
        assert took < 15
        assert stopped or server == "answering"
        assert not [t for t in threading.enumerate() if t.name.startswith("crmctl-write")]
    with Store.open(StoreURL(pg_url)) as store:
        assert store.count_records("acme") == 0 and store.head("acme") is None
