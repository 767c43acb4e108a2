"""The store's webhook outbox (store format 3): `webhook_cursors` (where each webhook's relay stopped in the log),
`webhook_outbox` (one row per event and webhook: pending, delivered or dead) and `webhook_attempts` (every
delivery attempt: when, the status code or the error, how long).

The log is the source of truth: `relay` turns the entries after a webhook's cursor into outbox rows and moves the
cursor in the same transaction, so a crash in between loses nothing and enqueues nothing twice. None of these
tables is part of the hash-chained log: `log verify` and `replay` never read them, and replay sends nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crmctl.model.tenants import check_tenant
from crmctl.runtime import eventlog
from crmctl.runtime.storage.connection import Connection, iso_from_micros, read_object
from crmctl.runtime.storage.events import EventLog
from crmctl.runtime.webhooks import RetryPolicy, cloud_events

__all__ = ["Attempt", "Delivery", "Outbox"]


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook, as the outbox holds it."""

    webhook: str
    event_id: str
    seq: int
    event: dict[str, Any]
    status: str  # pending | delivered | dead
    attempts: int
    next_at: str
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook": self.webhook,
            "id": self.event_id,
            "seq": self.seq,
            "type": self.event.get("type"),
            "status": self.status,
            "attempts": self.attempts,
            "nextAt": self.next_at,
            "lastError": self.last_error,
        }


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt gave: a status code (2xx: delivered) or an error, and how long it took."""

    webhook: str
    event_id: str
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_PENDING, _DELIVERED, _DEAD = "pending", "delivered", "dead"
_OUTBOX_COLUMNS = ("tenant", "webhook", "event_id", "seq", "position", "event", "status", "attempts", "next_at")
_ATTEMPT_COLUMNS = ("tenant", "webhook", "event_id", "attempt", "at", "status_code", "error", "duration_ms")


def _outbox_table(tenant: str, rows: Sequence[tuple[str, str, int, int, str]], now: datetime) -> Any:
    """New pending outbox rows (webhook, event id, seq, position, CloudEvent JSON) as an Arrow table."""
    import pyarrow as pa

    text = pa.string()
    return pa.table(
        {
            "tenant": pa.array([tenant] * len(rows), text),
            "webhook": pa.array([r[0] for r in rows], text),
            "event_id": pa.array([r[1] for r in rows], text),
            "seq": pa.array([r[2] for r in rows], pa.int64()),
            "position": pa.array([r[3] for r in rows], pa.int32()),
            "event": pa.array([r[4] for r in rows], text),
            "status": pa.array([_PENDING] * len(rows), text),
            "attempts": pa.array([0] * len(rows), pa.int32()),
            "next_at": pa.array([now] * len(rows), pa.timestamp("us", "UTC")),
        }
    )


class Outbox:
    """The outbox tables of one store; reads the event log it relays from."""

    def __init__(self, connection: Connection, log: EventLog) -> None:
        self._db = connection
        self._log = log

    def relay(self, tenant: str, webhooks: Sequence[str], now: datetime) -> int:
        """Enqueue, for each webhook, the events of the entries after its cursor (due at `now`), and move its cursor
        to the last entry read; one transaction. Return how many rows were enqueued."""
        check_tenant(tenant)
        head = self._log.head(tenant)
        if head is None or not webhooks:
            return 0
        cursors = dict(self._db.read(tenant, "SELECT webhook, seq FROM webhook_cursors WHERE tenant = ?", [tenant]))
        behind = [url for url in webhooks if int(cursors.get(url, 0)) < head[0]]
        if not behind:
            return 0
        start = min(int(cursors.get(url, 0)) for url in behind)
        rows: list[tuple[str, str, int, int, str]] = []
        for entry in self._log.entries(tenant, after_seq=start):
            seq = int(entry["seq"])
            if seq > head[0]:
                break
            for position, event in enumerate(cloud_events(entry)):
                text = eventlog.dumps(event)
                rows += [(url, event["id"], seq, position, text) for url in behind if int(cursors.get(url, 0)) < seq]
        with self._db.transaction(), self._db.tenant(tenant):
            # Another relay (a second `crmctl serve` on a PostgreSQL store) may have enqueued these meanwhile: the
            # relays take turns on the tenant's chain, and one that finds a cursor moved leaves the round to it.
            self._db.lock_chain(tenant)
            current = dict(self._db.all("SELECT webhook, seq FROM webhook_cursors WHERE tenant = ?", [tenant]))
            if any(current.get(url) != cursors.get(url) for url in behind):
                return 0
            if rows:
                self._db.insert("webhook_outbox", _OUTBOX_COLUMNS, _outbox_table(tenant, rows, now))
            for url in behind:
                self._db.upsert("webhook_cursors", {"tenant": tenant, "webhook": url, "seq": head[0]})
        return len(rows)

    def due(self, tenant: str, webhook: str, now: datetime, limit: int) -> list[Delivery]:
        """The webhook's pending deliveries in log order (seq, then position), from the first one, as long as they
        are due at `now`: delivery stops at the first one that is not (order per webhook is kept)."""
        rows = self._db.read(
            tenant,
            f"SELECT {self._delivery_columns()} FROM webhook_outbox "
            f"WHERE tenant = ? AND webhook = ? AND status = ? ORDER BY seq, position LIMIT {int(limit)}",
            [tenant, webhook, _PENDING],
        )
        found = []
        for row in rows:
            if row[6] > _micros(now):
                break
            found.append(self._delivery(tenant, row))
        return found

    def record(self, tenant: str, attempts: Iterable[Attempt], policy: RetryPolicy, jitter: Sequence[float]) -> None:
        """Record delivery attempts (apart from the log) and what they mean for each delivery: delivered, due again
        after the policy's backoff (`jitter`: one draw per attempt), or dead."""
        import pyarrow as pa

        given = list(zip(attempts, jitter, strict=True))
        if not given:
            return
        with self._db.transaction(), self._db.tenant(tenant):
            ids = sorted({attempt.event_id for attempt, _ in given})
            marks = ", ".join("?" for _ in ids)
            counts = {
                (webhook, event_id): int(count)
                for webhook, event_id, count in self._db.all(
                    "SELECT webhook, event_id, attempts FROM webhook_outbox WHERE tenant = ? AND status = ? "
                    f"AND event_id IN ({marks})",
                    [tenant, _PENDING, *ids],
                )
            }
            booked, states = [], {}
            for attempt, draw in given:
                key = (attempt.webhook, attempt.event_id)
                if key not in counts:
                    continue  # retried or delivered meanwhile by another writer: nothing to book
                counts[key] += 1
                again = None if attempt.ok else policy.after_failure(counts[key], attempt.at, draw)
                status = _DELIVERED if attempt.ok else _PENDING if again is not None else _DEAD
                booked.append((attempt, counts[key]))
                states[key] = (status, counts[key], again or attempt.at)
                if status != _PENDING:
                    del counts[key]
            if not booked:
                return
            when = pa.timestamp("us", "UTC")
            self._db.insert(
                "webhook_attempts",
                _ATTEMPT_COLUMNS,
                pa.table(
                    {
                        "tenant": pa.array([tenant] * len(booked), pa.string()),
                        "webhook": pa.array([a.webhook for a, _ in booked], pa.string()),
                        "event_id": pa.array([a.event_id for a, _ in booked], pa.string()),
                        "attempt": pa.array([n for _, n in booked], pa.int32()),
                        "at": pa.array([a.at for a, _ in booked], when),
                        "status_code": pa.array([a.status_code for a, _ in booked], pa.int32()),
                        "error": pa.array([a.error for a, _ in booked], pa.string()),
                        "duration_ms": pa.array([a.duration_ms for a, _ in booked], pa.float64()),
                    }
                ),
            )
            keys = list(states)
            table = pa.table(
                {
                    "webhook": pa.array([w for w, _ in keys], pa.string()),
                    "event_id": pa.array([e for _, e in keys], pa.string()),
                    "status": pa.array([states[k][0] for k in keys], pa.string()),
                    "attempts": pa.array([states[k][1] for k in keys], pa.int32()),
                    "next_at": pa.array([states[k][2] for k in keys], when),
                }
            )
            with self._db.batch(table) as batch:
                self._db.changed(
                    f"UPDATE webhook_outbox SET status = b.status, attempts = b.attempts, next_at = b.next_at "
                    f"FROM {batch} b WHERE webhook_outbox.tenant = ? AND webhook_outbox.webhook = b.webhook "
                    f"AND webhook_outbox.event_id = b.event_id",
                    [tenant],
                )

    def dead(self, tenant: str) -> list[Delivery]:
        """The tenant's dead deliveries (the DLQ) in log order, each with its last error."""
        rows = self._db.read(
            tenant,
            f"SELECT {self._delivery_columns()} FROM webhook_outbox "
            "WHERE tenant = ? AND status = ? ORDER BY seq, position, webhook",
            [tenant, _DEAD],
        )
        return [self._delivery(tenant, row) for row in rows]

    def retry(self, tenant: str, event_ids: Sequence[str] | None, now: datetime) -> list[Delivery]:
        """Put dead deliveries back in the queue, due at `now` with no attempts yet (`event_ids` None: all of them,
        for every webhook; else those with these ids); return those re-queued. An id that is no dead delivery
        re-queues nothing (the caller reports it)."""
        chosen = [d for d in self.dead(tenant) if event_ids is None or d.event_id in event_ids]
        with self._db.transaction(), self._db.tenant(tenant):
            for delivery in chosen:
                self._db.changed(
                    "UPDATE webhook_outbox SET status = ?, attempts = 0, next_at = ? "
                    "WHERE tenant = ? AND webhook = ? AND event_id = ?",
                    [_PENDING, now, tenant, delivery.webhook, delivery.event_id],
                )
        return chosen

    def attempts(self, tenant: str, event_id: str) -> list[dict[str, Any]]:
        """Every recorded attempt to deliver `event_id` (any webhook), oldest first."""
        rows = self._db.read(
            tenant,
            f"SELECT webhook, attempt, {self._db.epoch_us('at')}, status_code, error, duration_ms "
            'FROM webhook_attempts WHERE tenant = ? AND event_id = ? ORDER BY "at", webhook, attempt',
            [tenant, event_id],
        )
        return [
            {"webhook": w, "attempt": n, "at": iso_from_micros(at), "statusCode": code, "error": e, "durationMs": d}
            for w, n, at, code, e, d in rows
        ]

    def counts(self, tenant: str) -> dict[str, int]:
        """How many of the tenant's deliveries are pending, delivered and dead."""
        found = dict(
            self._db.read(
                tenant, "SELECT status, count(*) FROM webhook_outbox WHERE tenant = ? GROUP BY status", [tenant]
            )
        )
        return {status: int(found.get(status, 0)) for status in (_PENDING, _DELIVERED, _DEAD)}

    def _delivery_columns(self) -> str:
        return f"webhook, event_id, seq, event, status, attempts, {self._db.epoch_us('next_at')}"

    def _delivery(self, tenant: str, row: tuple[Any, ...]) -> Delivery:
        webhook, event_id, seq, text, status, attempts, next_at = row
        last = None
        if status == _DEAD:
            errors = self._db.read(
                tenant,
                "SELECT status_code, error FROM webhook_attempts WHERE tenant = ? AND webhook = ? AND event_id = ? "
                "ORDER BY attempt DESC LIMIT 1",
                [tenant, webhook, event_id],
            )
            if errors:
                code, error = errors[0]
                last = error if error is not None else f"HTTP {code}"
        event = read_object(text, self._db.path, "webhook delivery", tenant, event_id)
        return Delivery(webhook, event_id, int(seq), event, status, int(attempts), iso_from_micros(next_at), last)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    """An aware datetime as epoch microseconds (what `epoch_us` reads from a TIMESTAMPTZ)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)
