"""What a `range` validation accepts: shared by the runtime (which checks records) and compat (which counts the
stored records a tightened range would reject), so both answer the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["in_range"]


def in_range(value: Any, low: float | str | None, high: float | str | None) -> bool:
    """Numbers against numeric bounds; dates and datetimes by their (UTC) calendar date against ISO date bounds;
    lists item by item. Bounds of the other kind, and values of other types, do not constrain."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return (low is None or isinstance(low, str) or value >= low) and (
            high is None or isinstance(high, str) or value <= high
        )
    if isinstance(value, str):
        day = _utc_day(value)
        return (low is None or not isinstance(low, str) or day >= low[:10]) and (
            high is None or not isinstance(high, str) or day <= high[:10]
        )
    if isinstance(value, list):
        return all(in_range(v, low, high) for v in value)
    return True


def _utc_day(value: str) -> str:
    if len(value) <= 10:
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value[:10]
    return moment.astimezone(UTC).date().isoformat() if moment.tzinfo else value[:10]
