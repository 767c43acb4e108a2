"""The cel-spec conformance subset in tests/fixtures/cel/conformance.yml, run against the runtime adapter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from crmctl.model.fields import SchemaArtifact
from crmctl.runtime.cel import CompiledProgram, CompileError, Context, EvaluationError, clear_cache

CASES = YAML(typ="safe").load((Path(__file__).parents[1] / "fixtures" / "cel" / "conformance.yml").read_text())["cases"]
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# A test variable's CEL type as an entity field (the runtime sees only fields and the context).
_FIELDS: dict[str, dict[str, Any]] = {
    "int": {"type": "number", "integer": True},
    "double": {"type": "number"},
    "string": {"type": "text"},
    "bool": {"type": "boolean"},
    "timestamp": {"type": "datetime"},
    "list_int": {"type": "array", "items": {"type": "number", "integer": True}},
    "map": {"type": "object", "fields": {"a": {"type": "text"}, "b": {"type": "text"}}},
}


def _program(case: dict[str, Any]) -> tuple[CompiledProgram, dict[str, Any], Context]:
    variables = case.get("vars", {})
    fields = {name: _FIELDS[kind] for name, (kind, _) in variables.items() if name != "now"}
    schema = SchemaArtifact.model_validate({"entities": {"T": {"fields": fields or {"unused": {"type": "text"}}}}})
    now = variables.get("now", ["timestamp", None])[1]
    context = Context("s", "r", datetime.fromisoformat(now) if now else NOW, "en")
    record = {name: value for name, (_, value) in variables.items() if name != "now"}
    program = CompiledProgram.build(f"conformance:{case['name']}", schema, "T", {"e": case["expr"]})
    return program, record, context


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_conformance(case: dict[str, Any]) -> None:
    if "compile_error" in case:
        with pytest.raises(CompileError, match=case["compile_error"]):
            _program(case)
        return
    program, record, context = _program(case)
    if "error" in case:
        with pytest.raises(EvaluationError, match=case["error"]) as info:
            program.evaluate("e", record, context)
        assert info.value.expr_id == "e"
        return
    result = program.evaluate("e", record, context)
    assert result == case["value"]
    assert type(result) is type(case["value"])
