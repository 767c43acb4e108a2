"""Counted time for SLAs: which moments count, in a calendar of working hours, a time zone and holidays.

`WorkCalendar.add(start, seconds)` is the moment when `seconds` of counted time have passed after `start`;
`WorkCalendar.counted(a, b)` the counted seconds between two moments. The `calendar` calendar counts every
moment; `business` is Monday to Friday, 09:00–17:00 UTC, unless the workflow defines a calendar of that name.

Durations: `m`, `h`, `d` (24 h) and `w` (7 d) measure counted time; `bd`, a business day, is the calendar's
working hours on an average working day (8 h for `business`; 24 h in the `calendar` calendar). Holidays count
as days off when the calendar's policy is `pause` and as ordinary days under `count`. Pure: no wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmctl.errors import UserError
from crmctl.model.durations import BUSINESS_DAY, UNIT_SECONDS, parse_duration

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crmctl.model.artifacts import Calendar

__all__ = ["ALWAYS", "CalendarError", "WorkCalendar"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_DAYS = 366 * 20  # a deadline further than this is a calendar without working time


class CalendarError(UserError):
    """A calendar that cannot be used: unknown time zone, no working time at all, a deadline out of reach."""


@dataclass(frozen=True)
class WorkCalendar:
    name: str
    zone: str
    hours: tuple[tuple[tuple[int, int], ...], ...]  # per weekday (Monday first): (start, end) minutes of the day
    holidays: frozenset[date]
    pause_on_holidays: bool

    @property
    def always(self) -> bool:
        return not self.hours

    @classmethod
    def from_model(cls, name: str, model: Calendar) -> WorkCalendar:
        try:
            ZoneInfo(model.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"calendar {name}: unknown time zone {model.timezone!r}") from None
        days = tuple(tuple(sorted(_range(r) for r in model.hours.get(day, []))) for day in _DAYS)  # type: ignore[call-overload]
        if not any(days):
            raise CalendarError(f"calendar {name}: no working hours on any day")
        holidays = frozenset(date.fromisoformat(d) for d in model.holidays)
        return cls(name, model.timezone, days, holidays, model.onHolidays == "pause")

    @classmethod
    def named(cls, name: str, defined: Mapping[str, Calendar]) -> WorkCalendar:
        """The calendar an SLA names: one the workflow defines, or the built-in `calendar` and `business`."""
        if name in defined:
            return cls.from_model(name, defined[name])
        if name == "calendar":
            return ALWAYS
        if name == "business":
            return BUSINESS
        raise CalendarError(f"no calendar {name!r}; define it under the workflow's calendars")

    def business_day(self) -> float:
        """Seconds in one `bd`: the average working time of a working day (24 h when every moment counts)."""
        if self.always:
            return 86400.0
        working = [sum(end - start for start, end in day) for day in self.hours if day]
        return 60.0 * sum(working) / len(working)

    def seconds(self, duration: str) -> float:
        try:
            amount, unit = parse_duration(duration)
        except ValueError as exc:
            raise CalendarError(str(exc)) from None
        return amount * (self.business_day() if unit == BUSINESS_DAY else UNIT_SECONDS[unit])

    # --- counted time ----------------------------------------------------------------------------------------

    def _windows(self, day: date) -> tuple[tuple[int, int], ...]:
        if self.pause_on_holidays and day in self.holidays:
            return ()
        return self.hours[day.weekday()]

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of counted time after `start` (UTC)."""
        if seconds <= 0:
            return start
        if self.always:
            return start + timedelta(seconds=seconds)
        zone = _zone(self.zone)
        local = start.astimezone(zone)
        remaining = seconds
        day = local.date()
        for _ in range(_MAX_DAYS):
            for begin, end in self._windows(day):
                window_start = _at(day, begin, zone)
                window_end = _at(day, end, zone)
                lower = max(window_start, local)
                if lower >= window_end:
                    continue
                available = (window_end - lower).total_seconds()
                if remaining <= available:
                    return (lower + timedelta(seconds=remaining)).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name}: no deadline within {_MAX_DAYS // 366} years")

    def counted(self, a: datetime, b: datetime) -> float:
        """Counted seconds between two moments (0 when b is not after a)."""
        if b <= a:
            return 0.0
        if self.always:
            return (b - a).total_seconds()
        zone = _zone(self.zone)
        lo, hi = a.astimezone(zone), b.astimezone(zone)
        total = 0.0
        day = lo.date()
        while day <= hi.date():
            for begin, end in self._windows(day):
                start = max(_at(day, begin, zone), lo)
                stop = min(_at(day, end, zone), hi)
                if stop > start:
                    total += (stop - start).total_seconds()
            day += timedelta(days=1)
        return total


def _range(text: str) -> tuple[int, int]:
    begin, end = text.split("-")
    return _minutes(begin), _minutes(end)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    if minute >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time(0, 0), zone)
    return datetime.combine(day, time(minute // 60, minute % 60), zone)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_NINE_TO_FIVE = ((9 * 60, 17 * 60),)
ALWAYS = WorkCalendar("calendar", "UTC", (), frozenset(), False)
BUSINESS = WorkCalendar("business", "UTC", (*(_NINE_TO_FIVE,) * 5, (), ()), frozenset(), True)
