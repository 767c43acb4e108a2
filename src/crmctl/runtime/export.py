"""Export records, drafts and the event log of a runtime store to Parquet or CSV datasets (docs/export.md).

Parquet column types come from the schema of the package version each record is pinned to (the store's
content-addressed copy); the versions of one entity export into one dataset with the union of their columns,
read as the newest version reads them (its names, and its field defaults for values a row lacks).
DuckDB turns the stored JSON into typed columns (`json_transform` with a structure built from the schema) and
hands Arrow record batches to pyarrow's writers, so no record is ever a Python dict and memory stays at one
batch. A PostgreSQL store's rows stream into the same SQL through Arrow (`runtime.export_source`), so both
backends give the same datasets. Every file is written to a temporary file in its own directory and moved into
place with `os.replace`: an interrupted export leaves no half file under a final name.

A kind of export is one function in `EXPORTERS`: records, drafts, events and workflow instances.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from crmctl import __version__
from crmctl.model.defaults import filled_default
from crmctl.runtime.export_columns import (
    EntityVersion,
    arrow_type,
    column_readers,
    csv_duck_type,
    csv_type,
    duck_type,
    entity_versions,
    filled_sql,
    json_structure,
    literal_sql,
    quote_name,
    union_columns,
)
from crmctl.runtime.export_files import Dataset, probe_directory, run_datasets
from crmctl.runtime.export_model import (
    BATCH_ROWS,
    DatasetReport,
    ExportError,
    ExportOptions,
    ExportReport,
    Progress,
)
from crmctl.runtime.export_source import DuckSource, ExportSource, PgSource
from crmctl.runtime.storage.connection import parse_stored_instant, read_object
from crmctl.runtime.storage.errors import store_failure

if TYPE_CHECKING:
    import pyarrow as pa

    from crmctl.model.fields import FieldDef
    from crmctl.runtime.store import Store


__all__ = ["EXPORTERS", "DatasetReport", "ExportError", "ExportOptions", "ExportReport", "arrow_type", "export"]

_RECORD_EXTRAS = (
    "id",
    "tenant",
    "entity",
    "package_name",
    "package_version",
    "package_digest",
    "revision",
    "created_at",
    "updated_at",
)


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


def _record_schema(columns: Mapping[str, pa.DataType]) -> pa.Schema:
    import pyarrow as pa

    text, stamp = pa.string(), pa.timestamp("us", "UTC")
    extras = [(name, text) for name in _RECORD_EXTRAS[:6]] + [
        ("revision", pa.int32()),
        ("created_at", stamp),
        ("updated_at", stamp),
    ]
    return pa.schema(extras + list(columns.items()))


def export_records(
    store: Store, source: ExportSource, options: ExportOptions, progress: Callable[[int], None]
) -> list[DatasetReport]:
    """One dataset per entity, `records/<Entity>/`, rows ordered by version, tenant and id."""
    where, params = _where(options)
    groups: dict[str, list[tuple[str, str, str]]] = {}
    # Sorted here: Python, DuckDB and PostgreSQL's "C" collation all order text by code point, other collations not.
    for entity, digest, name, version in sorted(
        source.rows(
            f"SELECT entity, package_digest, min(package_name), min(package_version) FROM records "
            f"WHERE {where} GROUP BY entity, package_digest",
            params,
        )
    ):
        groups.setdefault(entity, []).append((digest, name, version))

    def datasets() -> Iterator[tuple[Dataset, str, Iterator[pa.RecordBatch]]]:
        for entity, rows in groups.items():
            versions = entity_versions(store, entity, rows)
            columns = union_columns(entity, versions)
            schema = _record_schema(
                {c: csv_type(t) for c, t in columns.items()} if options.format == "csv" else columns
            )
            dataset = Dataset(
                options.out / "records" / entity,
                "part-0",
                schema,
                options,
                _metadata("records", entity),
                "package_digest",
            )
            typed = csv_duck_type if options.format == "csv" else duck_type
            yield dataset, entity, _version_batches(store, source, entity, versions, columns, typed, options)

    return run_datasets(datasets(), "records", progress)


def _read(expr: str, reader: FieldDef, t: pa.DataType, typed: Callable[[pa.DataType], Any]) -> str:
    """A stored value as the dataset reads it: a value without one has the default of the column's newest field."""
    return filled_sql(expr, reader, t, typed) or expr


def _version_batches(
    store: Store,
    source: ExportSource,
    entity: str,
    versions: Sequence[EntityVersion],
    columns: Mapping[str, pa.DataType],
    typed: Callable[[pa.DataType], Any],
    options: ExportOptions,
) -> Iterator[pa.RecordBatch]:
    """The records of each version, typed. A row whose data is no JSON object (an edited or damaged store) stops
    the export, named as every other reader names it, instead of exporting as empty values."""
    where, params = _where(options, entity=False)
    readers = column_readers(versions)
    for v in versions:
        shapes = {stored: json_structure(columns[c], readers[c], typed) for stored, (c, _) in v.fields.items()}
        structure = json.dumps(shapes)
        fields = [
            f"{_read(f'_v.{quote_name(stored)}', readers[column], columns[column], typed)} AS {quote_name(column)}"
            for stored, (column, _) in v.fields.items()
        ]
        own = {column for column, _ in v.fields.values()}
        fields += [
            f"{literal_sql(default, columns[c], typed)} AS {quote_name(c)}"
            for c, fdef in readers.items()
            if c not in own and (default := filled_default(fdef)) is not None
        ]
        selected = ", ".join([*map(quote_name, _RECORD_EXTRAS), *fields])
        rows, args = f"{where} AND entity = ? AND package_digest = ?", [*params, entity, v.digest]
        transform = f"json_transform(data, '{structure.replace(chr(39), chr(39) * 2)}') AS _v"

        def select(relation: str, selected: str = selected, transform: str = transform) -> str:
            return (
                f"SELECT {selected} FROM (SELECT *, {transform} FROM {relation} "
                "WHERE json_type(data) = 'OBJECT' OR error('a record is no JSON object'))"
            )

        try:
            yield from source.batches("records", rows, args, select, "tenant, id")
        except ExportError:
            damaged = source.non_object(rows, args)
            if damaged is not None:
                tenant, kind, record_id, data = damaged
                read_object(data, store.path, "record", tenant, kind, record_id)
            raise


def export_drafts(
    store: Store, source: ExportSource, options: ExportOptions, progress: Callable[[int], None]
) -> list[DatasetReport]:
    """`drafts/drafts.<format>`: one row per draft, its data as JSON text."""
    import pyarrow as pa

    text = pa.string()
    schema = pa.schema(
        [
            ("draft_id", text),
            ("tenant", text),
            ("entity", text),
            ("package_name", text),
            ("package_version", text),
            ("package_digest", text),
            ("last_step", text),
            ("updated_at", pa.timestamp("us", "UTC")),
            ("data", text),
        ]
    )
    where, params = _where(options)
    selected = ", ".join(map(quote_name, schema.names))
    batches = source.batches(
        "drafts", where, params, lambda relation: f"SELECT {selected} FROM {relation}", "tenant, draft_id"
    )
    dataset = Dataset(
        options.out / "drafts", "drafts", schema, options, _metadata("drafts", options.entity), "package_digest"
    )
    return run_datasets(iter([(dataset, "drafts", batches)]), "drafts", progress)


def export_events(
    store: Store, source: ExportSource, options: ExportOptions, progress: Callable[[int], None]
) -> list[DatasetReport]:
    """`events/events.<format>`: the log in (tenant, seq) order, each entry as its canonical JSON text."""
    import pyarrow as pa

    if options.entity is not None:
        raise ExportError("events belong to a tenant's log, not to an entity: drop --entity")
    text = pa.string()
    schema = pa.schema(
        [
            ("tenant", text),
            ("seq", pa.int64()),
            ("session", text),
            ("at", pa.timestamp("us", "UTC")),
            ("kind", text),
            ("entry", text),
            ("hash", text),
            ("__digest", text),
        ]
    )
    where, params = _where(options, entity=False)
    batches = source.batches(
        "events",
        where,
        params,
        lambda relation: (
            "SELECT tenant, seq, session, \"at\", json_extract_string(entry, '$.kind') AS kind, entry, hash, "
            f"json_extract_string(entry, '$.package.digest') AS __digest FROM {relation}"
        ),
        "tenant, seq",
    )
    dataset = Dataset(options.out / "events", "events", schema, options, _metadata("events", None), "__digest")
    return run_datasets(iter([(dataset, "events", batches)]), "events", progress)


def export_workflows(
    store: Store, source: ExportSource, options: ExportOptions, progress: Callable[[int], None]
) -> list[DatasetReport]:
    """`workflows/workflows.<format>`: one row per workflow instance, folded from its logged effects (state,
    status, times, transitions taken, SLA warnings and breaches, the package version it is pinned to)."""
    import pyarrow as pa

    if options.entity is not None:
        raise ExportError("workflow instances are exported all together: drop --entity")
    text, moment, count = pa.string(), pa.timestamp("us", "UTC"), pa.int32()
    schema = pa.schema(
        [
            ("tenant", text),
            ("instance", text),
            ("workflow", text),
            ("entity", text),
            ("state", text),
            ("status", text),
            ("started_at", moment),
            ("updated_at", moment),
            ("transitions", count),
            ("sla_warnings", count),
            ("sla_breaches", count),
            ("package_name", text),
            ("package_version", text),
            ("package_digest", text),
        ]
    )
    tenants = [options.tenant] if options.tenant is not None else store.tenants()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for tenant in tenants:
        for entry in store.events(tenant):
            if entry.get("kind") != "workflow":
                continue
            key = (tenant, str(entry["session"]).removeprefix("workflow:"))
            row = rows.setdefault(
                key,
                {
                    "tenant": tenant,
                    "instance": key[1],
                    "workflow": entry.get("workflow"),
                    "entity": entry.get("entity"),
                    "state": None,
                    "status": "running",
                    "started_at": parse_stored_instant(entry["at"]),
                    "transitions": 0,
                    "sla_warnings": 0,
                    "sla_breaches": 0,
                    "package_name": entry["package"]["name"],
                    "package_version": entry["package"]["version"],
                    "package_digest": entry["package"]["digest"],
                },
            )
            row["updated_at"] = parse_stored_instant(entry["at"])
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
    dataset = Dataset(
        options.out / "workflows", "workflows", schema, options, _metadata("workflows", None), "package_digest"
    )
    return run_datasets(iter([(dataset, "workflows", iter(table.to_batches(BATCH_ROWS)))]), "workflows", progress)


Exporter = Callable[["Store", ExportSource, ExportOptions, Callable[[int], None]], list[DatasetReport]]
EXPORTERS: dict[str, Exporter] = {
    "records": export_records,
    "drafts": export_drafts,
    "events": export_events,
    "workflows": export_workflows,
}
_TABLES = {"records": "records", "drafts": "drafts", "events": "events"}


@contextmanager
def _source(store: Store) -> Iterator[ExportSource]:
    """Where the exporters read `store`: a cursor of its own on a DuckDB file (the store's connection stays free
    for its own reads), or a PostgreSQL store through Arrow."""
    from crmctl.runtime.storage.duckdb_backend import DuckConnection

    if isinstance(store.connection, DuckConnection):
        with store.connection.cursor() as con:
            yield DuckSource(con)
        return
    source = PgSource(store.connection)
    try:
        yield source
    finally:
        source.close()


def export(store: Store, kind: str, options: ExportOptions, progress: Progress | None = None) -> ExportReport:
    """Export one kind of store content under `options.out`; `progress(done, total)` is called after each batch."""
    if kind not in EXPORTERS:
        raise ExportError(f"unknown export kind {kind!r}; one of {', '.join(EXPORTERS)}")
    probe_directory(options.out)
    import duckdb

    try:
        with _source(store) as source:
            where, params = _where(options, entity=kind != "events")
            total = (
                int(source.rows(f"SELECT count(*) FROM {_TABLES[kind]} WHERE {where}", params)[0][0])
                if kind in _TABLES
                else 0
            )
            done = 0

            def advance(rows: int) -> None:
                nonlocal done
                done += rows
                if progress is not None:
                    progress(done, total)

            datasets = EXPORTERS[kind](store, source, options, advance)
    except duckdb.Error as error:
        store_failure(store.path, error)
    return ExportReport(kind, options.format, str(options.out), datasets)
