"""The tool declarations: every argument maps onto an option or argument its command really has, and the mapping
onto argv keeps values values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli.main import click_app
from crmctl.cli.mcp.tools import TOOLS, ArgumentError, ToolSpec, command_line, input_schema
from tests.cli.contract.schema_rules import CAMEL
from tests.mcp.conftest import on_contract, require_contract


def _command(path: str) -> Any:
    command = click_app()
    for name in path.split():
        command = command.commands[name]
    return command


@pytest.mark.parametrize("spec", TOOLS, ids=[spec.name for spec in TOOLS])
def test_every_tool_argument_is_an_option_or_argument_of_its_command(spec: ToolSpec) -> None:
    command = _command(spec.command)
    options = {opt for param in command.params for opt in param.opts if opt.startswith("-")}
    arguments = [param for param in command.params if not any(o.startswith("-") for o in param.opts)]
    if "--format" not in options:  # the runner asks for JSON
        require_contract(spec.command)
    for flag in spec.fixed:
        assert flag in options
    positional = [arg for arg in spec.args if arg.flag is None]
    assert len(positional) <= len(arguments), spec.name
    for arg, param in zip(positional, arguments, strict=False):
        assert (arg.kind == "array") == (param.nargs == -1), (spec.name, arg.name)
    for arg in spec.args:
        assert CAMEL.match(arg.name), arg.name
        if arg.flag is not None:
            assert arg.flag in options, (spec.name, arg.flag)
    # what the command requires, the tool requires
    required_params = [p for p in arguments if p.required]
    assert all(arg.required for arg in positional[: len(required_params)]), spec.name
    assert not any(word in arg.flag for arg in spec.args if arg.flag for word in ("--key", "passphrase")), spec.name


def test_tool_names_are_unique_and_snake_case() -> None:
    names = [spec.name for spec in TOOLS]
    assert len(names) == len(set(names))
    assert all(name.replace("_", "").isalnum() and name == name.lower() for name in names)


def test_command_line_places_options_then_positionals_after_a_double_dash() -> None:
    spec = next(s for s in TOOLS if s.name == "new_field_preview")
    argv = command_line(spec, {"target": "Lead.x", "package": "P", "required": True, "options": ["a=1", "b=-2"]})
    assert argv == ["--dry-run", "--package=P", "--required", "--option=a=1", "--option=b=-2", "--", "Lead.x"]
    assert command_line(spec, {"target": "Lead.x", "package": "P", "required": False}) == [
        "--dry-run",
        "--package=P",
        "--",
        "Lead.x",
    ]


def test_numbers_are_written_as_the_command_reads_them() -> None:
    spec = next(s for s in TOOLS if s.name == "workflow_coverage")
    assert "--fail-under=100" in command_line(spec, {"package": "P", "scenarios": "s", "failUnder": 100.0})
    assert "--fail-under=99.5" in command_line(spec, {"package": "P", "scenarios": "s", "failUnder": 99.5})


@pytest.mark.parametrize(
    "arguments",
    [{"target": 1, "package": "P"}, {"package": "P"}, {"target": "x", "package": "P", "extra": 1}, {"target": []}],
)
def test_arguments_outside_the_schema_are_refused(arguments: dict[str, Any]) -> None:
    spec = next(s for s in TOOLS if s.name == "new_field_preview")
    with pytest.raises(ArgumentError, match="tool new_field_preview: "):
        command_line(spec, arguments)


_NO_NUL = st.characters(blacklist_characters="\x00")  # no path or argument can hold NUL


@settings(derandomize=True, max_examples=200)
@given(st.text(_NO_NUL, min_size=1), st.text(_NO_NUL, min_size=1))
def test_any_string_stays_one_value(target: str, package: str) -> None:
    """Whatever an agent passes (`--help`, `-x`, `--`, `a=b`), it reaches the command as the value it was."""
    from crmctl.cli.main import click_app as app

    spec = next(s for s in TOOLS if s.name == "new_entity_preview")
    argv = command_line(spec, {"name": target, "package": package, "description": "-d"})
    command = app().commands["new"].commands["entity"]
    context = command.make_context("entity", ["--format", "json", *argv], resilient_parsing=True)
    assert context.params["name"] == target
    assert str(context.params["package"]) == str(__import__("pathlib").Path(package))
    assert context.params["description"] == "-d"
    assert context.params["dry_run"] is True


# Realistic arguments for every tool: they parse as the command's own command line (before the command is on the
# JSON contract too; test_server runs them for real once it is).
PARSES: dict[str, dict[str, Any]] = {
    "lint": {"paths": ["A", "B"], "select": ["RUL"], "ignore": ["L10N"], "baseline": "b.json"},
    "diff": {"old": "A", "against": "git:HEAD", "mergeBase": True, "records": "s.duckdb", "recordsLimit": 3},
    "simulate": {"package": "A", "script": "s.yaml", "entity": "Lead", "role": "r", "now": "2026-01-01T00:00:00Z"},
    "replay": {"session": "s", "against": "git:HEAD", "store": "s.duckdb", "failOn": "behavioral"},
    "workflow_simulate": {"package": "A", "script": "s.yaml", "workflow": "w"},
    "workflow_coverage": {"package": "A", "scenarios": "d", "failUnder": 90},
    "records_get": {"id": "r", "entity": "Lead", "store": "s.duckdb", "locale": "en"},
    "records_list": {"entity": "Lead", "limit": 2, "store": "s.duckdb", "tenant": "acme"},
    "records_create": {"package": "A", "entity": "Lead", "data": "{}", "id": "r", "now": "2026-01-01T00:00:00Z"},
    "records_update": {"id": "r", "entity": "Lead", "data": "{}", "package": "A"},
    "publish": {"package": "A", "registry": "R", "records": "s.duckdb"},
    "promote": {"spec": "A@1.0.0", "to": "prod", "registry": "R"},
    "resolve": {"name": "A", "channel": "prod", "registry": "R"},
    "new_rule": {"id": "r", "package": "A", "capability": "guard", "when": "true", "trigger": "onSubmit"},
}


@pytest.mark.parametrize("spec", TOOLS, ids=[spec.name for spec in TOOLS])
def test_realistic_arguments_parse_as_the_command_line(spec: ToolSpec) -> None:
    arguments = PARSES.get(spec.name) or {arg.name: _sample(arg.kind) for arg in spec.args if arg.required}
    argv = command_line(spec, arguments)
    if spec.signs:
        argv = ["--key=k", *argv]
    if not on_contract(spec.command) and "--format" not in {o for p in _command(spec.command).params for o in p.opts}:
        require_contract(spec.command)
    _command(spec.command).make_context(spec.command.split()[-1], ["--format", "json", *argv])


def _sample(kind: str) -> Any:
    return {"string": "x", "array": ["x"], "integer": 1, "number": 1, "boolean": True}[kind]


def test_input_schemas_are_closed_objects() -> None:
    for spec in TOOLS:
        schema = input_schema(spec)
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])


_SEGMENTS = st.lists(st.sampled_from(["..", ".", "a", "b", "", "Leads"]), min_size=1, max_size=6)


@settings(derandomize=True, max_examples=200)
@given(_SEGMENTS, st.booleans(), st.sampled_from(["new_package", "new_field", "records_create", "simulate"]))
def test_a_write_path_is_refused_exactly_when_it_resolves_outside(
    segments: list[str], absolute: bool, tool: str
) -> None:
    """Any spelling of a path (`a/../..`, `./.`, an absolute one) a write tool writes to is refused exactly when
    it leaves the working directory once resolved."""
    import os
    import tempfile
    from pathlib import Path

    from crmctl.cli.mcp.server import Policy, _written_outside, tools_for

    with tempfile.TemporaryDirectory() as scratch:
        top = Path(scratch).resolve()
        root = top / "project"
        root.mkdir()
        value = "/".join(segments)
        if absolute:
            value = str(top / value)
        policy = Policy(allow_writes=True, root=root)
        spec = next(s for s in tools_for(policy) if s.name == tool)
        name = next(arg.name for arg in spec.args if arg.written)
        inside = Path(os.path.normpath(root / value)).is_relative_to(root)
        assert (_written_outside(spec, policy, {name: value}) is None) is inside
