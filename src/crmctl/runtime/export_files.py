"""Export's files: one sink per file (a temporary file moved into place on success), datasets of Hive partitions,
and the Arrow batches flowing from DuckDB into them (see `runtime.export`)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


from crmctl.model.files import AtomicFile
from crmctl.runtime.export_columns import csv_type
from crmctl.runtime.export_model import BATCH_ROWS, DatasetReport, ExportError, ExportFormat, ExportOptions

__all__ = ["Dataset", "probe_directory", "run_datasets", "stream_batches"]

_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


class _Sink:
    """One output file: written to a temporary file beside it, moved into place by `commit`."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: ExportFormat, metadata: Mapping[str, str]) -> None:
        self.path, self.rows, self.digests = path, 0, set[str]()
        try:
            self._file = AtomicFile(path, parents=True)  # the mode a user's file gets: crmctl.model.files
        except OSError as error:
            raise _unwritable(path.parent, error) from error
        temp = str(self._file.temp)
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
        self._file.commit()

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.abort()


def _unwritable(directory: Path, error: OSError) -> ExportError:
    return ExportError(
        f"cannot write the export to {directory}: {error.strerror or error}",
        hint="pass --out with a writable directory",
    )


def probe_directory(directory: Path) -> None:
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
    return "/".join(
        f"{quote(name, safe='')}={_NULL_PARTITION if value is None else quote(str(value), safe='')}"
        for name, value in keys
    )


class Dataset:
    """The files of one dataset (`root`), one per Hive partition; all committed together, or none."""

    def __init__(
        self,
        root: Path,
        stem: str,
        schema: pa.Schema,
        options: ExportOptions,
        metadata: Mapping[str, str],
        digest_column: str,
    ) -> None:
        import pyarrow as pa

        missing = [c for c in options.partition_by if c not in schema.names]
        nested = [
            c
            for c in options.partition_by
            if c in schema.names
            and (pa.types.is_struct(schema.field(c).type) or pa.types.is_list(schema.field(c).type))
        ]
        if missing or nested:
            raise ExportError(
                f"--partition-by {','.join(missing or nested)}: not a "
                f"{'column' if missing else 'scalar column'} of {root.name} "
                f"(columns: {', '.join(schema.names)})"
            )
        self.root, self.options, self.metadata, self.digest_column = root, options, metadata, digest_column
        self.stem = stem
        self.name = f"{stem}.{options.format}"
        self.schema = schema
        self.kept = [f.name for f in schema if f.name not in options.partition_by and f.name != "__digest"]
        self.file_schema = pa.schema([schema.field(name) for name in self.kept])
        if options.format == "csv":
            csv_schema = pa.schema([(f.name, csv_type(f.type)) for f in self.file_schema])
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
        plain = plain.cast(
            pa.schema([(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in plain.schema])
        )
        keys = (
            [()]
            if not parts
            else [tuple(row[c] for c in parts) for row in plain.group_by(list(parts)).aggregate([]).to_pylist()]
        )
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
                part = _flatten(part.cast(pa.schema([(f.name, csv_type(f.type)) for f in part.schema])))
            for out in part.to_batches():
                self._sink(key).write(out, digests)

    def finish(self, kind: str, name: str) -> DatasetReport:
        if not self.sinks and not self.options.partition_by:
            self._sink(())
        for sink in self.sinks.values():
            sink.commit()
        self._drop_stale({s.path for s in self.sinks.values()})
        files = sorted(str(s.path) for s in self.sinks.values())
        digests = sorted(set().union(*(s.digests for s in self.sinks.values())))
        return DatasetReport(kind, name, sum(s.rows for s in self.sinks.values()), files, digests)

    def _drop_stale(self, written: set[Path]) -> None:
        """Remove what an earlier export in this file format left in this dataset's directory: its data files (any
        partition) that this export did not write, and the partition directories they leave empty. The dataset's
        files of this format are then exactly this export, as a reader globbing `**/*.parquet` expects; other
        files (the other format's, anyone else's) stay."""
        root = self.root.resolve()
        stale = [
            p
            for p in self.root.rglob(self.name)
            if p not in written and p.is_file() and p.parent.resolve().is_relative_to(root)
        ]
        for path in stale:
            path.unlink(missing_ok=True)
            for directory in path.parents:
                if directory == self.root or self.root not in directory.parents:
                    break
                try:
                    directory.rmdir()  # only when empty
                except OSError:
                    break

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


def stream_batches(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> Iterator[pa.RecordBatch]:
    """The rows of `sql` as Arrow batches of `BATCH_ROWS`; a DuckDB error is an `ExportError`."""
    import duckdb

    try:
        yield from con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
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


def run_datasets(
    datasets: Iterator[tuple[Dataset, str, Iterator[pa.RecordBatch]]], kind: str, progress: Callable[[int], None]
) -> list[DatasetReport]:
    """Write each (dataset, name, batches) in turn, reading the next batch while writing one, and commit all the
    datasets' files together at the end; on any error, none of them is left behind."""
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
