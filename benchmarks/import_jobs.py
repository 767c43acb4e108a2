"""`crmctl records import --jobs 1` against `--jobs 2`, side by side, and where the time goes (docs/benchmarks.md).

    python benchmarks/import_jobs.py [--rows 100000] [--repeat 2] [--seed 7] [--jobs 2]

Generates ROWS LeadLifecycle v1 leads (`import_bench.leads`: deterministic for a seed, all valid, about a
tenth with a soft warning) as JSONL and CSV, then for each format times `read_rows` + `RecordService.import_rows`
into a fresh DuckDB store with jobs=1 and jobs=JOBS (worker start-up included; the package is pinned and its
engine compiled before the clock starts, in both). Then it splits one jobs=1 import into its parts, with timers:

- split (parent): reading the file into raw rows (`RowFile.items`: lines; CSV records with the csv module);
- convert, check, encode (what the workers take over): JSON parsing or cell conversion (`row_converter`),
  validation and building the record's data text and the log entry's encoded body (`row_checks._encode`);
- write (parent): `Records.create_encoded` + `EventLog.append_encoded` (the hash chain, Arrow batches, DuckDB);
- loop (parent): the rest, the import's own loop over the rows.

The parent's share (split + write + loop, per row in microseconds) bounds the speed-up: with the workers' part
free it would be at most total / parent share (pickling the chunks and results, not counted, lowers it). Figures
are rows per second of wall time, best of REPEAT, with the CPU time of this process and of its workers: on a
shared machine wall times are provisional (compare the ratios of one run), and the CPU times give the speed-up
two idle cores would show, CPU of jobs 1 / max(this process's CPU, all CPU / JOBS). The parts are CPU times of
this process (timers included: a few microseconds a row).

With --jobs 2, each pair of imports is followed by the machine's own baseline (`machine_ratio`): the work the pool
divides (converting, checking and encoding the first 40,000 rows) done by one fresh process alone, then by two at
once, without a pool. On a virtual machine two busy vCPUs rarely give twice the throughput of one; that ratio,
measured beside each pair, is the ceiling of the import's speed-up, and the import's ratio over it is what the
pool achieves of it. On Linux each jobs-2 import also reports the machine's idle share while it ran (from
/proc/stat: the part of two cores the import left unused) and its steal share (the part the hypervisor gave to
other guests: the machine's drift, seen from inside). Nothing is checked against a target.
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import PACKAGE, leads, write_files

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MACHINE_ROWS = 40_000  # rows of the machine baseline (each of its three processes converts, checks, encodes them)


def _timed(spent: dict[str, float], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - started

    return timed


def cpu_shares() -> tuple[int, int, int] | None:
    """The machine's CPU time so far, in clock ticks: idle (iowait included), stolen by the hypervisor, and all;
    None where /proc/stat is not there."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle, iowait, steal = fields[3], fields[4], fields[7]  # after user, nice, system; before irq, softirq
    return idle + iowait, steal, sum(fields)


def shares_between(before: tuple[int, int, int] | None, after: tuple[int, int, int] | None) -> str:
    """The idle and steal shares of the machine between two `cpu_shares`, as text."""
    if before is None or after is None or after[2] == before[2]:
        return "idle -, steal -"
    idle, steal, total = (a - b for a, b in zip(after, before, strict=True))
    return f"idle {idle / total:.0%}, steal {steal / total:.0%}"


def time_import(
    source: Path, store_path: Path, jobs: int, parts: dict[str, float] | None = None
) -> tuple[float, float, float]:
    """Seconds of one import of `source`: wall time, this process's CPU time, its workers' CPU time; with `parts`,
    the CPU time spent in each part (jobs=1) too."""
    from crmctl.model.package import load_package
    from crmctl.runtime import record_files, row_checks
    from crmctl.runtime.record_service import RecordService
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

    package = load_package(PACKAGE)
    with Store.open(store_path) as store, _parts_timed(parts, record_files, row_checks, store):
        service = RecordService(Runtime(store, "bench"))
        engine = service.engine(package, "Lead")
        rows = record_files.read_rows(source, engine)
        before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        report = service.import_rows(package, "Lead", rows, AT, jobs=jobs)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        if not report.ok or store.count_records("bench", "Lead") != report.rows:
            raise SystemExit(f"import failed: {report.to_json()['rejected'][:3]}")
    cpu = [a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True)]
    return elapsed, cpu[0], cpu[1]


def _prepared_work(source: Path, store_path: Path, limit: int) -> list[list[Any]]:
    """The first `limit` raw rows of `source` in the pool's chunks, with this process set up as a pool worker is
    (`row_checks._setup`: the pinned copy loaded, its engine compiled, the rows' conversion)."""
    from crmctl.model.package import load_package
    from crmctl.runtime import record_files, row_checks
    from crmctl.runtime.pool import chunked
    from crmctl.runtime.record_service import RecordService
    from crmctl.runtime.service import Runtime, iso
    from crmctl.runtime.store import Store

    package = load_package(PACKAGE)
    with Store.open(store_path) as store:
        service = RecordService(Runtime(store, "bench"))
        ref = service.runtime.pin(package)
        engine = service.engine(package, "Lead", ref.digest)
        blob = store.get_package(ref.digest)
    assert blob is not None
    rows = record_files.read_rows(source, engine)
    with closing(rows.items()) as items:
        raw = list(islice(items, limit))
    writing = row_checks.RowWriting("bench", ref.to_json(), AT, iso(AT))
    row_checks._setup(ref.digest, blob, "Lead", engine.locale, writing, rows.plan)
    return list(chunked(raw, row_checks.CHUNK_ROWS))


def _work(chunks: list[list[Any]]) -> float:
    """Seconds to convert, check and encode `chunks` here, as a worker does (what the pool divides)."""
    from crmctl.runtime import row_checks

    started = time.perf_counter()
    for chunk in chunks:
        row_checks._encode_chunk(chunk)
    return time.perf_counter() - started


def _copy(source: Path, store_path: Path, limit: int, ready: Any, results: Any) -> None:
    """A process of the machine baseline: set up, warm up, then the work once every copy is ready."""
    gc.disable()
    chunks = _prepared_work(source, store_path, limit)
    _work(chunks[:1])
    ready.wait()
    results.put(_work(chunks))


def machine_ratio(source: Path, directory: Path, limit: int) -> float:
    """What this machine gives for the pool's own work: throughput of two processes doing it at once over one
    process doing it alone, each a fresh spawned process, set up and warmed before the clock starts (no pool,
    nothing exchanged), on the first `limit` rows of `source`. The ceiling of the import's speed-up with two jobs,
    measured beside it."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")

    def seconds(count: int) -> float:
        ready, results = context.Barrier(count + 1), context.Queue()
        copies = [
            context.Process(
                target=_copy,
                args=(source, directory / f"machine-{count}-{i}.duckdb", limit, ready, results),
                daemon=True,
            )
            for i in range(count)
        ]
        for copy in copies:
            copy.start()
        ready.wait(timeout=300)  # a copy that failed to set up breaks the barrier: this run fails, no hang
        started = time.perf_counter()
        for _ in copies:
            results.get(timeout=600)
        elapsed = time.perf_counter() - started
        for copy in copies:
            copy.join()
        return elapsed

    alone = seconds(1)
    return 2 * alone / seconds(2)


@contextmanager
def _parts_timed(parts: dict[str, float] | None, record_files: Any, row_checks: Any, store: Any) -> Iterator[None]:
    """With `parts`: timers around each part of an import in this process (module functions patched meanwhile)."""
    if parts is None:
        yield
        return
    spent = parts
    saved = (record_files.RowFile.items, record_files.row_converter, row_checks._encode)
    items, row_converter, encode = saved

    def timed_items(self: Any) -> Iterator[Any]:
        rows = items(self)
        while True:
            started = time.process_time()
            row = next(rows, None)
            spent["split"] = spent.get("split", 0.0) + time.process_time() - started
            if row is None:
                return
            yield row

    def timed_converter(plan: Any, engine: Any) -> Callable[..., Any]:
        return _timed(spent, "work", row_converter(plan, engine))

    record_files.RowFile.items = timed_items
    record_files.row_converter = timed_converter
    row_checks._encode = _timed(spent, "work", encode)
    store.records.create_encoded = _timed(spent, "write", store.records.create_encoded)
    store.log.append_encoded = _timed(spent, "write", store.log.append_encoded)
    try:
        yield
    finally:
        record_files.RowFile.items, record_files.row_converter, row_checks._encode = saved


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
            best: dict[int, tuple[float, float, float]] = {}
            pairs: list[float] = []  # each run's jobs 1 / jobs 2, the two imports one after the other
            machine: list[float] = []  # each run's machine baseline (`machine_ratio`), measured right after them
            shares: list[str] = []  # the machine's idle and steal shares during each run's jobs-N import
            for run in range(args.repeat):
                walls = []
                for jobs in (1, args.jobs):
                    before = cpu_shares()
                    timed = time_import(source, directory / f"{kind}-{jobs}-{run}.duckdb", jobs)
                    if jobs > 1:
                        shares.append(shares_between(before, cpu_shares()))
                    best[jobs] = min(best.get(jobs, timed), timed)
                    walls.append(timed[0])
                pairs.append(walls[0] / walls[1])
                if args.jobs == 2:
                    machine.append(machine_ratio(source, directory, min(args.rows, MACHINE_ROWS)))
            (one, one_cpu, _), (many, parent_cpu, workers_cpu) = best[1], best[args.jobs]
            idle = max(parent_cpu, (parent_cpu + workers_cpu) / args.jobs)
            print(
                f"{kind:>6}: jobs 1 {args.rows / one:>8,.0f} rows/s ({one:.2f} s, CPU {one_cpu:.2f} s)   "
                f"jobs {args.jobs} {args.rows / many:>8,.0f} rows/s ({many:.2f} s, CPU {parent_cpu:.2f} s here + "
                f"{workers_cpu:.2f} s in workers)   speed-up {one / many:.2f}x wall, {one_cpu / idle:.2f}x on "
                f"{args.jobs} idle cores (CPU jobs 1 / max(this process, all / {args.jobs})); each run's pair: "
                f"{', '.join(f'{ratio:.2f}x' for ratio in pairs)}, median {statistics.median(pairs):.2f}x"
            )
            print(f"        the machine while jobs {args.jobs} ran, each run: {'; '.join(shares)}")
            if machine:
                print(
                    f"        the machine: two processes doing the same work at once, each run: "
                    f"{', '.join(f'{ratio:.2f}x' for ratio in machine)}, median {statistics.median(machine):.2f}x "
                    f"the throughput of one; the import's speed-up over it, median "
                    f"{statistics.median(p / m for p, m in zip(pairs, machine, strict=True)):.0%}"
                )
            parts: dict[str, float] = {}
            _, total, _ = time_import(source, directory / f"{kind}-parts.duckdb", 1, parts)
            loop = total - sum(parts.values())
            parent = total - parts["work"]
            per_row = 1e6 / args.rows
            print(
                f"        one process, CPU {total:.2f} s: split {parts['split']:.2f} s, convert+check+encode "
                f"{parts['work']:.2f} s, write {parts['write']:.2f} s, loop {loop:.2f} s; the parent's share "
                f"{parent:.2f} s ({parts['split'] * per_row:.1f} + {parts['write'] * per_row:.1f} + "
                f"{loop * per_row:.1f} = {parent * per_row:.1f} us a row) bounds the speed-up at {total / parent:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
