"""The store's connection, shared by its tables: transactions (nested ones join the outer), Arrow batch inserts,
and how values cross into DuckDB and back (JSON as canonical text, timestamps as TIMESTAMPTZ read as epoch
microseconds, ISO 8601 UTC strings on the Python side)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError
from crmctl.runtime.instants import InstantError, parse_instant
from crmctl.runtime.storage.errors import RESTORE_HINT, StoreError, StoreIntegrityError, store_failure

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["CHUNK", "Connection", "iso_from_micros", "parse_stored_instant", "read_object", "select_list"]

CHUNK = 10_000
"""Rows read per query when a table is read in pieces (the event log, records)."""

_TIMES = frozenset({"updated_at", "created_at", "at"})
_EPOCH = datetime(1970, 1, 1)
_JSON_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


class Connection:
    """One DuckDB connection with the store's transaction and batch-insert discipline; each table of the store
    (`runtime.storage.events`, `.records`, `.drafts`, `.instances`, `.packages`, `.schema`) works through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        self._depth = 0
        self._doomed = False

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of `sql`; a DuckDB error that is the file's or the disk's fault raised as `store_failure`."""
        import duckdb

        # Always drain: DuckDB refuses other work on a connection with an unfinished result.
        try:
            return self._con.execute(sql, params).fetchall()
        except duckdb.Error as error:
            store_failure(self.path, error)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own on the same database (for a long read that must not leave this connection with an
        unfinished result); the caller closes it."""
        return self._con.cursor()

    def run_migration(self, migration: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Run one step of `schema.MIGRATIONS` on the DuckDB connection (inside the caller's transaction)."""
        migration(self._con)

    def _cleanup(self, undo: Callable[[], object]) -> None:
        """Undo work while another error propagates: a connection that failed (a damaged file, a full disk) may
        refuse this too, and that must not hide the error that explains why."""
        import duckdb

        with suppress(duckdb.Error):
            undo()

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
        self.check_writable()
        self.all("BEGIN TRANSACTION")
        self._depth, self._doomed = 1, False
        try:
            yield
        except BaseException:
            self._depth = 0
            self._cleanup(lambda: self._con.execute("ROLLBACK").fetchall())
            raise
        self._depth = 0
        if self._doomed:
            self.all("ROLLBACK")
            raise StoreError("a write inside this transaction failed, so nothing of it was written")
        self.all("COMMIT")

    def check_writable(self) -> None:
        """Refuse to write to a store opened read-only."""
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")

    @contextmanager
    def batch(self, table: pa.Table) -> Iterator[str]:
        """`table` registered as a view for the duration; yields its name."""
        name = "_crmctl_batch"
        self._con.register(name, table)
        try:
            yield name
        except BaseException:
            self._cleanup(lambda: self._con.unregister(name))
            raise
        self._con.unregister(name)

    def insert(self, target: str, columns: Sequence[str], table: pa.Table, *, replace: bool = False) -> None:
        """Insert (or replace) the rows of `table` into `target` in one statement, in a transaction."""
        names = ", ".join(f'"{c}"' for c in columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self.transaction(), self.batch(table) as batch:
            self.all(f"{verb} INTO {target} ({names}) SELECT {names} FROM {batch}")


def select_list(columns: Sequence[str]) -> str:
    """The SELECT list reading `columns`, timestamps as epoch microseconds (see `iso_from_micros`)."""
    return ", ".join(f'epoch_us("{c}")' if c in _TIMES else f'"{c}"' for c in columns)


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
