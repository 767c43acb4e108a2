"""The store's webhook outbox: relayed from the log after a per-webhook cursor in one transaction (nothing lost,
nothing twice), delivered in log order, retried after the policy's backoff, dead after N, re-queued; attempts
kept apart from the hash-chained log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crmctl.runtime.storage.outbox import Attempt
from crmctl.runtime.store import Store
from crmctl.runtime.webhooks import RetryPolicy

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
A, B = "http://127.0.0.1:1/a", "http://127.0.0.1:1/b"
POLICY = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=60), max_attempts=3)


def emitted(name: str) -> dict[str, Any]:
    return {
        "session": "workflow:w1",
        "at": "2026-11-02T09:00:00Z",
        "kind": "workflow",
        "package": {"name": "P", "version": "1.0.0", "digest": "d"},
        "effects": [{"effect": "event", "event": name, "payload": {}}],
    }


@pytest.fixture
def store(any_store: Store) -> Store:
    """The outbox is part of the store contract: every test runs on both backends."""
    return any_store


def fail(url: str, event_id: str, at: datetime = NOW, code: int | None = 500) -> Attempt:
    return Attempt(url, event_id, at, code, None if code else "ConnectError", 1.5)


def test_relay_enqueues_each_event_once_per_webhook(store: Store) -> None:
    store.append_events("t", [emitted("One"), {"session": "s", "at": "2026-11-02T09:00:00Z"}, emitted("Two")])
    assert store.outbox.relay("t", [A, B], NOW) == 4
    assert store.outbox.relay("t", [A, B], NOW) == 0  # the cursors moved
    store.append_events("t", [emitted("Three")])
    assert store.outbox.relay("t", [A], NOW) == 1
    assert store.outbox.relay("t", [A, B], NOW) == 1  # B catches up alone
    assert [d.event["type"] for d in store.outbox.due("t", B, NOW, 10)] == [
        "crmctl.event.One",
        "crmctl.event.Two",
        "crmctl.event.Three",
    ]
    assert store.outbox.counts("t") == {"pending": 6, "delivered": 0, "dead": 0}
    assert store.outbox.relay("empty", [A], NOW) == 0 and store.outbox.relay("t", [], NOW) == 0


def test_a_crash_in_the_relay_loses_nothing_and_enqueues_nothing_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.append_events("t", [emitted("One"), emitted("Two")])
    real = store.connection.all

    def crash(sql: str, params: Any = ()) -> Any:
        if "INTO webhook_cursors" in sql:  # the cursor moves after the rows were enqueued
            raise RuntimeError("power cut")
        return real(sql, params)

    monkeypatch.setattr(store.connection, "all", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        store.outbox.relay("t", [A], NOW)
    monkeypatch.undo()
    assert store.outbox.counts("t")["pending"] == 0  # the rows went with the cursor
    assert store.outbox.relay("t", [A], NOW) == 2
    assert store.outbox.relay("t", [A], NOW) == 0


def test_delivery_keeps_log_order_and_a_failure_holds_back_the_rest(store: Store) -> None:
    store.append_events("t", [emitted("One"), emitted("Two")])
    store.outbox.relay("t", [A], NOW)
    first, second = store.outbox.due("t", A, NOW, 10)
    assert (first.seq, second.seq) == (1, 2)
    store.outbox.record("t", [fail(A, first.event_id)], POLICY, [0.0])
    assert store.outbox.due("t", A, NOW, 10) == []  # the first waits for its retry; the second waits for it
    later = NOW + timedelta(seconds=10)
    assert [d.event_id for d in store.outbox.due("t", A, later, 10)] == [first.event_id, second.event_id]
    assert store.outbox.due("t", A, later, 1)[0].attempts == 1
    store.outbox.record("t", [fail(A, first.event_id, later, 200)], POLICY, [0.0])
    assert [d.event_id for d in store.outbox.due("t", A, later, 10)] == [second.event_id]
    assert store.outbox.counts("t") == {"pending": 1, "delivered": 1, "dead": 0}


def test_dead_after_max_attempts_then_retried_from_zero(store: Store) -> None:
    store.append_events("t", [emitted("One")])
    store.outbox.relay("t", [A, B], NOW)
    [delivery] = store.outbox.due("t", A, NOW, 10)
    at = NOW
    for _ in range(POLICY.max_attempts):
        store.outbox.record("t", [fail(A, delivery.event_id, at, None)], POLICY, [0.5])
        at += timedelta(minutes=5)
    [dead] = store.outbox.dead("t")
    assert (dead.webhook, dead.attempts, dead.status, dead.last_error) == (A, 3, "dead", "ConnectError")
    store.outbox.record("t", [fail(A, delivery.event_id, at, 200)], POLICY, [0.0])  # dead: nothing booked
    assert len(store.outbox.attempts("t", delivery.event_id)) == 3
    assert store.outbox.retry("t", ["no-such-id"], at) == []
    [requeued] = store.outbox.retry("t", None, at)
    assert requeued.event_id == delivery.event_id
    [again] = store.outbox.due("t", A, at, 10)
    assert (again.attempts, again.status) == (0, "pending")
    store.outbox.record("t", [fail(A, again.event_id, at, 204)], POLICY, [0.0])
    assert store.outbox.counts("t") == {"pending": 1, "delivered": 1, "dead": 0}  # B's is still pending
    attempts = store.outbox.attempts("t", delivery.event_id)
    assert [(a["attempt"], a["statusCode"], a["error"]) for a in attempts][-2:] == [
        (3, None, "ConnectError"),
        (1, 204, None),
    ]


def test_the_backoff_follows_the_policy_with_the_jitter_given(store: Store) -> None:
    store.append_events("t", [emitted("One")])
    store.outbox.relay("t", [A], NOW)
    [delivery] = store.outbox.due("t", A, NOW, 10)
    store.outbox.record("t", [fail(A, delivery.event_id)], POLICY, [0.5])  # 10 s, less a quarter
    assert store.outbox.due("t", A, NOW + timedelta(seconds=7.49), 10) == []
    assert store.outbox.due("t", A, NOW + timedelta(seconds=7.5), 10)[0].next_at == "2026-11-02T09:00:07.500000Z"


def test_attempts_stay_out_of_the_log(store: Store) -> None:
    store.append_events("t", [emitted("One")])
    head = store.head("t")
    store.outbox.relay("t", [A], NOW)
    [delivery] = store.outbox.due("t", A, NOW, 10)
    store.outbox.record("t", [fail(A, delivery.event_id)], POLICY, [0.0])
    assert store.head("t") == head and store.verify_log("t") == []
    assert [e["seq"] for e in store.events("t")] == [1]
