"""The store's event log (the `events` table): per-tenant hash chains appended in batches, read in seq windows,
verified, exported to Parquet and read back from an export (see `runtime.store` and `runtime.eventlog`)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl import __version__
from crmctl.errors import InputError
from crmctl.model.files import AtomicFile, check_regular
from crmctl.model.tenants import check_tenant
from crmctl.runtime import eventlog
from crmctl.runtime.eventlog import GENESIS, ChainProblem
from crmctl.runtime.storage.connection import (
    CHUNK,
    Connection,
    iso_from_micros,
    parse_stored_instant,
    read_object,
    write_array,
)
from crmctl.runtime.storage.errors import StoreError, StoreFormatError
from crmctl.runtime.values import format_timestamp

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "EXPORT_FORMAT",
    "PACKAGES_KEY",
    "EncodedBody",
    "EventLog",
    "SparseEntry",
    "encode_body",
    "link_encoded",
    "read_event_export",
    "read_export_packages",
    "read_sparse_export",
]

EXPORT_FORMAT = "eventlog/1"
"""The `crmctl.format` an event log export states in its Parquet metadata."""
PACKAGES_KEY = "crmctl.packages"
"""The Parquet metadata key of the package copies an event log export carries."""

_EVENT_COLUMNS = ("tenant", "seq", "session", "at", "entry", "hash")

SparseEntry = tuple[str, dict[str, Any] | None]
"""An entry of a sparse read (`EventLog.sparse_entries`, `read_sparse_export`): its hash (the `hash` column) and
the entry, None for one of a session the reader skipped (its text never parsed)."""


def _event_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("tenant", pa.string()),
            ("seq", pa.int64()),
            ("session", pa.string()),
            ("at", pa.timestamp("us", "UTC")),
            ("entry", pa.string()),
            ("hash", pa.string()),
        ]
    )


def _link_text(body: dict[str, Any], seq: int, prev: str) -> tuple[dict[str, Any], str]:
    """`eventlog.link(body, seq, prev)` and the entry's canonical JSON, encoding the entry once instead of twice.

    The entry is encoded with a random stand-in for its hash. Keys are sorted and `hash` is never the last key
    (`seq`, `session` and `tenant` follow it), so dropping `"hash":"<stand-in>",` gives exactly the canonical JSON
    the hash covers (`eventlog.entry_hash`); the stand-in is then replaced by the hash.
    """
    stand_in = "sha256:" + os.urandom(32).hex()
    entry = {**body, "seq": seq, "prev": prev, "hash": stand_in}
    text = eventlog.dumps(entry)
    field = f'"hash":"{stand_in}",'
    if text.count(stand_in) != 1 or field not in text:  # pragma: no cover - a body quoting the stand-in
        linked = eventlog.link(body, seq, prev)
        return linked, eventlog.dumps(linked)
    digest = "sha256:" + hashlib.sha256(text.replace(field, "", 1).encode("utf-8")).hexdigest()
    entry["hash"] = digest
    return entry, text.replace(stand_in, digest, 1)


EncodedBody = tuple[str, str, str, str, str, str, str]
"""A body `encode_body` encoded for `EventLog.append_encoded`: (tenant, session, at, and its canonical JSON pairs in
four runs: the keys sorting before `hash`, between `hash` and `prev`, between `prev` and `seq`, after `seq`)."""


def encode_body(tenant: str, body: Mapping[str, Any]) -> EncodedBody:
    """`body` (checked as `EventLog.append` checks it, `tenant` added) as `EventLog.append_encoded` takes it.

    An entry's canonical JSON is its top-level `"key":value` pairs in key order, joined by commas: a pair's text
    does not depend on its neighbours. The body's pairs are encoded here in four runs, split where the chain keys
    `hash`, `prev` and `seq` sort in (each run is `eventlog.dumps` of those keys without its braces, "" for none),
    so appending needs only to splice in the chain keys, hash and join: the work that must happen in order, under
    the chain lock. Keys sort by code point in Python and in `eventlog.dumps` alike (tests/runtime/
    test_eventlog_encoded.py)."""
    check_tenant(tenant)
    _check_body(tenant, body)
    runs: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    for key, value in {**body, "tenant": tenant}.items():
        runs[(key > "hash") + (key > "prev") + (key > "seq")][key] = value
    first, second, third, fourth = (eventlog.dumps(run)[1:-1] for run in runs)
    return (tenant, str(body["session"]), str(body.get("at")), first, second, third, fourth)


def link_encoded(body: EncodedBody, seq: int, prev: str) -> tuple[str, str]:
    """The canonical JSON and hash of `body` chained as entry `seq` after `prev`: `eventlog.dumps` and the hash of
    `eventlog.link(...)`, by splicing the chain keys into the encoded runs (`prev` is a `sha256:<hex>` text)."""
    _, _, _, first, second, third, fourth = body
    # The canonical JSON without `hash` (what the hash covers), then with it in its place after `first`.
    rest = ",".join(filter(None, (second, f'"prev":"{prev}"', third, f'"seq":{seq}', fourth)))
    digest = "sha256:" + hashlib.sha256(f"{{{first},{rest}}}".encode() if first else f"{{{rest}}}".encode()).hexdigest()
    return (f'{{{first},"hash":"{digest}",{rest}}}' if first else f'{{"hash":"{digest}",{rest}}}'), digest


def _check_body(tenant: str, body: Mapping[str, Any]) -> None:
    clash = eventlog.CHAIN_KEYS.intersection(body)
    if clash or not isinstance(body.get("session"), str) or body.get("tenant", tenant) != tenant:
        raise InputError(
            f"an event needs a string session, may not set {sorted(eventlog.CHAIN_KEYS)} and "
            f"belongs to tenant {tenant}: {eventlog.dumps(dict(body))[:200]}"
        )


def _utc_or_none(text: str) -> str | None:
    """`text` in the store's ISO form (what `iso_from_micros` returns for the same instant), None if it is no UTC
    timestamp."""
    try:
        return format_timestamp(parse_stored_instant(text))
    except InputError:
        return None


class EventLog:
    """The `events` table: one hash chain per tenant (see `runtime.eventlog`)."""

    chunk = CHUNK
    """Entries read per query."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def append(self, tenant: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Chain `bodies` (each with a `session` and an ISO UTC `at`) onto the tenant's log; return the entries."""
        import pyarrow as pa

        check_tenant(tenant)
        for body in bodies:
            _check_body(tenant, body)
        if not bodies:
            return []
        times = [parse_stored_instant(body.get("at")) for body in bodies]
        with self._db.transaction(), self._db.tenant(tenant):
            self._db.lock_chain(tenant)  # concurrent writers (PostgreSQL) append one after another
            seq, prev = self.head(tenant) or (0, GENESIS)
            entries, texts = [], []
            for body in bodies:
                seq += 1
                entry, text = _link_text({**body, "tenant": tenant}, seq, prev)
                entries.append(entry)
                texts.append(text)
                prev = entry["hash"]
            schema = _event_schema()
            table = pa.Table.from_arrays(
                [
                    write_array([tenant] * len(entries), pa.string()),
                    write_array([e["seq"] for e in entries], pa.int64()),
                    write_array([e["session"] for e in entries], pa.string()),
                    write_array(times, schema.field("at").type),
                    write_array(texts, pa.string()),
                    write_array([e["hash"] for e in entries], pa.string()),
                ],
                schema=schema,
            )
            self._db.insert("events", _EVENT_COLUMNS, table)
        return entries

    def append_encoded(self, tenant: str, bodies: Sequence[EncodedBody]) -> tuple[int, str] | None:
        """`append` for bodies `encode_body(tenant, ...)` encoded (elsewhere: in worker processes); the same entries,
        byte for byte. Returns the new head (seq, hash), None when there was nothing to append."""
        import pyarrow as pa

        check_tenant(tenant)
        if not bodies:
            return self.head(tenant)
        strangers = {body[0] for body in bodies} - {tenant}
        if strangers:
            raise InputError(f"events encoded for tenant(s) {sorted(strangers)} cannot join the log of {tenant}")
        instants = {at: parse_stored_instant(at) for at in {body[2] for body in bodies}}  # an import: one instant
        times = [instants[body[2]] for body in bodies]
        with self._db.transaction(), self._db.tenant(tenant):
            self._db.lock_chain(tenant)  # concurrent writers (PostgreSQL) append one after another
            seq, prev = self.head(tenant) or (0, GENESIS)
            first_seq = seq + 1
            texts, hashes = [], []
            for body in bodies:
                seq += 1
                text, prev = link_encoded(body, seq, prev)
                texts.append(text)
                hashes.append(prev)
            schema = _event_schema()
            table = pa.Table.from_arrays(
                [
                    write_array([tenant] * len(bodies), pa.string()),
                    write_array(range(first_seq, seq + 1), pa.int64()),
                    write_array([body[1] for body in bodies], pa.string()),
                    write_array(times, schema.field("at").type),
                    write_array(texts, pa.string()),
                    write_array(hashes, pa.string()),
                ],
                schema=schema,
            )
            self._db.insert("events", _EVENT_COLUMNS, table)
        return seq, prev

    def _rows(self, tenant: str, session: str | None = None, after_seq: int = 0) -> Iterator[tuple[Any, ...]]:
        if session is None:
            yield from self._windows(tenant, after_seq)
            return
        where, extra = "AND session = ?", [session]
        while True:
            rows = self._db.read(
                tenant,
                f"SELECT {self._db.select_list(_EVENT_COLUMNS)} FROM events WHERE tenant = ? {where} AND seq > ? "
                f"ORDER BY seq LIMIT {self.chunk}",
                [tenant, *extra, after_seq],
            )
            yield from rows
            if len(rows) < self.chunk:
                return
            after_seq = rows[-1][1]

    def _windows(self, tenant: str, after_seq: int) -> Iterator[tuple[Any, ...]]:
        # The whole log in windows of `chunk` seq numbers: `seq > ? ORDER BY seq LIMIT n` sorts every later entry
        # again for each chunk (quadratic in the log's length), while a window lets DuckDB skip the row groups
        # outside it. Seq numbers are dense unless entries were deleted; an empty window jumps to the next one.
        columns = self._db.select_list(_EVENT_COLUMNS)
        window = f"SELECT {columns} FROM events WHERE tenant = ? AND seq > ? AND seq <= ? ORDER BY seq"
        following = "SELECT min(seq), max(seq) FROM events WHERE tenant = ? AND seq > ?"
        while True:
            low, high = self._db.read(tenant, following, [tenant, after_seq])[0]
            if low is None:
                return
            after_seq = int(low) - 1
            while after_seq < high:
                upper = min(after_seq + self.chunk, int(high))
                rows = self._db.read(tenant, window, [tenant, after_seq, upper])
                yield from rows
                after_seq = upper
                if not rows:
                    break

    def entries(self, tenant: str, *, session: str | None = None, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """The tenant's entries in seq order (optionally one session's, after a seq), read in chunks."""
        for row in self._rows(tenant, session, after_seq):
            yield read_object(row[4], self._db.path, "event", tenant, row[1])

    def sparse_entries(self, tenant: str, keep: Callable[[str], bool]) -> Iterator[SparseEntry]:
        """The tenant's whole log in seq order, parsing only the entries of the sessions `keep` accepts (by the
        `session` column; an entry without one is parsed): for a reader that needs every entry's place and the
        log's head but only some sessions' entries, as a shard of a replay does."""
        for row in self._rows(tenant):
            wanted = not isinstance(row[2], str) or keep(row[2])
            yield row[5], read_object(row[4], self._db.path, "event", tenant, row[1]) if wanted else None

    def sessions(self, tenant: str) -> list[str]:
        """The tenant's sessions in the order they started."""
        query = "SELECT session FROM events WHERE tenant = ? GROUP BY session ORDER BY min(seq), session"
        return [row[0] for row in self._db.read(tenant, query, [tenant])]

    def head(self, tenant: str) -> tuple[int, str] | None:
        """(seq, hash) of the tenant's last entry, None for an empty log."""
        rows = self._db.read(
            tenant, "SELECT seq, hash FROM events WHERE tenant = ? ORDER BY seq DESC LIMIT 1", [tenant]
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def verify(self, tenant: str, *, expected_head: str | None = None) -> list[ChainProblem]:
        """Verify the tenant's chain, and that the seq, session, at and hash columns agree with each entry."""
        column_problems: list[ChainProblem] = []

        def entries() -> Iterator[Any]:
            for position, (row_tenant, seq, session, at, text, hash_) in enumerate(self._rows(tenant)):
                try:
                    entry = json.loads(text)
                except ValueError:
                    yield text
                    continue
                if isinstance(entry, dict):
                    columns = {"tenant": row_tenant, "seq": seq, "session": session, "hash": hash_}
                    bad = [name for name, value in columns.items() if entry.get(name) != value]
                    if not isinstance(entry.get("at"), str) or _utc_or_none(entry["at"]) != iso_from_micros(at):
                        bad.append("at")
                    if bad:
                        message = f"entry seq {seq}: the {', '.join(bad)} column(s) disagree with the entry"
                        column_problems.append(ChainProblem(seq, position, "LOG001", message))
                yield entry

        problems = eventlog.verify_chain(entries(), expected_head=expected_head)
        return sorted(problems + column_problems, key=lambda problem: problem.position)

    def export(self, tenant: str | None, path: Path) -> int:
        """Write the events of one tenant (None: all) to a Parquet file atomically; return the number written.

        The file's metadata carries the package copies the entries are pinned to (`crmctl.packages`, see
        `read_export_packages`), so the export replays from the file alone."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        where, params = ("WHERE tenant = ?", [tenant]) if tenant is not None else ("", [])
        schema = _event_schema().with_metadata(
            {
                "crmctl.format": EXPORT_FORMAT,
                "crmctl.version": __version__,
                PACKAGES_KEY: self._pinned_copies(tenant, where, params),
            }
        )
        try:
            target = AtomicFile(path)  # the mode a user's file gets: crmctl.model.files
        except OSError as error:
            raise StoreError(f"cannot write {path}: {error.strerror}") from error
        temp = str(target.temp)
        count = 0
        try:
            columns = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
            query = f"SELECT {columns} FROM events {where} ORDER BY tenant, seq"
            with (
                self._db.arrow(query, params, CHUNK, tenant=tenant) as batches,
                pq.ParquetWriter(temp, schema) as writer,
            ):
                for batch in batches:
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
                    count += batch.num_rows
            target.commit()
        except BaseException as error:
            target.abort()
            if isinstance(error, OSError):
                raise StoreError(f"cannot write {path}: {error.strerror or error}") from error
            raise
        return count

    def _pinned_copies(self, tenant: str | None, where: str, params: list[Any]) -> str:
        """`crmctl.packages`: every stored package version the selected entries are pinned to, as canonical JSON
        `{digest: {"name", "version", "canonical"}}` (`canonical`: the copy's canonical text, whose sha256 is the
        digest). An entry that is not JSON (a damaged store) pins nothing: the export still carries it as it is,
        for `log verify` to report."""
        query = (
            f"SELECT digest, name, version, canonical FROM packages WHERE digest IN (SELECT DISTINCT "
            f"{self._db.entry_digest('entry')} FROM events {where}) ORDER BY digest"
        )
        with self._db.tenant(tenant):
            rows = self._db.all(query, params)
        copies = {
            digest: {"name": name, "version": version, "canonical": bytes(blob).decode("utf-8")}
            for digest, name, version, blob in rows
        }
        return eventlog.dumps(copies)


def _export_file(path: Path) -> Any:
    """The Parquet file of an `export_events` export (its schema metadata checked); refuses other files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_regular(path, str(path))
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        raise StoreFormatError(f"{path} is not a Parquet file: {error}") from error
    metadata = parquet.schema_arrow.metadata or {}
    if metadata.get(b"crmctl.format") != EXPORT_FORMAT.encode():
        raise StoreFormatError(f"{path} is not a crmctl event log export (no crmctl.format = {EXPORT_FORMAT})")
    return parquet


def read_event_export(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of an `export_events` file, in the order written; refuses other Parquet files."""
    parquet = _export_file(path)

    def entries() -> Iterator[dict[str, Any]]:
        row = 0
        for batch in parquet.iter_batches(batch_size=CHUNK, columns=["entry"]):
            for text in batch.column(0).to_pylist():
                row += 1
                yield read_object(text, path, "event in row", row)

    return entries()


def read_sparse_export(path: Path, tenant: str, keep: Callable[[str], bool]) -> Iterator[SparseEntry]:
    """The entries of one tenant in an `export_events` file, in the order written, parsing only those of the sessions
    `keep` accepts (by the `tenant` and `session` columns; an entry without a session there is parsed): see
    `EventLog.sparse_entries`. Rows of other tenants are not read beyond those columns."""
    import pyarrow.compute as pc

    parquet = _export_file(path)

    def entries() -> Iterator[SparseEntry]:
        row = 0
        for batch in parquet.iter_batches(batch_size=CHUNK, columns=["tenant", "session", "entry", "hash"]):
            mine = pc.fill_null(pc.equal(batch.column(0), tenant), False).to_pylist()
            sessions, hashes = batch.column(1).to_pylist(), batch.column(3).to_pylist()
            wanted = [t and (not isinstance(s, str) or keep(s)) for t, s in zip(mine, sessions, strict=True)]
            texts = iter(pc.filter(batch.column(2), wanted).to_pylist())  # only the kept entries become str
            for is_mine, take, hash_ in zip(mine, wanted, hashes, strict=True):
                row += 1
                if is_mine:
                    yield hash_, read_object(next(texts), path, "event in row", row) if take else None

    return entries()


def read_export_packages(path: Path) -> dict[str, tuple[str, str, bytes]] | None:
    """The package copies an export carries: digest → (name, version, canonical bytes); None for an export written
    before exports carried them. The bytes are not checked here: loading a copy checks its digest."""
    metadata = _export_file(path).schema_arrow.metadata or {}
    raw = metadata.get(PACKAGES_KEY.encode())
    if raw is None:
        return None
    try:
        copies = json.loads(raw.decode("utf-8"))
        return {
            str(digest): (str(copy["name"]), str(copy["version"]), str(copy["canonical"]).encode("utf-8"))
            for digest, copy in copies.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StoreFormatError(
            f"{path}: the package copies in its metadata ({PACKAGES_KEY}) are not readable: {error}"
        ) from None
