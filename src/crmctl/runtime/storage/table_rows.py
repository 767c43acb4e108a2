"""A store table's rows as Arrow batches that are the same on both backends: the table's Arrow schema (from its
declaration in `schema.TABLES`), rows in byte order of their text keys (PostgreSQL's collation would sort
otherwise), JSON as canonical text (`eventlog.dumps`; PostgreSQL hands JSONB back in its own key order and
spacing). `crmctl export` reads PostgreSQL stores through it, and `crmctl store copy` reads every table with it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from crmctl.runtime.storage.connection import CHUNK, Connection
from crmctl.runtime.storage.tables import TABLES

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["arrow_schema", "table_rows"]


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of `table`'s rows (JSON as text, timestamps in microseconds, UTC)."""
    import pyarrow as pa

    types = {
        "text": pa.string(),
        "json": pa.string(),
        "bigint": pa.int64(),
        "integer": pa.int32(),
        "double": pa.float64(),
        "timestamp": pa.timestamp("us", "UTC"),
        "blob": pa.binary(),
    }
    return pa.schema([pa.field(c.name, types[c.kind], c.nullable) for c in TABLES[table].columns])


def _canonical(array: pa.Array) -> pa.Array:
    """JSON text read from PostgreSQL (an `arrow.json` extension array of JSONB's text) as canonical text."""
    import orjson
    import pyarrow as pa

    from crmctl.runtime.eventlog import dumps

    storage = array.storage if isinstance(array, pa.ExtensionArray) else array
    return pa.array([None if t is None else dumps(orjson.loads(t)) for t in storage.to_pylist()], pa.string())


@contextmanager
def table_rows(
    connection: Connection,
    table: str,
    *,
    where: str = "true",
    params: Sequence[Any] = (),
    tenant: str | None = None,
    order: Sequence[str] = (),
    rows: int = CHUNK,
) -> Iterator[Iterator[pa.RecordBatch]]:
    """The rows of `table` matching `where` (in `tenant`'s scope; None: every tenant's), ordered by `order` (default:
    the table's key, or every column for a table without one), as batches of `arrow_schema(table)`, read without
    holding them all."""
    import pyarrow as pa

    declared = TABLES[table]
    schema = arrow_schema(table)
    key = order or declared.key or tuple(c.name for c in declared.columns)
    order = ", ".join(connection.byte_order(c) if declared.kind(c) == "text" else f'"{c}"' for c in key)
    names = ", ".join(f'"{c}"' for c in schema.names)
    sql = f"SELECT {names} FROM {table} WHERE {where} ORDER BY {order}"
    json = [i for i, c in enumerate(declared.columns) if c.kind == "json"]

    def conformed(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            arrays = list(batch.columns)
            for i in json:
                if arrays[i].type != pa.string():
                    arrays[i] = _canonical(arrays[i])
            yield pa.RecordBatch.from_arrays(
                [a if a.type == f.type else a.cast(f.type) for a, f in zip(arrays, schema, strict=True)],
                schema=schema,
            )

    with connection.arrow(sql, params, rows, tenant=tenant) as batches:
        yield conformed(batches)
