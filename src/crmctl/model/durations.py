"""Durations: one grammar for the package's times (SLA steps, timers) and the virtual clock's `advance`.

A duration is an amount in ASCII digits with an optional fraction (`30`, `1.5`; no sign, exponent or `_`) and a
unit. Units measure seconds (`UNIT_SECONDS`: `s`, `m`, `h`, `d` = 24 h, `w` = 7 d) except `bd`, a business day,
whose length only a calendar knows (`crmctl.runtime.calendar`). Package files take `m`, `h`, `d`, `bd` and `w`
(`PACKAGE_UNITS`, the JSON Schema's pattern `DURATION_PATTERN`); `advance` in scripts and scenarios takes `s`,
`m`, `h`, `d` and `w` (`CLOCK_UNITS`: a virtual clock has no calendar).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import timedelta

__all__ = [
    "BUSINESS_DAY",
    "CLOCK_DURATION_PATTERN",
    "CLOCK_UNITS",
    "DURATION_PATTERN",
    "PACKAGE_UNITS",
    "UNIT_SECONDS",
    "clock_step",
    "parse_duration",
]

BUSINESS_DAY = "bd"
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
PACKAGE_UNITS = ("m", "h", "d", BUSINESS_DAY, "w")
CLOCK_UNITS = ("s", "m", "h", "d", "w")
# The package format's pattern, as the shipped JSON Schemas spell it (PACKAGE_UNITS).
DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|h|d|bd|w)$"
# `advance`'s pattern in the script and scenario JSON Schemas (CLOCK_UNITS).
CLOCK_DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?(s|m|h|d|w)$"
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(bd|[a-z])")
_LONGEST = 100 * 366 * 86400  # seconds: a virtual clock moved further would leave the calendar (year 9999)
_EXAMPLES = {"s": "30s", "m": "30m", "h": "4h", "d": "2d", BUSINESS_DAY: "1bd", "w": "1w"}


def parse_duration(text: str, units: Collection[str] = PACKAGE_UNITS) -> tuple[float, str]:
    """`(amount, unit)` of a duration whose unit is one of `units` (surrounding blanks ignored); ValueError else."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or match.group(2) not in units:
        raise ValueError(f"{text!r} is not a duration (e.g. {', '.join(_EXAMPLES[u] for u in units)})")
    return float(match.group(1)), match.group(2)


def clock_step(text: str) -> timedelta:
    """How far an `advance` moves a virtual clock (CLOCK_UNITS, at most 100 years); ValueError else."""
    raw = str(text).strip()
    try:
        amount, unit = parse_duration(raw, CLOCK_UNITS)
    except ValueError:
        amount, unit = -1, "s"
    if amount < 0 or amount * UNIT_SECONDS[unit] > _LONGEST:
        raise ValueError(f"advance takes a duration like 30s, 5m, 2h, 3d or 1w (at most 100 years), not {raw!r}")
    return timedelta(seconds=amount * UNIT_SECONDS[unit])
