"""Numbers from text are JSON numbers in ASCII digits, everywhere (issue 9 §3: `1_000` and non-ASCII digits were
read as integers, because Python's int() and float() and YAML's resolver accept them)."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli import interactive
from crmctl.cli.inputs import duration
from crmctl.cli.main import run
from crmctl.errors import InputError
from crmctl.model.numbers import JSON_NUMBER, parse_number
from crmctl.model.source import parse_text
from crmctl.model.versions import SEMVER, version_key
from tests.conftest import REPO

# Spellings Python or YAML read as numbers that are not JSON numbers in ASCII digits.
NOT_JSON = [
    "1_000",
    "+5",
    " 5",
    "5 ",
    "١٢",
    "１２",
    "٣.٥",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "007",
    ".5",
    "12.",
    "0x1F",
    "0o17",
    "0b101",
    "1e",
    "--1",
    "1,5",
    "",
    "٠",
]


@pytest.mark.parametrize("text", NOT_JSON)
def test_what_python_or_yaml_would_read_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        parse_number(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("-0", 0),
        ("12", 12),
        ("-3.5", -3.5),
        ("1e6", 1e6),
        ("1E+3", 1000.0),
        ("2.5e-3", 0.0025),
        ("9" * 30, int("9" * 30)),
    ],
)
def test_json_numbers_are_read_as_json_reads_them(text: str, value: float) -> None:
    got = parse_number(text)
    assert got == value and type(got) is type(json.loads(text))


def test_out_of_range_and_too_many_digits_are_refused() -> None:
    with pytest.raises(ValueError, match="beyond the range"):
        parse_number("1e999")
    with pytest.raises(ValueError, match="has 5000 digits"):
        parse_number("7" * 5000)


@settings(derandomize=True, max_examples=400)
@given(
    st.text(alphabet=st.sampled_from("0123456789-+.eE_ x٢１") | st.characters(), max_size=12)
    | st.from_regex(JSON_NUMBER, fullmatch=True)
)
def test_accepted_exactly_when_json_reads_a_finite_number(text: str) -> None:
    try:
        expected: Any = json.loads(text)
        ok = isinstance(expected, int | float) and not isinstance(expected, bool) and math.isfinite(expected)
        ok = ok and re.fullmatch(r"[-0-9.eE+]+", text) is not None  # json.loads also skips spaces around it
    except ValueError:
        ok = False
    try:
        got = parse_number(text)
    except ValueError:
        assert not ok
    else:
        assert ok and got == expected and type(got) is type(expected)


@pytest.mark.parametrize("text", ["a: 1_000", "a: 0x1F", "a: 0o17", "a: +12", "a: 007", "a: .5", "a: 12."])
def test_yaml_spellings_of_numbers_are_located_errors(text: str) -> None:
    with pytest.raises(InputError, match=r"^x\.yaml:1:4: '.*' is not a number crmctl reads"):
        parse_text(text, "x.yaml")


@pytest.mark.parametrize("text", ["a: 12", "a: -3.5", "a: 1e6", "a: '1_000'", 'a: "007"', "a: ١٢", "a: true"])
def test_yaml_numbers_in_json_syntax_and_quoted_text_still_read(text: str) -> None:
    assert "a" in parse_text(text, "x.yaml").data


@pytest.mark.parametrize("version", ["1.0.1٢", "1.٢.0", "1.0.0-1٢", "１.0.0"])
def test_versions_take_ascii_digits_only(version: str) -> None:
    """`\\d` in the semver pattern matched any script's digits: 1.0.1٢ was version 1.0.12."""
    assert re.match(SEMVER, version) is None and version_key(version) == (0, 0, 0, 0, ())


@pytest.mark.parametrize("text", ["1_0h", "١h", "nanh", "infh", "1e300w", "+1h", "-1h", "h", "1.5"])
def test_durations_refuse_what_is_no_number(text: str) -> None:
    """`infh` used to raise OverflowError (a traceback), `nanh` ValueError, `1_0h` meant ten hours."""
    with pytest.raises(InputError, match="advance takes a duration"):
        duration(text, "s.yaml:3:5")


def test_durations_still_read_json_numbers() -> None:
    assert duration("1.5h", "x") == timedelta(minutes=90) and duration("2d", "x") == timedelta(days=2)


@pytest.mark.parametrize(
    ("raw", "kind"), [("1_000", "number"), ("١٢", "number"), ("nan", "currency"), ("+5", "number"), ("inf", "currency")]
)
def test_typed_answers_in_the_form_refuse_what_is_no_number(raw: str, kind: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        interactive.parse_value(raw, kind)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["records", "list", "--limit", "1_000"], "'1_000' is not a number"),
        (["records", "list", "--limit", "١٢"], "'١٢' is not a number"),
        (["records", "list", "--limit", "-1"], "'-1' is not a whole number from 0"),
        (["events", "list", "--limit", "2.5"], "'2.5' is not a whole number from 0"),
        (["events", "tail", "-n", "+3"], "'+3' is not a number"),
        (["replay", "--limit", " 5"], "' 5' is not a number"),
        (["diff", "a", "b", "--records-limit", "1e3"], "'1e3' is not a whole number from 0"),
        (["workflow", "coverage", "p", "--scenarios", "s", "--fail-under", "nan"], "'nan' is not a number"),
        (["workflow", "coverage", "p", "--scenarios", "s", "--fail-under", "101"], "not a percentage from 0 to 100"),
    ],
)
def test_counting_options_take_json_numbers(
    tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    assert message in capsys.readouterr().err


def test_a_counting_option_still_reads_a_plain_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "rt.duckdb")
    leads = str(REPO / "scripts" / "demo" / "leads.csv")
    v1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
    assert run(["records", "import", v1, leads, "-e", "Lead", "--store", store, "--now", "2026-11-26T09:00:00Z"]) == 0
    capsys.readouterr()
    assert run(["records", "list", "--limit", "2", "--store", store]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
