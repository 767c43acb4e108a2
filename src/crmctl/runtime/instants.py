"""Instants as the runtime reads them: ISO 8601 text with a zone, parsed to a UTC datetime (the one parser; the
one formatter is `runtime.values.format_timestamp`)."""

from __future__ import annotations

from datetime import UTC, datetime

from crmctl.errors import InputError

__all__ = ["InstantError", "parse_instant"]


class InstantError(InputError, ValueError):
    """Text that is not an ISO 8601 moment with a zone (a ValueError too, for callers that parse)."""


def parse_instant(text: str) -> datetime:
    """`text` (ISO 8601 with a zone, e.g. 2026-11-26T09:00:00Z) as a UTC datetime; anything else is an
    `InstantError` saying which of the two it lacks."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InstantError(f"{text!r}: not an ISO 8601 time (e.g. 2026-11-26T09:00:00Z)") from None
    if moment.tzinfo is None:
        raise InstantError(f"{text!r}: a time needs a zone (e.g. 2026-11-26T09:00:00Z)")
    return moment.astimezone(UTC)
