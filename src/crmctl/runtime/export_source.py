"""Where an export reads the store (see `runtime.export`): one `ExportSource` per backend, so the export's SQL is
written once, in DuckDB's dialect, and gives the same datasets from both.

- `DuckSource`: the SQL runs on the store's own DuckDB file (a cursor of its own).
- `PgSource`: a PostgreSQL store's rows stream into Arrow through ADBC (`storage.table_rows`: the store's Arrow
  schema, byte order, canonical JSON text, in the whole-store scope), filtered and ordered by PostgreSQL, and the
  same SQL turns each stream into the dataset's columns in an in-memory DuckDB that scans the Arrow stream as it
  comes (nothing is sorted there: the order is PostgreSQL's). Memory stays at a few batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from crmctl.runtime.export_files import stream_batches
from crmctl.runtime.export_model import BATCH_ROWS

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from crmctl.runtime.storage.connection import Connection

__all__ = ["DuckSource", "ExportSource", "PgSource"]

Select = Callable[[str], str]
"""The export's SELECT over a relation holding a table's filtered rows (named by the argument)."""


class ExportSource(Protocol):
    """What an exporter reads: small queries in the SQL both backends share, and a table's rows as Arrow batches
    transformed by DuckDB SQL."""

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Every row of `sql` (a small query: counts, groups), over every tenant."""

    def batches(
        self, table: str, where: str, params: Sequence[Any], select: Select, order: str
    ) -> Iterator[pa.RecordBatch]:
        """`select` over the rows of `table` matching `where`, ordered by `order` (key columns of `table`)."""

    def non_object(self, where: str, params: Sequence[Any]) -> tuple[str, str, str, str] | None:
        """The first record matching `where` whose data is no JSON object: (tenant, entity, id, data as text)."""


class DuckSource:
    """The store's DuckDB file, read on a cursor of its own (in UTC, so instants come back as UTC)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        con.execute("SET TimeZone = 'UTC'")

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Every row of `sql`."""
        return self._con.execute(sql, params).fetchall()

    def batches(
        self, table: str, where: str, params: Sequence[Any], select: Select, order: str
    ) -> Iterator[pa.RecordBatch]:
        """One DuckDB query: the filter and the order around `select`."""
        return stream_batches(self._con, f"{select(f'(SELECT * FROM {table} WHERE {where})')} ORDER BY {order}", params)

    def non_object(self, where: str, params: Sequence[Any]) -> tuple[str, str, str, str] | None:
        """Data that is no valid JSON, or JSON of another kind."""
        found = self._con.execute(
            f"SELECT tenant, entity, id, data FROM records WHERE {where} AND (CASE WHEN json_valid(data) THEN "
            "json_type(data) END) IS DISTINCT FROM 'OBJECT' ORDER BY tenant, id LIMIT 1",
            params,
        ).fetchall()
        return found[0] if found else None


class PgSource:
    """A PostgreSQL store's rows through ADBC into an in-memory DuckDB (see the module's docstring)."""

    def __init__(self, connection: Connection) -> None:
        import duckdb

        from crmctl.interrupts import interruptible

        self._db = connection
        self._duck = interruptible(duckdb.connect())
        self._duck.execute("SET TimeZone = 'UTC'")

    def close(self) -> None:
        """Close the in-memory DuckDB."""
        self._duck.close()

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Every row of `sql`, in the whole-store scope."""
        return self._db.read(None, sql, params)

    def batches(
        self, table: str, where: str, params: Sequence[Any], select: Select, order: str
    ) -> Iterator[pa.RecordBatch]:
        """PostgreSQL filters and orders (in byte order); DuckDB runs `select` over the stream, keeping its order."""
        import pyarrow as pa

        from crmctl.runtime.storage.table_rows import arrow_schema, table_rows

        by = [c.strip() for c in order.split(",")]
        with table_rows(self._db, table, where=where, params=params, order=by, rows=BATCH_ROWS) as batches:
            self._duck.register("_rows", pa.RecordBatchReader.from_batches(arrow_schema(table), batches))
            try:
                yield from stream_batches(self._duck, select("_rows"), [])
            finally:
                self._duck.unregister("_rows")

    def non_object(self, where: str, params: Sequence[Any]) -> tuple[str, str, str, str] | None:
        """JSONB of another kind than an object (JSONB is always valid JSON)."""
        found = self._db.read(
            None,
            f"SELECT tenant, entity, id, data::text FROM records WHERE {where} AND jsonb_typeof(data) <> 'object' "
            f"ORDER BY {self._db.byte_order('tenant')}, {self._db.byte_order('id')} LIMIT 1",
            params,
        )
        return found[0] if found else None
