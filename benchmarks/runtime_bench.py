"""Time the form runtime: one change event through `Session.apply`, and replay of event logs (docs/benchmarks.md).

    python benchmarks/runtime_bench.py [--events 10000,100000,1000000] [--quick] [--pool 100000] [--seed 7]

Sessions of LeadLifecycle v1 are generated with a seeded random: load, about ten changes of fields that fire
rules and the calculated `score` (company, companySize, annualRevenue, source, email, industry, ...), next and
back now and then, and a submit at the end of most sessions; refused events (a value not offered, say) are
dropped, as a client would never log them. Roles and locales vary too.

1. **Change event latency**: `Session.apply` alone, in process, on the change events of the generated sessions,
   after a warm-up of 200 sessions, cyclic GC on (as in a long-running server); p50, p90, p99 and max in
   microseconds, wall clock and the thread's CPU time. Target: p99 (wall) < 1 ms.
2. **Replay**: logs of N events with entries shaped exactly as `service.Runtime` writes them. Two rates:
   `engine` replays an in-memory list of the entries (already JSON-decoded, as `store.events` yields them);
   `from store` replays `store.events(tenant)` of a DuckDB store filled with `append_events` in batches of 5,000,
   so it includes reading and decoding. Both run with the cyclic GC off, as `crmctl replay` does (--gc keeps it).
   Rates are given per second of wall time and of CPU time (the process's, all threads). Target: >= 20,000
   events/s (CPU time) on one core, linear in N.

The pure session generates up to `--pool` events of distinct sessions; longer logs repeat that pool under new
session ids (sessions are independent, so the replay work per event is the same). Every replay must reproduce
every recorded effect: a divergence fails the run. Exit 1 when a target is missed unless --no-check.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "packages" / "LeadLifecycle" / "v1"
TENANT = "bench"
BATCH = 5_000
LATENCY_TARGET_US = 1_000.0
REPLAY_TARGET = 20_000.0
KEEP_GC = False
ROLES = ("salesRep", "salesRep", "salesManager", "marketing")
LOCALES = ("en", "en", "de")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Jörg", "Ming", "Aisha")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Müller", "Chen", "Khan")
COMPANIES = ("ACME", "Initech", "Globex", "Umbrella GmbH", "Stark Industries", "", "Wayne Enterprises")


def _value(rng: random.Random, name: str) -> Any:
    """A plausible value for a Lead field; now and then a wrong or empty one, as people type."""
    if name == "firstName":
        return rng.choice(FIRST)
    if name == "lastName":
        return rng.choice(LAST)
    if name == "email":
        return rng.choice((f"{rng.choice(FIRST).lower()}@example.com", "not-an-email", "", "x@corp.de"))
    if name == "phone":
        return rng.choice((f"+49 {rng.randint(100000, 999999)}", "", f"+1 555 {rng.randint(1000, 9999)}"))
    if name == "company":
        return rng.choice(COMPANIES)
    if name == "companySize":
        return rng.choice((rng.randint(1, 9), rng.randint(10, 300), rng.randint(300, 20000)))
    if name == "annualRevenue":
        return rng.choice((round(rng.uniform(1e4, 9e4), 2), round(rng.uniform(1e5, 2e6), 2), 6e7))
    if name == "source":
        return rng.choice(("web", "referral", "event", "partner", "coldCall"))
    if name == "industry":
        return rng.choice(("software", "manufacturing", "finance", "healthcare", "retail", "other"))
    if name == "nextFollowUp":
        return f"2026-12-{rng.randint(1, 28):02d}"
    return None


CHANGED = (
    "firstName",
    "lastName",
    "email",
    "phone",
    "company",
    "company",
    "companySize",
    "companySize",
    "annualRevenue",
    "annualRevenue",
    "source",
    "source",
    "industry",
    "nextFollowUp",
)


class Generator:
    """Runs the pure session in memory and yields log bodies shaped like `Runtime._step` writes them."""

    def __init__(self, runtime: Any, package: Any, seed: int) -> None:
        self.rng = random.Random(seed)
        self.configs = {
            (role, locale): runtime.configure(package, entity=None, form=None, role=role, locale=locale)
            for role in set(ROLES)
            for locale in set(LOCALES)
        }
        self.runtime = runtime
        self.clock = datetime(2026, 11, 26, 9, tzinfo=UTC)

    def session(self, sid: str, timings: list[tuple[int, int]] | None = None) -> list[dict[str, Any]]:
        """One session's bodies; with `timings`, (wall ns, CPU ns) of every applied change event go to it."""
        from crmctl.runtime.eventlog import value_hash
        from crmctl.runtime.service import iso
        from crmctl.runtime.session import EventError, SessionState

        rng = self.rng
        config = self.configs[(rng.choice(ROLES), rng.choice(LOCALES))]
        session = self.runtime.session_for(config)
        head = config.to_json()
        events: list[dict[str, Any]] = [{"type": "load"}]
        for _ in range(rng.randint(7, 13)):
            roll = rng.random()
            if roll < 0.12:
                events.append({"type": "next"})
            elif roll < 0.18:
                events.append({"type": "back"})
            else:
                name = rng.choice(CHANGED)
                events.append({"type": "change", "field": name, "value": _value(rng, name)})
        events += [{"type": "next"}, {"type": "next"}]
        if rng.random() < 0.85:
            events.append({"type": "submit"})
        state = SessionState()
        bodies = []
        for event in events:
            self.clock += timedelta(milliseconds=rng.randint(300, 9000))
            try:
                start, cpu = time.perf_counter_ns(), time.thread_time_ns()
                outcome = session.apply(state, event, self.clock)
                elapsed, cpu = time.perf_counter_ns() - start, time.thread_time_ns() - cpu
            except EventError:
                continue
            if timings is not None and event["type"] == "change":
                timings.append((elapsed, cpu))
            state = outcome.state
            bodies.append(
                {
                    "session": sid,
                    "at": iso(self.clock),
                    "kind": "form",
                    **head,
                    "event": event,
                    "effects": outcome.effects,
                    "effectsHash": value_hash(outcome.effects),
                    "answers": outcome.answers_json(),
                }
            )
        return bodies


def measure_latency(generator: Generator, sessions: int) -> list[tuple[int, int]]:
    for i in range(200):
        generator.session(f"warm{i}")
    timings: list[tuple[int, int]] = []
    for i in range(sessions):
        generator.session(f"lat{i}", timings)
    return timings


def build_pool(generator: Generator, events: int) -> list[list[dict[str, Any]]]:
    """Distinct sessions totalling at least `events` entries, JSON round-tripped as the store returns them."""
    from crmctl.runtime.eventlog import dumps

    pool: list[list[dict[str, Any]]] = []
    total = 0
    gc.disable()  # a million small acyclic dicts: the cyclic GC would rescan them over and over
    try:
        while total < events:
            bodies = [json.loads(dumps(b)) for b in generator.session(f"p{len(pool)}")]
            pool.append(bodies)
            total += len(bodies)
    finally:
        gc.enable()
    return pool


def bodies(pool: list[list[dict[str, Any]]], events: int) -> Iterator[dict[str, Any]]:
    """Exactly `events` bodies: the pool's sessions in turn, each round under fresh session ids."""
    produced = 0
    round_ = 0
    while True:
        for index, session in enumerate(pool):
            sid = f"r{round_}s{index}"
            for body in session:
                if produced == events:
                    return
                produced += 1
                yield {**body, "session": sid}
        round_ += 1


def entries(pool: list[list[dict[str, Any]]], events: int) -> Iterator[dict[str, Any]]:
    """The bodies as log entries (tenant and seq added; replay does not read the chain hashes)."""
    for seq, body in enumerate(bodies(pool, events), 1):
        body["tenant"] = TENANT
        body["seq"] = seq
        yield body


def timed_replay(runtime: Any, source: Any, events: int) -> tuple[float, float]:
    """Events per second of wall time and of CPU time (all threads of the process, DuckDB's included)."""
    from crmctl.runtime.replay import replay

    gc.collect()
    if not KEEP_GC:
        gc.disable()  # as `crmctl replay` runs (cli/main.py): the cyclic GC would rescan the decoded entries
    try:
        start, cpu = time.perf_counter(), time.process_time()
        report = replay(runtime, source)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        gc.enable()
    if report.events != events or not report.ok:
        first = report.divergences[0].to_json() if report.divergences else None
        sys.exit(
            f"replay of {events} events: {report.events} replayed, {len(report.divergences)} divergences "
            f"(first: {json.dumps(first)[:600]})"
        )
    return events / elapsed, events / cpu


def fill_store(store: Any, pool: list[list[dict[str, Any]]], events: int) -> float:
    start = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for body in bodies(pool, events):
        batch.append(body)
        if len(batch) == BATCH:
            store.append_events(TENANT, batch)
            batch = []
    if batch:
        store.append_events(TENANT, batch)
    return time.perf_counter() - start


def _pin_one_core(pin: bool) -> str:
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return "pinned to one CPU"
    return "not pinned"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", default="10000,100000,1000000", help="log sizes, comma separated")
    parser.add_argument("--quick", action="store_true", help="small sizes (2,000 and 10,000 events)")
    parser.add_argument("--pool", type=int, default=1_000_000, help="events of distinct sessions (default 1000000)")
    parser.add_argument("--latency-sessions", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pin", action="store_true", help="pin the process to one CPU (misleading when it is busy)")
    parser.add_argument("--gc", action="store_true", help="keep the cyclic GC on during replay (crmctl turns it off)")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    global KEEP_GC
    KEEP_GC = args.gc
    sizes = [2_000, 10_000] if args.quick else [int(s.replace("_", "")) for s in args.events.split(",")]
    latency_sessions = 300 if args.quick else args.latency_sessions

    from crmctl.model.package import load_package
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

    pinned = _pin_one_core(args.pin)
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, {pinned}")
    package = load_package(PACKAGE)
    workdir = Path(tempfile.mkdtemp(prefix="crmctl-runtime-bench-", dir="/tmp"))
    failed = []
    try:
        with Store.open(workdir / "gen.duckdb") as store:
            generator = Generator(Runtime(store, TENANT), package, args.seed)
            timings = measure_latency(generator, latency_sessions)
            print(
                f"\nChange event, Session.apply ({len(timings)} events, {latency_sessions} sessions after 200 "
                "warm-up), microseconds:\n\n| clock | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|"
            )
            for column, label in ((0, "wall"), (1, "CPU (thread)")):
                micro = sorted(t[column] / 1000 for t in timings)
                p50, p99 = statistics.median(micro), micro[int(0.99 * (len(micro) - 1))]
                p90 = micro[int(0.9 * (len(micro) - 1))]
                print(f"| {label} | {p50:.0f} | {p90:.0f} | {p99:.0f} | {micro[-1]:.0f} |")
            p99 = sorted(t[0] for t in timings)[int(0.99 * (len(timings) - 1))] / 1000
            if p99 >= LATENCY_TARGET_US:
                failed.append(f"change event p99 {p99:.0f} us >= {LATENCY_TARGET_US:.0f} us")
            start = time.perf_counter()
            pool = build_pool(generator, min(args.pool, max(sizes)))
            pool_events = sum(len(s) for s in pool)
            gen_rate = pool_events / (time.perf_counter() - start)
            print(f"Pool: {len(pool)} distinct sessions, {pool_events} events, generated at {gen_rate:,.0f} events/s")
        print("\nReplay, events per second of wall time (and of CPU time):\n")
        print("| events | engine | from store | store fill (s) |")
        print("|---:|---:|---:|---:|")
        for size in sizes:
            engine_entries = list(entries(pool, size))
            with Store.open(workdir / "e.duckdb") as store:
                runtime = Runtime(store, TENANT)
                runtime.pin(package)
                engine = timed_replay(runtime, engine_entries, size)
            del engine_entries
            path = workdir / f"log{size}.duckdb"
            with Store.open(path) as store:
                runtime = Runtime(store, TENANT)
                runtime.pin(package)
                fill = fill_store(store, pool, size)
                from_store = timed_replay(Runtime(store, TENANT), store.events(TENANT), size)
            path.unlink()
            print(
                f"| {size:,} | {engine[0]:,.0f} ({engine[1]:,.0f}) | {from_store[0]:,.0f} ({from_store[1]:,.0f}) | "
                f"{fill:.1f} |",
                flush=True,
            )
            for label, (_, rate) in (("engine", engine), ("from store", from_store)):
                if rate < REPLAY_TARGET:
                    failed.append(f"replay {label} at {size} events: {rate:,.0f}/s of CPU < {REPLAY_TARGET:,.0f}/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for line in failed:
        print(f"MISSED: {line}")
    return 1 if failed and not args.no_check else 0


if __name__ == "__main__":
    raise SystemExit(main())
