"""Time `crmctl export records --format parquet` against DuckDB's own COPY of the same rows (docs/benchmarks.md).

    python benchmarks/export_bench.py [--records 1000000] [--repeat 3] [--seed 7] [--store PATH] [--no-check]

The store is filled with N LeadLifecycle v1 leads (seeded values of every field type the entity has: text,
enum, integer number, currency, reference, date, datetime, calculated number), written with `Store.put_records`
in batches of 100,000 (the data JSON exactly as stored). Then, side by side in one process, best of --repeat:

(a) **DuckDB COPY, json_extract**: `COPY (SELECT <the same columns> FROM records WHERE tenant = ? AND
    entity = 'Lead') TO 'x.parquet' (FORMAT parquet)`, where every field is cast from
    `json_extract_string(data, '$.field')` to the type of the export's mapping (VARCHAR, BIGINT, DECIMAL(38,2),
    DOUBLE, DATE, TIMESTAMPTZ; enums as VARCHAR: DuckDB writes no Arrow dictionary type): the same rows in the
    same order, typed columns;
(a') **DuckDB COPY, json_transform**: the same, each document parsed once by `json_transform` (the SQL crmctl
    itself runs): the strictest baseline;
(b) **crmctl**: `runtime.export.export(store, "records", ...)`, the code path of `crmctl export records`.

Both files are read back and compared (row count and values). Target: crmctl's rate >= 80 % of DuckDB's
(ratio = DuckDB seconds / crmctl seconds) against both baselines; exit 1 when it is missed, unless --no-check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
PACKAGE = HERE.parent / "packages" / "LeadLifecycle" / "v1"
TENANT = "bench"
FILL_BATCH = 100_000
TARGET = 0.8
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Jörg", "Ming", "Aisha")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Müller", "Chen", "Khan")
COMPANIES = ("ACME", "Initech", "Globex", "Umbrella GmbH", "Stark Industries", "Wayne Enterprises")
# (field, DuckDB type) of LeadLifecycle v1's Lead, as the export maps them.
COLUMNS = (
    ("annualRevenue", "DECIMAL(38,2)"),
    ("company", "VARCHAR"),
    ("companySize", "BIGINT"),
    ("createdAt", "TIMESTAMPTZ"),
    ("email", "VARCHAR"),
    ("firstName", "VARCHAR"),
    ("industry", "VARCHAR"),
    ("lastName", "VARCHAR"),
    ("nextFollowUp", "DATE"),
    ("owner", "VARCHAR"),
    ("phone", "VARCHAR"),
    ("score", "DOUBLE"),
    ("source", "VARCHAR"),
    ("status", "VARCHAR"),
)


def _lead(rng: random.Random, i: int) -> dict[str, object]:
    lead: dict[str, object] = {
        "firstName": rng.choice(FIRST),
        "lastName": rng.choice(LAST),
        "status": rng.choice(("new", "contacted", "qualified", "disqualified")),
    }
    if rng.random() < 0.9:
        lead["email"] = f"lead{i}@example.com"
        lead["company"] = rng.choice(COMPANIES)
        lead["industry"] = rng.choice(("software", "manufacturing", "finance", "healthcare", "retail", "other"))
        lead["companySize"] = rng.randrange(1, 5000)
        lead["annualRevenue"] = round(rng.uniform(0, 5e6), 2)
        lead["source"] = rng.choice(("web", "referral", "event", "partner", "coldCall"))
        lead["score"] = float(rng.choice((0, 15, 20, 35, 40, 55, 70, 90)))
    if rng.random() < 0.5:
        lead["phone"] = f"+49 30 {rng.randrange(10**6, 10**7)}"
        lead["owner"] = f"user-{rng.randrange(50)}"
        lead["nextFollowUp"] = f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        lead["createdAt"] = f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T10:{rng.randrange(60):02d}:00Z"
    return lead


def fill(store_path: Path, records: int, seed: int) -> float:
    from crmctl.model.package import load_package
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store, StoredRecord

    rng = random.Random(seed)
    started = time.perf_counter()
    with Store.open(store_path) as store:
        ref = Runtime(store, TENANT).pin(load_package(PACKAGE))
        for start in range(0, records, FILL_BATCH):
            batch = [
                StoredRecord(
                    TENANT,
                    "Lead",
                    f"lead-{i:08d}",
                    ref.name,
                    ref.version,
                    ref.digest,
                    _lead(rng, i),
                    1,
                    "2026-11-26T10:00:00Z",
                    "2026-11-26T10:00:00Z",
                )
                for i in range(start, min(start + FILL_BATCH, records))
            ]
            store.put_records(batch)
        store.connection.all("CHECKPOINT")
    return time.perf_counter() - started


def duckdb_copy(store_path: Path, target: Path, *, parse_once: bool = False) -> float:
    import duckdb

    extras = "id, tenant, entity, package_name, package_version, package_digest, revision, created_at, updated_at"
    if parse_once:
        structure = json.dumps({name: kind for name, kind in COLUMNS})
        fields = ", ".join(f'_v."{name}" AS "{name}"' for name, _ in COLUMNS)
        source = f"(SELECT *, json_transform(data, '{structure}') AS _v FROM records)"
    else:
        fields = ", ".join(
            f"CAST(json_extract_string(data, '$.{name}') AS {kind}) AS \"{name}\"" for name, kind in COLUMNS
        )
        source = "records"
    query = f"SELECT {extras}, {fields} FROM {source} WHERE tenant = '{TENANT}' AND entity = 'Lead'"
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'").fetchall()
        started = time.perf_counter()
        con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet)").fetchall()
        return time.perf_counter() - started
    finally:
        con.close()


def crmctl_export(store_path: Path, out: Path) -> float:
    from crmctl.runtime.export import ExportOptions, export
    from crmctl.runtime.store import Store

    started = time.perf_counter()
    with Store.open(store_path, read_only=True) as store:
        export(store, "records", ExportOptions(out, "parquet", tenant=TENANT, entity="Lead"))
    return time.perf_counter() - started


def compare(baseline: Path, ours: Path) -> None:
    import pyarrow.parquet as pq

    theirs, mine = pq.read_table(baseline), pq.read_table(ours)
    if theirs.num_rows != mine.num_rows:
        raise SystemExit(f"row counts differ: DuckDB {theirs.num_rows}, crmctl {mine.num_rows}")
    for name in ("id", "annualRevenue", "companySize", "createdAt", "nextFollowUp", "score", "industry"):
        a, b = theirs.column(name).slice(0, 50_000), mine.column(name).slice(0, 50_000)
        if a.to_pylist() != b.cast(a.type).to_pylist():
            raise SystemExit(f"column {name} differs between the two files")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", type=Path, help="keep (and reuse) the filled store here")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crmctl-export-bench-"))
    try:
        store_path = args.store or work / "store.duckdb"
        if not store_path.exists():
            print(f"filling {args.records:,} records: {fill(store_path, args.records, args.seed):.1f} s")
        size = sum(f.stat().st_size for f in [store_path] if f.exists()) / 1e6
        theirs, once, ours = [], [], []
        for run in range(args.repeat):
            theirs.append(duckdb_copy(store_path, work / f"duckdb-{run}.parquet"))
            once.append(duckdb_copy(store_path, work / f"duckdb-once-{run}.parquet", parse_once=True))
            ours.append(crmctl_export(store_path, work / f"crmctl-{run}"))
        ours_file = work / "crmctl-0" / "records" / "Lead" / "part-0.parquet"
        compare(work / "duckdb-0.parquet", ours_file)
        compare(work / "duckdb-once-0.parquet", ours_file)
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, store {size:.0f} MB")
        print(f"{'':28}{'best s':>9}{'rows/s':>12}   runs")
        rows = (("DuckDB COPY, json_extract", theirs), ("DuckDB COPY, json_transform", once), ("crmctl export", ours))
        for label, times in rows:
            print(
                f"{label:28}{min(times):9.2f}{args.records / min(times):12,.0f}   "
                + ", ".join(f"{t:.2f}" for t in times)
            )
        ratios = [min(t) / min(ours) for t in (theirs, once)]
        print(
            f"ratio (DuckDB time / crmctl time): {ratios[0]:.2f} (json_extract), {ratios[1]:.2f} (json_transform);"
            f" target >= {TARGET}"
        )
        return 0 if min(ratios) >= TARGET or args.no_check else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
