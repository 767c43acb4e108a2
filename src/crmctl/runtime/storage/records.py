"""The store's records (the `records` table): saved records, each with the package version that validated it,
written in all-or-nothing batches and read by key, in pages or in chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from crmctl.errors import InputError, UserError
from crmctl.model.tenants import check_tenant
from crmctl.runtime.storage.connection import (
    CHUNK,
    Connection,
    iso_from_micros,
    parse_stored_instant,
    read_object,
    write_array,
)
from crmctl.runtime.storage.errors import RecordExistsError, RecordNotFoundError, StoreConflictError

__all__ = ["Kind", "Records", "StoredRecord"]

Kind = Literal["text", "number", "boolean"]  # how a field's stored JSON value compares in a query

_COLUMNS = (
    "tenant",
    "entity",
    "id",
    "package_name",
    "package_version",
    "package_digest",
    "data",
    "revision",
    "created_at",
    "updated_at",
)
_SHOWN = 10  # keys named in a refusal
_EXISTING = (  # the batch's keys that are (or are not) stored records
    "SELECT entity, id FROM {{b}} b WHERE {how} (SELECT 1 FROM records r WHERE r.tenant = b.tenant "
    "AND r.entity = b.entity AND r.id = b.id)"
)


@dataclass(frozen=True)
class StoredRecord:
    """A saved record with the package version that validated it."""

    tenant: str
    entity: str
    id: str
    package_name: str
    package_version: str
    package_digest: str
    data: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str


class Records:
    """The `records` table: one row per record, keyed by tenant, entity and id."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def put(self, records: Sequence[StoredRecord], *, mode: Literal["create", "update", "upsert"] = "create") -> None:
        """Write records of one tenant as one batch: all of them, or none. An update carries the revision after
        the one it read: a record another writer changed since is refused (`StoreConflictError`)."""
        if not records:
            return
        tenants = {r.tenant for r in records}
        if len(tenants) > 1:
            raise InputError(f"one batch of records must belong to one tenant, not to {sorted(tenants)}")
        check_tenant(records[0].tenant)
        columns: list[Sequence[Any]] = [
            [r.tenant for r in records],
            [r.entity for r in records],
            [r.id for r in records],
            [r.package_name for r in records],
            [r.package_version for r in records],
            [r.package_digest for r in records],
            [self._db.json_text(r.data, f"record {r.tenant}/{r.entity}/{r.id}") for r in records],
            [r.revision for r in records],
            [parse_stored_instant(r.created_at) for r in records],
            [parse_stored_instant(r.updated_at) for r in records],
        ]
        self._write(records[0].tenant, columns, mode)

    def create_encoded(
        self, tenant: str, entity: str, package: tuple[str, str, str], rows: Sequence[tuple[str, str]], at: str
    ) -> None:
        """`put(..., mode="create")` for new records of one entity, validated by one package version (name, version,
        digest) at one instant (ISO UTC), each row (id, the canonical JSON of its data: `eventlog.dumps`) encoded
        ahead (elsewhere: in worker processes); the same rows, byte for byte."""
        if not rows:
            return
        check_tenant(tenant)
        if self._db.engine != "duckdb":  # a backend that cannot hold every canonical JSON value checks each one
            import orjson

            rows = [
                (id_, self._db.json_text(orjson.loads(text), f"record {tenant}/{entity}/{id_}")) for id_, text in rows
            ]
        count = len(rows)
        stamp = parse_stored_instant(at)
        name, version, digest = package
        columns: list[Sequence[Any]] = [
            [tenant] * count,
            [entity] * count,
            [row[0] for row in rows],
            [name] * count,
            [version] * count,
            [digest] * count,
            [row[1] for row in rows],
            [1] * count,
            [stamp] * count,
            [stamp] * count,
        ]
        self._write(tenant, columns, "create")

    def _write(
        self, tenant: str, columns: Sequence[Sequence[Any]], mode: Literal["create", "update", "upsert"]
    ) -> None:
        """Write the rows whose `_COLUMNS` are `columns` (data as canonical JSON text) as one batch, refused whole
        when the batch repeats a key, or (by `mode`) a record exists or does not."""
        import pyarrow as pa

        text = pa.string()
        stamp = pa.timestamp("us", "UTC")
        schema = pa.schema(
            [(c, text) for c in _COLUMNS[:7]] + [("revision", pa.int32()), ("created_at", stamp), ("updated_at", stamp)]
        )
        table = pa.Table.from_arrays(
            [write_array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
        )
        with self._db.transaction(), self._db.tenant(tenant):
            # Every write of records is logged in the same transaction: taking the tenant's chain first, as an
            # append does, makes concurrent writers (PostgreSQL) wait here in one order (no deadlock), and the
            # checks below see what the writer before committed (a create loses to an earlier one as it would in
            # turn: the records exist; no unique violation half-way).
            self._db.lock_chain(tenant)
            with self._db.batch(table) as batch:
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
                        _EXISTING.format(how="EXISTS"),
                        RecordExistsError,
                        "these records already exist",
                    )
                elif mode == "update":
                    self._refuse_keys(
                        batch,
                        _EXISTING.format(how="NOT EXISTS"),
                        RecordNotFoundError,
                        "these records do not exist",
                    )
                    self._refuse_keys(  # read before this write, changed since: the update would undo the other's
                        batch,
                        _EXISTING.format(how="EXISTS").replace(
                            "r.id = b.id", "r.id = b.id AND r.revision <> b.revision - 1"
                        ),
                        lambda text, _: StoreConflictError(text, hint="read the records again and repeat the update"),
                        "another writer changed these records since they were read",
                    )
                self._db.insert_from("records", _COLUMNS, batch, replace=mode != "create")

    def _refuse_keys(
        self, batch: str, query: str, error: Callable[[str, list[tuple[str, str]]], UserError], message: str
    ) -> None:
        rows = self._db.all(
            f"SELECT entity, id, count(*) OVER () FROM ({query.replace('{b}', batch)}) AS found "
            f"ORDER BY entity, id LIMIT {_SHOWN}"
        )
        if rows:
            keys = [(entity, id_) for entity, id_, _ in rows]
            shown = ", ".join(f"{entity}/{id_}" for entity, id_ in keys)
            total = rows[0][2]
            shown += f" and {total - len(keys)} more" if total > len(keys) else ""
            raise error(f"{message}: {shown}; nothing was written", keys)

    def get(self, tenant: str, entity: str, id: str) -> StoredRecord | None:
        """The tenant's record `entity`/`id`, None if there is none."""
        rows = self._db.read(
            tenant,
            f"SELECT {self._db.select_list(_COLUMNS)} FROM records WHERE tenant = ? AND entity = ? AND id = ?",
            [tenant, entity, id],
        )
        return self._record(rows[0]) if rows else None

    def list_for(
        self, tenant: str, entity: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[StoredRecord]:
        """The tenant's records ordered by entity and id."""
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        page = f"LIMIT {int(limit)} " if limit is not None else ""
        rows = self._db.read(
            tenant,
            f"SELECT {self._db.select_list(_COLUMNS)} FROM records WHERE tenant = ? {where} "
            f"ORDER BY entity, id {page}OFFSET {int(offset)}",
            params,
        )
        return [self._record(row) for row in rows]

    def query(
        self,
        tenant: str,
        entity: str,
        package: str,
        *,
        equal: Sequence[tuple[str, Kind, Any]] = (),
        sort: tuple[str, Kind, bool] | None = None,
        after: tuple[Any, str] | None = None,
        limit: int,
    ) -> list[StoredRecord]:
        """One page of the tenant's records of `entity` written by `package`, filtered, sorted and cut in the store.

        `equal` are (top-level field, kind, value): the field's stored value equals `value`. `sort` is (field,
        kind, descending): by that value, records without one last, ties by id; without it, by id. `after` is the
        (sort value, id) of the last record of the previous page (keyset pagination: stable while records are
        added, whatever their number); at most `limit` records."""
        clauses = ["tenant = ?", "entity = ?", "package_name = ?"]
        params: list[Any] = [tenant, entity, package]
        for name, kind, value in equal:
            value_sql, keys = self._db.json_value(kind)
            clauses.append(f"{value_sql} = ?")
            params += [self._db.json_key(name)] * keys + [value]
        order, order_params = "id", []
        if sort is None:
            if after is not None:
                clauses.append("id > ?")
                params.append(after[1])
        else:
            name, kind, descending = sort
            value_sql, keys = self._db.json_value(kind)
            path = [self._db.json_key(name)] * keys
            order = f"({value_sql}) IS NULL, {value_sql} {'DESC' if descending else 'ASC'}, id"
            if after is not None:
                last, last_id = after
                if last is None:  # the previous page ended among the records without a value
                    clauses.append(f"({value_sql} IS NULL AND id > ?)")
                    params += [*path, last_id]
                else:
                    beyond = "<" if descending else ">"
                    clauses.append(f"({value_sql} IS NULL OR {value_sql} {beyond} ? OR ({value_sql} = ? AND id > ?))")
                    params += [*path, *path, last, *path, last, last_id]
            order_params = [*path, *path]
        rows = self._db.read(
            tenant,
            f"SELECT {self._db.select_list(_COLUMNS)} FROM records WHERE {' AND '.join(clauses)} "
            f"ORDER BY {order} LIMIT {int(limit)}",
            params + order_params,
        )
        return [self._record(row) for row in rows]

    def iterate(self, tenant: str, entity: str | None = None, batch: int = CHUNK) -> Iterator[StoredRecord]:
        """Like `list_for`, fetched `batch` rows at a time."""
        where = "AND entity = ?" if entity is not None else ""
        fixed = [tenant, entity] if entity is not None else [tenant]
        after: tuple[str, str] = ("", "")
        while True:
            rows = self._db.read(
                tenant,
                f"SELECT {self._db.select_list(_COLUMNS)} FROM records WHERE tenant = ? {where} "
                f"AND (entity, id) > (?, ?) ORDER BY entity, id LIMIT {int(batch)}",
                [*fixed, *after],
            )
            yield from (self._record(row) for row in rows)
            if len(rows) < batch:
                return
            after = (rows[-1][1], rows[-1][2])

    def count(self, tenant: str, entity: str | None = None) -> int:
        """How many records the tenant has (optionally of one entity)."""
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        return int(self._db.read(tenant, f"SELECT count(*) FROM records WHERE tenant = ? {where}", params)[0][0])

    def ids(self, tenant: str, entity: str) -> set[str]:
        """The ids of the tenant's records of `entity`."""
        rows = self._db.read(tenant, "SELECT id FROM records WHERE tenant = ? AND entity = ?", [tenant, entity])
        return {row[0] for row in rows}

    def _record(self, row: tuple[Any, ...]) -> StoredRecord:
        tenant, entity, id_, name, version, digest, data, revision, created_at, updated_at = row
        return StoredRecord(
            tenant,
            entity,
            id_,
            name,
            version,
            digest,
            read_object(data, self._db.path, "record", tenant, entity, id_),
            revision,
            iso_from_micros(created_at),
            iso_from_micros(updated_at),
        )
