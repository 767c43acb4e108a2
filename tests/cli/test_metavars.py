"""Every command's --help names its arguments and option values with meaningful metavars (PATH, ID, CODE,
ENTITY.FIELD, a list of choices), never the Python types typer prints by default (`<list[Path]>`, `<str>`,
`<path>`, `<int range>`) nor typer's `{path}` in the usage line (`crmctl.cli.habits.decorate` fixes the help
of every argument centrally)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner

from crmctl.cli.main import click_app

ROOT = click_app()
# A Python type in angle brackets (choices, `<text|json>`, are meaningful and allowed), typer's braces in the
# usage line, click's default type names.
PYTHON_TYPE = re.compile(
    r"<(?:(?:list|tuple|dict)\[[^>]*|str|int|float|bool|path|Path|datetime|uuid|UUID|file|text|choice)(?: range)?>"
    r"|\{[A-Za-z_.]+\}|\b(?:INTEGER|FLOAT|BOOLEAN|FILENAME|DIRECTORY)\b"
)


def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    commands = getattr(command, "commands", None)
    if commands is None:
        return [path]
    return [leaf for name, sub in commands.items() for leaf in _leaves(sub, (*path, name))]


LEAVES = _leaves(ROOT)


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(ROOT, [*path, "--help"], env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_there_are_many_commands() -> None:
    assert len(LEAVES) > 40 and ("package", "digest") in LEAVES


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_help_has_no_python_types(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert PYTHON_TYPE.findall(text) == [], text


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_argument_is_named_in_capitals_in_the_usage_line(path: tuple[str, ...]) -> None:
    command = ROOT
    for name in path:
        command = command.commands[name]
    usage = _help(path).splitlines()[0]
    for param in command.params:
        if param.param_type_name == "argument":
            assert param.metavar and param.metavar == param.metavar.upper(), (path, param.name)
            shown = param.metavar if param.required else f"[{param.metavar}]"
            assert f" {shown}" in usage, (usage, shown)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_choices_are_written_one_way(path: tuple[str, ...]) -> None:
    """A list of choices is `<a|b>` everywhere (`export -f` said `[text|json]`, which reads as optional)."""
    assert re.findall(r"\[[a-z]+(?:\|[a-z]+)+\]", _help(path)) == []


def test_the_shapes_of_arguments() -> None:
    assert _help(("lint",)).splitlines()[0] == "Usage: crmctl lint [OPTIONS] [PATH]..."
    assert _help(("package", "digest")).splitlines()[0] == "Usage: crmctl package digest [OPTIONS] PATH"
    assert "\n  PATH  Package directory.  [required]\n" in _help(("package", "digest"))
    assert "SHELL <bash|zsh|fish>" in _help(("completion",))  # a choice keeps its choices


def test_a_missing_argument_is_named_by_its_metavar() -> None:
    result = CliRunner().invoke(ROOT, ["package", "digest"])
    assert result.exit_code == 2 and "'PATH'" in result.output


@pytest.mark.parametrize("path", [(), ("draft",), *LEAVES], ids=lambda p: " ".join(p) or "crmctl")
def test_h_is_help_everywhere(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(ROOT, [*path, "-h"], env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0 and result.output.startswith("Usage: crmctl"), result.output
    assert "-h, --help" in result.output
