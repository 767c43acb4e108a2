"""Markdown key tables for docs/package-format.md, generated from the shipped JSON Schemas so they cannot drift."""

from __future__ import annotations

from typing import Any

from crmctl.model.jsonschemas import ARTIFACT_MODELS, shipped_schema

__all__ = ["BEGIN", "END", "render_key_tables", "splice"]

BEGIN = "<!-- BEGIN GENERATED KEY TABLES (python -m crmctl.model.reference) -->"
END = "<!-- END GENERATED KEY TABLES -->"

_FILES = {
    "package": "package.yaml",
    "schema": "schema.yaml",
    "ui": "ui.yaml",
    "rules": "rules.yaml",
    "validations": "validations.yaml",
    "workflow": "workflow.yaml",
    "events": "events.yaml",
    "localization": "localization/<locale>.yaml",
}


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop or "oneOf" in prop:
        parts = [_type(p) for p in prop.get("anyOf", prop.get("oneOf", [])) if p.get("type") != "null"]
        return " \\| ".join(parts) or "null"
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        if not isinstance(extra, dict):
            extra = next(iter(prop.get("patternProperties", {}).values()), None)
        return f"map of {_type(extra)}" if isinstance(extra, dict) else "object"
    if "pattern" in prop:
        pattern = prop["pattern"].replace("|", "\\|")
        return f"{kind} (pattern `{pattern}`)" if len(pattern) < 60 else f"{kind} (see pattern in the JSON Schema)"
    return str(kind)


def _table(title: str, schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    lines = [f"#### {title}", ""]
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    lines += ["| key | type | required | default | meaning |", "|---|---|---|---|---|"]
    for key, prop in schema.get("properties", {}).items():
        default = prop.get("default")
        shown = "" if default is None or default == [] or default == {} else f"`{default}`"
        meaning = " ".join(str(prop.get("description", "")).split())
        lines.append(f"| `{key}` | {_type(prop)} | {'yes' if key in required else ''} | {shown} | {meaning} |")
    return [*lines, ""]


def render_key_tables() -> str:
    out: list[str] = [BEGIN, ""]
    for kind in ARTIFACT_MODELS:
        schema = shipped_schema(kind)
        out += [f"### `{_FILES[kind]}`", "", f"JSON Schema: `{schema['$id']}`", ""]
        out += _table(schema.get("title", kind), schema)
        for name, sub in sorted(schema.get("$defs", {}).items()):
            if "properties" in sub:
                out += _table(name, sub)
    out.append(END)
    return "\n".join(out) + "\n"


def splice(document: str) -> str:
    """Replace the generated block of `document` with freshly rendered tables."""
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + render_key_tables() + tail.lstrip("\n")


if __name__ == "__main__":  # pragma: no cover - maintainer tool
    from pathlib import Path

    target = Path(__file__).resolve().parents[3] / "docs" / "package-format.md"
    target.write_text(splice(target.read_text(encoding="utf-8")), encoding="utf-8")
