"""Many writers on one PostgreSQL store: real processes importing records, simulating forms and playing workflows
at once, on one tenant and across tenants, some of them killed (`kill -9`) at random moments. Afterwards every
tenant's chain verifies, its seq numbers are dense, every write a process acknowledged is there, and the write a
killed process was making is whole or absent (docs/runtime.md, "Many writers (PostgreSQL)")."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import run
from crmctl.runtime.storage.errors import RecordExistsError, StoreConflictError, StoreError
from crmctl.runtime.storage.locator import locate
from crmctl.runtime.store import Store, StoredRecord
from tests.conftest import REPO

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
NOW = "2026-11-26T09:00:00Z"
TENANTS = ("alpha", "beta")
ROWS = 40  # per import
FORM = f"""\
now: {NOW}
events:
  - change: {{field: firstName, value: Ada}}
  - change: {{field: lastName, value: Lovelace}}
  - next: {{}}
  - change: {{field: email, value: ada@example.com}}
  - next: {{}}
  - change: {{field: company, value: Analytical Engines}}
  - change: {{field: companySize, value: 300}}
  - change: {{field: annualRevenue, value: 2500000}}
  - next: {{}}
  - submit: {{}}
"""
FORM_ENTRIES = 11
SCENARIO = """\
events:
  - start: {{instance: {instance}, data: {{firstName: Ada, lastName: Lovelace, email: a@example.com, owner: alice}}}}
  - advance: 2d
  - fire: {{instance: {instance}, transition: contact, as: bob/salesManager}}
  - advance: 2h
"""


@dataclass
class Op:
    """One command of a writer's plan, and what it writes when it succeeds."""

    op: str
    kind: str  # import | simulate | workflow
    tenant: str
    argv: list[str] = field(default_factory=list)


@dataclass
class Writer:
    """A process running a plan; `acks` are the commands it finished, with their exit codes."""

    name: str
    plan: list[Op]
    process: subprocess.Popen[bytes]
    ack_file: Path
    killed: bool = False

    def acks(self) -> dict[str, dict[str, Any]]:
        lines = self.ack_file.read_text(encoding="utf-8").splitlines() if self.ack_file.exists() else []
        return {ack["op"]: ack for ack in map(json.loads, lines)}


def _op(tmp_path: Path, url: str, name: str, kind: str, tenant: str) -> Op:
    op = Op(name, kind, tenant)
    where = ["--store", url, "--tenant", tenant]
    if kind == "import":
        lines = ["id,firstName,lastName,email,companySize,annualRevenue"]
        lines += [f"{name}-{i},Ada,L{i},ada{i}@example.com,{10 + i},{i * 1000}" for i in range(ROWS)]
        rows = tmp_path / f"{name}.csv"
        rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
        op.argv = ["records", "import", V1, str(rows), "-e", "Lead", "--now", NOW, *where]
    elif kind == "simulate":
        script = tmp_path / "form.yaml"
        script.write_text(FORM, encoding="utf-8")
        op.argv = ["simulate", V1, "--script", str(script), "--session", name, *where]
    else:
        scenario = tmp_path / f"{name}.yaml"
        scenario.write_text(SCENARIO.format(instance=name), encoding="utf-8")
        op.argv = ["workflow", "simulate", V2, "--script", str(scenario), *where]
    return op


def _start(tmp_path: Path, url: str, name: str, rng: random.Random, ops: int) -> Writer:
    kinds = ["import", "simulate", "workflow"]
    plan = [_op(tmp_path, url, f"{name}o{i}", rng.choice(kinds), rng.choice(TENANTS)) for i in range(ops)]
    plan_file = tmp_path / f"{name}.plan.json"
    plan_file.write_text(json.dumps([{"op": o.op, "argv": o.argv} for o in plan]), encoding="utf-8")
    ack_file = tmp_path / f"{name}.acks"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.many_writers", str(plan_file), str(ack_file)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Writer(name, plan, process, ack_file)


def _wait(writers: list[Writer]) -> None:
    for writer in writers:
        _, errors = writer.process.communicate(timeout=180)
        writer.process.stderr.close()
        if not writer.killed:
            assert writer.process.returncode == 0, (writer.name, writer.acks(), errors.decode()[-2000:])


@dataclass
class Written:
    """What one tenant's store holds, read once."""

    sessions: Counter[str]
    records: set[str]
    instances: set[str]
    drafts: set[str]


def _check_store(url: str) -> dict[str, Written]:
    """Every tenant's chain verified, its seq numbers dense from 1, no session holding a seq twice; what it holds."""
    found = {}
    with Store.open(locate(url), read_only=True) as store:
        for tenant in TENANTS:
            assert store.verify_log(tenant) == [], tenant
            entries = list(store.events(tenant))
            assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1)), tenant
            found[tenant] = Written(
                Counter(e["session"] for e in entries),
                store.record_ids(tenant, "Lead"),
                {i["id"] for i in store.list_instances(tenant)},
                {d.draft_id for d in store.list_drafts(tenant)},
            )
    return found


def _check_op(op: Op, written: Written, *, acknowledged: bool) -> None:
    """An acknowledged command's writes are all there; any other's are whole or absent."""
    if op.kind == "import":
        ids = {f"{op.op}-{i}" for i in range(ROWS)}
        stored = ids & written.records
        logged = {i for i in ids if written.sessions[f"record:Lead:{i}"] == 1}
        assert stored == logged, op  # the records and their entries: together or neither
        assert stored == ids if acknowledged else stored in (ids, set()), op
    elif op.kind == "simulate":
        entries = written.sessions[op.op]
        assert entries == FORM_ENTRIES if acknowledged else entries <= FORM_ENTRIES, op
        assert (op.op in written.records) == (entries == FORM_ENTRIES), op  # submitted: the record with its entry
        assert (op.op in written.drafts) == (0 < entries < FORM_ENTRIES), op  # a draft up to its last entry
    else:
        entries = written.sessions[f"workflow:{op.op}"]
        assert entries > 0 or not acknowledged, op
        assert (op.op in written.instances) == (entries > 0), op  # the instance with its entries


def _check(url: str, writers: list[Writer]) -> None:
    written = _check_store(url)
    for writer in writers:
        acks = writer.acks()
        for op in writer.plan:
            ack = acks.get(op.op)
            assert ack is None or ack["code"] == 0, (op, ack)
            _check_op(op, written[op.tenant], acknowledged=ack is not None)
        if not writer.killed:
            assert len(acks) == len(writer.plan)
    for tenant in TENANTS:  # what each writer logged is what its package versions do: no writer wrote over another
        assert run(["replay", "--store", url, "--tenant", tenant]) == 0, tenant


def test_writers_at_once_lose_nothing_and_keep_every_chain(pg_url: str, tmp_path: Path) -> None:
    rng = random.Random(14)
    writers = [_start(tmp_path, pg_url, f"w{n}", rng, ops=3) for n in range(6)]
    _wait(writers)
    _check(pg_url, writers)
    assert {op.kind for w in writers for op in w.plan} == {"import", "simulate", "workflow"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_writers_killed_at_random_moments_leave_whole_writes_and_an_intact_chain(
    pg_url: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    writers = [_start(tmp_path, pg_url, f"k{n}", rng, ops=4) for n in range(3)]
    for writer in rng.sample(writers, 2):
        deadline = time.monotonic() + 120
        while not writer.acks() and writer.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # past its start-up: the kill lands among its writes
        time.sleep(rng.uniform(0, 1.0))
        writer.killed = writer.process.poll() is None
        writer.process.send_signal(signal.SIGKILL)
    _wait(writers)
    _check(pg_url, writers)
    assert any(w.killed and len(w.acks()) < len(w.plan) for w in writers)  # a kill cut a plan short
    # the killed writers' connections are gone: the next writer appends at once
    assert run(["simulate", V1, "--script", str(tmp_path / "form.yaml"), "--store", pg_url, "--tenant", "alpha"]) == 0
    assert _check_store(pg_url)["alpha"].sessions


# -- races on one key, made certain: the first writer holds its transaction open while the second one starts --------

LEAD = StoredRecord("alpha", "Lead", "ada", "P", "1.0.0", "d", {"firstName": "Ada"}, 1, NOW, NOW)
EMITTED = {
    "session": "workflow:w1",
    "at": NOW,
    "kind": "workflow",
    "package": {"name": "P", "version": "1.0.0", "digest": "d"},
    "effects": [{"effect": "event", "event": "Won", "payload": {}}],
}
HOOK = "http://127.0.0.1:1/hook"


def _meanwhile(url: str, first: Callable[[Store], object], second: Callable[[Store], object]) -> object:
    """`second`'s outcome (its result or the error it raised) when it starts while `first`'s transaction is open
    on another connection: it waits for the first one's commit, or starts after it; the outcome is the same."""
    outcome: list[object] = []

    def racing() -> None:
        with Store.open(locate(url)) as other:
            try:
                outcome.append(second(other))
            except StoreError as error:
                outcome.append(error)

    with Store.open(locate(url)) as store, store.transaction():
        first(store)
        thread = threading.Thread(target=racing)
        thread.start()
        time.sleep(0.3)  # (not needed for the outcome; makes the second one wait on the first most of the time)
    thread.join(timeout=60)
    return outcome[0]


def test_a_record_created_by_two_writers_at_once_is_refused_to_the_second_as_existing(pg_url: str) -> None:
    refused = _meanwhile(pg_url, lambda s: s.put_records([LEAD]), lambda s: s.put_records([LEAD]))
    assert isinstance(refused, RecordExistsError)
    assert "these records already exist: Lead/ada; nothing was written" in refused.message


def test_an_update_over_another_writers_update_is_refused(pg_url: str) -> None:
    with Store.open(locate(pg_url)) as store:
        store.put_records([LEAD])
    second = replace(LEAD, data={"firstName": "Augusta"}, revision=2)  # both read revision 1
    refused = _meanwhile(
        pg_url, lambda s: s.put_records([second], mode="update"), lambda s: s.put_records([second], mode="update")
    )
    assert isinstance(refused, StoreConflictError)
    assert "another writer changed these records since they were read: Lead/ada" in refused.message
    with Store.open(locate(pg_url)) as store:
        assert store.get_record("alpha", "Lead", "ada") == second


def test_two_relays_at_once_enqueue_each_event_once(pg_url: str) -> None:
    with Store.open(locate(pg_url)) as store:
        store.append_events("alpha", [EMITTED, EMITTED])
    now = datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert (
        _meanwhile(
            pg_url, lambda s: s.outbox.relay("alpha", [HOOK], now), lambda s: s.outbox.relay("alpha", [HOOK], now)
        )
        == 0
    )
    with Store.open(locate(pg_url)) as store:
        assert store.outbox.counts("alpha")["pending"] == 2


@pytest.mark.parametrize("code", ["deadlock_detected", "serialization_failure", "lock_not_available"])
def test_a_write_the_database_aborted_for_another_writer_is_a_conflict_to_run_again(pg_url: str, code: str) -> None:
    with Store.open(locate(pg_url)) as store, pytest.raises(StoreConflictError) as raised:
        store.connection.all(f"DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '{code}'; END $$")
    assert "another writer held what this write needed (raised by the test)" in raised.value.message
    assert raised.value.hint == "run the command again"


# -- workflow runs at once in one tenant: each one goes on every running instance, so they touch each other's -----

LONG_RUN = """\
events:
  - start: {{instance: {instance}, data: {{firstName: Ada, lastName: Lovelace, email: a@example.com, owner: alice}}}}
{advances}  - fire: {{instance: {instance}, transition: contact, as: bob/salesManager}}
  - advance: 1h
"""


def _waiting_for_a_lock(url: str) -> int:
    """How many connections to the store's database wait for a lock (the tenant's chain lock, here)."""
    with Store.open(locate(url), read_only=True) as store:
        [(count,)] = store.connection.all("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return int(count)


def test_workflow_runs_at_once_in_one_tenant_happen_one_after_the_other(pg_url: str, tmp_path: Path) -> None:
    """A scripted run reads the tenant's running instances and advances them all: runs started together would
    step on each other's instances, so each run holds the tenant for its duration and the next one starts from
    where it left the instances (its clock too). The test holds the tenant until all four runs wait for it, so
    they are certain to overlap. Every run succeeds; the log replays."""

    def scenario(instance: str) -> Path:
        advances = "".join("  - advance: 10m\n" for _ in range(240))
        path = tmp_path / f"{instance}.yaml"
        path.write_text(LONG_RUN.format(instance=instance, advances=advances), encoding="utf-8")
        return path

    where = ["--store", pg_url, "--tenant", "alpha"]
    assert run(["workflow", "simulate", V2, "--script", str(scenario("first")), "--now", NOW, *where]) == 0
    runs: list[subprocess.Popen[bytes]] = []
    try:
        with Store.open(locate(pg_url)) as holder, holder.holding("alpha"):
            for n in range(4):
                argv = ["workflow", "simulate", V2, "--script", str(scenario(f"run{n}")), *where]
                runs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "crmctl", *argv],
                        cwd=REPO,
                        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                )
            deadline = time.monotonic() + 120
            while _waiting_for_a_lock(pg_url) < 4:  # every run read nothing yet: it waits for the tenant
                assert time.monotonic() < deadline and all(r.poll() is None for r in runs), "the runs did not wait"
                time.sleep(0.1)
        errors = [r.communicate(timeout=300)[1].decode()[-500:] for r in runs]
        assert [r.returncode for r in runs] == [0] * 4, errors
    finally:
        for leftover in runs:
            if leftover.poll() is None:
                leftover.kill()
                leftover.wait()
            if leftover.stderr is not None:
                leftover.stderr.close()
    with Store.open(locate(pg_url), read_only=True) as store:
        assert store.verify_log("alpha") == []
        instances = {i["id"]: i for i in store.list_instances("alpha")}
        clocks = sorted(i["clock"] for i in instances.values())
    assert sorted(instances) == ["first"] + [f"run{n}" for n in range(4)]
    # one after the other: each run started at the clock the runs before it reached (41 h each), so the last
    # clock is five runs' worth after NOW, and every instance was advanced to it
    assert clocks == ["2026-12-04T22:00:00Z"] * 5
    assert run(["replay", "--store", pg_url, "--tenant", "alpha"]) == 0


def test_a_run_refused_at_a_step_keeps_the_steps_before_it(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run is written as a whole, up to the step refused: here the store's refusal of a value (JSONB would give
    -0.0 back as 0.0) at the third step. The instance the first step started is there, with its entries; nothing
    of the refused step is."""
    scenario = tmp_path / "refused.yaml"
    scenario.write_text(
        "events:\n"
        "  - start: {instance: a, data: {firstName: Ada, lastName: L, email: a@example.com, owner: alice}}\n"
        "  - advance: 1h\n"
        "  - start: {instance: b, data: {firstName: Bo, lastName: L, email: b@example.com, owner: alice,"
        " annualRevenue: -0.0}}\n"
        "  - advance: 1h\n",
        encoding="utf-8",
    )
    where = ["--store", pg_url, "--tenant", "alpha"]
    assert run(["workflow", "simulate", V2, "--script", str(scenario), "--now", NOW, *where]) == 2
    said = capsys.readouterr().err
    assert f"{scenario}:" in said and "-0.0" in said, said
    with Store.open(locate(pg_url), read_only=True) as store:
        instances = {i["id"]: i for i in store.list_instances("alpha")}
        sessions = {e["session"] for e in store.events("alpha")}
        assert store.verify_log("alpha") == []
    assert sorted(instances) == ["a"] and sessions == {"workflow:a"}
    assert instances["a"]["clock"] == "2026-11-26T10:00:00Z"  # the advance before the refused step, kept
