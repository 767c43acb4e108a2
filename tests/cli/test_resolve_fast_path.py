"""The fast `resolve` parser (run before typer loads) and typer's declared `resolve` command stay one interface:
an option added to or removed from one fails here until the other follows, and whatever the fast path accepts, it
runs exactly as typer would."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli.commands import registry as command
from crmctl.cli.commands.registry import RESOLVE_FORMATS, RESOLVE_OPTIONS, parse_resolve
from crmctl.cli.main import app
from crmctl.cli.options import ListFormat


def _resolve() -> Any:
    # typer builds the command from its declarations (with whichever click it carries: duck-typed here).
    return typer.main.get_command(app).commands["resolve"]  # type: ignore[attr-defined]


def _options() -> list[Any]:
    return [p for p in _resolve().params if p.param_type_name == "option" and p.name != "help"]


def test_the_fast_parser_knows_every_declared_spelling_and_no_other() -> None:
    declared = {spelling for option in _options() for spelling in [*option.opts, *option.secondary_opts]}
    assert declared == set(RESOLVE_OPTIONS)


def test_spellings_of_one_declared_option_share_one_key_and_options_do_not_share() -> None:
    keys = [{RESOLVE_OPTIONS[s] for s in [*o.opts, *o.secondary_opts]} for o in _options()]
    assert all(len(k) == 1 for k in keys)
    assert len({next(iter(k)) for k in keys}) == len(keys)


def test_every_declared_option_takes_one_value_and_the_one_argument_is_the_name() -> None:
    assert all(not o.is_flag and o.nargs == 1 and not o.multiple for o in _options())
    arguments = [p for p in _resolve().params if p.param_type_name == "argument"]
    assert [(a.name, a.nargs, a.required) for a in arguments] == [("name", 1, True)]


def test_the_fast_formats_are_the_declared_formats() -> None:
    assert set(RESOLVE_FORMATS) == {f.value for f in ListFormat}


_TOKENS = st.sampled_from([*RESOLVE_OPTIONS, "--bogus", "-x", "--help", "Demo", "Other", "prod", "1.0.0", "json"])
_GLUED = st.builds(lambda o, v: f"{o}={v}", st.sampled_from(sorted(RESOLVE_OPTIONS)), st.sampled_from(["prod", "text"]))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.one_of(_TOKENS, _GLUED), max_size=7))
def test_what_the_fast_path_accepts_runs_exactly_as_typer_would(tail: list[str]) -> None:
    argv = ["resolve", *tail]
    parsed = parse_resolve(argv)
    if parsed is None:
        return
    calls: list[tuple[Any, ...]] = []

    def record(*args: Any) -> int:
        calls.append(args)
        return 0

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(command, "run_resolve", record)
        command.run_resolve_fast(parsed)
        app(args=argv, prog_name="crmctl", standalone_mode=False)
    assert len(calls) == 2, argv
    assert calls[0] == calls[1], argv


@pytest.mark.parametrize("argv", [["resolve", "Demo", "-V=1.0.0"], ["resolve", "Demo", "-c=prod"]])
def test_a_short_option_glued_with_equals_is_left_to_typer(argv: list[str]) -> None:
    # click reads `-V=1.0.0` as the version `=1.0.0`; the fast path used to read `1.0.0` (found by the test above).
    assert parse_resolve(argv) is None


def test_a_long_option_glued_with_equals_is_split() -> None:
    assert parse_resolve(["resolve", "Demo", "--version=1.0.0"]) == {"name": "Demo", "version": "1.0.0"}
