"""Many writers on one PostgreSQL store, and replay from PostgreSQL beside DuckDB (docs/benchmarks.md).

    python benchmarks/pg_bench.py [--writers 8] [--seconds 60] [--tenants 1] [--events 10000,100000,1000000]
    python benchmarks/pg_bench.py --quick          # 4 writers for 5 s; replay at 2,000 and 10,000 events

A throwaway server is started from the PostgreSQL binaries on the machine (tests/postgres.py: a private socket,
fsync, synchronous_commit and full_page_writes OFF, so the figures are the store's and the CPU's, not the disk's).

1. **Concurrent writers**: `--writers` processes (spawned) each open the store and append for `--seconds` through
   `Store.append_events`, one event per transaction as `crmctl simulate` writes them, to one tenant (every writer
   on the same chain: the worst case) or spread over `--tenants`. Events per second in total; afterwards every
   chain is verified, its seq numbers dense, and its length the sum of what the writers acknowledged.
2. **Replay**: logs of N events of LeadLifecycle v1 form sessions (runtime_bench's generator; longer logs repeat its
   pool under new session ids) appended in batches, then `replay` of `store.events(tenant)`, from PostgreSQL and
   from DuckDB side by side; events per second of wall time (and of the replaying process's CPU time).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "src"))

import runtime_bench  # noqa: E402  (the generator and the replay timing, shared with the DuckDB figures)

BODY = {"kind": "bench", "event": {"type": "change"}, "effects": []}


def _writer(url: str, tenant: str, seconds: float, start: float, name: str) -> int:
    """Append one event per transaction until `seconds` after `start`; the number appended."""
    from crmctl.runtime.storage.locator import locate
    from crmctl.runtime.store import Store

    done = 0
    with Store.open(locate(url)) as store:
        while time.time() < start:
            time.sleep(0.01)
        while time.time() < start + seconds:
            store.append_events(tenant, [{**BODY, "session": f"{name}-{done // 10}", "at": "2026-11-26T09:00:00Z"}])
            done += 1
    return done


def concurrent_writers(url: str, writers: int, seconds: float, tenants: int) -> None:
    from crmctl.runtime.storage.locator import locate
    from crmctl.runtime.store import Store

    with Store.open(locate(url)):
        pass  # created before the writers start
    names = [f"t{n % tenants}" for n in range(writers)]
    start = time.time() + 3  # every process imported and connected before the clock starts
    with multiprocessing.get_context("spawn").Pool(writers) as pool:
        counts = pool.starmap(_writer, [(url, names[n], seconds, start, f"w{n}") for n in range(writers)])
    total = sum(counts)
    with Store.open(locate(url), read_only=True) as store:
        for tenant in sorted(set(names)):
            head = store.head(tenant)
            expected = sum(c for c, t in zip(counts, names, strict=True) if t == tenant)
            problems = store.verify_log(tenant)
            assert not problems and head is not None and head[0] == expected, (tenant, head, expected, problems)
    print(
        f"\n{writers} writers for {seconds:g} s on {tenants} tenant(s): {total:,} events, {total / seconds:,.0f} "
        f"events/s in total ({min(counts):,}..{max(counts):,} per writer); every chain verified, dense, complete"
    )


def replay_side_by_side(url: str, workdir: Path, sizes: list[int], seed: int) -> None:
    from crmctl.model.package import load_package
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.storage.locator import locate
    from crmctl.runtime.store import Store

    package = load_package(runtime_bench.PACKAGE)
    with Store.open(workdir / "gen.duckdb") as store:
        generator = runtime_bench.Generator(Runtime(store, runtime_bench.TENANT), package, seed)
        pool = runtime_bench.build_pool(generator, min(100_000, max(sizes)))
    print("\nReplay of store.events, events per second of wall time (and of CPU time), and the fill:\n")
    print("| events | PostgreSQL | DuckDB | fill PostgreSQL (s) | fill DuckDB (s) |")
    print("|---:|---:|---:|---:|---:|")
    for size in sizes:
        figures = []
        for target in (locate(_schema(url, f"r{size}")), workdir / f"log{size}.duckdb"):
            with Store.open(target) as store:
                Runtime(store, runtime_bench.TENANT).pin(package)
                fill = runtime_bench.fill_store(store, pool, size)
                wall, cpu = runtime_bench.timed_replay(
                    Runtime(store, runtime_bench.TENANT), store.events(runtime_bench.TENANT), size
                )
            figures.append((wall, cpu, fill))
        (pw, pc, pf), (dw, dc, df) = figures
        print(f"| {size:,} | {pw:,.0f} ({pc:,.0f}) | {dw:,.0f} ({dc:,.0f}) | {pf:.1f} | {df:.1f} |", flush=True)
        (workdir / f"log{size}.duckdb").unlink()


def _schema(url: str, name: str) -> str:
    """`url` with a schema of its own first on the search path (created if need be)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
    return url + "&options=" + f"-csearch_path%3D{name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tenants", type=int, default=1, help="spread the writers over this many tenants")
    parser.add_argument("--events", default="10000,100000,1000000", help="replay log sizes, comma separated")
    parser.add_argument("--quick", action="store_true", help="4 writers for 5 s; replay at 2,000 and 10,000")
    parser.add_argument("--skip", choices=["writers", "replay"], help="leave one part out")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    writers, seconds = (4, 5.0) if args.quick else (args.writers, args.seconds)
    sizes = [2_000, 10_000] if args.quick else [int(s.replace("_", "")) for s in args.events.split(",")]

    from tests.postgres import SKIP_REASON, PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        sys.exit(SKIP_REASON)
    server = PostgresServer(binaries).start()
    workdir = Path(tempfile.mkdtemp(prefix="crmctl-pg-bench-", dir="/tmp"))
    try:
        version = binaries.parent.name
        print(
            f"Python {platform.python_version()}, PostgreSQL {version} (fsync off, synchronous_commit off), "
            f"{os.cpu_count()} CPUs"
        )
        if args.skip != "writers":
            concurrent_writers(server.fresh_url(), writers, seconds, args.tenants)
        if args.skip != "replay":
            replay_side_by_side(server.url(), workdir, sizes, args.seed)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
