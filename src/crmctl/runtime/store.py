"""The runtime store: packages, drafts, records and the event log of every tenant, in one DuckDB file (the embedded
default) or one PostgreSQL database (`postgresql://...`: many writers at once, tenants isolated by the database).

Layout (store format 3): `meta` (key/value: format, created_by, written_by, duckdb), `packages`
(content-addressed canonical bytes of every package version the runtime ran), `drafts`, `records`, `events` (one
hash chain per tenant, see `runtime.eventlog`), `workflow_instances`, and the webhook outbox apart from the log
(`webhook_cursors`, `webhook_outbox`, `webhook_attempts`, see `runtime.storage.outbox`). JSON is stored as
canonical text (`eventlog.dumps`); timestamps are TIMESTAMPTZ, passed in and returned as ISO 8601 UTC strings
("2026-11-26T10:00:00Z"). The store never reads the wall clock.

Every read and write names a tenant and stays inside it; only `info()` and `tenants()` look across tenants. Writes
go through Arrow batches (registered, inserted with one `INSERT ... SELECT`, unregistered) inside a transaction,
so a failing batch leaves nothing behind; callers group several writes with `with store.transaction():`.
The database's errors are translated into `StoreError`s: a file locked by another process, a server that cannot
be reached, a database that is no store, or a store written by another format version. Both backends implement
`runtime.storage.connection.Connection` and pass one contract suite (tests/runtime/store_contract).

A `Store` has one collaborator per table, all sharing one `Connection` (and so one transaction): `schema`,
`log` (the event log), `records`, `drafts`, `instances` (workflow instances), `packages` (package copies) and
`outbox` (webhook deliveries),
see `runtime.storage`. Its methods are the store's API and hand each call to the collaborator that owns it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal, Self

from crmctl.runtime.eventlog import ChainProblem
from crmctl.runtime.storage.connection import CHUNK, Connection
from crmctl.runtime.storage.drafts import Draft, Drafts
from crmctl.runtime.storage.errors import (
    RecordExistsError,
    RecordNotFoundError,
    StoreConflictError,
    StoreError,
    StoreFormatError,
    StoreIntegrityError,
    StoreLockedError,
    StoreMissingError,
)
from crmctl.runtime.storage.events import EXPORT_FORMAT, EventLog, read_event_export, read_export_packages
from crmctl.runtime.storage.instances import WorkflowInstances
from crmctl.runtime.storage.locator import StoreURL, locate
from crmctl.runtime.storage.outbox import Outbox
from crmctl.runtime.storage.packages import PackageCopies
from crmctl.runtime.storage.records import Records, StoredRecord
from crmctl.runtime.storage.schema import FORMAT, MIGRATIONS, Schema

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
    "StoreURL",
    "StoredRecord",
    "locate",
    "read_event_export",
    "read_export_packages",
]

DEFAULT_PATH = Path(".crm/runtime.duckdb")


class Store:
    """One open runtime store; use as a context manager, or `close()` it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.schema = Schema(self.connection)
        self.log = EventLog(self.connection)
        self.records = Records(self.connection)
        self.drafts = Drafts(self.connection)
        self.instances = WorkflowInstances(self.connection)
        self.packages = PackageCopies(self.connection)
        self.outbox = Outbox(self.connection, self.log)

    @classmethod
    def open(
        cls,
        target: Path | StoreURL,
        *,
        read_only: bool = False,
        create: bool = True,
        allow_old_format: bool = False,
    ) -> Store:
        """Open (or create) the store at `target`: a DuckDB file, or a PostgreSQL database (`StoreURL`; "create"
        there means creating the tables in an empty database). `allow_old_format` admits an older format, for
        `migrate()` only."""
        if isinstance(target, StoreURL):
            from crmctl.runtime.storage.postgresql_backend import connect_postgresql

            connection: Connection = connect_postgresql(target, read_only=read_only, create=create)
        else:
            from crmctl.runtime.storage.duckdb_backend import connect_duckdb

            connection = connect_duckdb(target, read_only=read_only, create=create)
        store = cls(connection)
        try:
            store.schema.check(allow_old_format=allow_old_format)
        except BaseException:
            connection.close()
            raise
        return store

    @classmethod
    def in_memory(cls) -> Store:
        """An empty store that lives in memory only (for work that needs none of a file's content)."""
        return cls.open(Path(":memory:"))

    @property
    def engine(self) -> str:
        """The database engine: "duckdb" or "postgresql"."""
        return self.connection.engine

    @contextmanager
    def holding(self, tenant: str) -> Iterator[None]:
        """One transaction that holds the tenant: on a shared store its other writers wait until the commit (the
        tenant's chain lock, taken first), so what is read in it stays as read and what is written follows from
        it; a run that reads many rows and writes over them (a workflow run advancing every running instance)
        happens before or after another, never across it. The transaction works in the tenant's rows (reads of
        the whole store, the package copies', switch to it and back). Commits, or (on any exception) writes
        nothing."""
        with self.transaction(), self.connection.tenant(tenant):
            self.connection.lock_chain(tenant)
            yield

    def hold_session(self, tenant: str, session: str, expected: Mapping[str, Any] | None) -> None:
        """Inside a transaction about to write a step of `session`: the session is still where this process found
        it, `expected` the state of its draft as read (None: a session not started). On a shared store the step
        first waits for the tenant's other writers (its chain lock, held to the commit), then reads again; a
        session another process moved meanwhile is a `StoreConflictError`, nothing written (two processes
        stepping one session would interleave its events, and replay would no longer reproduce either)."""
        if not self.connection.shared:
            return  # one writer at a time: what this process read is still there
        self.connection.lock_chain(tenant)
        draft = self.drafts.get(tenant, session)
        if expected is None:
            if draft is not None or next(iter(self.events(tenant, session=session)), None) is not None:
                raise StoreConflictError(
                    f"session {session} was started by another process meanwhile in tenant {tenant}; nothing was "
                    "written"
                )
        elif draft is None or draft.state != expected:
            raise StoreConflictError(
                f"session {session} moved on in another process meanwhile in tenant {tenant}; nothing was written: "
                "run the command again to go on from where the session is now"
            )

    def hold_instances(self, tenant: str, found: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Inside a transaction about to write workflow instances: each is still as this process found it (`found`:
        instance id → the instance as read or last written here, None for one it starts). As `hold_session`: on a
        shared store, wait for the tenant's other writers, read again, and refuse (`StoreConflictError`) an
        instance another process started or moved meanwhile."""
        if not self.connection.shared or not found:
            return
        import json

        from crmctl.runtime import eventlog

        self.connection.lock_chain(tenant)
        for instance_id, expected in found.items():
            stored = self.instances.get(tenant, instance_id)
            if stored is None and expected is None:
                continue
            if expected is None or stored != json.loads(eventlog.dumps(dict(expected))):
                done = "started" if expected is None else "moved on"
                raise StoreConflictError(
                    f"workflow instance {instance_id} was {done} by another process meanwhile in tenant {tenant}; "
                    "nothing was written: run the command again"
                )

    @property
    def path(self) -> Path | str:
        """The store's file (`:memory:` for an in-memory store), or its PostgreSQL URL without the password."""
        return self.connection.path

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only."""
        return self.connection.read_only

    def close(self) -> None:
        """Close the store's connection."""
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes: all of them are committed, or (on any exception) none. Nested use joins the outer one."""
        return self.connection.transaction()

    # -- the store as a whole ---------------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Bring the store to the current format in one transaction; return the formats migrated from."""
        return self.schema.migrate()

    def info(self) -> dict[str, Any]:
        """Path, format, versions and row counts (packages in total, the rest per table per tenant)."""
        meta = self.schema.meta()
        read = self.connection.read
        counts = {
            table: {
                tenant: int(count)
                for tenant, count in read(None, f"SELECT tenant, count(*) FROM {table} GROUP BY tenant ORDER BY tenant")
            }
            for table in ("drafts", "records", "events", "workflow_instances", "webhook_outbox")
        }
        return {
            "path": str(self.path),
            "engine": self.engine,
            "format": self.schema.stamped(meta),
            "created_by": meta.get("created_by"),
            "written_by": meta.get("written_by"),
            "duckdb": meta.get("duckdb"),
            "postgresql": meta.get("postgresql"),
            "isolation": self.connection.isolation(),
            "packages": int(read(None, "SELECT count(*) FROM packages")[0][0]),
            "counts": counts,
        }

    def tenants(self) -> list[str]:
        """Every tenant with a draft, a record or an event."""
        return [
            row[0]
            for row in self.connection.read(
                None,
                "SELECT tenant FROM drafts UNION SELECT tenant FROM records UNION SELECT tenant FROM events "
                "ORDER BY tenant",
            )
        ]

    # -- packages ---------------------------------------------------------------------------------------------------

    def put_package(self, digest: str, name: str, version: str, canonical: bytes) -> None:
        """Keep the canonical bytes of a package version under their digest (idempotent)."""
        self.packages.put(digest, name, version, canonical)

    def get_package(self, digest: str) -> bytes | None:
        """The canonical bytes stored under `digest`, None if none are."""
        return self.packages.get(digest)

    def package_digests(self) -> list[tuple[str, str, str]]:
        """(digest, name, version) of every stored package version."""
        return self.packages.digests()

    # -- drafts -----------------------------------------------------------------------------------------------------

    def save_draft(self, draft: Draft) -> None:
        """Create or replace a draft."""
        self.drafts.save(draft)

    def get_draft(self, tenant: str, draft_id: str) -> Draft | None:
        """The tenant's draft `draft_id`, None if there is none."""
        return self.drafts.get(tenant, draft_id)

    def list_drafts(self, tenant: str, entity: str | None = None) -> list[Draft]:
        """The tenant's drafts, most recently updated first."""
        return self.drafts.list_for(tenant, entity)

    def delete_draft(self, tenant: str, draft_id: str) -> None:
        """Delete the tenant's draft `draft_id` (none: nothing happens)."""
        self.drafts.delete(tenant, draft_id)

    # -- records ----------------------------------------------------------------------------------------------------

    def put_records(
        self, records: Sequence[StoredRecord], *, mode: Literal["create", "update", "upsert"] = "create"
    ) -> None:
        """Write records of one tenant as one batch: all of them, or none."""
        self.records.put(records, mode=mode)

    def get_record(self, tenant: str, entity: str, id: str) -> StoredRecord | None:
        """The tenant's record `entity`/`id`, None if there is none."""
        return self.records.get(tenant, entity, id)

    def list_records(
        self, tenant: str, entity: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[StoredRecord]:
        """The tenant's records ordered by entity and id."""
        return self.records.list_for(tenant, entity, limit=limit, offset=offset)

    def iter_records(self, tenant: str, entity: str | None = None, batch: int = CHUNK) -> Iterator[StoredRecord]:
        """Like `list_records`, fetched `batch` rows at a time."""
        return self.records.iterate(tenant, entity, batch)

    def count_records(self, tenant: str, entity: str | None = None) -> int:
        """How many records the tenant has (optionally of one entity)."""
        return self.records.count(tenant, entity)

    def record_ids(self, tenant: str, entity: str) -> set[str]:
        """The ids of the tenant's records of `entity`."""
        return self.records.ids(tenant, entity)

    # -- workflow instances (format 2) ------------------------------------------------------------------------------

    def check_instances(self, tenant: str, instances: Sequence[Mapping[str, Any]]) -> None:
        """Refuse (InputError) an instance holding a value this store would not give back as it is (PostgreSQL's
        JSONB: `Connection.json_text`), without writing anything."""
        self.instances.check(tenant, instances)

    def put_instances(self, tenant: str, instances: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace workflow instances (the engine's instance objects) in one batch."""
        self.instances.put(tenant, instances)

    def get_instance(self, tenant: str, instance_id: str) -> dict[str, Any] | None:
        """The tenant's workflow instance `instance_id`, None if there is none."""
        return self.instances.get(tenant, instance_id)

    def workflow_clock(self, tenant: str) -> str | None:
        """The tenant's workflow clock: the latest moment any of its instances reached (ISO UTC), None without any."""
        return self.instances.clock(tenant)

    def list_instances(
        self, tenant: str, *, workflow: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """The tenant's instances by id (optionally of one workflow, or in one status)."""
        return self.instances.list_for(tenant, workflow=workflow, status=status)

    # -- event log --------------------------------------------------------------------------------------------------

    def append_events(self, tenant: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Chain `bodies` (each with a `session` and an ISO UTC `at`) onto the tenant's log; return the entries."""
        return self.log.append(tenant, bodies)

    def events(self, tenant: str, *, session: str | None = None, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """The tenant's entries in seq order (optionally one session's, after a seq), read in chunks."""
        return self.log.entries(tenant, session=session, after_seq=after_seq)

    def sessions(self, tenant: str) -> list[str]:
        """The tenant's sessions in the order they started."""
        return self.log.sessions(tenant)

    def head(self, tenant: str) -> tuple[int, str] | None:
        """(seq, hash) of the tenant's last entry, None for an empty log."""
        return self.log.head(tenant)

    def verify_log(self, tenant: str, *, expected_head: str | None = None) -> list[ChainProblem]:
        """Verify the tenant's chain, and that the seq, session, at and hash columns agree with each entry."""
        return self.log.verify(tenant, expected_head=expected_head)

    def export_events(self, tenant: str | None, path: Path) -> int:
        """Write the events of one tenant (None: all) to a Parquet file atomically (see `EventLog.export`); return
        the number written."""
        return self.log.export(tenant, path)
