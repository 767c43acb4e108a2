"""Simulation scripts and workflow scenarios are models: their JSON Schemas ship next to the artifacts', the examples
name them, editors and crmctl agree on what is well-formed, and mistakes are located (file:line:col, exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from crmctl.cli.commands.runtime import load_script
from crmctl.cli.commands.workflow import load_scenario
from crmctl.errors import InputError
from crmctl.model.jsonschemas import DOCUMENT_MODELS, build_schema, shipped_schema
from crmctl.model.scripts import SCENARIO_STEPS, SCRIPT_EVENTS, check_events
from crmctl.model.source import parse_text
from tests.conftest import REPO

HEADER = "# yaml-language-server: $schema="
SCENARIOS = sorted(REPO.glob("packages/**/scenarios/*.yaml")) + sorted(REPO.glob("templates/**/scenarios/*.yaml"))
SCRIPTS = sorted(REPO.glob("packages/**/scripts/*.yaml")) + sorted(REPO.glob("templates/**/scripts/*.yaml"))
SCRIPTS += sorted(REPO.glob("scripts/demo/*.yaml"))


@pytest.mark.parametrize("kind", sorted(DOCUMENT_MODELS))
def test_shipped_schemas_are_generated_from_the_models(kind: str) -> None:
    assert shipped_schema(kind) == build_schema(kind), "run python -m crmctl.model.jsonschemas"


def _valid(kind: str, data: Any) -> bool:
    return not list(Draft202012Validator(shipped_schema(kind)).iter_errors(data))


@pytest.mark.parametrize("path", SCENARIOS + SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_examples_name_their_schema_and_keep_to_it(path: Path) -> None:
    kind = "scenario" if path in SCENARIOS else "script"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(HEADER), path
    target = (path.parent / first.removeprefix(HEADER)).resolve()
    assert target == (REPO / "src" / "crmctl" / "model" / "schemas" / f"{kind}.schema.json").resolve()
    assert _valid(kind, parse_text(path.read_text(encoding="utf-8"), path.name).data)
    loaded = load_scenario(path).steps if kind == "scenario" else load_script(path).events
    assert loaded


# The mistakes the loaders name (tests/cli/test_runtime_cli.py, test_workflow_cli.py): editors flag them too.
SCRIPT_MISTAKES = [
    "color: red\n",
    "answers: [1]\n",
    "events: {a: 1}\n",
    "- [1, 2]\n",
    "- jump: {}\n",
    "- next: 3\n",
    "- next: {step: x}\n",
    "- change: {value: 1}\n",
    "- goto: {}\n",
    "- load: {data: [1]}\n",
]
SCENARIO_MISTAKES = [
    "events:\n  - jump: {}\n",
    "events:\n  - fire: {transition: contact}\n",
    "events:\n  - fire: {instance: a, bogus: 1}\n",
    "events:\n  - start: x\n",
    "events:\n  - decide: {instance: a, comment: [1]}\n",
    "records: [1]\n",
    "colour: red\n",
]


@pytest.mark.parametrize("text", SCRIPT_MISTAKES)
def test_what_the_script_loader_refuses_the_schema_refuses(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.yaml:\d+:\d+: "):
        load_script(path)
    assert not _valid("script", parse_text(text, "s.yaml").data)


@pytest.mark.parametrize("text", SCENARIO_MISTAKES)
def test_what_the_scenario_loader_refuses_the_schema_refuses(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.yaml:\d+:\d+: "):
        load_scenario(path)
    assert not _valid("scenario", parse_text(text, "s.yaml").data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # before: the list went on to the session; now the argument's model refuses it where it stands
        ("- load: {data: [1]}\n", "s.yaml:1:16: load: data: Input should be a valid dictionary"),
        ("- change: {field: {a: 1}, value: 1}\n", "s.yaml:1:19: change: field: Input should be a valid string"),
    ],
)
def test_a_wrongly_typed_script_argument_is_located_at_its_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_script(path)
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_wrongly_typed_scenario_argument_is_located_at_its_value(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("events:\n  - decide: {instance: a, as: [bob]}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"/s\.yaml:2:31: decide: as: Input should be a valid string$"):
        load_scenario(path)


def test_a_mistake_inside_an_argument_is_not_called_a_missing_argument(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("events:\n  - claim: {instance: a, as: {user: bob}}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"/s\.yaml:2:30: claim: as: ") as caught:
        load_scenario(path)
    assert "needs" not in str(caught.value)  # before: "claim needs as"


def test_numbers_given_for_names_are_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("events:\n  - start: {instance: 7, data: {}}\n  - claim: {instance: 7, as: a/b}\n", "utf-8")
    assert [step["instance"] for _, step in load_scenario(path).steps] == [7, 7]  # the input as written


WORDS = st.sampled_from(["a", "x", "instance", "field", "step", "data", "value", "as", "comment", "bob/sales"])
SCALARS = st.one_of(WORDS, st.none(), st.integers(0, 3), st.booleans())
ARGS = st.one_of(SCALARS, st.dictionaries(WORDS, st.one_of(SCALARS, st.dictionaries(WORDS, SCALARS)), max_size=4))


def _events(names: list[str]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.one_of(st.dictionaries(st.sampled_from(names), ARGS, min_size=1, max_size=2), WORDS), max_size=4)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(events=_events(list(SCRIPT_EVENTS)), scenario_events=_events(list(SCENARIO_STEPS)))
def test_what_the_schema_accepts_the_loaders_accept(events: list[Any], scenario_events: list[Any]) -> None:
    """An editor that shows no problem means crmctl reads the events (what they mean is checked when played)."""
    for kind, items, scenario in (("script", events, False), ("scenario", scenario_events, True)):
        document = {"events": items}
        if _valid(kind, document):
            doc = parse_text("{}", "s.yaml")
            check_events(doc, ("events",), items, scenario=scenario)
