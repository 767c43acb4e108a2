"""Time the workflow engine: many LeadLifecycle v2 instances through 30 virtual days each (docs/benchmarks.md).

    python benchmarks/workflow_bench.py [--instances 10000] [--days 30] [--tick 4] [--seed 7] [--no-store]
                                        [--no-check]

Every instance of LeadLifecycle v2's workflow starts at a seeded random moment on Monday 2026-11-23 and follows
one of a few plans, in a realistic mix:

- contacted within hours (a sales rep fires `contact`), contacted late (after the SLA warning or the breach,
  which reassigns the work to the sales manager) or never (the lead sits in `new`, breached, for 30 days);
- once contacted, the owner decides: `qualify` (the guard needs a score of 50 and an email; then the two-level
  approval: the sales manager, then the sales director, now and then a rejection), `disqualify`, or nothing, so
  the 30-day `staleLead` timer disqualifies the lead.

The clock moves in ticks (`--tick` virtual hours): the inputs that fall in a tick run at their own moments, then
every instance is advanced to the end of the tick, as `crmctl workflow simulate` does for its `advance` steps.
Two runs:

1. **engine**: the pure engine in process (`WorkflowEngine` inputs on JSON-like instances), no store. Target:
   10,000 instances through 30 days in under 10 s of wall time; exit 1 when missed unless --no-check.
2. **engine + store**: the same run, appending every input's log entry (kind `workflow`, shaped as `workflow
   simulate` writes it; advances only when they produced effects) to a fresh DuckDB store with
   `Store.append_events` in batches of 5,000.

Both print wall and CPU time, instances/s, inputs and effects, and a digest of every effect (equal digests mean
equal timelines, so an optimisation of the engine can be checked against an earlier run).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "packages" / "LeadLifecycle" / "v2"
TENANT = "bench"
BATCH = 5_000
TARGET_S = 10.0
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
OWNERS = ("alice", "dan", "erin", "frank")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Jörg", "Ming", "Aisha")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Müller", "Chen", "Khan")
COMPANIES = ("ACME", "Initech", "Globex", "Umbrella GmbH", "Stark Industries", "Wayne Enterprises")


@dataclass
class Plan:
    """One instance: its record, when it starts, and its later inputs as (moment, input) in time order."""

    instance: str
    data: dict[str, Any]
    start: datetime
    inputs: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)


def _record(rng: random.Random) -> dict[str, Any]:
    return {
        "firstName": rng.choice(FIRST),
        "lastName": rng.choice(LAST),
        "email": rng.choice(("", f"{rng.choice(FIRST).lower()}@example.com", "sales@corp.example")),
        "company": rng.choice(COMPANIES),
        "companySize": rng.choice((rng.randint(5, 49), rng.randint(50, 249), rng.randint(250, 5000))),
        "annualRevenue": rng.choice(
            (round(rng.uniform(1e4, 9e4), 2), round(rng.uniform(1e5, 9e5), 2), round(rng.uniform(1e6, 5e7), 2))
        ),
        "source": rng.choice(("web", "referral", "event", "partner", "coldCall")),
        "owner": rng.choice(OWNERS),
    }


def _eligible(data: dict[str, Any]) -> bool:
    """Whether the `qualify` guard holds: the package's score formula reaches 50 and there is an email."""
    revenue, size = data["annualRevenue"], data["companySize"]
    score = (40 if revenue >= 1e6 else 20 if revenue >= 1e5 else 0) + (30 if size >= 250 else 15 if size >= 50 else 0)
    return score + (20 if data["source"] == "referral" else 0) >= 50 and data["email"] != ""


def make_plans(n: int, seed: int) -> list[Plan]:
    rng = random.Random(seed)
    plans = []
    for i in range(n):
        data = _record(rng)
        start = MONDAY + timedelta(seconds=rng.randrange(24 * 3600))
        plan = Plan(f"lead-{i:06d}", data, start)
        hours = timedelta(hours=1)
        contact = rng.choices(("quick", "late", "breach", "never"), weights=(50, 20, 15, 15))[0]
        if contact == "never":
            plans.append(plan)
            continue
        delay = {"quick": rng.uniform(0.2, 8), "late": rng.uniform(30, 60), "breach": rng.uniform(60, 120)}[contact]
        at = start + delay * hours
        who = (
            {"user": data["owner"], "role": "salesRep"}
            if contact != "breach"
            else {"user": "bob", "role": "salesManager"}
        )
        plan.inputs.append((at, {"type": "fire", "transition": "contact", "as": who}))
        outcome = rng.choices(("qualify", "disqualify", "stale"), weights=(45, 25, 30))[0]
        if outcome == "qualify" and rng.random() < 0.8:  # owners mostly qualify leads that look good
            data.update(
                annualRevenue=round(rng.uniform(1e6, 5e7), 2),
                companySize=rng.randint(250, 5000),
                email=f"{data['firstName'].lower()}@example.com",
            )
        if outcome == "stale":
            plans.append(plan)
            continue
        at += rng.uniform(2, 72) * hours
        owner = {"user": data["owner"], "role": "salesRep"}
        plan.inputs.append((at, {"type": "decide", "decision": outcome, "as": owner}))
        if outcome == "qualify" and _eligible(data):
            at += rng.uniform(1, 24) * hours
            plan.inputs.append((at, {"type": "decide", "decision": "approve", "as": "bob/salesManager"}))
            at += rng.uniform(1, 48) * hours
            verdict = rng.choices(("approve", "reject"), weights=(85, 15))[0]
            plan.inputs.append((at, {"type": "decide", "decision": verdict, "as": "carol/salesDirector"}))
        elif outcome == "qualify":  # the guard refuses the qualification; the owner gives up a day later
            plan.inputs.append((at + 24 * hours, {"type": "decide", "decision": "disqualify", "as": owner}))
        plans.append(plan)
    return plans


@dataclass
class Outcome:
    inputs: int = 0
    effects: int = 0
    logged: int = 0
    refused: int = 0
    digest: Any = field(default_factory=hashlib.sha256)


def drive(plans: list[Plan], days: int, tick_hours: int, sink: Callable[[dict[str, Any]], None] | None) -> Outcome:
    """Run every plan through `days` virtual days; `sink` receives each input's log entry body."""
    from crmctl.model.package import load_package
    from crmctl.runtime.eventlog import value_hash
    from crmctl.runtime.service import iso
    from crmctl.runtime.workflow import WorkflowEngine, WorkflowError, WorkflowModel, apply_input

    package = load_package(PACKAGE)
    model = WorkflowModel.build(package)
    engine = WorkflowEngine(model)
    ref = {
        "name": package.name,
        "version": package.manifest.version if package.manifest else "?",
        "digest": model.digest,
    }
    result = Outcome()
    instances: dict[str, dict[str, Any]] = {}
    # Every input in time order: (moment, plan index, input); starts are inputs too.
    queue = sorted(
        [(p.start, i, {"type": "start", "data": p.data}) for i, p in enumerate(plans)]
        + [(at, i, given) for i, p in enumerate(plans) for at, given in p.inputs],
        key=lambda item: (item[0], item[1]),
    )

    def record(instance_id: str, given: dict[str, Any], effects: list[dict[str, Any]], at: datetime) -> None:
        result.inputs += 1
        result.effects += len(effects)
        if effects:
            result.digest.update(json.dumps([instance_id, effects], sort_keys=True).encode())
        if sink is not None and (effects or given["type"] != "advance"):
            sink(
                {
                    "session": f"workflow:{instance_id}",
                    "at": iso(at),
                    "kind": "workflow",
                    "package": ref,
                    "workflow": model.workflow.id,
                    "input": given,
                    "effects": effects,
                    "effectsHash": value_hash(effects),
                }
            )
            result.logged += 1

    position = 0
    end = MONDAY + timedelta(days=days + 1)  # the last instance starts late on Monday and still gets 30 days
    clock = MONDAY
    while clock < end:
        clock += timedelta(hours=tick_hours)
        while position < len(queue) and queue[position][0] <= clock:
            at, index, given = queue[position]
            position += 1
            instance_id = plans[index].instance
            given = {**given, "instance": instance_id}
            try:
                step = apply_input(engine, instances.get(instance_id), given, at)
            except WorkflowError:  # e.g. an approval after the guard refused the qualification: no client logs it
                result.refused += 1
                continue
            instances[instance_id] = step.instance
            record(instance_id, given, step.effects, at)
        for instance_id, instance in instances.items():
            moved = engine.advance(instance, clock)
            instances[instance_id] = moved.instance
            if moved.effects or sink is not None:
                record(instance_id, {"type": "advance", "instance": instance_id}, moved.effects, clock)
            else:
                result.inputs += 1
    return result


def _timed(run: Callable[[], Outcome]) -> tuple[Outcome, float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = run()
    return outcome, time.perf_counter() - wall, time.process_time() - cpu


def _report(label: str, n: int, outcome: Outcome, wall: float, cpu: float) -> None:
    print(
        f"{label:<16} wall {wall:7.2f} s  cpu {cpu:7.2f} s  {n / wall:9,.0f} instances/s  "
        f"{outcome.inputs:,} inputs ({outcome.inputs / wall:,.0f}/s)  {outcome.effects:,} effects  "
        f"{outcome.logged:,} logged  {outcome.refused:,} refused  "
        f"digest {outcome.digest.hexdigest()[:16]}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tick", type=int, default=4, help="virtual hours between two advances of every instance")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-store", action="store_true", help="skip the run that appends to a DuckDB store")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when the target is missed")
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()} on {platform.machine()} ({platform.system()}); "
        f"{args.instances:,} instances, {args.days} days, a tick every {args.tick} h, seed {args.seed}"
    )
    plans = make_plans(args.instances, args.seed)
    outcome, wall, cpu = _timed(lambda: drive(plans, args.days, args.tick, None))
    _report("engine", args.instances, outcome, wall, cpu)
    if not args.no_store:
        from crmctl.runtime.store import Store

        folder = Path(tempfile.mkdtemp(prefix="crmctl-wfbench-"))
        try:
            with Store.open(folder / "bench.duckdb") as store:
                pending: list[dict[str, Any]] = []

                def sink(body: dict[str, Any]) -> None:
                    pending.append(body)
                    if len(pending) >= BATCH:
                        store.append_events(TENANT, pending)
                        pending.clear()

                def with_store() -> Outcome:
                    done = drive(plans, args.days, args.tick, sink)
                    store.append_events(TENANT, pending)
                    return done

                stored, store_wall, store_cpu = _timed(with_store)
                _report("engine + store", args.instances, stored, store_wall, store_cpu)
                head = store.head(TENANT)
                print(f"{'':<16} store head seq {head[0] if head else 0:,}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if wall >= TARGET_S:
        print(f"target missed: the engine run took {wall:.2f} s (target < {TARGET_S:.0f} s)")
        return 0 if args.no_check else 1
    print(f"target met: the engine run took {wall:.2f} s (target < {TARGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
