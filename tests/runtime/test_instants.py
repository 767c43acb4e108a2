"""One instant parser: the runtime's `parse_instant`, which the store's timestamps go through too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.errors import InputError
from crmctl.runtime.instants import InstantError, parse_instant
from crmctl.runtime.storage.connection import iso_from_micros, parse_stored_instant
from crmctl.runtime.values import format_timestamp

zones = st.one_of(
    st.none(),
    st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)
moments = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1800, 1, 2), max_value=datetime(2999, 12, 31)),
    zones,
)
texts = st.one_of(moments.map(lambda m: m.isoformat()), st.text(max_size=40), st.none(), st.integers())


def _outcome(parse: Callable[[Any], datetime], text: object) -> datetime | None:
    try:
        return parse(text)
    except InputError:
        return None


@settings(max_examples=400, deadline=None, derandomize=True)
@given(texts)
def test_the_store_accepts_exactly_what_the_runtime_parses(text: object) -> None:
    """The store's check of a timestamp is `parse_instant` (it used to be a second parser), with its own message."""
    assert _outcome(parse_stored_instant, text) == _outcome(parse_instant, text)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(moments.filter(lambda m: m.tzinfo is not None))
def test_a_stored_instant_reads_back_as_the_runtime_writes_it(moment: datetime) -> None:
    utc = parse_stored_instant(moment.isoformat())
    micros = (utc - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert iso_from_micros(micros) == format_timestamp(moment)


@pytest.mark.parametrize("text", ["yesterday", "2026-11-26T10:00:00", None, 5])
def test_each_caller_keeps_its_message(text: object) -> None:
    with pytest.raises(InputError, match=r"is not an ISO 8601 UTC timestamp such as 2026-11-26T10:00:00Z$"):
        parse_stored_instant(text)
    with pytest.raises(InstantError, match=r": (not an ISO 8601 time|a time needs a zone) \(e\.g\."):
        parse_instant(text)
