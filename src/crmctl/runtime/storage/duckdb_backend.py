"""The embedded backend: a store in one DuckDB file (one writer at a time, the file locked by the process holding
it open). The default, and what every test of the store runs against first."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.interrupts import interruptible, pressed
from crmctl.model.files import check_regular
from crmctl.runtime.storage.connection import canonical_json, select_columns
from crmctl.runtime.storage.errors import StoreError, StoreMissingError, open_failure, store_failure

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import duckdb
    import pyarrow as pa

    from crmctl.runtime.storage.tables import Table

__all__ = ["DuckConnection", "connect_duckdb"]

_TYPES = {
    "text": ("VARCHAR", "VARCHAR"),
    "json": ("VARCHAR", "VARCHAR"),
    "bigint": ("BIGINT", "BIGINT"),
    "integer": ("INTEGER", "INTEGER"),
    "double": ("DOUBLE", "DOUBLE"),
    "timestamp": ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"),
    "blob": ("BLOB", "BLOB"),
}
_JSON_VALUES = {  # a number or a boolean only where the JSON holds one (not the text "36"), as on PostgreSQL
    "text": ("json_extract_string(data, ?)", 1),
    "number": (
        "(CASE WHEN json_type(data, ?) IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
        "THEN CAST(json_extract(data, ?) AS DOUBLE) END)",
        2,
    ),
    "boolean": ("(CASE WHEN json_type(data, ?) = 'BOOLEAN' THEN CAST(json_extract(data, ?) AS BOOLEAN) END)", 2),
}


def connect_duckdb(path: Path, *, read_only: bool, create: bool) -> DuckConnection:
    """Open (or create) the DuckDB file at `path`; DuckDB's refusals (a lock held by another process, a file that is
    no database) as store errors."""
    import duckdb

    if path != Path(":memory:"):
        if not path.exists() and (read_only or not create):
            raise StoreMissingError(f"{path}: no runtime store here", hint="run the runtime once to create it")
        check_regular(path, str(path))  # DuckDB would wait on a FIFO, or read a device without end
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{path}: cannot create its directory: {error.strerror or error}") from None
    try:
        con = interruptible(duckdb.connect(str(path), read_only=read_only))
    except duckdb.Error as error:
        raise open_failure(path, error) from error
    if not read_only:
        # A bulk insert (an import) writes each row group to the file as soon as it is full, rather than holding
        # five in memory: the commit then writes only the last one, alone at the end of an import whose rows were
        # checked in parallel, and less memory is held (docs/benchmarks.md#parallel-import). A DuckDB without the
        # setting (before the buffer came, autumn 2025) writes each row group as it fills already.
        with suppress(duckdb.CatalogException):
            con.execute("SET write_buffer_row_group_count = 1")
    return DuckConnection(con, path, read_only=read_only)


class DuckConnection:
    """One DuckDB connection with the store's transaction and batch-insert discipline (see `Connection`)."""

    engine = "duckdb"
    elsewhere = "pass --store to use another file"
    shared = False

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

    def read(self, tenant: str | None, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of `sql` (every query names its tenant)."""
        return self.all(sql, params)

    def changed(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that writes; return how many rows it wrote (DuckDB answers with that count)."""
        [(count,)] = self.all(sql, params)
        return int(count)

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
        if pressed():  # a Ctrl-C a query swallowed: nothing is committed after it (crmctl.interrupts)
            self._cleanup(lambda: self._con.execute("ROLLBACK").fetchall())
            raise KeyboardInterrupt
        if self._doomed:
            self.all("ROLLBACK")
            raise StoreError("a write inside this transaction failed, so nothing of it was written")
        self.all("COMMIT")

    def tenant(self, tenant: str | None) -> AbstractContextManager[None]:
        """Nothing to do: a DuckDB file belongs to the one process that holds it, and every query names its tenant."""
        return nullcontext()

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
        with self.transaction(), self.batch(table) as batch:
            self.insert_from(target, columns, batch, replace=replace)

    def insert_from(self, target: str, columns: Sequence[str], relation: str, *, replace: bool = False) -> None:
        """Insert (or replace) the rows of `relation` into `target` in one statement."""
        names = ", ".join(f'"{c}"' for c in columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        self.all(f"{verb} INTO {target} ({names}) SELECT {names} FROM {relation}")

    def upsert(self, target: str, row: Mapping[str, Any]) -> None:
        """Insert one row, or replace the row with its key."""
        names = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        self.all(f"INSERT OR REPLACE INTO {target} ({names}) VALUES ({marks})", list(row.values()))

    def json_text(self, value: Any, what: str) -> str:
        """The canonical JSON, held as text exactly."""
        return canonical_json(value, what)

    def lock_chain(self, tenant: str) -> None:
        """Nothing to do: DuckDB has one writer at a time."""

    def select_list(self, columns: Sequence[str]) -> str:
        """The SELECT list reading `columns`, timestamps as epoch microseconds."""
        return select_columns(self.epoch_us, columns)

    def epoch_us(self, column: str) -> str:
        """`epoch_us(column)`."""
        return f'epoch_us("{column}")'

    def json_value(self, kind: str) -> tuple[str, int]:
        """DuckDB's JSON functions, with the field as a JSON path."""
        return _JSON_VALUES[kind]

    def json_key(self, field: str) -> str:
        """The JSON path of a top-level field (quoted: any name is a key)."""
        import json

        return f"$.{json.dumps(field)}"

    def byte_order(self, column: str) -> str:
        """DuckDB sorts text in byte order."""
        return f'"{column}"'

    def entry_digest(self, column: str) -> str:
        """The digest, for entries that are JSON."""
        return f"CASE WHEN json_valid({column}) THEN json_extract_string({column}, '$.package.digest') END"

    @contextmanager
    def arrow(
        self, sql: str, params: Sequence[Any], rows: int, *, tenant: str | None
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        """The rows of `sql` in Arrow batches, read on a cursor of its own (so a failure cannot leave this connection
        with an unfinished result)."""
        import duckdb

        try:
            with interruptible(self._con.cursor()) as cursor:
                yield iter(cursor.sql(sql, params=list(params)).to_arrow_reader(rows))
        except duckdb.Error as error:
            store_failure(self.path, error)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own on the same database (for the exporters' own queries); the caller closes it."""
        return interruptible(self._con.cursor())

    def columns(self) -> list[tuple[str, str | None, str | None]]:
        """Every table and view of the `main` schema, with the columns of the tables."""
        rows = self.all(
            "SELECT t.table_name, c.column_name, c.data_type FROM information_schema.tables t "
            "LEFT JOIN information_schema.columns c ON c.table_catalog = t.table_catalog "
            "AND c.table_schema = t.table_schema AND c.table_name = t.table_name AND t.table_type = 'BASE TABLE' "
            "WHERE t.table_catalog = current_database() AND t.table_schema = 'main' "
            "ORDER BY t.table_name, c.ordinal_position"
        )
        return [(table, column, kind) for table, column, kind in rows]

    def listed_type(self, kind: str) -> str:
        """DuckDB's information_schema spelling of `kind`."""
        return _TYPES[kind][1]

    def create_table(self, table: Table) -> None:
        """CREATE TABLE with NOT NULL columns (but those that may be NULL) and the primary key."""
        self.all(table.create_statement({kind: spelled for kind, (spelled, _) in _TYPES.items()}))

    def engine_version(self) -> tuple[str, str]:
        """("duckdb", DuckDB's version)."""
        import duckdb

        return "duckdb", duckdb.__version__

    def isolation(self) -> str | None:
        """None: a DuckDB file is one process's, and every query names its tenant."""
        return None
