"""The embedded runtime store: packages, drafts, records and the event log of every tenant in one DuckDB file.

Layout (store format 1): `meta` (key/value: format, created_by, written_by, duckdb), `packages` (content-addressed
canonical bytes of every package version the runtime ran), `drafts`, `records` and `events` (one hash chain per
tenant, see `runtime.eventlog`). JSON is stored as canonical text (`eventlog.dumps`); timestamps are TIMESTAMPTZ,
passed in and returned as ISO 8601 UTC strings ("2026-11-26T10:00:00Z"). The store never reads the wall clock.

Every read and write names a tenant and stays inside it; only `info()` and `tenants()` look across tenants. Writes
go through Arrow batches (registered, inserted with one `INSERT ... SELECT`, unregistered) inside a transaction,
so a failing batch leaves nothing behind; callers group several writes with `with store.transaction():`.
DuckDB errors are translated here into `StoreError`s: a file locked by another process, a file that is no store,
or a store written by another format version.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crmctl import __version__
from crmctl.errors import InputError, UserError
from crmctl.runtime import eventlog
from crmctl.runtime.eventlog import GENESIS, ChainProblem

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
from crmctl.runtime._storage import (
    _CHUNK,
    _DRAFT_COLUMNS,
    _EVENT_COLUMNS,
    _RECORD_COLUMNS,
    _SHOWN,
    DEFAULT_PATH,
    EXPORT_FORMAT,
    FORMAT,
    MIGRATIONS,
    Draft,
    RecordExistsError,
    RecordNotFoundError,
    StoredRecord,
    StoreError,
    StoreFormatError,
    StoreIntegrityError,
    StoreLockedError,
    StoreMissingError,
    _draft,
    _event_schema,
    _instant,
    _iso,
    _keys,
    _link_text,
    _loads,
    _record,
    _select,
    _translate_open,
    _utc_or_none,
)

__all__ = [
    "DEFAULT_PATH",
    "EXPORT_FORMAT",
    "FORMAT",
    "MIGRATIONS",
    "Draft",
    "RecordExistsError",
    "RecordNotFoundError",
    "Store",
    "StoreError",
    "StoreFormatError",
    "StoreIntegrityError",
    "StoreLockedError",
    "StoreMissingError",
    "StoredRecord",
    "read_event_export",
]


class Store:
    """One open runtime store; use as a context manager, or `close()` it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        self._depth = 0
        self._doomed = False

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False, create: bool = True, allow_old_format: bool = False) -> Store:
        """Open (or create) the store at `path`. `allow_old_format` admits an older format, for `migrate()` only."""
        import duckdb

        if not path.exists() and (read_only or not create):
            raise StoreMissingError(f"{path}: no runtime store here", hint="run the runtime once to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            raise _translate_open(path, error) from error
        store = cls(con, path, read_only=read_only)
        try:
            store._check_format(allow_old_format=allow_old_format)
        except BaseException:
            con.close()
            raise
        return store

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------------------

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # Always drain: DuckDB refuses other work on a connection with an unfinished result.
        return self._con.execute(sql, params).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them are committed, or (on any exception) none. Nested use joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            except BaseException:
                self._doomed = True
                raise
            finally:
                self._depth -= 1
            return
        self._writable()
        self._all("BEGIN TRANSACTION")
        self._depth, self._doomed = 1, False
        try:
            yield
        except BaseException:
            self._depth = 0
            self._all("ROLLBACK")
            raise
        self._depth = 0
        if self._doomed:
            self._all("ROLLBACK")
            raise StoreError("a write inside this transaction failed, so nothing of it was written")
        self._all("COMMIT")

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")

    @contextmanager
    def _batch(self, table: pa.Table) -> Iterator[str]:
        name = "_crmctl_batch"
        self._con.register(name, table)
        try:
            yield name
        finally:
            self._con.unregister(name)

    def _insert(self, target: str, columns: Sequence[str], table: pa.Table, *, replace: bool = False) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self.transaction(), self._batch(table) as batch:
            self._all(f"{verb} INTO {target} ({names}) SELECT {names} FROM {batch}")

    # -- format -----------------------------------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        return {key: value for key, value in self._all("SELECT key, value FROM meta ORDER BY key")}

    def _check_format(self, *, allow_old_format: bool) -> None:
        tables = {row[0] for row in self._all(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = 'main'")}  # fmt: skip
        if "meta" not in tables:
            if tables or self.read_only:
                raise StoreFormatError(f"{self.path} is a DuckDB database but not a crmctl runtime store",
                                       hint="pass --store to use another file")  # fmt: skip
            self._migrate_from(0, created=True)
            return
        meta = self._meta()
        try:
            found = int(meta["format"])
        except (KeyError, ValueError):
            raise StoreFormatError(f"{self.path} has no readable store format in its meta table") from None
        if found > FORMAT:
            raise StoreFormatError(f"{self.path} was written by crmctl {meta.get('written_by', '?')} in store format "
                                   f"{found}; this crmctl {__version__} reads format {FORMAT}",
                                   hint="upgrade crmctl")  # fmt: skip
        if found < FORMAT and not allow_old_format:
            raise StoreFormatError(f"{self.path} is in store format {found}, this crmctl uses format {FORMAT}",
                                   hint="run `crmctl store migrate` (back the file up first)")  # fmt: skip
        if not self.read_only:
            self._stamp({})

    def _stamp(self, values: Mapping[str, str]) -> None:
        import duckdb

        rows = {**values, "written_by": __version__, "duckdb": duckdb.__version__}
        with self.transaction():
            for key, value in sorted(rows.items()):
                self._all("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def _migrate_from(self, found: int, *, created: bool = False) -> list[int]:
        done = []
        with self.transaction():
            for step in range(found, FORMAT):
                MIGRATIONS[step](self._con)
                done.append(step)
            extra = {"created_by": __version__} if created else {}
            self._stamp({**extra, "format": str(FORMAT)})
        return done

    def migrate(self) -> list[int]:
        """Bring the store to the current format in one transaction; return the formats migrated from."""
        return self._migrate_from(int(self._meta()["format"]))

    def info(self) -> dict[str, Any]:
        """Path, format, versions and row counts (packages in total, the rest per table per tenant)."""
        meta = self._meta()
        counts = {table: dict(self._all(f"SELECT tenant, count(*) FROM {table} GROUP BY tenant ORDER BY tenant"))
                  for table in ("drafts", "records", "events", "workflow_instances")}  # fmt: skip
        return {"path": str(self.path), "format": int(meta["format"]), "created_by": meta.get("created_by"),
                "written_by": meta.get("written_by"), "duckdb": meta.get("duckdb"),
                "packages": self._all("SELECT count(*) FROM packages")[0][0], "counts": counts}  # fmt: skip

    def tenants(self) -> list[str]:
        """Every tenant with a draft, a record or an event."""
        return [row[0] for row in self._all(
            "SELECT tenant FROM drafts UNION SELECT tenant FROM records UNION SELECT tenant FROM events "
            "ORDER BY tenant")]  # fmt: skip

    # -- packages ---------------------------------------------------------------------------------------------------

    def put_package(self, digest: str, name: str, version: str, canonical: bytes) -> None:
        """Keep the canonical bytes of a package version under their digest (idempotent)."""
        actual = "sha256:" + hashlib.sha256(canonical).hexdigest()
        if actual != digest:
            raise StoreIntegrityError(f"package {name} {version}: its bytes hash to {actual}, not to {digest}")
        existing = self.get_package(digest)
        if existing is not None:
            if existing != canonical:
                raise StoreIntegrityError(f"{self.path}: the stored package {digest} does not match its digest")
            return
        with self.transaction():
            self._all("INSERT INTO packages VALUES (?, ?, ?, ?)", [digest, name, version, canonical])

    def get_package(self, digest: str) -> bytes | None:
        rows = self._all("SELECT canonical FROM packages WHERE digest = ?", [digest])
        return bytes(rows[0][0]) if rows else None

    def package_digests(self) -> list[tuple[str, str, str]]:
        """(digest, name, version) of every stored package version."""
        rows = self._all("SELECT digest, name, version FROM packages ORDER BY name, version, digest")
        return [(digest, name, version) for digest, name, version in rows]

    # -- drafts -----------------------------------------------------------------------------------------------------

    def save_draft(self, draft: Draft) -> None:
        """Create or replace a draft."""
        import pyarrow as pa

        text = pa.string()
        schema = pa.schema([(c, text) for c in _DRAFT_COLUMNS[:-1]] + [("updated_at", pa.timestamp("us", "UTC"))])
        row = [draft.tenant, draft.draft_id, draft.entity, draft.package_name, draft.package_version,
               draft.package_digest, eventlog.dumps(draft.data), eventlog.dumps(draft.state), draft.last_step,
               _instant(draft.updated_at)]  # fmt: skip
        table = pa.Table.from_pylist([dict(zip(_DRAFT_COLUMNS, row, strict=True))], schema=schema)
        self._insert("drafts", _DRAFT_COLUMNS, table, replace=True)

    def get_draft(self, tenant: str, draft_id: str) -> Draft | None:
        rows = self._all(f"SELECT {_select(_DRAFT_COLUMNS)} FROM drafts WHERE tenant = ? AND draft_id = ?",
                         [tenant, draft_id])  # fmt: skip
        return _draft(rows[0]) if rows else None

    def list_drafts(self, tenant: str, entity: str | None = None) -> list[Draft]:
        """The tenant's drafts, most recently updated first."""
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        rows = self._all(f"SELECT {_select(_DRAFT_COLUMNS)} FROM drafts WHERE tenant = ? {where} "
                         "ORDER BY updated_at DESC, draft_id", params)  # fmt: skip
        return [_draft(row) for row in rows]

    def delete_draft(self, tenant: str, draft_id: str) -> None:
        with self.transaction():
            self._all("DELETE FROM drafts WHERE tenant = ? AND draft_id = ?", [tenant, draft_id])

    # -- records ----------------------------------------------------------------------------------------------------

    def put_records(self, records: Sequence[StoredRecord], *,
                    mode: Literal["create", "update", "upsert"] = "create") -> None:  # fmt: skip
        """Write records of one tenant as one batch: all of them, or none."""
        import pyarrow as pa

        if not records:
            return
        tenants = {r.tenant for r in records}
        if len(tenants) > 1:
            raise InputError(f"one batch of records must belong to one tenant, not to {sorted(tenants)}")
        text = pa.string()
        stamp = pa.timestamp("us", "UTC")
        schema = pa.schema([(c, text) for c in _RECORD_COLUMNS[:7]]
                           + [("revision", pa.int32()), ("created_at", stamp), ("updated_at", stamp)])  # fmt: skip
        columns = [[r.tenant for r in records], [r.entity for r in records], [r.id for r in records],
                   [r.package_name for r in records], [r.package_version for r in records],
                   [r.package_digest for r in records], [eventlog.dumps(r.data) for r in records],
                   [r.revision for r in records], [_instant(r.created_at) for r in records],
                   [_instant(r.updated_at) for r in records]]  # fmt: skip
        table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
                                     schema=schema)  # fmt: skip
        with self.transaction(), self._batch(table) as batch:
            twice = "the batch names these records more than once"
            self._refuse_keys(batch, "SELECT entity, id FROM {b} GROUP BY entity, id HAVING count(*) > 1",
                              lambda text, _: InputError(text), twice)  # fmt: skip
            if mode == "create":
                self._refuse_keys(batch, "SELECT entity, id FROM {b} SEMI JOIN records USING (tenant, entity, id)",
                                  RecordExistsError, "these records already exist")  # fmt: skip
            elif mode == "update":
                self._refuse_keys(batch, "SELECT entity, id FROM {b} ANTI JOIN records USING (tenant, entity, id)",
                                  RecordNotFoundError, "these records do not exist")  # fmt: skip
            names = ", ".join(_RECORD_COLUMNS)
            verb = "INSERT" if mode == "create" else "INSERT OR REPLACE"
            self._all(f"{verb} INTO records ({names}) SELECT {names} FROM {batch}")

    def _refuse_keys(self, batch: str, query: str, error: Callable[[str, list[tuple[str, str]]], UserError],
                     message: str) -> None:  # fmt: skip
        rows = self._all(f"SELECT entity, id, count(*) OVER () FROM ({query.format(b=batch)}) "
                         f"ORDER BY entity, id LIMIT {_SHOWN}")  # fmt: skip
        if rows:
            keys = [(entity, id_) for entity, id_, _ in rows]
            raise error(f"{message}: {_keys(keys, rows[0][2])}; nothing was written", keys)

    def get_record(self, tenant: str, entity: str, id: str) -> StoredRecord | None:
        rows = self._all(f"SELECT {_select(_RECORD_COLUMNS)} FROM records WHERE tenant = ? AND entity = ? AND id = ?",
                         [tenant, entity, id])  # fmt: skip
        return _record(rows[0]) if rows else None

    def list_records(self, tenant: str, entity: str | None = None, *, limit: int | None = None,
                     offset: int = 0) -> list[StoredRecord]:  # fmt: skip
        """The tenant's records ordered by entity and id."""
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        page = f"LIMIT {int(limit)} " if limit is not None else ""
        rows = self._all(f"SELECT {_select(_RECORD_COLUMNS)} FROM records WHERE tenant = ? {where} "
                         f"ORDER BY entity, id {page}OFFSET {int(offset)}", params)  # fmt: skip
        return [_record(row) for row in rows]

    def iter_records(self, tenant: str, entity: str | None = None, batch: int = _CHUNK) -> Iterator[StoredRecord]:
        """Like `list_records`, fetched `batch` rows at a time."""
        where = "AND entity = ?" if entity is not None else ""
        fixed = [tenant, entity] if entity is not None else [tenant]
        after: tuple[str, str] = ("", "")
        while True:
            rows = self._all(f"SELECT {_select(_RECORD_COLUMNS)} FROM records WHERE tenant = ? {where} "
                             f"AND (entity, id) > (?, ?) ORDER BY entity, id LIMIT {int(batch)}",
                             [*fixed, *after])  # fmt: skip
            yield from (_record(row) for row in rows)
            if len(rows) < batch:
                return
            after = (rows[-1][1], rows[-1][2])

    def count_records(self, tenant: str, entity: str | None = None) -> int:
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        return int(self._all(f"SELECT count(*) FROM records WHERE tenant = ? {where}", params)[0][0])

    def record_ids(self, tenant: str, entity: str) -> set[str]:
        return {row[0] for row in self._all("SELECT id FROM records WHERE tenant = ? AND entity = ?", [tenant, entity])}

    # -- event log --------------------------------------------------------------------------------------------------

    def append_events(self, tenant: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Chain `bodies` (each with a `session` and an ISO UTC `at`) onto the tenant's log; return the entries."""
        import pyarrow as pa

        for body in bodies:
            clash = eventlog.CHAIN_KEYS.intersection(body)
            if clash or not isinstance(body.get("session"), str) or body.get("tenant", tenant) != tenant:
                raise InputError(f"an event needs a string session, may not set {sorted(eventlog.CHAIN_KEYS)} and "
                                 f"belongs to tenant {tenant}: {eventlog.dumps(dict(body))[:200]}")  # fmt: skip
        if not bodies:
            return []
        times = [_instant(body.get("at")) for body in bodies]
        with self.transaction():
            seq, prev = self.head(tenant) or (0, GENESIS)
            entries, texts = [], []
            for body in bodies:
                seq += 1
                entry, text = _link_text({**body, "tenant": tenant}, seq, prev)
                entries.append(entry)
                texts.append(text)
                prev = entry["hash"]
            schema = _event_schema()
            table = pa.Table.from_arrays([
                pa.array([tenant] * len(entries), pa.string()), pa.array([e["seq"] for e in entries], pa.int64()),
                pa.array([e["session"] for e in entries], pa.string()), pa.array(times, schema.field("at").type),
                pa.array(texts, pa.string()),
                pa.array([e["hash"] for e in entries], pa.string())], schema=schema)  # fmt: skip
            self._insert("events", _EVENT_COLUMNS, table)
        return entries

    def _event_rows(self, tenant: str, session: str | None = None, after_seq: int = 0) -> Iterator[tuple[Any, ...]]:
        if session is None:
            yield from self._log_rows(tenant, after_seq)
            return
        where, extra = "AND session = ?", [session]
        while True:
            rows = self._all(f"SELECT {_select(_EVENT_COLUMNS)} FROM events WHERE tenant = ? {where} AND seq > ? "
                             f"ORDER BY seq LIMIT {_CHUNK}", [tenant, *extra, after_seq])  # fmt: skip
            yield from rows
            if len(rows) < _CHUNK:
                return
            after_seq = rows[-1][1]

    def _log_rows(self, tenant: str, after_seq: int) -> Iterator[tuple[Any, ...]]:
        # The whole log in windows of _CHUNK seq numbers: `seq > ? ORDER BY seq LIMIT n` sorts every later entry
        # again for each chunk (quadratic in the log's length), while a window lets DuckDB skip the row groups
        # outside it. Seq numbers are dense unless entries were deleted; an empty window jumps to the next one.
        window = (f"SELECT {_select(_EVENT_COLUMNS)} FROM events WHERE tenant = ? AND seq > ? AND seq <= ? "
                  "ORDER BY seq")  # fmt: skip
        following = "SELECT min(seq), max(seq) FROM events WHERE tenant = ? AND seq > ?"
        while True:
            low, high = self._all(following, [tenant, after_seq])[0]
            if low is None:
                return
            after_seq = int(low) - 1
            while after_seq < high:
                upper = min(after_seq + _CHUNK, int(high))
                rows = self._all(window, [tenant, after_seq, upper])
                yield from rows
                after_seq = upper
                if not rows:
                    break

    def events(self, tenant: str, *, session: str | None = None, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """The tenant's entries in seq order (optionally one session's, after a seq), read in chunks."""
        for row in self._event_rows(tenant, session, after_seq):
            yield _loads(row[4])

    def sessions(self, tenant: str) -> list[str]:
        """The tenant's sessions in the order they started."""
        query = "SELECT session FROM events WHERE tenant = ? GROUP BY session ORDER BY min(seq), session"
        return [row[0] for row in self._all(query, [tenant])]

    def head(self, tenant: str) -> tuple[int, str] | None:
        """(seq, hash) of the tenant's last entry, None for an empty log."""
        rows = self._all("SELECT seq, hash FROM events WHERE tenant = ? ORDER BY seq DESC LIMIT 1", [tenant])
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def verify_log(self, tenant: str, *, expected_head: str | None = None) -> list[ChainProblem]:
        """Verify the tenant's chain, and that the seq, session, at and hash columns agree with each entry."""
        column_problems: list[ChainProblem] = []

        def entries() -> Iterator[Any]:
            for position, (row_tenant, seq, session, at, text, hash_) in enumerate(self._event_rows(tenant)):
                try:
                    entry = json.loads(text)
                except ValueError:
                    yield text
                    continue
                if isinstance(entry, dict):
                    columns = {"tenant": row_tenant, "seq": seq, "session": session, "hash": hash_}
                    bad = [name for name, value in columns.items() if entry.get(name) != value]
                    if not isinstance(entry.get("at"), str) or _utc_or_none(entry["at"]) != _iso(at):
                        bad.append("at")
                    if bad:
                        message = f"entry seq {seq}: the {', '.join(bad)} column(s) disagree with the entry"
                        column_problems.append(ChainProblem(seq, position, "LOG001", message))
                yield entry

        problems = eventlog.verify_chain(entries(), expected_head=expected_head)
        return sorted(problems + column_problems, key=lambda problem: problem.position)

    # -- workflow instances (format 2) -------------------------------------------------------------------------

    def put_instances(self, tenant: str, instances: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace workflow instances (the engine's instance objects) in one batch."""
        import pyarrow as pa

        self._writable()
        if not instances:
            return
        text = pa.string()
        table = pa.table({
            "tenant": pa.array([tenant] * len(instances), text),
            "instance_id": pa.array([str(i["id"]) for i in instances], text),
            "workflow": pa.array([str(i["workflow"]) for i in instances], text),
            "entity": pa.array([str(i["entity"]) for i in instances], text),
            "package_name": pa.array([str(i["package"]["name"]) for i in instances], text),
            "package_version": pa.array([str(i["package"]["version"]) for i in instances], text),
            "package_digest": pa.array([str(i["digest"]) for i in instances], text),
            "state": pa.array([eventlog.dumps(dict(i)) for i in instances], text),
            "status": pa.array([str(i["status"]) for i in instances], text),
            "clock": pa.array([_instant(i["clock"]) for i in instances], pa.timestamp("us", "UTC")),
        })  # fmt: skip
        with self.transaction():
            self._insert("workflow_instances", table.column_names, table, replace=True)

    def get_instance(self, tenant: str, instance_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT state FROM workflow_instances WHERE tenant = ? AND instance_id = ?",
                         [tenant, instance_id])  # fmt: skip
        return _loads(rows[0][0]) if rows else None

    def list_instances(self, tenant: str, *, workflow: str | None = None,
                       status: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """The tenant's instances by id (optionally of one workflow, or in one status)."""
        where, params = "tenant = ?", [tenant]
        if workflow is not None:
            where, params = where + " AND workflow = ?", [*params, workflow]
        if status is not None:
            where, params = where + " AND status = ?", [*params, status]
        rows = self._all(f"SELECT state FROM workflow_instances WHERE {where} ORDER BY instance_id", params)
        return [_loads(row[0]) for row in rows]

    # -- export -----------------------------------------------------------------------------------------------------

    def export_events(self, tenant: str | None, path: Path) -> int:
        """Write the events of one tenant (None: all) to a Parquet file atomically; return the number written."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _event_schema().with_metadata({"crmctl.format": EXPORT_FORMAT, "crmctl.version": __version__})
        where, params = ("WHERE tenant = ?", [tenant]) if tenant is not None else ("", [])
        try:
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as error:
            raise StoreError(f"cannot write {path}: {error.strerror}") from error
        os.close(handle)
        count = 0
        try:
            columns = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
            # A cursor of its own, so a failed export cannot leave this connection with an unfinished result.
            with self._con.cursor() as cursor, pq.ParquetWriter(temp, schema) as writer:
                query = cursor.sql(f"SELECT {columns} FROM events {where} ORDER BY tenant, seq", params=params)
                for batch in query.to_arrow_reader(_CHUNK):
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
                    count += batch.num_rows
            Path(temp).replace(path)
        except BaseException as error:
            Path(temp).unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise StoreError(f"cannot write {path}: {error.strerror or error}") from error
            raise
        return count


def read_event_export(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of an `export_events` file, in the order written; refuses other Parquet files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        raise StoreFormatError(f"{path} is not a Parquet file: {error}") from error
    metadata = parquet.schema_arrow.metadata or {}
    if metadata.get(b"crmctl.format") != EXPORT_FORMAT.encode():
        raise StoreFormatError(f"{path} is not a crmctl event log export (no crmctl.format = {EXPORT_FORMAT})")
    return (_loads(text) for batch in parquet.iter_batches(batch_size=_CHUNK, columns=["entry"])
            for text in batch.column(0).to_pylist())  # fmt: skip
