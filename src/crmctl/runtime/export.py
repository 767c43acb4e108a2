"""Export records, drafts and the event log of a runtime store to Parquet or CSV datasets (docs/export.md).

Parquet column types come from the schema of the package version each record is pinned to (the store's
content-addressed copy); the versions of one entity export into one dataset with the union of their columns.
DuckDB turns the stored JSON into typed columns (`json_transform` with a structure built from the schema) and
hands Arrow record batches to pyarrow's writers, so no record is ever a Python dict and memory stays at one
batch. Every file is written to a temporary file in its own directory and moved into place with `os.replace`:
an interrupted export leaves no half file under a final name.

A kind of export is one function in `EXPORTERS` (the workflow engine will add `workflows`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from crmctl import __version__
from crmctl.errors import UserError
from crmctl.runtime.packages import load_copy

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from crmctl.model.fields import FieldDef
    from crmctl.runtime.store import Store

__all__ = ["EXPORTERS", "DatasetReport", "ExportError", "ExportOptions", "ExportReport", "arrow_type", "export"]

ExportFormat = Literal["parquet", "csv"]
Progress = Callable[[int, int], None]
_BATCH = 122_880  # rows per Arrow batch, so per Parquet row group: the row group size DuckDB writes too
_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_RECORD_EXTRAS = ("id", "tenant", "entity", "package_name", "package_version", "package_digest", "revision",
                  "created_at", "updated_at")  # fmt: skip


class ExportError(UserError):
    """The export cannot be done as asked: an unwritable directory, conflicting field types, a bad option."""


@dataclass(frozen=True)
class ExportOptions:
    out: Path
    format: ExportFormat = "parquet"
    tenant: str | None = None
    entity: str | None = None
    partition_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetReport:
    kind: str
    name: str
    rows: int
    files: list[str]
    package_digests: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "rows": self.rows, "files": self.files,
                "package_digests": self.package_digests}  # fmt: skip


@dataclass
class ExportReport:
    kind: str
    format: ExportFormat
    out: str
    datasets: list[DatasetReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.datasets)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": self.format, "out": self.out, "rows": self.rows,
                "datasets": [d.to_json() for d in self.datasets]}  # fmt: skip


# -- type mapping -------------------------------------------------------------------------------------------------


def arrow_type(fdef: FieldDef) -> pa.DataType:
    """The Parquet (Arrow) type of a schema field; see the table in docs/export.md."""
    import pyarrow as pa

    kind = fdef.resultType if fdef.type == "calculated" else fdef.type
    if kind == "number":
        integer, precision, scale = (getattr(fdef, name, None) for name in ("integer", "precision", "scale"))
        if integer:
            return pa.int64()
        if precision is not None or scale is not None:
            scale = scale or 0
            return pa.decimal128(max(precision or 38, scale), scale)
        return pa.float64()
    if kind == "currency":
        return pa.decimal128(38, getattr(fdef, "scale", 2))
    if kind == "enum":
        return pa.dictionary(pa.int32(), pa.string())
    if kind == "object":
        return pa.struct([(name, arrow_type(sub)) for name, sub in fdef.fields.items()])  # type: ignore[union-attr]
    if kind == "array":
        return pa.list_(arrow_type(fdef.items))  # type: ignore[union-attr]
    simple = {"boolean": pa.bool_(), "date": pa.date32(), "datetime": pa.timestamp("us", "UTC")}
    return simple.get(kind, pa.string())


def _csv_type(t: pa.DataType) -> pa.DataType:
    """CSV cells: objects stay structs (flattened to `obj.sub` columns later), arrays become JSON text."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return pa.struct([(t.field(i).name, _csv_type(t.field(i).type)) for i in range(t.num_fields)])
    return pa.string() if pa.types.is_list(t) or pa.types.is_dictionary(t) else t


def _duck(t: pa.DataType) -> Any:
    """The `json_transform` structure that reads a stored JSON value as Arrow type `t`."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return {t.field(i).name: _duck(t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t):
        return [_duck(t.value_type)]
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    names = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN", pa.date32(): "DATE",
             pa.timestamp("us", "UTC"): "TIMESTAMPTZ"}  # fmt: skip
    return names.get(t, "VARCHAR")


def _csv_duck(t: pa.DataType) -> Any:
    import pyarrow as pa

    if pa.types.is_struct(t):
        return {t.field(i).name: _csv_duck(t.field(i).type) for i in range(t.num_fields)}
    return "JSON" if pa.types.is_list(t) else _duck(t)


def _merge(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type holding values of both `a` and `b` (objects gain the union of their fields), None if none does."""
    import pyarrow as pa

    if a == b:
        return a
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        merged = {a.field(i).name: a.field(i).type for i in range(a.num_fields)}
        for i in range(b.num_fields):
            name, sub = b.field(i).name, b.field(i).type
            both = _merge(merged[name], sub) if name in merged else sub
            if both is None:
                return None
            merged[name] = both
        return pa.struct(list(merged.items()))
    if pa.types.is_list(a) and pa.types.is_list(b):
        item = _merge(a.value_type, b.value_type)
        return None if item is None else pa.list_(item)
    return None


# -- the union schema of an entity's versions ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    digest: str
    name: str
    version: str
    fields: dict[str, tuple[str, FieldDef]]  # stored field name -> (column, definition)


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.+-]", version))


def _versions(store: Store, entity: str, rows: Sequence[tuple[str, str, str]]) -> list[_Version]:
    """The entity's fields in each stored version, oldest first; a field renamed with `aliases` keeps its
    newest name as the column of older versions' values."""
    versions = []
    for digest, name, version in sorted(rows, key=lambda r: (_version_key(r[2]), r[0])):
        blob = store.get_package(digest)
        if blob is None:
            raise ExportError(f"{entity} records are pinned to {name} {version} ({digest}), which the store lacks")
        package = load_copy(digest, blob)
        entities = package.schema.entities if package.schema else {}
        if entity not in entities:
            raise ExportError(f"{entity} records are pinned to {name} {version}, whose schema has no {entity}")
        versions.append((digest, name, version, entities[entity].fields))
    renamed = {alias: column for *_, fields in versions for column, fdef in fields.items() for alias in fdef.aliases}
    return [_Version(digest, name, version, {f: (renamed[f] if renamed.get(f, f) not in fields else f, d)
                                             for f, d in fields.items()})
            for digest, name, version, fields in versions]  # fmt: skip


def _union(entity: str, versions: Sequence[_Version]) -> dict[str, pa.DataType]:
    """Column -> type over all versions, newest version's field order first; conflicting types are an error."""
    columns: dict[str, tuple[pa.DataType, _Version]] = {}
    for v in reversed(versions):
        for column, fdef in v.fields.values():
            t = arrow_type(fdef)
            if column in columns:
                seen, where = columns[column]
                merged = _merge(seen, t)
                if merged is None:
                    raise ExportError(f"{entity}.{column} is {seen} in {where.name} {where.version} but {t} in "
                                      f"{v.name} {v.version}: a published field never changes its type, so the "
                                      "store holds records of an unpublished version; export with --entity for "
                                      "the other entities, or migrate these records")  # fmt: skip
                t = merged
                v = where
            columns[column] = (t, v)
    return {column: t for column, (t, _) in columns.items()}


# -- writing ------------------------------------------------------------------------------------------------------


class _Sink:
    """One output file: written to a temporary file beside it, moved into place by `commit`."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: ExportFormat, metadata: Mapping[str, str]) -> None:
        self.path, self.rows, self.digests = path, 0, set[str]()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as error:
            raise _unwritable(path.parent, error) from error
        os.close(handle)
        self.temp = Path(temp)
        umask = os.umask(0o022)
        os.umask(umask)
        self.temp.chmod(0o666 & ~umask)  # mkstemp's 0600 would make the export unreadable to everyone else
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._writer: Any = pq.ParquetWriter(temp, schema.with_metadata(dict(metadata)))
        else:
            import pyarrow.csv as csv

            self._writer = csv.CSVWriter(temp, schema)
        self._fmt = fmt

    def write(self, batch: pa.RecordBatch, digests: Sequence[str]) -> None:
        self._writer.write_batch(batch)
        self.rows += batch.num_rows
        self.digests.update(digests)

    def commit(self) -> None:
        if self._fmt == "parquet":
            self._writer.add_key_value_metadata({"crmctl.package_digests": json.dumps(sorted(self.digests))})
        self._writer.close()
        self.temp.replace(self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.temp.unlink(missing_ok=True)


def _unwritable(directory: Path, error: OSError) -> ExportError:
    return ExportError(f"cannot write the export to {directory}: {error.strerror or error}",
                       hint="pass --out with a writable directory")  # fmt: skip


def _probe(directory: Path) -> None:
    """Fail before reading anything when `directory` cannot be created or written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise _unwritable(directory, error) from error


def _flatten(table: pa.Table) -> pa.Table:
    import pyarrow as pa

    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def _partition_dir(keys: Sequence[tuple[str, Any]]) -> str:
    return "/".join(f"{quote(name, safe='')}={_NULL_PARTITION if value is None else quote(str(value), safe='')}"
                    for name, value in keys)  # fmt: skip


class _Dataset:
    """The files of one dataset (`root`), one per Hive partition; all committed together, or none."""

    def __init__(self, root: Path, stem: str, schema: pa.Schema, options: ExportOptions,
                 metadata: Mapping[str, str], digest_column: str) -> None:  # fmt: skip
        import pyarrow as pa

        missing = [c for c in options.partition_by if c not in schema.names]
        nested = [c for c in options.partition_by if c in schema.names
                  and (pa.types.is_struct(schema.field(c).type) or pa.types.is_list(schema.field(c).type))]  # fmt: skip
        if missing or nested:
            raise ExportError(f"--partition-by {','.join(missing or nested)}: not a "
                              f"{'column' if missing else 'scalar column'} of {root.name} "
                              f"(columns: {', '.join(schema.names)})")  # fmt: skip
        self.root, self.options, self.metadata, self.digest_column = root, options, metadata, digest_column
        self.name = f"{stem}.{options.format}"
        self.schema = schema
        self.kept = [f.name for f in schema if f.name not in options.partition_by and f.name != "__digest"]
        self.file_schema = pa.schema([schema.field(name) for name in self.kept])
        if options.format == "csv":
            csv_schema = pa.schema([(f.name, _csv_type(f.type)) for f in self.file_schema])
            self.file_schema = _flatten(csv_schema.empty_table()).schema
        self.sinks: dict[tuple[Any, ...], _Sink] = {}

    def _sink(self, key: tuple[Any, ...]) -> _Sink:
        if key not in self.sinks:
            directory = self.root / _partition_dir(list(zip(self.options.partition_by, key, strict=True)))
            self.sinks[key] = _Sink(directory / self.name, self.file_schema, self.options.format, self.metadata)
        return self.sinks[key]

    def write(self, batch: pa.RecordBatch) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = pa.Table.from_batches([batch])
        parts = self.options.partition_by
        plain = table.select(list(parts))
        plain = plain.cast(pa.schema([(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                      for f in plain.schema]))  # fmt: skip
        keys = [()] if not parts else [tuple(row[c] for c in parts)
                                       for row in plain.group_by(list(parts)).aggregate([]).to_pylist()]  # fmt: skip
        for key in keys:
            mask = None
            for name, value in zip(parts, key, strict=True):
                column = plain.column(name)
                match = pc.is_null(column) if value is None else pc.fill_null(pc.equal(column, value), False)
                mask = match if mask is None else pc.and_(mask, match)
            part = table if mask is None else table.filter(mask)
            digests = pc.unique(part.column(self.digest_column)).drop_null().to_pylist()
            part = part.select(self.kept)
            if self.options.format == "csv":
                part = _flatten(part.cast(pa.schema([(f.name, _csv_type(f.type)) for f in part.schema])))
            for out in part.to_batches():
                self._sink(key).write(out, digests)

    def finish(self, kind: str, name: str) -> DatasetReport:
        if not self.sinks and not self.options.partition_by:
            self._sink(())
        for sink in self.sinks.values():
            sink.commit()
        files = sorted(str(s.path) for s in self.sinks.values())
        digests = sorted(set().union(*(s.digests for s in self.sinks.values())))
        return DatasetReport(kind, name, sum(s.rows for s in self.sinks.values()), files, digests)

    def abort(self) -> None:
        for sink in self.sinks.values():
            sink.abort()


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` with exactly the columns of `schema`: cast where DuckDB's type differs, null where it is absent."""
    import pyarrow as pa

    names = set(batch.schema.names)
    arrays = []
    for f in schema:
        if f.name not in names:
            arrays.append(pa.nulls(batch.num_rows, f.type))
            continue
        array = batch.column(f.name)
        arrays.append(array if array.type == f.type else array.cast(f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _stream(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> Iterator[pa.RecordBatch]:
    import duckdb

    try:
        yield from con.sql(sql, params=params).to_arrow_reader(_BATCH)
    except duckdb.Error as error:
        raise ExportError(f"the store could not be read for the export: {error}") from error


def _prefetch(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """`batches`, produced one ahead in a thread: DuckDB reads and casts the next batch while pyarrow writes this
    one (both release the GIL), which nearly halves an export's time on two cores."""
    import queue
    import threading

    ahead: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        ahead.put(("batch", batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(("end", None))
        except BaseException as error:  # handed to the consumer, which raises it
            ahead.put(("error", error))

    thread = threading.Thread(target=produce, name="crmctl-export-read", daemon=True)
    thread.start()
    try:
        while True:
            tag, item = ahead.get()
            if tag == "end":
                return
            if tag == "error":
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                ahead.get(timeout=0.1)
            except queue.Empty:
                continue
        thread.join()


def _run(datasets: Iterator[tuple[_Dataset, str, Iterator[pa.RecordBatch]]], kind: str,
         progress: Callable[[int], None]) -> list[DatasetReport]:  # fmt: skip
    reports, pending = [], []
    try:
        for dataset, name, batches in datasets:
            pending.append(dataset)
            for batch in _prefetch(_conform(b, dataset.schema) for b in batches):
                dataset.write(batch)
                progress(batch.num_rows)
            reports.append((dataset, name))
        return [dataset.finish(kind, name) for dataset, name in reports]
    except BaseException:
        for dataset in pending:
            dataset.abort()
        raise


# -- the kinds of export ------------------------------------------------------------------------------------------


def _where(options: ExportOptions, *, entity: bool = True) -> tuple[str, list[Any]]:
    clauses, params = ["true"], []
    if options.tenant is not None:
        clauses.append("tenant = ?")
        params.append(options.tenant)
    if entity and options.entity is not None:
        clauses.append("entity = ?")
        params.append(options.entity)
    return " AND ".join(clauses), params


def _metadata(kind: str, entity: str | None) -> dict[str, str]:
    return {"crmctl.version": __version__, "crmctl.export": kind, "crmctl.entity": entity or ""}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _record_schema(columns: Mapping[str, pa.DataType]) -> pa.Schema:
    import pyarrow as pa

    text, stamp = pa.string(), pa.timestamp("us", "UTC")
    extras = [(name, text) for name in _RECORD_EXTRAS[:6]] + [("revision", pa.int32()), ("created_at", stamp),
                                                              ("updated_at", stamp)]  # fmt: skip
    return pa.schema(extras + list(columns.items()))


def export_records(store: Store, con: duckdb.DuckDBPyConnection, options: ExportOptions,
                   progress: Callable[[int], None]) -> list[DatasetReport]:  # fmt: skip
    """One dataset per entity, `records/<Entity>/`, rows ordered by version, tenant and id."""
    where, params = _where(options)
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for entity, digest, name, version in con.execute(
            f"SELECT entity, package_digest, any_value(package_name), any_value(package_version) FROM records "
            f"WHERE {where} GROUP BY entity, package_digest ORDER BY entity, package_digest", params).fetchall():
        groups.setdefault(entity, []).append((digest, name, version))

    def datasets() -> Iterator[tuple[_Dataset, str, Iterator[pa.RecordBatch]]]:
        for entity, rows in groups.items():
            versions = _versions(store, entity, rows)
            columns = _union(entity, versions)
            schema = _record_schema({c: _csv_type(t) for c, t in columns.items()} if options.format == "csv"
                                    else columns)  # fmt: skip
            dataset = _Dataset(options.out / "records" / entity, "part-0", schema, options,
                               _metadata("records", entity), "package_digest")  # fmt: skip
            typed = _csv_duck if options.format == "csv" else _duck
            yield dataset, entity, _version_batches(con, entity, versions, columns, typed, options)

    return _run(datasets(), "records", progress)


def _version_batches(con: duckdb.DuckDBPyConnection, entity: str, versions: Sequence[_Version],
                     columns: Mapping[str, pa.DataType], typed: Callable[[pa.DataType], Any],
                     options: ExportOptions) -> Iterator[pa.RecordBatch]:  # fmt: skip
    where, params = _where(options, entity=False)
    for v in versions:
        structure = json.dumps({stored: typed(columns[column]) for stored, (column, _) in v.fields.items()})
        fields = [f"_v.{_quote(stored)} AS {_quote(column)}" for stored, (column, _) in v.fields.items()]
        selected = ", ".join([*map(_quote, _RECORD_EXTRAS), *fields])
        source = (f"SELECT *, json_transform(data, '{structure.replace(chr(39), chr(39) * 2)}') AS _v FROM records "
                  f"WHERE {where} AND entity = ? AND package_digest = ?")  # fmt: skip
        yield from _stream(con, f"SELECT {selected} FROM ({source})", [*params, entity, v.digest])


def export_drafts(store: Store, con: duckdb.DuckDBPyConnection, options: ExportOptions,
                  progress: Callable[[int], None]) -> list[DatasetReport]:  # fmt: skip
    """`drafts/drafts.<format>`: one row per draft, its data as JSON text."""
    import pyarrow as pa

    text = pa.string()
    schema = pa.schema([("draft_id", text), ("tenant", text), ("entity", text), ("package_name", text),
                        ("package_version", text), ("package_digest", text), ("last_step", text),
                        ("updated_at", pa.timestamp("us", "UTC")), ("data", text)])  # fmt: skip
    where, params = _where(options)
    sql = f"SELECT {', '.join(map(_quote, schema.names))} FROM drafts WHERE {where} ORDER BY tenant, draft_id"
    dataset = _Dataset(options.out / "drafts", "drafts", schema, options, _metadata("drafts", options.entity),
                       "package_digest")  # fmt: skip
    return _run(iter([(dataset, "drafts", _stream(con, sql, params))]), "drafts", progress)


def export_events(store: Store, con: duckdb.DuckDBPyConnection, options: ExportOptions,
                  progress: Callable[[int], None]) -> list[DatasetReport]:  # fmt: skip
    """`events/events.<format>`: the log in (tenant, seq) order, each entry as its canonical JSON text."""
    import pyarrow as pa

    if options.entity is not None:
        raise ExportError("events belong to a tenant's log, not to an entity: drop --entity")
    text = pa.string()
    schema = pa.schema([("tenant", text), ("seq", pa.int64()), ("session", text), ("at", pa.timestamp("us", "UTC")),
                        ("kind", text), ("entry", text), ("hash", text), ("__digest", text)])  # fmt: skip
    where, params = _where(options, entity=False)
    sql = ('SELECT tenant, seq, session, "at", json_extract_string(entry, \'$.kind\') AS kind, entry, hash, '
           f"json_extract_string(entry, '$.package.digest') AS __digest FROM events WHERE {where} "
           "ORDER BY tenant, seq")  # fmt: skip
    dataset = _Dataset(options.out / "events", "events", schema, options, _metadata("events", None), "__digest")
    return _run(iter([(dataset, "events", _stream(con, sql, params))]), "events", progress)


def export_workflows(store: Store, con: duckdb.DuckDBPyConnection, options: ExportOptions,
                     progress: Callable[[int], None]) -> list[DatasetReport]:  # fmt: skip
    """`workflows/workflows.<format>`: one row per workflow instance, folded from its logged effects (state,
    status, times, transitions taken, SLA warnings and breaches, the package version it is pinned to)."""
    import pyarrow as pa

    if options.entity is not None:
        raise ExportError("workflow instances are exported all together: drop --entity")
    text, moment, count = pa.string(), pa.timestamp("us", "UTC"), pa.int32()
    schema = pa.schema([("tenant", text), ("instance", text), ("workflow", text), ("entity", text),
                        ("state", text), ("status", text), ("started_at", moment), ("updated_at", moment),
                        ("transitions", count), ("sla_warnings", count), ("sla_breaches", count),
                        ("package_name", text), ("package_version", text), ("package_digest", text)])  # fmt: skip
    tenants = [options.tenant] if options.tenant is not None else store.tenants()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for tenant in tenants:
        for entry in store.events(tenant):
            if entry.get("kind") != "workflow":
                continue
            key = (tenant, str(entry["session"]).removeprefix("workflow:"))
            row = rows.setdefault(key, {
                "tenant": tenant, "instance": key[1], "workflow": entry.get("workflow"), "entity": entry.get("entity"),
                "state": None, "status": "running", "started_at": _utc_moment(entry["at"]), "transitions": 0,
                "sla_warnings": 0, "sla_breaches": 0, "package_name": entry["package"]["name"],
                "package_version": entry["package"]["version"], "package_digest": entry["package"]["digest"],
            })  # fmt: skip
            row["updated_at"] = _utc_moment(entry["at"])
            for effect in entry.get("effects", []):
                kind = effect.get("effect")
                if kind == "entered":
                    row["state"] = effect.get("state")
                elif kind == "completed":
                    row["status"] = "completed"
                elif kind == "transition":
                    row["transitions"] += 1
                elif kind in ("sla-warning", "sla-breach"):
                    row["sla_warnings" if kind == "sla-warning" else "sla_breaches"] += 1
    table = pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=schema)
    dataset = _Dataset(options.out / "workflows", "workflows", schema, options, _metadata("workflows", None),
                       "package_digest")  # fmt: skip
    return _run(iter([(dataset, "workflows", iter(table.to_batches(_BATCH)))]), "workflows", progress)


def _utc_moment(text: str) -> Any:
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).astimezone(UTC)


Exporter = Callable[["Store", "duckdb.DuckDBPyConnection", ExportOptions, Callable[[int], None]], list[DatasetReport]]
EXPORTERS: dict[str, Exporter] = {"records": export_records, "drafts": export_drafts, "events": export_events,
                                  "workflows": export_workflows}  # fmt: skip
_TABLES = {"records": "records", "drafts": "drafts", "events": "events"}


def export(store: Store, kind: str, options: ExportOptions, progress: Progress | None = None) -> ExportReport:
    """Export one kind of store content under `options.out`; `progress(done, total)` is called after each batch."""
    if kind not in EXPORTERS:
        raise ExportError(f"unknown export kind {kind!r}; one of {', '.join(EXPORTERS)}")
    _probe(options.out)
    # A cursor of its own (the store's connection is private to it), in UTC so instants come back as UTC.
    with store._con.cursor() as con:
        con.execute("SET TimeZone = 'UTC'")
        where, params = _where(options, entity=kind != "events")
        count = f"SELECT count(*) FROM {_TABLES[kind]} WHERE {where}" if kind in _TABLES else "SELECT 0"
        total = int(con.execute(count, params if kind in _TABLES else []).fetchall()[0][0])
        done = 0

        def advance(rows: int) -> None:
            nonlocal done
            done += rows
            if progress is not None:
                progress(done, total)

        datasets = EXPORTERS[kind](store, con, options, advance)
    return ExportReport(kind, options.format, str(options.out), datasets)
