"""`crmctl records import --jobs 1` against `--jobs 2`, side by side, and where the time goes (docs/benchmarks.md).

    python benchmarks/import_jobs.py [--rows 100000] [--repeat 2] [--seed 7] [--jobs 2]

Generates ROWS LeadLifecycle v1 leads (`import_bench.leads`: deterministic for a seed, all valid, about a
tenth with a soft warning) as JSONL and CSV, then for each format times `read_rows` + `RecordService.import_rows`
into a fresh DuckDB store with jobs=1 and jobs=JOBS (worker start-up included; the package is pinned and its
engine compiled before the clock starts, in both). Then it splits one jobs=1 import into its parts, all of them in
the parent except the validation: reading and converting the rows, validating them (`RecordEngine.check`, the
part the workers take over), and writing records and log entries through the store (`put_records` +
`append_events`: Arrow batches, canonical JSON and the hash chain). The rest is building the records and log
entries. The parent's share (everything but validation) bounds the speed-up: with validation free it would
be at most total / parent share. Figures are rows per second of wall time, best of REPEAT. On a shared machine
they are provisional; nothing is checked against a target (the CLI's figures come from `crmctl` itself).
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import PACKAGE, leads, write_files

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _timed(spent: dict[str, float], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    return timed


def time_import(source: Path, store_path: Path, jobs: int, parts: dict[str, float] | None = None) -> float:
    """Seconds of one import of `source`; with `parts`, the time spent reading, validating and writing too."""
    from crmctl.model.package import load_package
    from crmctl.runtime.record_files import read_rows
    from crmctl.runtime.record_service import RecordService
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

    package = load_package(PACKAGE)
    with Store.open(store_path) as store:
        service = RecordService(Runtime(store, "bench"))
        engine = service.engine(package, "Lead")
        rows: Iterator[Any] = read_rows(source, engine)
        if parts is not None:
            spent = parts
            engine.check = _timed(spent, "validate", engine.check)  # type: ignore[method-assign]
            store.put_records = _timed(spent, "write", store.put_records)  # type: ignore[method-assign]
            store.append_events = _timed(spent, "write", store.append_events)  # type: ignore[method-assign]
            rows = _timed_rows(spent, rows)
        started = time.perf_counter()
        report = service.import_rows(package, "Lead", rows, AT, jobs=jobs)
        elapsed = time.perf_counter() - started
        if not report.ok or store.count_records("bench", "Lead") != report.rows:
            raise SystemExit(f"import failed: {report.to_json()['rejected'][:3]}")
    return elapsed


def _timed_rows(spent: dict[str, float], rows: Iterator[Any]) -> Iterator[Any]:
    while True:
        started = time.perf_counter()
        row = next(rows, None)
        spent["read"] = spent.get("read", 0.0) + time.perf_counter() - started
        if row is None:
            return
        yield row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    gc.disable()  # as `crmctl` runs its commands (cli/main.py), and its workers (runtime/pool.py)
    print(
        f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{args.rows:,} rows, seed {args.seed}, best of {args.repeat}, jobs 1 against {args.jobs}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        jsonl, table = write_files(directory, leads(args.rows, args.seed))
        for source in (jsonl, table):
            kind = source.suffix[1:]
            best: dict[int, float] = {}
            for run in range(args.repeat):
                for jobs in (1, args.jobs):
                    elapsed = time_import(source, directory / f"{kind}-{jobs}-{run}.duckdb", jobs)
                    best[jobs] = min(best.get(jobs, elapsed), elapsed)
            one, many = best[1], best[args.jobs]
            print(
                f"{kind:>6}: jobs 1 {args.rows / one:>8,.0f} rows/s ({one:.2f} s)   jobs {args.jobs} "
                f"{args.rows / many:>8,.0f} rows/s ({many:.2f} s)   speed-up {one / many:.2f}x"
            )
            parts: dict[str, float] = {}
            total = time_import(source, directory / f"{kind}-parts.duckdb", 1, parts)
            rest = total - sum(parts.values())
            parent = total - parts["validate"]
            print(
                f"        one process, {total:.2f} s: read {parts['read']:.2f} s, validate {parts['validate']:.2f} s, "
                f"write {parts['write']:.2f} s, build {rest:.2f} s; the parent's share {parent:.2f} s bounds the "
                f"speed-up at {total / parent:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
