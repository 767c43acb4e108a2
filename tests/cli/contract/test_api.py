"""The JSON contract of `crmctl api openapi|jsonschema|graphql`: each run with `--format json` for real (the
suite's contract check validates every envelope against its schema); the assertions read the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from graphql import build_schema
from openapi_spec_validator import validate

from crmctl.cli import contract
from crmctl.cli.main import run
from tests.cli.contract.schema_rules import naming_violations
from tests.conftest import MINIMAL, REPO, write_package

COVERED = {"api openapi", "api jsonschema", "api graphql"}

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")


def _envelope(capsys: pytest.CaptureFixture[str], argv: list[str], exit_code: int = 0) -> dict[str, Any]:
    assert run([*argv, "--format", "json"]) == exit_code, capsys.readouterr()
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert contract.validation_errors(document) == []
    assert document["exitCode"] == exit_code
    assert document["command"] in COVERED
    return document


@pytest.mark.parametrize("command", sorted(COVERED))
def test_schemas_follow_the_naming_convention(command: str) -> None:
    assert list(naming_violations(contract.command_schema(command))) == []


def test_api_openapi_prints_writes_and_answers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = _envelope(capsys, ["api", "openapi", V1])["result"]
    assert (result["package"], result["version"], result["kind"]) == ("LeadLifecycle", "1.0.0", "openapi")
    assert result["entities"] == ["Lead", "User"] and result["output"] is None
    validate(result["document"])
    target = tmp_path / "api.json"
    result = _envelope(capsys, ["api", "openapi", V1, "-o", str(target), "--server", "https://crm.example"])["result"]
    assert result["output"] == str(target)
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written == result["document"] and written["servers"][0]["url"] == "https://crm.example"
    # text mode: the document on stdout, nothing else
    assert run(["api", "openapi", V1]) == 0
    assert json.loads(capsys.readouterr().out)["openapi"] == "3.1.0"


def test_api_jsonschema_bundle_and_one_entity(capsys: pytest.CaptureFixture[str]) -> None:
    result = _envelope(capsys, ["api", "jsonschema", V1])["result"]
    assert sorted(result["document"]["$defs"]) == ["Lead", "User"]
    jsonschema.Draft202012Validator.check_schema(result["document"])
    result = _envelope(capsys, ["api", "jsonschema", V1, "--entity", "Lead"])["result"]
    assert result["document"]["title"] == "Lead" and "firstName" in result["document"]["required"]
    error = _envelope(capsys, ["api", "jsonschema", V1, "--entity", "Nope"], 2)
    assert error["result"] is None and "no entity 'Nope'" in error["problems"][0]["message"]


def test_api_graphql_answers_a_buildable_sdl(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = _envelope(capsys, ["api", "graphql", V1])["result"]
    schema = build_schema(result["document"])
    assert schema.query_type is not None and {"getLead", "listLead"} <= set(schema.query_type.fields)
    target = tmp_path / "api.graphql"
    assert run(["api", "graphql", V1, "-o", str(target)]) == 0
    assert capsys.readouterr().out == "" and target.read_text(encoding="utf-8") == result["document"]


def test_api_errors_broken_package_no_entities_and_clash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = write_package(tmp_path / "broken", {**MINIMAL, "schema.yaml": "entities: {Lead: {fields: 3}}\n"})
    error = _envelope(capsys, ["api", "openapi", str(broken)], 2)
    assert "crmctl lint" in (error["problems"][0]["hint"] or "")
    empty = {k: v for k, v in MINIMAL.items() if k != "schema.yaml"}
    error = _envelope(capsys, ["api", "graphql", str(write_package(tmp_path / "empty", empty))], 2)
    assert "declares no entities" in error["problems"][0]["message"]
    clash = "entities:\n  Lead:\n    fields: {a: {type: text}}\n  LeadInput:\n    fields: {a: {type: text}}\n"
    error = _envelope(
        capsys, ["api", "graphql", str(write_package(tmp_path / "c", {**MINIMAL, "schema.yaml": clash}))], 2
    )
    assert "LeadInput" in error["problems"][0]["message"]
    unwritable = tmp_path / "missing" / "api.json"
    error = _envelope(capsys, ["api", "openapi", V1, "-o", str(unwritable)], 2)
    assert "cannot write" in error["problems"][0]["message"]
