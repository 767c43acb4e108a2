"""Golden outputs: what lint and diff print, in every format, for fixed packages.

The packages live in tests/fixtures/golden/cases; the expected outputs next to them. After an intended change
of wording or format, regenerate with `CRMCTL_UPDATE_GOLDEN=1 pytest tests/golden` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crmctl.cli.main import run

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"

CASES = [
    ("lint", ["lint", "cases/Broken"], 1, ["text", "json", "sarif", "github", "junit"]),
    ("diff", ["diff", "cases/DiffOld", "cases/DiffNew"], 1, ["text", "json", "github"]),
]


@pytest.mark.parametrize(
    ("name", "args", "code", "fmt"),
    [(name, args, code, fmt) for name, args, code, fmts in CASES for fmt in fmts],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_golden_output(
    name: str, args: list[str], code: int, fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(GOLDEN)
    assert run([*args, "--format", fmt]) == code
    output = capsys.readouterr().out
    expected = GOLDEN / f"{name}.{fmt}"
    if os.environ.get("CRMCTL_UPDATE_GOLDEN"):
        expected.write_text(output, encoding="utf-8")
    assert output == expected.read_text(encoding="utf-8"), f"regenerate with CRMCTL_UPDATE_GOLDEN=1 ({expected})"
