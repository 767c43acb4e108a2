"""The embedded runtime store: packages, drafts, records and the event log of every tenant in one DuckDB file.

Layout (store format 2): `meta` (key/value: format, created_by, written_by, duckdb), `packages`
(content-addressed canonical bytes of every package version the runtime ran), `drafts`, `records`, `events` (one
hash chain per tenant, see `runtime.eventlog`) and `workflow_instances`. JSON is stored as canonical text
(`eventlog.dumps`); timestamps are TIMESTAMPTZ, passed in and returned as ISO 8601 UTC strings
("2026-11-26T10:00:00Z"). The store never reads the wall clock.

Every read and write names a tenant and stays inside it; only `info()` and `tenants()` look across tenants. Writes
go through Arrow batches (registered, inserted with one `INSERT ... SELECT`, unregistered) inside a transaction,
so a failing batch leaves nothing behind; callers group several writes with `with store.transaction():`.
DuckDB errors are translated here into `StoreError`s: a file locked by another process, a file that is no store,
or a store written by another format version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from crmctl import __version__
from crmctl.errors import InputError, UserError
from crmctl.model.canonical import digest_like
from crmctl.model.files import check_regular
from crmctl.model.tenants import check_tenant
from crmctl.runtime import eventlog
from crmctl.runtime._storage import (
    _CHUNK,
    _DRAFT_COLUMNS,
    _RECORD_COLUMNS,
    _RESTORE,
    _SHOWN,
    DEFAULT_PATH,
    EXPORT_FORMAT,
    FORMAT,
    LAYOUTS,
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
    _instant,
    _iso,
    _keys,
    _loads,
    _record,
    _select,
    _translate_open,
)
from crmctl.runtime._storage_log import _EventLog, read_event_export, read_export_packages

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
    "read_export_packages",
]


class Store(_EventLog):
    """One open runtime store; use as a context manager, or `close()` it."""

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False, create: bool = True, allow_old_format: bool = False) -> Store:
        """Open (or create) the store at `path`. `allow_old_format` admits an older format, for `migrate()` only."""
        import duckdb

        if not path.exists() and (read_only or not create):
            raise StoreMissingError(f"{path}: no runtime store here", hint="run the runtime once to create it")
        check_regular(path, str(path))  # DuckDB would wait on a FIFO, or read a device without end
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{path}: cannot create its directory: {error.strerror or error}") from None
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

    @classmethod
    def in_memory(cls) -> Store:
        """An empty store that lives in memory only (for work that needs none of a file's content)."""
        import duckdb

        store = cls(duckdb.connect(":memory:"), Path(":memory:"), read_only=False)
        store._check_format(allow_old_format=False)
        return store

    # -- format -----------------------------------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        return {key: value for key, value in self._all("SELECT key, value FROM meta ORDER BY key")}

    def _check_format(self, *, allow_old_format: bool) -> None:
        layout = self._layout()
        if "meta" not in layout:
            if layout or self.read_only:
                raise StoreFormatError(
                    f"{self.path} is a DuckDB database but not a crmctl runtime store",
                    hint="pass --store to use another file",
                )
            self._migrate_from(0, created=True)
            return
        self._check_layout(layout, ["meta"], LAYOUTS[1])
        meta = self._meta()
        found = self._stamped(meta)
        if found > FORMAT:
            raise StoreFormatError(
                f"{self.path} was written by crmctl {meta.get('written_by', '?')} in store format "
                f"{found}; this crmctl {__version__} reads format {FORMAT}",
                hint="upgrade crmctl",
            )
        self._check_layout(layout, sorted(LAYOUTS[found]), LAYOUTS[found], stamped=found)
        if found < FORMAT and not allow_old_format:
            raise StoreFormatError(
                f"{self.path} is in store format {found}, this crmctl uses format {FORMAT}",
                hint="run `crmctl store migrate` (back the file up first)",
            )
        if not self.read_only:
            self._stamp({})

    def _stamped(self, meta: Mapping[str, str]) -> int:
        """The format the meta table states: a whole number from 1 (format 0 is an empty database, never stamped),
        in ASCII digits without sign, spaces or underscores."""
        text = meta.get("format")
        if text is not None and text.isascii() and text.isdigit() and not text.startswith("0"):
            return int(text)
        what = (
            "states no store format"
            if text is None
            else (f"states store format {text!r}, which no crmctl writes (formats are whole numbers from 1)")
        )
        raise StoreFormatError(f"{self.path}: its meta table {what}; the file was edited or is damaged", hint=_RESTORE)

    def _layout(self) -> dict[str, str]:
        """Each table (and view) of the store with its columns, spelled as in `LAYOUTS` (a view has none)."""
        rows = self._all(
            "SELECT t.table_name, t.table_type, c.column_name, c.data_type FROM information_schema.tables t "
            "LEFT JOIN information_schema.columns c ON c.table_catalog = t.table_catalog "
            "AND c.table_schema = t.table_schema AND c.table_name = t.table_name AND t.table_type = 'BASE TABLE' "
            "WHERE t.table_catalog = current_database() AND t.table_schema = 'main' "
            "ORDER BY t.table_name, c.ordinal_position"
        )
        columns: dict[str, list[str]] = {}
        for table, _kind, column, kind in rows:
            columns.setdefault(table, [])
            if column is not None:
                columns[table].append(f"{column} {kind}")
        return {table: ", ".join(names) for table, names in columns.items()}

    def _check_layout(
        self, layout: Mapping[str, str], tables: Sequence[str], expected: Mapping[str, str], stamped: int | None = None
    ) -> None:
        """Refuse a store whose `tables` differ from `expected`, or (with the format it is `stamped` with) that
        holds a table a later format adds: a migration would fail half-way on it."""
        problems = [
            f"table {table} is missing"
            if table not in layout
            else f"{table} is a view, not a table"
            if not layout[table]
            else f"table {table} has columns ({layout[table]}), not ({expected[table]})"
            for table in tables
            if layout.get(table) != expected[table]
        ]
        if stamped is not None:
            later = {table for known in LAYOUTS.values() for table in known} - set(expected)
            problems += [f"table {table} of a later format exists" for table in sorted(later & set(layout))]
        if problems:
            which = f"store format {stamped}, as its meta table says" if stamped is not None else "a crmctl store"
            raise StoreFormatError(
                f"{self.path}: its tables are not those of {which}: {'; '.join(problems)}; the file was altered",
                hint=_RESTORE,
            )

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
        return self._migrate_from(self._stamped(self._meta()))

    def info(self) -> dict[str, Any]:
        """Path, format, versions and row counts (packages in total, the rest per table per tenant)."""
        meta = self._meta()
        counts = {
            table: dict(self._all(f"SELECT tenant, count(*) FROM {table} GROUP BY tenant ORDER BY tenant"))
            for table in ("drafts", "records", "events", "workflow_instances")
        }
        return {
            "path": str(self.path),
            "format": self._stamped(meta),
            "created_by": meta.get("created_by"),
            "written_by": meta.get("written_by"),
            "duckdb": meta.get("duckdb"),
            "packages": self._all("SELECT count(*) FROM packages")[0][0],
            "counts": counts,
        }

    def tenants(self) -> list[str]:
        """Every tenant with a draft, a record or an event."""
        return [
            row[0]
            for row in self._all(
                "SELECT tenant FROM drafts UNION SELECT tenant FROM records UNION SELECT tenant FROM events "
                "ORDER BY tenant"
            )
        ]

    # -- packages ---------------------------------------------------------------------------------------------------

    def put_package(self, digest: str, name: str, version: str, canonical: bytes) -> None:
        """Keep the canonical bytes of a package version under their digest (idempotent)."""
        actual = digest_like(canonical, digest)
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

        check_tenant(draft.tenant)

        text = pa.string()
        schema = pa.schema([(c, text) for c in _DRAFT_COLUMNS[:-1]] + [("updated_at", pa.timestamp("us", "UTC"))])
        row = [
            draft.tenant,
            draft.draft_id,
            draft.entity,
            draft.package_name,
            draft.package_version,
            draft.package_digest,
            eventlog.dumps(draft.data),
            eventlog.dumps(draft.state),
            draft.last_step,
            _instant(draft.updated_at),
        ]
        table = pa.Table.from_pylist([dict(zip(_DRAFT_COLUMNS, row, strict=True))], schema=schema)
        self._insert("drafts", _DRAFT_COLUMNS, table, replace=True)

    def get_draft(self, tenant: str, draft_id: str) -> Draft | None:
        rows = self._all(
            f"SELECT {_select(_DRAFT_COLUMNS)} FROM drafts WHERE tenant = ? AND draft_id = ?", [tenant, draft_id]
        )
        return _draft(self.path, rows[0]) if rows else None

    def list_drafts(self, tenant: str, entity: str | None = None) -> list[Draft]:
        """The tenant's drafts, most recently updated first."""
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        rows = self._all(
            f"SELECT {_select(_DRAFT_COLUMNS)} FROM drafts WHERE tenant = ? {where} ORDER BY updated_at DESC, draft_id",
            params,
        )
        return [_draft(self.path, row) for row in rows]

    def delete_draft(self, tenant: str, draft_id: str) -> None:
        with self.transaction():
            self._all("DELETE FROM drafts WHERE tenant = ? AND draft_id = ?", [tenant, draft_id])

    # -- records ----------------------------------------------------------------------------------------------------

    def put_records(
        self, records: Sequence[StoredRecord], *, mode: Literal["create", "update", "upsert"] = "create"
    ) -> None:
        """Write records of one tenant as one batch: all of them, or none."""
        import pyarrow as pa

        if not records:
            return
        tenants = {r.tenant for r in records}
        if len(tenants) > 1:
            raise InputError(f"one batch of records must belong to one tenant, not to {sorted(tenants)}")
        check_tenant(records[0].tenant)
        text = pa.string()
        stamp = pa.timestamp("us", "UTC")
        schema = pa.schema(
            [(c, text) for c in _RECORD_COLUMNS[:7]]
            + [("revision", pa.int32()), ("created_at", stamp), ("updated_at", stamp)]
        )
        columns = [
            [r.tenant for r in records],
            [r.entity for r in records],
            [r.id for r in records],
            [r.package_name for r in records],
            [r.package_version for r in records],
            [r.package_digest for r in records],
            [eventlog.dumps(r.data) for r in records],
            [r.revision for r in records],
            [_instant(r.created_at) for r in records],
            [_instant(r.updated_at) for r in records],
        ]
        table = pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
        )
        with self.transaction(), self._batch(table) as batch:
            twice = "the batch names these records more than once"
            self._refuse_keys(
                batch,
                "SELECT entity, id FROM {b} GROUP BY entity, id HAVING count(*) > 1",
                lambda text, _: InputError(text),
                twice,
            )
            if mode == "create":
                self._refuse_keys(
                    batch,
                    "SELECT entity, id FROM {b} SEMI JOIN records USING (tenant, entity, id)",
                    RecordExistsError,
                    "these records already exist",
                )
            elif mode == "update":
                self._refuse_keys(
                    batch,
                    "SELECT entity, id FROM {b} ANTI JOIN records USING (tenant, entity, id)",
                    RecordNotFoundError,
                    "these records do not exist",
                )
            names = ", ".join(_RECORD_COLUMNS)
            verb = "INSERT" if mode == "create" else "INSERT OR REPLACE"
            self._all(f"{verb} INTO records ({names}) SELECT {names} FROM {batch}")

    def _refuse_keys(
        self, batch: str, query: str, error: Callable[[str, list[tuple[str, str]]], UserError], message: str
    ) -> None:
        rows = self._all(
            f"SELECT entity, id, count(*) OVER () FROM ({query.format(b=batch)}) ORDER BY entity, id LIMIT {_SHOWN}"
        )
        if rows:
            keys = [(entity, id_) for entity, id_, _ in rows]
            raise error(f"{message}: {_keys(keys, rows[0][2])}; nothing was written", keys)

    def get_record(self, tenant: str, entity: str, id: str) -> StoredRecord | None:
        rows = self._all(
            f"SELECT {_select(_RECORD_COLUMNS)} FROM records WHERE tenant = ? AND entity = ? AND id = ?",
            [tenant, entity, id],
        )
        return _record(self.path, rows[0]) if rows else None

    def list_records(
        self, tenant: str, entity: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[StoredRecord]:
        """The tenant's records ordered by entity and id."""
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        page = f"LIMIT {int(limit)} " if limit is not None else ""
        rows = self._all(
            f"SELECT {_select(_RECORD_COLUMNS)} FROM records WHERE tenant = ? {where} "
            f"ORDER BY entity, id {page}OFFSET {int(offset)}",
            params,
        )
        return [_record(self.path, row) for row in rows]

    def iter_records(self, tenant: str, entity: str | None = None, batch: int = _CHUNK) -> Iterator[StoredRecord]:
        """Like `list_records`, fetched `batch` rows at a time."""
        where = "AND entity = ?" if entity is not None else ""
        fixed = [tenant, entity] if entity is not None else [tenant]
        after: tuple[str, str] = ("", "")
        while True:
            rows = self._all(
                f"SELECT {_select(_RECORD_COLUMNS)} FROM records WHERE tenant = ? {where} "
                f"AND (entity, id) > (?, ?) ORDER BY entity, id LIMIT {int(batch)}",
                [*fixed, *after],
            )
            yield from (_record(self.path, row) for row in rows)
            if len(rows) < batch:
                return
            after = (rows[-1][1], rows[-1][2])

    def count_records(self, tenant: str, entity: str | None = None) -> int:
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        return int(self._all(f"SELECT count(*) FROM records WHERE tenant = ? {where}", params)[0][0])

    def record_ids(self, tenant: str, entity: str) -> set[str]:
        return {row[0] for row in self._all("SELECT id FROM records WHERE tenant = ? AND entity = ?", [tenant, entity])}

    # -- workflow instances (format 2) -------------------------------------------------------------------------

    def put_instances(self, tenant: str, instances: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace workflow instances (the engine's instance objects) in one batch."""
        import pyarrow as pa

        self._writable()
        check_tenant(tenant)
        if not instances:
            return
        text = pa.string()
        table = pa.table(
            {
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
            }
        )
        self._insert("workflow_instances", table.column_names, table, replace=True)

    def get_instance(self, tenant: str, instance_id: str) -> dict[str, Any] | None:
        rows = self._all(
            "SELECT state FROM workflow_instances WHERE tenant = ? AND instance_id = ?", [tenant, instance_id]
        )
        return _loads(rows[0][0], self.path, "workflow instance", tenant, instance_id) if rows else None

    def workflow_clock(self, tenant: str) -> str | None:
        """The tenant's workflow clock: the latest moment any of its instances reached (ISO UTC), None without any."""
        rows = self._all("SELECT epoch_us(max(clock)) FROM workflow_instances WHERE tenant = ?", [tenant])
        return None if rows[0][0] is None else _iso(rows[0][0])

    def list_instances(
        self, tenant: str, *, workflow: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """The tenant's instances by id (optionally of one workflow, or in one status)."""
        where, params = "tenant = ?", [tenant]
        if workflow is not None:
            where, params = where + " AND workflow = ?", [*params, workflow]
        if status is not None:
            where, params = where + " AND status = ?", [*params, status]
        rows = self._all(
            f"SELECT instance_id, state FROM workflow_instances WHERE {where} ORDER BY instance_id", params
        )
        return [_loads(state, self.path, "workflow instance", tenant, instance) for instance, state in rows]
