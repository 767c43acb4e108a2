"""What the runtime commands read from their user: the store to open, the injected clock (`--now`), `advance`
durations, and YAML or JSON documents (scripts, scenarios) parsed with their positions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError, UsageError

if TYPE_CHECKING:
    from crmctl.runtime.store import Store

__all__ = ["DEFAULT_STORE", "duration", "instant", "open_store", "read_document"]

DEFAULT_STORE = Path(".crm/runtime.duckdb")
_LONGEST = 100 * 366 * 86400  # seconds: a virtual clock moved further would leave the calendar (year 9999)


@contextmanager
def open_store(path: Path | None, *, read_only: bool = False) -> Iterator[Store]:
    """The store at `path` (default `DEFAULT_STORE`), created unless read-only, closed on leaving."""
    from crmctl.cli.console import detail
    from crmctl.runtime.store import Store

    target = path or DEFAULT_STORE
    detail(f"crmctl: store: {target}")
    with Store.open(target, read_only=read_only, create=not read_only) as store:
        yield store


def instant(text: str | None) -> datetime:
    """The injected clock: `--now` parsed, or the wall clock (taken here, in the shell, never in the core)."""
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    from crmctl.runtime.instants import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise UsageError(f"--now {text!r}: not an ISO 8601 time (e.g. 2026-11-26T09:00:00Z)") from None


def duration(text: Any, where: str) -> timedelta:
    """An `advance` step's duration (`crmctl.model.durations`, CLOCK_UNITS), at most 100 years."""
    from crmctl.model.durations import CLOCK_UNITS, UNIT_SECONDS, parse_duration

    raw = str(text).strip()
    try:
        amount, unit = parse_duration(raw, CLOCK_UNITS)
    except ValueError:
        amount, unit = -1, "s"
    if amount < 0 or amount * UNIT_SECONDS[unit] > _LONGEST:
        raise InputError(
            f"{where}: advance takes a duration like 30s, 5m, 2h, 3d or 1w (at most 100 years), not {raw!r}"
        )
    return timedelta(seconds=amount * UNIT_SECONDS[unit])


def read_document(path: Path, what: str) -> Any:
    """A YAML or JSON file parsed with positions (`SourceDoc`), or a located InputError."""
    from crmctl.model.source import load_document

    return load_document(path, str(path), what=f"the {what}")
