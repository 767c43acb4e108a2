"""Every command on the contract is run with `--format json` by some table-driven test of tests/cli/contract: the
union of the areas' `COVERED` sets is every leaf command (the servers `lsp` and `mcp` excepted)."""

from __future__ import annotations

import importlib
from pathlib import Path

from crmctl.cli.main import click_app
from tests.cli.contract.test_envelope import NOT_CONTRACT, _leaves

HERE = Path(__file__).resolve().parent


def _covered() -> dict[str, set[str]]:
    areas = {}
    for path in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(f"tests.cli.contract.{path.stem}")
        if hasattr(module, "COVERED"):
            areas[path.stem] = set(module.COVERED)
    return areas


def test_the_areas_cover_every_command() -> None:
    areas = _covered()
    covered = set().union(*areas.values())
    leaves = set(_leaves(click_app())) - NOT_CONTRACT
    assert leaves - covered == set(), "commands no contract test runs"
    assert covered - leaves == set(), "COVERED names commands that do not exist"


def test_no_command_is_claimed_by_two_areas() -> None:
    seen: dict[str, str] = {}
    for area, commands in _covered().items():
        for command in commands:
            assert command not in seen, f"{command!r} is in COVERED of {seen.get(command)} and {area}"
            seen[command] = area
