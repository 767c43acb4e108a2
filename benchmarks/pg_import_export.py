"""Import into and export from a PostgreSQL store, against the bare COPY of the same rows (docs/benchmarks.md).

    python benchmarks/pg_import_export.py [--rows 100000] [--repeat 3] [--seed 7]

Starts a throwaway PostgreSQL server (tests/postgres.PostgresServer: the binaries of Debian's postgresql package,
a private socket, fsync off) and, side by side in one process, best of --repeat:

(a) **import**: `RecordService.import_rows` (the code path of `crmctl records import`) of ROWS LeadLifecycle v1
    leads (import_bench's generator, JSONL) into a fresh PostgreSQL store, rows/s; against a bare binary
    `COPY ... FROM STDIN (FORMAT BINARY)` of the very rows the import stored (read back from the store as Arrow)
    into a plain table with the records table's columns and types, without key, policy or JSONB check
    (the physical limit of the path), written two ways: by psycopg row by row (a Python client's COPY), and by
    ADBC's bulk ingest (Arrow to COPY in C); and the same import into a DuckDB store, for context.
(b) **export**: `runtime.export.export(store, "records", ...)` (the code path of `crmctl export records`) from
    the PostgreSQL store to Parquet; against `COPY (SELECT <the records columns> FROM records WHERE ...) TO
    STDOUT (FORMAT BINARY)` of the same rows read to the end by psycopg (no decoding, no file); and the same
    export from the DuckDB store, for context.

Figures are rows per second of wall time. The machine's other load counts: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
PACKAGE = HERE.parent / "packages" / "LeadLifecycle" / "v1"
TENANT = "bench"


def best(repeat: int, run: Callable[[int], float]) -> float:
    return min(run(i) for i in range(repeat))


def import_into(target: Any, source: Path) -> float:
    from crmctl.model.package import load_package
    from crmctl.runtime.record_files import read_rows
    from crmctl.runtime.record_service import RecordService
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

    package = load_package(PACKAGE)
    with Store.open(target) as store:
        service = RecordService(Runtime(store, TENANT))
        engine = service.engine(package, "Lead")
        started = time.perf_counter()
        report = service.import_rows(package, "Lead", read_rows(source, engine), datetime(2026, 11, 26, 9, tzinfo=UTC))
        elapsed = time.perf_counter() - started
        if not report.ok or store.count_records(TENANT, "Lead") != report.rows:
            raise SystemExit("import failed")
    return elapsed


def stored_rows(url: Any) -> Any:
    """The records the import stored, as one Arrow table (the store's schema, JSON as text)."""
    import pyarrow as pa

    from crmctl.runtime.storage.table_rows import table_rows
    from crmctl.runtime.store import Store

    with Store.open(url, read_only=True) as store, table_rows(store.connection, "records") as batches:
        return pa.Table.from_batches(list(batches))


PLAIN = (
    "CREATE TABLE {name} (tenant text, entity text, id text, package_name text, package_version text, "
    "package_digest text, data jsonb, revision integer, created_at timestamptz, updated_at timestamptz)"
)
TYPES = ["text", "text", "text", "text", "text", "text", "jsonb", "int4", "timestamptz", "timestamptz"]


def copy_psycopg(url: str, table: Any, name: str) -> float:
    import psycopg

    rows = list(zip(*(c.to_pylist() for c in table.columns), strict=True))
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(PLAIN.format(name=name))
        started = time.perf_counter()
        with con.cursor() as cursor, cursor.copy(f"COPY {name} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(TYPES)
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started


def copy_adbc(url: str, table: Any, name: str) -> float:
    import adbc_driver_postgresql.dbapi as adbc
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(PLAIN.format(name=name).replace(" jsonb", " text"))  # ADBC ingests strings as text
    with adbc.connect(url) as con, con.cursor() as cursor:
        started = time.perf_counter()
        cursor.adbc_ingest(name, table, mode="append")
        con.commit()
        return time.perf_counter() - started


def export_from(target: Any, out: Path) -> float:
    from crmctl.runtime.export import ExportOptions, export
    from crmctl.runtime.store import Store

    with Store.open(target, read_only=True) as store:
        started = time.perf_counter()
        export(store, "records", ExportOptions(out, tenant=TENANT, entity="Lead"))
        return time.perf_counter() - started


def copy_out(url: str) -> float:
    import psycopg

    columns = (
        "tenant, entity, id, package_name, package_version, package_digest, data, revision, created_at, updated_at"
    )
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("BEGIN")
        con.execute("SELECT set_config('crmctl.tenant', %s, true)", [TENANT])
        started = time.perf_counter()
        with (
            con.cursor() as cursor,
            cursor.copy(
                f"COPY (SELECT {columns} FROM records WHERE tenant = '{TENANT}' AND entity = 'Lead' "
                'ORDER BY tenant COLLATE "C", id COLLATE "C") TO STDOUT (FORMAT BINARY)'
            ) as copy,
        ):
            for _ in copy:
                pass
        elapsed = time.perf_counter() - started
        con.execute("ROLLBACK")
        return elapsed


def main(argv: list[str] | None = None) -> int:
    import import_bench
    from tests.postgres import PostgresServer, find_binaries

    from crmctl.runtime.store import locate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    binaries = find_binaries()
    if binaries is None:
        raise SystemExit("no PostgreSQL binaries: apt-get install postgresql")
    work = Path(tempfile.mkdtemp(prefix="crmctl-pg-bench-"))
    server = PostgresServer(binaries).start()
    try:
        jsonl, _ = import_bench.write_files(work, import_bench.leads(args.rows, args.seed))
        urls = [server.fresh_url() for _ in range(args.repeat)]
        pg_import = best(args.repeat, lambda i: import_into(locate(urls[i]), jsonl))
        duck_import = best(args.repeat, lambda i: import_into(work / f"d{i}.duckdb", jsonl))
        table = stored_rows(locate(urls[0]))
        plain = best(args.repeat, lambda i: copy_psycopg(urls[0], table, f"plain_{i}"))
        ingest = best(args.repeat, lambda i: copy_adbc(urls[0], table, f"ingest_{i}"))
        pg_export = best(args.repeat, lambda i: export_from(locate(urls[0]), work / f"pe{i}"))
        duck_export = best(args.repeat, lambda i: export_from(work / "d0.duckdb", work / f"de{i}"))
        raw_out = best(args.repeat, lambda i: copy_out(urls[0]))
        n = args.rows
        print(f"# {platform.platform()}, {n} rows, best of {args.repeat}")
        for label, seconds in (
            ("import into PostgreSQL (crmctl)", pg_import),
            ("  bare binary COPY, psycopg write_row", plain),
            ("  bare binary COPY, ADBC ingest", ingest),
            ("  import into DuckDB (crmctl), context", duck_import),
            ("export PostgreSQL -> Parquet (crmctl)", pg_export),
            ("  COPY (SELECT ...) TO STDOUT (binary)", raw_out),
            ("  export DuckDB -> Parquet (crmctl), context", duck_export),
        ):
            print(f"{label:48s} {n / seconds:>12,.0f} rows/s  ({seconds:.2f} s)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
