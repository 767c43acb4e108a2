"""Time `crmctl records import` of LeadLifecycle v1 leads, in process: engine + store (docs/benchmarks.md).

    python benchmarks/import_bench.py [--rows 100000] [--repeat 3] [--seed 7] [--no-check]

Generates ROWS leads (deterministic for a seed; every row valid, about a tenth with a soft warning) as JSONL
and CSV, then times `read_rows` + `RecordService.import_rows` into a fresh DuckDB store per run: every row is
type-checked, its score calculated and its validations run, and records and log entries are written in Arrow
batches of 10,000 inside one transaction. The process is pinned to one CPU where the platform allows. Figures
are rows per second of wall time, the best of REPEAT runs per format (CPU time is printed too: on a
shared machine it shows what the import itself costs); the target (>= 20,000 rows/s for both formats) fails
the run with exit 1 unless --no-check.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET = 20_000
PACKAGE = Path(__file__).resolve().parents[1] / "packages" / "LeadLifecycle" / "v1"
COLUMNS = [
    "firstName",
    "lastName",
    "email",
    "phone",
    "company",
    "industry",
    "companySize",
    "annualRevenue",
    "status",
    "source",
    "nextFollowUp",
    "createdAt",
]
NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus"]
INDUSTRIES = ["software", "manufacturing", "finance", "healthcare", "retail", "other"]
SOURCES = ["web", "referral", "event", "partner", "coldCall"]


def leads(rows: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        first, last = rng.choice(NAMES), rng.choice(NAMES) + str(i)
        lead: dict[str, Any] = {
            "firstName": first,
            "lastName": last,
            "email": f"{first.lower()}.{i}@example.com",
            "company": f"Company {rng.randrange(5000)}",
            "industry": rng.choice(INDUSTRIES),
            "companySize": rng.randrange(1, 20000),
            "annualRevenue": round(rng.uniform(0, 5e6), 2),
            "status": "new",
            "source": rng.choice(SOURCES),
            "nextFollowUp": f"2026-12-{rng.randrange(1, 29):02d}",
            "createdAt": "2026-11-26T09:00:00Z",
        }
        if rng.random() < 0.5:
            lead["phone"] = f"+49 30 {rng.randrange(10**6, 10**7)}"
        if rng.random() < 0.1:
            lead["annualRevenue"] = 2e11  # implausible: a soft warning, still imported
        out.append(lead)
    return out


def write_files(directory: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    jsonl, table = directory / "leads.jsonl", directory / "leads.csv"
    with jsonl.open("w", encoding="utf-8") as handle:
        for i, row in enumerate(rows, start=1):
            handle.write(json.dumps({"id": f"lead-{i}", **row}) + "\n")
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *COLUMNS])
        for i, row in enumerate(rows, start=1):
            writer.writerow([f"lead-{i}", *(row.get(c, "") for c in COLUMNS)])
    return jsonl, table


def time_import(source: Path, directory: Path, run: int) -> tuple[float, float]:
    from crmctl.model.package import load_package
    from crmctl.runtime.record_files import read_rows
    from crmctl.runtime.record_service import RecordService
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

    package = load_package(PACKAGE)
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    with Store.open(directory / f"{source.suffix[1:]}-{run}.duckdb") as store:
        service = RecordService(Runtime(store, "bench"))
        engine = service.engine(package, "Lead")  # pins the package and compiles once, outside the timing
        started, cpu = time.perf_counter(), time.process_time()
        report = service.import_rows(package, "Lead", read_rows(source, engine), at)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if not report.ok or store.count_records("bench", "Lead") != report.rows:
            raise SystemExit(f"import failed: {report.to_json()['rejected'][:3]}")
    return elapsed, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    gc.disable()  # as `crmctl` runs its commands (cli/main.py): an import builds many acyclic dicts
    print(
        f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{args.rows:,} rows, seed {args.seed}, best of {args.repeat}"
    )
    missed = False
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        jsonl, table = write_files(directory, leads(args.rows, args.seed))
        for source in (jsonl, table):
            runs = [time_import(source, directory, run) for run in range(args.repeat)]
            times = [wall for wall, _ in runs]
            rate = args.rows / min(times)
            missed |= rate < TARGET
            print(
                f"{source.suffix[1:]:>6}: {rate:>9,.0f} rows/s  (best {min(times):.2f} s wall, "
                f"{min(cpu for _, cpu in runs):.2f} s CPU; runs {', '.join(f'{t:.2f}' for t in times)} s)"
            )
    if missed and not args.no_check:
        print(f"target missed: {TARGET:,} rows/s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
