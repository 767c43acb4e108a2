"""JSON Schemas (draft 2020-12) for every artifact, generated from the models and shipped in `schemas/`.

Editors use them through `crmctl schema export` and the `# yaml-language-server: $schema=` line; lint validates
every artifact against the shipped files, so what editors check and what lint checks are the same contract.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from crmctl.model.artifacts import (
    EventsArtifact,
    LocalizationArtifact,
    Manifest,
    RulesArtifact,
    SchemaArtifact,
    UiArtifact,
    ValidationsArtifact,
    WorkflowArtifact,
)
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.scripts import ScenarioDocument, ScriptDocument
from crmctl.model.source import JsonPath, SourceDoc

__all__ = [
    "ARTIFACT_MODELS",
    "DOCUMENT_MODELS",
    "SCHEMA_BASE_URL",
    "build_schema",
    "schema_file_name",
    "shipped_schema",
    "validate_doc",
    "write_schemas",
]

SCHEMA_BASE_URL = "https://crmctl.dev/schemas/v1/"

# artifact kind -> (model, lint code for structural problems)
ARTIFACT_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "package": (Manifest, "PKG100"),
    "schema": (SchemaArtifact, "SCH100"),
    "ui": (UiArtifact, "UI200"),
    "rules": (RulesArtifact, "RUL300"),
    "validations": (ValidationsArtifact, "VAL400"),
    "workflow": (WorkflowArtifact, "WF500"),
    "events": (EventsArtifact, "EVT550"),
    "localization": (LocalizationArtifact, "L10N600"),
}

# The files crmctl reads besides a package's artifacts (`crmctl simulate --script`, workflow scenarios): their
# schemas ship next to the artifacts' and scaffolded examples name them, so editors complete them too.
DOCUMENT_MODELS: dict[str, type[BaseModel]] = {
    "script": ScriptDocument,
    "scenario": ScenarioDocument,
}


def schema_file_name(kind: str) -> str:
    return f"{kind}.schema.json"


def build_schema(kind: str) -> dict[str, Any]:
    """Generate the JSON Schema of one artifact kind (or of a script or scenario) from its model."""
    model = ARTIFACT_MODELS[kind][0] if kind in ARTIFACT_MODELS else DOCUMENT_MODELS[kind]
    body = model.model_json_schema(by_alias=True, mode="validation")
    head = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE_URL + schema_file_name(kind),
    }
    return {**head, **_close_pattern_maps(body)}


def _close_pattern_maps(node: Any) -> Any:
    """Pydantic emits `patternProperties` for maps with constrained keys but leaves other keys open; close them."""
    if isinstance(node, dict):
        node = {k: _close_pattern_maps(v) for k, v in node.items()}
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_close_pattern_maps(v) for v in node]
    return node


def write_schemas(directory: Path) -> list[Path]:
    """Write every artifact's JSON Schema and those of scripts and scenarios into `directory` (used by `crmctl
    schema export`; the schemas of the commands' JSON output are `crmctl.cli.contract`'s)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in (*ARTIFACT_MODELS, *DOCUMENT_MODELS):
        target = directory / schema_file_name(kind)
        target.write_text(json.dumps(shipped_schema(kind), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


@cache
def shipped_schema(kind: str) -> dict[str, Any]:
    text = resources.files("crmctl.model").joinpath("schemas", schema_file_name(kind)).read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(shipped_schema(kind))


def validate_doc(kind: str, doc: SourceDoc, package: str = "") -> list[Diagnostic]:
    """Structural findings for one document, each located at the offending key or value."""
    code = ARTIFACT_MODELS[kind][1]
    validator = _validator(kind)
    found: list[Diagnostic] = []
    for error in validator.iter_errors(doc.data):
        for path, message, at_key in _explain(error, validator.schema):
            found.append(
                Diagnostic(
                    code=code,
                    message=message,
                    location=doc.loc(path, key=at_key),
                    severity=Severity.ERROR,
                    path=f"{doc.file}#/" + "/".join(str(p) for p in path),
                    package=package,
                )
            )
    return found


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _explain(error: Any, root: dict[str, Any]) -> list[tuple[JsonPath, str, bool]]:
    """Turn one jsonschema error into precise (path, message, point-at-key) triples."""
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if error.validator == "oneOf" and "discriminator" in schema and isinstance(instance, dict):
        prop = schema["discriminator"]["propertyName"]
        mapping: dict[str, str] = schema["discriminator"]["mapping"]
        tag = instance.get(prop)
        if tag not in mapping:
            choices = ", ".join(sorted(mapping))
            where: JsonPath = (*path, prop) if prop in instance else path
            shown = f"unknown {prop} {tag!r}" if prop in instance else f"missing '{prop}'"
            return [(where, f"{shown}; expected one of: {choices}", False)]
        branch = _resolve({"$ref": mapping[tag]}, root)
        from jsonschema import Draft202012Validator

        sub = Draft202012Validator({**branch, "$defs": root.get("$defs", {})})
        out: list[tuple[JsonPath, str, bool]] = []
        for inner in sub.iter_errors(instance):
            for sub_path, message, at_key in _explain(inner, root):
                out.append(((*path, *sub_path), message, at_key))
        return out
    if error.validator == "additionalProperties" and isinstance(instance, dict) and "patternProperties" in schema:
        patterns = list(schema["patternProperties"])
        bad = [k for k in instance if not any(re.search(p, k) for p in patterns)]
        return [((*path, k), f"name {k!r} is not allowed: names must match {patterns[0]}", True) for k in bad]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(schema.get("properties", {}))
        extras = [k for k in instance if k not in allowed]
        hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
        return [((*path, k), f"unknown key {k!r}{hint}", True) for k in extras]
    if error.validator == "maxLength" and isinstance(instance, str):  # say how long, without printing all of it
        return [
            (
                path,
                f"{_short(instance)} is {len(instance)} characters long; at most {error.validator_value} are allowed",
                False,
            )
        ]
    if error.validator == "pattern" and isinstance(instance, str) and len(instance) > 60:
        return [(path, f"{_short(instance)} does not match {error.validator_value!r}", False)]
    if error.validator == "required":
        return [(path, error.message.replace("is a required property", "is required"), False)]
    if error.validator in ("anyOf", "oneOf") and error.context:
        specific = [e for e in error.context if e.validator != "type"]
        if specific:
            return [(path, specific[0].message, False)]
        wanted = sorted({str(e.validator_value) for e in error.context})
        return [(path, f"{_short(instance)} has the wrong type; expected {' or '.join(wanted)}", False)]
    quoted = repr(instance)
    if len(quoted) > 60 and error.message.startswith(quoted):  # `'<a whole file>' is not of type 'object'`
        return [(path, _short(instance) + error.message[len(quoted) :], False)]
    return [(path, error.message, False)]


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


if __name__ == "__main__":  # pragma: no cover - maintainer tool: regenerate the shipped schemas
    _here = Path(__file__).parent / "schemas"
    for _kind in (*ARTIFACT_MODELS, *DOCUMENT_MODELS):
        _text = json.dumps(build_schema(_kind), indent=2, ensure_ascii=False) + "\n"
        (_here / schema_file_name(_kind)).write_text(_text, encoding="utf-8")
