"""The store's connection, shared by its tables, as a protocol its backends (DuckDB, PostgreSQL) implement:
transactions (nested ones join the outer), the tenant scope, Arrow batch inserts; and how values cross into the
database and back, the same on both (JSON as canonical text, timestamps read as epoch microseconds, ISO 8601 UTC
strings on the Python side)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from crmctl.errors import InputError
from crmctl.runtime.instants import InstantError, parse_instant
from crmctl.runtime.storage.errors import RESTORE_HINT, StoreIntegrityError

if TYPE_CHECKING:
    import pyarrow as pa

    from crmctl.runtime.storage.tables import Table

__all__ = [
    "ALL_TENANTS",
    "CHUNK",
    "TIMES",
    "Connection",
    "canonical_json",
    "iso_from_micros",
    "parse_stored_instant",
    "read_object",
    "select_columns",
    "write_array",
]

CHUNK = 10_000
"""Rows read per query when a table is read in pieces (the event log, records)."""

TIMES = frozenset({"updated_at", "created_at", "at", "clock", "next_at"})
"""The store's timestamp columns (read as epoch microseconds by `Connection.select_list`)."""
ALL_TENANTS = "*"
"""The tenant scope of work on the store as a whole (no tenant id is `*`: `model.tenants`)."""
_EPOCH = datetime(1970, 1, 1)
_JSON_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


class Connection(Protocol):
    """What the store's tables (`runtime.storage.events`, `.records`, `.drafts`, `.instances`, `.packages`,
    `.outbox`, `.schema`) need of a database: one per backend (`duckdb_backend.DuckConnection`,
    `postgresql_backend.PgConnection`). SQL is written once, with `?` parameters, in the dialect both engines
    share; what they spell differently is asked of the connection (`select_list`, `epoch_us`, `json_value`,
    `entry_digest`, `upsert`)."""

    @property
    def path(self) -> Path | str:
        """Where the store is, for messages: a file, or a PostgreSQL URL without its password."""

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only."""

    @property
    def engine(self) -> str:
        """The database engine: "duckdb" or "postgresql"."""

    @property
    def elsewhere(self) -> str:
        """The hint of an error asking for another store (`--store` ...)."""

    @property
    def shared(self) -> bool:
        """Whether other processes may write the store while this connection is open (PostgreSQL; a DuckDB file has
        one writer at a time)."""

    def close(self) -> None:
        """Close the connection."""

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of `sql`."""

    def read(self, tenant: str | None, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of `sql` read in `tenant`'s scope (see `tenant()`); one scope per call, so a long read in
        chunks holds nothing open between them."""

    def changed(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that writes; return how many rows it wrote."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes: all of them are committed, or (on any exception) none. Nested use joins the outer one."""

    def tenant(self, tenant: str | None) -> AbstractContextManager[None]:
        """Work inside one tenant's rows (None: every tenant's, for the store as a whole): on PostgreSQL the
        database itself hides other tenants' rows (row-level security) for the transaction, which this opens
        when none is open."""

    def check_writable(self) -> None:
        """Refuse to write to a store opened read-only."""

    def batch(self, table: pa.Table) -> AbstractContextManager[str]:
        """`table`'s rows readable in SQL for the duration (inside a transaction); yields the relation's name."""

    def insert(self, target: str, columns: Sequence[str], table: pa.Table, *, replace: bool = False) -> None:
        """Insert the rows of `table` into `target` (`replace`: a row whose key exists replaces it), in a
        transaction."""

    def insert_from(self, target: str, columns: Sequence[str], relation: str, *, replace: bool = False) -> None:
        """Insert the rows of `relation` (a `batch`) into `target`, as `insert` does."""

    def upsert(self, target: str, row: Mapping[str, Any]) -> None:
        """Insert one row, or replace the row with its key."""

    def json_text(self, value: Any, what: str) -> str:
        """The text of a `json` column holding `value` (its canonical JSON, `canonical_json`); a value the backend
        cannot hold exactly as it is refused as an `InputError` naming `what` (e.g. "record acme/Lead/L1") and
        where in the value, before anything is written."""

    def lock_chain(self, tenant: str) -> None:
        """Hold the tenant's log head until the transaction ends, so writers append one after another."""

    def select_list(self, columns: Sequence[str]) -> str:
        """The SELECT list reading `columns`: timestamps as epoch microseconds (`iso_from_micros`), JSON as text."""

    def epoch_us(self, column: str) -> str:
        """SQL reading a timestamp column as epoch microseconds."""

    def json_value(self, kind: str) -> tuple[str, int]:
        """SQL reading one top-level field of a record's `data` as text, a number or a boolean (NULL when it holds
        something else), and how many times the field's key is passed as a parameter (`json_key`)."""

    def json_key(self, field: str) -> str:
        """The parameter naming a top-level field for `json_value`."""

    def byte_order(self, column: str) -> str:
        """`column` (text) as ORDER BY sorts it in byte order, the same on every backend."""

    def entry_digest(self, column: str) -> str:
        """SQL reading the package digest an event entry is pinned to (NULL for an entry that is not JSON)."""

    def arrow(
        self, sql: str, params: Sequence[Any], rows: int, *, tenant: str | None
    ) -> AbstractContextManager[Iterator[pa.RecordBatch]]:
        """The rows of `sql` (in `tenant`'s scope, see `tenant()`) as Arrow batches of about `rows` rows, read
        without holding them all."""

    def columns(self) -> list[tuple[str, str | None, str | None]]:
        """(table, column, type) of every table and view of the store (a view: one row, without columns)."""

    def listed_type(self, kind: str) -> str:
        """How `columns()` spells a column of `kind` (see `schema.Column`)."""

    def create_table(self, table: Table) -> None:
        """Create `table` (inside the caller's transaction)."""

    def engine_version(self) -> tuple[str, str]:
        """The engine and its version, stamped in the store's meta table by every crmctl writing to it."""

    def isolation(self) -> str | None:
        """Whether the database isolates tenants ("enforced", or why not); None where it does not apply (a file
        belongs to the process holding it)."""


def canonical_json(value: Any, what: str) -> str:
    """`eventlog.dumps(value)`; a value without canonical JSON (NaN, an integer beyond 64 bits) is an `InputError`
    naming `what`, not a bare ValueError."""
    from crmctl.runtime import eventlog

    try:
        return eventlog.dumps(value)
    except ValueError as error:
        raise InputError(f"{what}: {error}; nothing was written") from None


def select_columns(epoch_us: Callable[[str], str], columns: Sequence[str]) -> str:
    """The SELECT list reading `columns`, timestamps (`TIMES`) as epoch microseconds by the backend's `epoch_us`."""
    return ", ".join(epoch_us(c) if c in TIMES else f'"{c}"' for c in columns)


def read_object(text: str, path: Path | str, what: str, *where: object) -> dict[str, Any]:
    """A stored JSON object parsed (orjson: twice as fast as json on entries, the same values; replay reads
    millions). Text that is no JSON object (a store edited by hand or damaged) is a `StoreIntegrityError` naming
    `what` and `where` (e.g. "event", tenant, seq), built only then."""
    import orjson

    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError) as error:
        problem = f"is not JSON ({error})"
    else:
        if isinstance(value, dict):
            return value
        problem = f"is a JSON {_JSON_KINDS.get(type(value), 'value')}, not an object"
    located = " ".join([what, "/".join(str(part) for part in where)]).strip()
    raise StoreIntegrityError(
        f"{path}: the stored {located} {problem}; the file was edited or is damaged", hint=RESTORE_HINT
    )


def write_array(values: Sequence[Any], type: pa.DataType) -> pa.Array:
    """`values` as an Arrow array of `type` for a batch the store writes, built in the C library's heap rather than
    Arrow's default pool. That pool (mimalloc) backs a big buffer with transparent huge pages and gives them back
    between batches; on a virtual machine first touching a huge page costs milliseconds, and building the 12 MB of
    text of an import's 10,000 log entries took 4-7 us a row against 0.5 warm (docs/benchmarks.md#parallel-import).
    The C library's heap keeps a freed buffer for the next batch."""
    import pyarrow as pa

    return pa.array(values, type, memory_pool=pa.system_memory_pool())


def parse_stored_instant(text: object) -> datetime:
    """An ISO 8601 timestamp with a zone, given to the store, as a UTC datetime (`parse_instant`); anything else is
    an `InputError` saying what the store expects."""
    try:
        return parse_instant(text)  # type: ignore[arg-type]  # it refuses anything but text too
    except InstantError:
        raise InputError(f"{text!r} is not an ISO 8601 UTC timestamp such as 2026-11-26T10:00:00Z") from None


def iso_from_micros(micros: int) -> str:
    """A timestamp read as epoch microseconds (`select_list`) as the store returns it: the text `format_timestamp`
    writes for the same instant (a property test holds them together). Spelled out rather than calling it: two
    per record read, and `format_timestamp`'s zone handling made reading records a fifth slower."""
    return (_EPOCH + timedelta(microseconds=micros)).isoformat() + "Z"
