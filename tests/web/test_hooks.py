"""Events to webhooks through a real sandbox (uvicorn in a thread) and a real receiver that fails on purpose: retries
with growing delays, the DLQ after N attempts and its retry, order, at-least-once bookkeeping, CloudEvents on the
wire, a restart resuming, replay sending nothing."""

from __future__ import annotations

import functools
import itertools
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import run
from crmctl.runtime.webhooks import RetryPolicy
from crmctl.web import hooks
from crmctl.web.sandbox import Sandbox, Settings
from tests.runtime.test_webhooks import conformance_problems
from tests.web.receiver import Receiver, receiving, wait_until
from tests.web.server import LEAD_V1, Running, running_app

FAST = RetryPolicy(base=timedelta(milliseconds=20), factor=2, cap=timedelta(milliseconds=200), max_attempts=4)
LEAD = {"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com", "company": "Navy", "source": "event"}


def wall() -> datetime:
    return datetime.now(UTC)


@contextmanager
def sandbox_with(
    store: Path, webhooks: list[str], policy: RetryPolicy = FAST, timeout: float = 5.0
) -> Iterator[Running]:
    job = functools.partial(hooks.deliver, policy=policy, jitter=lambda: 0.5, poll=0.01, timeout=timeout)
    settings = Settings(webhooks=tuple(webhooks))
    with running_app([LEAD_V1], store, settings=settings, background=[job], clock=wall) as running:
        yield running


def in_store(running: Running, work: Callable[[Sandbox], Any]) -> Any:
    """Run `work` on the sandbox's store the way handlers do: under its lock."""
    sandbox = running.sandbox
    assert sandbox is not None
    with sandbox.lock:
        return work(sandbox)


def create_leads(running: Running, *ids: str) -> None:
    def create(sandbox: Sandbox) -> None:
        package = sandbox.package("LeadLifecycle")
        for record_id in ids:
            assert sandbox.records.create(package, "Lead", record_id, LEAD, wall()).ok

    in_store(running, create)


def emit(running: Running, *names: str) -> None:
    """Append a workflow entry emitting business events `names` (what a workflow's `emit` logs)."""
    at = wall().isoformat().replace("+00:00", "Z")
    body = {
        "session": "workflow:w1",
        "at": at,
        "kind": "workflow",
        "package": {"name": "LeadLifecycle", "version": "1.0.0", "digest": "sha256:" + "0" * 64},
        "effects": [{"effect": "event", "event": name, "payload": {"n": i}, "at": at} for i, name in enumerate(names)],
    }
    in_store(running, lambda sandbox: sandbox.store.append_events("default", [body]))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def attempts(running: Running, event_id: str) -> list[dict[str, Any]]:
    return in_store(running, lambda sandbox: sandbox.store.outbox.attempts("default", event_id))  # type: ignore[no-any-return]


def wait_delivered(running: Running, receiver: Receiver, count: int) -> None:
    """Until the receiver answered 2xx to `count` events and the sandbox booked them (it books after the answer)."""
    wait_until(lambda: len(receiver.delivered()) >= count)
    wait_until(lambda: in_store(running, lambda s: s.store.outbox.counts("default"))["delivered"] >= count)


def test_delivered_after_failures_with_growing_delays_as_cloudevents(tmp_path: Path) -> None:
    with receiving(["500", "500", "500"]) as receiver, sandbox_with(tmp_path / "s.duckdb", [receiver.url]) as running:
        create_leads(running, "L1")
        wait_delivered(running, receiver, 1)
        [event] = receiver.delivered()
        assert conformance_problems(event) == []
        assert (event["type"], event["subject"], event["data"]["id"]) == ("crmctl.record.created", "Lead/L1", "L1")
        assert {r.content_type for r in receiver.got} == {"application/cloudevents+json"}
        tried = attempts(running, event["id"])
    assert [(a["attempt"], a["statusCode"]) for a in tried] == [(1, 500), (2, 500), (3, 500), (4, 200)]
    assert tried[0]["error"] == "HTTP 500: receiver says no" and tried[-1]["error"] is None
    moments = [datetime.fromisoformat(a["at"]) for a in tried]
    for n, (before, after) in enumerate(itertools.pairwise(moments), start=1):
        assert after - before >= FAST.delay(n, 0.5)  # 15 ms, 30 ms, 60 ms: each wait longer than the last


def test_dead_after_n_attempts_listed_and_retried_over_http(tmp_path: Path) -> None:
    with (
        receiving(["500"] * FAST.max_attempts) as receiver,
        sandbox_with(tmp_path / "s.duckdb", [receiver.url]) as running,
    ):
        emit(running, "LeadQualified")
        with running.client() as client:
            wait_until(lambda: client.get("/_sandbox/dlq").json()["deliveries"] != [])
            [dead] = client.get("/_sandbox/dlq").json()["deliveries"]
            assert (dead["attempts"], dead["status"], dead["type"]) == (4, "dead", "crmctl.event.LeadQualified")
            assert dead["lastError"] == "HTTP 500: receiver says no" and receiver.delivered() == []
            refused = client.post("/_sandbox/dlq", json={"ids": "all"})
            assert refused.status_code == 400 and refused.json()["type"].endswith("/bad-retry")
            answer = client.post("/_sandbox/dlq", json={"ids": [dead["id"], "nope"]}).json()
            assert [d["id"] for d in answer["requeued"]] == [dead["id"]] and answer["notDead"] == ["nope"]
            wait_delivered(running, receiver, 1)
            assert client.get("/_sandbox/dlq").json()["deliveries"] == []
            assert client.post("/_sandbox/dlq", json={"all": True}).json() == {"requeued": [], "notDead": []}
        assert [a["statusCode"] for a in attempts(running, dead["id"])] == [500] * 4 + [200]


def test_timeouts_redirects_and_a_dead_webhook_hold_back_no_other(tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{closed_port()}/hook"
    with receiving(["slow", "302"]) as receiver:
        receiver.slow_seconds = 1.0
        with sandbox_with(tmp_path / "s.duckdb", [refused, receiver.url], timeout=0.3) as running:
            emit(running, "One", "Two", "Three")
            wait_delivered(running, receiver, 3)
            assert [e["type"] for e in receiver.delivered()] == [f"crmctl.event.{n}" for n in ("One", "Two", "Three")]
            first = receiver.delivered()[0]["id"]
            errors = [a["error"] for a in attempts(running, first) if a["webhook"] == receiver.url]
            assert errors == ["timed out", "HTTP 302: receiver says no", None]  # a redirect is not followed
            wait_until(lambda: len(in_store(running, lambda s: s.store.outbox.dead("default"))) == 3)
            dead = in_store(running, lambda s: s.store.outbox.dead("default"))
            assert {d.webhook for d in dead} == {refused} and dead[0].last_error.startswith("ConnectError")
            counts = in_store(running, lambda s: s.store.outbox.counts("default"))
    assert counts == {"pending": 0, "delivered": 3, "dead": 3}


def test_each_event_is_booked_delivered_once_and_order_is_kept(tmp_path: Path) -> None:
    with receiving() as receiver, sandbox_with(tmp_path / "s.duckdb", [receiver.url]) as running:
        for batch in range(5):
            emit(running, *(f"E{batch}x{i}" for i in range(4)))
        create_leads(running, "L1", "L2")
        wait_delivered(running, receiver, 22)
        counts = in_store(running, lambda s: s.store.outbox.counts("default"))
    ids = [e["id"] for e in receiver.delivered()]
    assert len(set(ids)) == 22 and counts == {"pending": 0, "delivered": 22, "dead": 0}
    assert [e["crmseq"] for e in receiver.delivered()] == sorted(e["crmseq"] for e in receiver.delivered())


def test_a_restarted_server_resumes_pending_deliveries(tmp_path: Path) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/"
    patient = RetryPolicy(base=timedelta(milliseconds=20), cap=timedelta(milliseconds=50), max_attempts=1000)
    store = tmp_path / "s.duckdb"
    with sandbox_with(store, [url], policy=patient) as running:
        create_leads(running, "L1")
        wait_until(lambda: in_store(running, lambda s: s.store.outbox.counts("default"))["pending"] == 1)
        [pending] = in_store(running, lambda s: s.store.outbox.due("default", url, wall() + timedelta(hours=1), 5))
        wait_until(lambda: len(attempts(running, pending.event_id)) >= 1)
    with receiving(port=port) as receiver, sandbox_with(store, [url], policy=patient) as running:
        wait_until(lambda: attempts(running, pending.event_id)[-1]["statusCode"] == 200)
        assert [e["id"] for e in receiver.delivered()] == [pending.event_id]


def test_replay_and_log_verify_send_nothing_and_see_no_attempts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.duckdb"
    with receiving(["500"]) as receiver:
        with sandbox_with(store, [receiver.url]) as running:
            create_leads(running, "L1", "L2")
            wait_delivered(running, receiver, 2)
        received = len(receiver.got)
        assert run(["log", "verify", "--store", str(store)]) == 0
        assert run(["replay", "--store", str(store)]) == 0, capsys.readouterr()
        assert len(receiver.got) == received == 3
