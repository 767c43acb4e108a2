"""One duration grammar: package files (the JSON Schema's pattern), the calendar, lint rules and `advance`."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crmctl
from crmctl.cli.inputs import duration
from crmctl.errors import InputError
from crmctl.model.durations import (
    CLOCK_DURATION_PATTERN,
    CLOCK_UNITS,
    DURATION_PATTERN,
    PACKAGE_UNITS,
    UNIT_SECONDS,
    parse_duration,
)
from crmctl.runtime.calendar import ALWAYS, CalendarError

_TEXT = st.one_of(
    st.builds(
        lambda a, f, u, pad: f"{pad}{a}{f}{u}{pad}",
        st.sampled_from(["0", "1", "007", "30", "1_0", "١", "-1", "+1", "", "1e3", "inf"]),
        st.sampled_from(["", ".5", ".", ".05"]),
        st.sampled_from(["s", "m", "h", "d", "bd", "w", "x", "", "H", "ms"]),
        st.sampled_from(["", " "]),
    ),
    st.text(max_size=6),
)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(_TEXT)
def test_the_schema_pattern_accepts_exactly_what_the_package_grammar_parses(text: str) -> None:
    try:
        parse_duration(text)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed == (re.fullmatch(DURATION_PATTERN, text.strip()) is not None)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(_TEXT)
def test_advance_reads_the_same_grammar_with_seconds_instead_of_business_days(text: str) -> None:
    try:
        amount, unit = parse_duration(text, CLOCK_UNITS)
    except ValueError:
        with pytest.raises(InputError, match="advance takes a duration"):
            duration(text, "s.yaml:1:1")
        return
    assert unit in CLOCK_UNITS
    assert duration(text, "s.yaml:1:1") == timedelta(seconds=amount * UNIT_SECONDS[unit])


@settings(max_examples=500, deadline=None, derandomize=True)
@given(_TEXT)
def test_the_script_schema_pattern_accepts_exactly_what_advance_parses(text: str) -> None:
    try:
        parse_duration(text, CLOCK_UNITS)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed == (re.fullmatch(CLOCK_DURATION_PATTERN, text.strip()) is not None)


def test_units() -> None:
    assert parse_duration("1.5h") == (1.5, "h") and parse_duration("2bd") == (2.0, "bd")
    assert parse_duration("30s", CLOCK_UNITS) == (30.0, "s")
    for text, units in (("30s", PACKAGE_UNITS), ("1bd", CLOCK_UNITS), ("1.5", CLOCK_UNITS), ("h", PACKAGE_UNITS)):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(text, units)


def test_the_calendar_measures_package_durations_and_names_bad_ones() -> None:
    assert ALWAYS.seconds("1.5h") == 5400 and ALWAYS.seconds("1bd") == 86400 and ALWAYS.seconds("1w") == 604800
    with pytest.raises(CalendarError, match=r"'30s' is not a duration \(e\.g\. 30m, 4h, 2d, 1bd, 1w\)"):
        ALWAYS.seconds("30s")


def test_one_duration_grammar_in_the_tree() -> None:
    source = Path(crmctl.__file__).parent
    offenders = [
        str(path.relative_to(source))
        for path in sorted(source.rglob("*.py"))
        if path.name != "durations.py"
        if re.search(r"\(m\|h\|d|\"w\": 604800|\"w\": 7 \* 86400|\"h\": 3600", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
