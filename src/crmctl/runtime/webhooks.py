"""Events to webhooks, the pure part: which log entries carry deliverable events, the CloudEvent each becomes, and
the retry policy (exponential backoff with a cap and injected jitter, dead after `max_attempts`).

A deliverable event is
- a business event: an `{"effect": "event", "event": NAME, "payload": {...}}` effect of any entry (workflows emit
  them, named in the package's events.yaml) → type `crmctl.event.NAME`, data = the payload;
- a record written: an entry of kind `record` (`records create|update`, the records API) → type
  `crmctl.record.created` or `crmctl.record.updated`, data = `{"entity", "id", "record"}`;
- a form submit that stored a record (a `form` entry with an ok `submit` effect) → `crmctl.record.created`.

The CloudEvent is a function of the entry alone (CloudEvents 1.0, structured JSON mode): `id` is the entry's hash
and the event's position in it, so it is the same for every webhook and every relay of the same log, and unique
across tenants and stores; `time` is the entry's `at`. Nothing here reads a clock or draws a random number: the
jitter is a number in [0, 1) the caller draws.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_POLICY",
    "SPEC_VERSION",
    "RetryPolicy",
    "cloud_events",
]

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
"""The media type of a CloudEvent in structured JSON mode (the body is the whole event)."""


def _events_of(entry: Mapping[str, Any]) -> Iterator[tuple[str, str | None, Any]]:
    """(type, subject, data) of each deliverable event in `entry`, in the entry's order."""
    kind, session = entry.get("kind"), str(entry.get("session", ""))
    effects = [e for e in entry.get("effects") or () if isinstance(e, Mapping)]
    if kind == "record":
        op = "created" if entry.get("op") == "create" else "updated"
        for effect in effects:
            if effect.get("effect") == "record":
                subject = f"{entry.get('entity')}/{effect.get('id')}"
                data = {"entity": entry.get("entity"), "id": effect.get("id"), "record": effect.get("data")}
                yield f"crmctl.record.{op}", subject, data
    for effect in effects:
        if kind == "form" and effect.get("effect") == "submit" and effect.get("ok"):
            data = {"entity": entry.get("entity"), "id": session, "record": effect.get("record")}
            yield "crmctl.record.created", f"{entry.get('entity')}/{session}", data
        elif effect.get("effect") == "event":
            yield f"crmctl.event.{effect.get('event')}", session or None, effect.get("payload") or {}


def cloud_events(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The CloudEvents (structured JSON mode) of the deliverable events in a log entry, in its order.

    Extensions: `crmtenant`, `crmpackage`, `crmversion` (the version the entry is pinned to) and `crmseq` (the
    entry's seq in the tenant's log: a receiver can order and deduplicate by it)."""
    tenant = str(entry.get("tenant", ""))
    pinned = entry.get("package")
    package: Mapping[str, Any] = pinned if isinstance(pinned, Mapping) else {}
    name, version = str(package.get("name", "")), str(package.get("version", ""))
    digest = str(entry.get("hash", "")).removeprefix("sha256:")
    found = []
    for position, (kind, subject, data) in enumerate(_events_of(entry)):
        event: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": f"{digest}.{position}",
            "source": f"/crmctl/tenants/{tenant}/packages/{name}",
            "type": kind,
            "time": entry.get("at"),
            "datacontenttype": "application/json",
            "crmtenant": tenant,
            "crmpackage": name,
            "crmversion": version,
            "crmseq": int(entry.get("seq", 0)),
            "data": data,
        }
        if subject:
            event["subject"] = subject
        found.append(event)
    return found


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed delivery again: after `base`, then `factor` times longer each attempt, never longer
    than `cap`, shortened by up to `spread` (a fraction) of it by the jitter, so that many deliveries failing
    together do not all come back at once. After `max_attempts` failed attempts a delivery is dead (the DLQ)."""

    base: timedelta = timedelta(seconds=1)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=5)
    spread: float = 0.5
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base or self.factor < 1:
            raise ValueError("a retry policy needs 0 < base <= cap and factor >= 1")
        if not 0 <= self.spread < 1 or self.max_attempts < 1:
            raise ValueError("a retry policy needs 0 <= spread < 1 and max_attempts >= 1")

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt, before jitter: base * factor^(attempts - 1), capped."""
        exponent = max(attempts - 1, 0)
        limit = self.cap / self.base
        growth = 1.0
        for _ in range(exponent):  # stops at the cap: no float overflow for any number of attempts
            growth *= self.factor
            if growth >= limit:
                return self.cap
        return min(self.base * growth, self.cap)

    def delay(self, attempts: int, jitter: float) -> timedelta:
        """The wait after the `attempts`-th failed attempt, with `jitter` (drawn by the caller in [0, 1)) taking
        up to `spread` of it off."""
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {jitter!r}")
        return self.backoff(attempts) * (1 - self.spread * jitter)

    def after_failure(self, attempts: int, now: datetime, jitter: float) -> datetime | None:
        """When to try again after the `attempts`-th failed attempt at `now`; None: the delivery is dead."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts, jitter)


DEFAULT_POLICY = RetryPolicy()
"""1 s, 2 s, 4 s … up to 5 minutes between attempts (less up to half by jitter); dead after 8 attempts."""
