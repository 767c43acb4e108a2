"""`crmctl events list|tail`: the business events the runtime emitted, read from the tenant's event log.

A business event is an effect `{"effect": "event", "event": NAME, "payload": {...}, "at": ...}` inside a log
entry (kind `workflow` today; any kind is read). Rows come in log order: the entry's seq, then the effect's
position in it. `tail --follow` opens the store read-only once per poll, so a writer is never locked out.

Output: text for people; `--format json` one envelope (`crmctl.cli.contract`) whose result lists the events;
`--format jsonl` (tail only) one event object per line, the same objects, and the only machine-readable form of
`tail --follow`, which streams (`--follow --format json` is a usage error: an envelope is one finished document).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmctl.cli.console import flush, out
from crmctl.cli.contract import emit
from crmctl.cli.inputs import open_store
from crmctl.errors import UsageError

__all__ = ["EventFilter", "business_events", "run_list", "run_tail"]

POLL_SECONDS = 1.0
_sleep = time.sleep  # tests replace it


@dataclass(frozen=True)
class EventFilter:
    event: str | None = None
    instance: str | None = None
    since: datetime | None = None

    def admits(self, row: Mapping[str, Any]) -> bool:
        if self.event is not None and row["event"] != self.event:
            return False
        if self.instance is not None and row["instance"] != self.instance:
            return False
        return self.since is None or _moment(row["at"]) >= self.since


def business_events(entries: Iterator[Mapping[str, Any]], where: EventFilter) -> Iterator[dict[str, Any]]:
    """The event effects of log entries as rows (seq, at, event, instance, session, kind, payload), filtered."""
    for entry in entries:
        given = entry.get("input")
        session = str(entry.get("session", ""))
        instance = given.get("instance") if isinstance(given, Mapping) else None
        if instance is None and session.startswith("workflow:"):
            instance = session.removeprefix("workflow:")
        for effect in entry.get("effects") or ():
            if not isinstance(effect, Mapping) or effect.get("effect") != "event":
                continue
            row = {
                "seq": entry.get("seq"),
                "at": effect.get("at", entry.get("at")),
                "event": effect.get("event"),
                "instance": None if instance is None else str(instance),
                "session": session,
                "kind": entry.get("kind"),
                "payload": effect.get("payload") or {},
            }
            if where.admits(row):
                yield row


def _moment(text: Any) -> datetime:
    from crmctl.runtime.service import parse_instant

    return parse_instant(str(text).replace("Z", "+00:00"))


def since_option(text: str | None) -> datetime | None:
    if text is None:
        return None
    from crmctl.errors import UserError

    try:
        return _moment(text)
    except (ValueError, UserError):
        raise UsageError(f"--since {text!r}: not an ISO 8601 time with a zone (e.g. 2026-11-26T09:00:00Z)") from None


def _read(
    store_path: str | None, tenant: str, where: EventFilter, after_seq: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Matching rows after `after_seq`, and the last seq read (matching or not)."""
    with open_store(store_path, read_only=True) as store:
        entries = store.events(tenant, after_seq=after_seq)
        last = after_seq

        def tracked() -> Iterator[Mapping[str, Any]]:
            nonlocal last
            for entry in entries:
                last = int(entry.get("seq", last))
                yield entry

        rows = list(business_events(tracked(), where))
    return rows, last


def _render(rows: list[dict[str, Any]], output_format: str) -> None:
    """Text lines, or JSON Lines (`jsonl`: one event object per line)."""
    if output_format == "jsonl":
        for row in rows:
            out(json.dumps(row, ensure_ascii=False))
        return
    for row in rows:
        who = row["instance"] if row["instance"] is not None else row["session"]
        payload = json.dumps(row["payload"], ensure_ascii=False)
        out(f"{row['seq']:>6}  {row['at']}  {row['event']:<20} {who:<16} {payload}")


def run_list(store_path: str | None, tenant: str, where: EventFilter, limit: int | None, output_format: str) -> int:
    rows, _ = _read(store_path, tenant, where)
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    if output_format == "json":
        return emit({"tenant": tenant, "total": total, "events": rows})
    if not rows:
        out(f"no business events in tenant {tenant}")
    _render(rows, output_format)
    return 0


def run_tail(
    store_path: str | None,
    tenant: str,
    where: EventFilter,
    last: int,
    output_format: str,
    *,
    follow: bool,
    polls: int | None = None,
) -> int:
    """The last `last` rows; with `follow`, poll the store every second for new ones until Ctrl-C (or `polls`)."""
    if follow and output_format == "json":
        raise UsageError(
            "--follow streams events as they come; a JSON envelope is one finished document",
            hint="use --format jsonl (one event object per line) with --follow",
        )
    rows, seen = _read(store_path, tenant, where)
    tail = list(deque(rows, maxlen=last)) if last > 0 else []
    if not follow:
        if output_format == "json":
            return emit({"tenant": tenant, "total": len(rows), "events": tail})
        if output_format == "text" and not tail:
            out(f"no business events in tenant {tenant}")
        _render(tail, output_format)
        return 0
    _render(tail, output_format)  # then each new event as it comes
    if not flush():
        return 0
    done = 0
    while polls is None or done < polls:
        _sleep(POLL_SECONDS)
        done += 1
        fresh, seen = _read(store_path, tenant, where, seen)
        _render(fresh, output_format)
        if not flush():  # shown as it comes; and when the reader is gone (`| head -3`), the tail ends
            return 0
    return 0
