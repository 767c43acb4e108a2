"""JSON typed or passed on the command line at its limits: a located error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.cli import interactive
from crmctl.cli.main import run
from tests.cli.test_records_cli import V1

DEEP = 100_000  # far past the json module's recursion limit: a RecursionError traceback (exit 3) before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"firstName": ' + "[" * DEEP + "]" * DEEP + "}", "--data:1:79: nesting is deeper than 64 levels"),
        ('{"companySize": ' + "1" * 5000 + "}", "--data:1:17: integer has 5000 digits; the limit is 4300"),
    ],
)
def test_records_create_refuses_json_past_the_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: str, message: str
) -> None:
    store = str(tmp_path / "rt.duckdb")
    assert run(["records", "create", V1, "--entity", "Lead", "--store", store, "--data", data]) == 2
    assert message in capsys.readouterr().err
    (tmp_path / "record.json").write_text("\n" + data, encoding="utf-8")
    assert (
        run(["records", "create", V1, "--entity", "Lead", "--store", store, "--file", str(tmp_path / "record.json")])
        == 2
    )
    assert f"record.json:2:{message.split(':')[2]}:" in capsys.readouterr().err


def test_a_value_typed_in_the_form_is_parsed_with_the_same_limits() -> None:
    with pytest.raises(ValueError, match="value:1:66: nesting is deeper than 64 levels"):
        interactive.parse_value("[" * DEEP + "]" * DEEP, "array")
    with pytest.raises(ValueError, match="value:1:2: integer has 5000 digits"):
        interactive.parse_value("[" + "1" * 5000 + "]", "object")
