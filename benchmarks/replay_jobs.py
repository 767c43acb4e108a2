"""Time `crmctl replay --from-export LOG` with `--jobs 1` and `--jobs 2` side by side (docs/benchmarks.md).

    python benchmarks/replay_jobs.py [--events 50000] [--runs 3] [--seed 7]

The log is `runtime_bench`'s: seeded sessions of LeadLifecycle v1, written to a store and exported to Parquet (the
export carries its package copy, so the replay needs no store). Each run is the whole command line in a fresh
process (`python -m crmctl replay ... --format json`), so the workers' start, every worker reading its shard of
the export and the merge in the parent are all in the figure. Runs alternate between the two settings; the best of
`--runs` of each is reported, with the reports checked to be identical. Target: --jobs 2 at least 1.7 times as
fast as --jobs 1 on a 2-core machine. Exit 1 when it is missed, unless --no-check.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import runtime_bench  # noqa: E402 - the generator of the runtime benchmark, next to this file

TARGET = 1.7


def make_export(workdir: Path, events: int, seed: int) -> Path:
    from crmctl.model.package import load_package
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

    package = load_package(runtime_bench.PACKAGE)
    with Store.open(workdir / "gen.duckdb") as store:
        pool = runtime_bench.build_pool(runtime_bench.Generator(Runtime(store, "gen"), package, seed), events)
    export = workdir / "log.parquet"
    with Store.open(workdir / "log.duckdb") as store:
        Runtime(store, runtime_bench.TENANT).pin(package)
        runtime_bench.fill_store(store, pool, events)
        store.export_events(runtime_bench.TENANT, export)
    return export


def timed(export: Path, jobs: int) -> tuple[float, bytes]:
    argv = [sys.executable, "-m", "crmctl", "replay", "--from-export", str(export)]
    argv += ["--tenant", runtime_bench.TENANT, "--jobs", str(jobs), "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"--jobs {jobs}: exit {done.returncode}: {done.stderr.decode()[-600:]}")
    return elapsed, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    workdir = Path(tempfile.mkdtemp(prefix="crmctl-replay-jobs-", dir="/tmp"))
    try:
        export = make_export(workdir, args.events, args.seed)
        best = {1: float("inf"), 2: float("inf")}
        outputs = set()
        for _ in range(args.runs):
            for jobs in (1, 2):
                elapsed, output = timed(export, jobs)
                best[jobs] = min(best[jobs], elapsed)
                outputs.add(output)
        if len(outputs) != 1:
            sys.exit("--jobs 1 and --jobs 2 printed different reports")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    speedup = best[1] / best[2]
    print(f"\nReplay of an export of {args.events:,} events, whole command, best of {args.runs}:\n")
    print("| jobs | seconds | events/s |\n|---:|---:|---:|")
    for jobs, seconds in best.items():
        print(f"| {jobs} | {seconds:.2f} | {args.events / seconds:,.0f} |")
    print(f"\n--jobs 2 is {speedup:.2f}x --jobs 1 (target {TARGET}x)")
    return 1 if speedup < TARGET and not args.no_check else 0


if __name__ == "__main__":
    raise SystemExit(main())
