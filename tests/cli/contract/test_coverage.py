"""Every command on the contract is run with `--format json` by some table-driven test of tests/cli/contract: the
union of the areas' `COVERED` sets is every leaf command (the servers `lsp` and `mcp` excepted)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import click_app
from tests.cli.contract.test_envelope import NOT_CONTRACT, _leaves

HERE = Path(__file__).resolve().parent
CHOICES = {"output_format", "file_format"}  # help shows their choices, <text|json>, <parquet|csv>


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


@pytest.mark.parametrize("command", sorted(set(_leaves(click_app())) - NOT_CONTRACT))
def test_every_argument_and_option_has_a_metavar(command: str) -> None:
    """Help shows `PATH`, `N`, `<text|json>`: never typer's `{path}`, `<list[str]>` or `<int range>`."""
    node: Any = click_app()
    for name in command.split():
        node = node.commands[name]
    for param in node.params:
        if getattr(param, "is_flag", False) or getattr(param, "hidden", False) or param.name == "help":
            continue
        if param.name in CHOICES:  # typer shows the choices: <text|json>
            continue
        assert param.metavar and param.metavar == param.metavar.upper(), (command, param.name, param.metavar)
