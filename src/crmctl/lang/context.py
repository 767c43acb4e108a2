"""What completion and hover share: which artifact a file is, what the artifact's JSON Schema allows at a path, and
which values of an artifact are CEL expressions or references to other parts of the package.

The JSON Schemas are the shipped ones (`crmctl.model.jsonschemas.shipped_schema`), generated from the models, so
what completion offers is what validation accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from crmctl.model.jsonschemas import ARTIFACT_MODELS, DOCUMENT_MODELS, shipped_schema

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = [
    "REFERENCES",
    "SchemaKey",
    "artifact_kind",
    "expression_role",
    "reference_at",
    "schema_keys",
    "schema_nodes",
    "schema_values",
]


def artifact_kind(package: Package | None, file: str) -> str | None:
    """The artifact kind of `file` (`schema`, `localization/de`, ...; `script` and `scenario` for the documents of
    those folders), from the package's own naming when it loaded the file, else from the file name."""
    if package is not None:
        for kind, doc in package.docs.items():
            if doc.file == file:
                return kind
    path = PurePath(file.replace("\\", "/"))
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        return None
    parent = path.parent.name
    if parent == "localization":
        return f"localization/{path.stem}"
    if path.stem in ARTIFACT_MODELS and path.stem != "localization":
        return path.stem
    return {"scripts": "script", "scenarios": "scenario"}.get(parent)


def _schema_name(kind: str) -> str | None:
    base = kind.split("/", 1)[0]
    return base if base in ARTIFACT_MODELS or base in DOCUMENT_MODELS else None


def _resolve(node: Any, root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The alternatives a schema node stands for: `$ref`s followed, `anyOf`/`oneOf` flattened, `null` dropped."""
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        yield from _resolve(root.get("$defs", {}).get(ref.removeprefix("#/$defs/")), root)
        return
    branches = node.get("anyOf") or node.get("oneOf")
    if isinstance(branches, list):
        for branch in branches:
            for resolved in _resolve(branch, root):
                merged = {**{k: v for k, v in node.items() if k in ("description", "default")}, **resolved}
                yield merged
        return
    if node.get("type") != "null":
        yield node


def _fits(node: dict[str, Any], siblings: dict[str, str]) -> bool:
    """Whether an alternative agrees with the sibling values already written (a `type: enum` field picks the
    branch whose `type` is the constant `enum`)."""
    for key, prop in node.get("properties", {}).items():
        const = prop.get("const") if isinstance(prop, dict) else None
        if const is not None and key in siblings and siblings[key] and siblings[key] != const:
            return False
    return True


def schema_nodes(kind: str, path: JsonPath, siblings: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The schema alternatives for the value at `path` of an artifact of `kind`; `siblings` (the keys written in
    the mapping at `path`) narrow a union to the branches they fit."""
    name = _schema_name(kind)
    if name is None:
        return []
    root = shipped_schema(name)
    nodes = list(_resolve(root, root))
    for part in path:
        following: list[dict[str, Any]] = []
        for node in nodes:
            if isinstance(part, int):
                child = node.get("items") if node.get("type") == "array" or "items" in node else None
            else:
                child = _property(node, part)
            following.extend(_resolve(child, root))
        nodes = following
    if siblings:
        fitting = [node for node in nodes if _fits(node, siblings)]
        nodes = fitting or nodes
    return nodes


def _property(node: dict[str, Any], name: str) -> Any:
    properties = node.get("properties", {})
    if name in properties:
        return properties[name]
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and patterns:
        import re

        for pattern, child in patterns.items():
            if re.search(pattern, name):
                return child
        return None
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


@dataclass(frozen=True)
class SchemaKey:
    """A key the schema allows in a mapping: its description, a short type and whether it is required."""

    name: str
    description: str
    type: str
    required: bool


def _type_summary(node: Any, root: dict[str, Any]) -> str:
    kinds: list[str] = []
    for alt in _resolve(node, root):
        if "const" in alt:
            text = repr(alt["const"])
        elif "enum" in alt:
            text = " | ".join(str(v) for v in alt["enum"])
        elif alt.get("type") == "array":
            text = f"list of {_type_summary(alt.get('items'), root) or 'values'}"
        elif "properties" in alt:
            text = str(alt.get("title") or "mapping")
        elif alt.get("type") == "object":
            text = "mapping"
        else:
            text = str(alt.get("type", ""))
        if text and text not in kinds:
            kinds.append(text)
    return " or ".join(kinds)


def schema_keys(kind: str, path: JsonPath, siblings: dict[str, str]) -> list[SchemaKey]:
    """The keys the schema allows in the mapping at `path` (all branches a union leaves open), in schema order."""
    name = _schema_name(kind)
    if name is None:
        return []
    root = shipped_schema(name)
    out: dict[str, SchemaKey] = {}
    for node in schema_nodes(kind, path, siblings):
        required = set(node.get("required", []))
        for key, prop in node.get("properties", {}).items():
            if key in out:
                continue
            description = ""
            for alt in [prop, *_resolve(prop, root)]:
                if isinstance(alt, dict) and alt.get("description"):
                    description = str(alt["description"])
                    break
            out[key] = SchemaKey(key, description, _type_summary(prop, root), key in required)
    return list(out.values())


def schema_values(kind: str, path: JsonPath, siblings: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The scalar values the schema lists for the value at `path` (enum members, constants, booleans), with a
    description each; a discriminator key (`type` of a field) lists the constants of every branch."""
    if not path:
        return []
    parent = schema_nodes(kind, path[:-1])
    name = _schema_name(kind)
    root = shipped_schema(name) if name else {}
    out: dict[str, str] = {}
    nodes: list[dict[str, Any]] = []
    for node in parent:
        child = node.get("items") if isinstance(path[-1], int) else _property(node, str(path[-1]))
        nodes.extend(_resolve(child, root))
    for node in nodes:
        description = str(node.get("description") or node.get("title") or "")
        if "const" in node:
            out.setdefault(str(node["const"]), description)
        for value in node.get("enum", []):
            out.setdefault(str(value), description)
        if node.get("type") == "boolean":
            out.setdefault("true", description)
            out.setdefault("false", description)
        if node.get("type") == "array" and not isinstance(path[-1], int):
            for item in _resolve(node.get("items"), root):
                for value in item.get("enum", []):
                    out.setdefault(str(value), description)
    return list(out.items())


# --- which values are expressions and references ----------------------------------------------------------

# Every expression-valued key, by artifact (the places `crmctl.compat.field_refs` reads as CEL; a test checks that
# every CEL reference of the reference packages matches one). `*` is any one part, `**` any number of parts.
_EXPRESSIONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("schema", ("entities", "*", "fields", "**", "expression"), "calculated"),
    ("rules", ("rules", "*", "when"), "when"),
    ("rules", ("rules", "*", "expression"), "expression"),
    ("validations", ("validations", "*", "when"), "when"),
    ("validations", ("validations", "*", "expression"), "expression"),
    ("workflow", ("workflows", "*", "transitions", "*", "guard"), "guard"),
    ("workflow", ("workflows", "*", "states", "*", "sla", "start"), "sla"),
    ("workflow", ("workflows", "*", "states", "*", "sla", "pause"), "sla"),
    ("workflow", ("workflows", "*", "states", "*", "sla", "stop"), "sla"),
    ("workflow", ("workflows", "*", "states", "*", "sla", "reset"), "sla"),
    ("workflow", ("workflows", "*", "timers", "*", "at"), "timer"),
    ("workflow", ("workflows", "*", "**", "set", "*"), "set"),
)

# Values that name something else of the package: (artifact, path pattern, what they name). Keys of a mapping
# that name something are marked by a pattern ending in "<key>".
REFERENCES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("ui", ("entity",), "entity"),
    ("ui", ("forms", "*", "entity"), "entity"),
    ("ui", ("**", "steps", "*", "fields", "*"), "field"),
    ("ui", ("**", "groups", "*", "fields", "*"), "field"),
    ("ui", ("**", "roles", "*", "hidden", "*"), "field"),
    ("ui", ("**", "roles", "*", "readOnly", "*"), "field"),
    ("ui", ("**", "steps", "*", "roles", "*"), "role"),
    ("ui", ("**", "roles", "<key>"), "role"),
    ("rules", ("rules", "*", "entity"), "entity"),
    ("rules", ("rules", "*", "target"), "target"),
    ("rules", ("rules", "*", "goto"), "step"),
    ("rules", ("rules", "*", "message"), "message"),
    ("validations", ("validations", "*", "entity"), "entity"),
    ("validations", ("validations", "*", "field"), "field"),
    ("validations", ("validations", "*", "validations", "*"), "validation"),
    ("validations", ("validations", "*", "message"), "message"),
    ("workflow", ("workflows", "*", "entity"), "entity"),
    ("workflow", ("workflows", "*", "initial"), "state"),
    ("workflow", ("workflows", "*", "transitions", "*", "from"), "state"),
    ("workflow", ("workflows", "*", "transitions", "*", "from", "*"), "state"),
    ("workflow", ("workflows", "*", "transitions", "*", "to"), "state"),
    ("workflow", ("workflows", "*", "timers", "*", "state"), "state"),
    ("workflow", ("workflows", "*", "timers", "*", "transition"), "transition"),
    ("workflow", ("workflows", "*", "states", "*", "sla", "onBreach"), "transition"),
    ("workflow", ("workflows", "*", "states", "*", "sla", "calendar"), "calendar"),
    ("workflow", ("workflows", "*", "**", "escalations", "*", "transition"), "transition"),
    ("workflow", ("workflows", "*", "states", "*", "task", "outcomes", "*"), "transition"),
    ("workflow", ("workflows", "*", "states", "*", "task", "assign", "field"), "field"),
    ("workflow", ("workflows", "*", "states", "*", "task", "assign", "role"), "role"),
    ("workflow", ("workflows", "*", "states", "*", "task", "title"), "message"),
    ("workflow", ("workflows", "*", "transitions", "*", "approval", "approverField"), "field"),
    ("workflow", ("workflows", "*", "transitions", "*", "approval", "approvers", "*"), "role"),
    ("workflow", ("workflows", "*", "transitions", "*", "roles", "*"), "role"),
    ("workflow", ("workflows", "*", "transitions", "*", "emits", "*"), "event"),
    ("workflow", ("workflows", "*", "**", "emit"), "event"),
    ("workflow", ("workflows", "*", "**", "actions", "*", "task"), "task"),
    ("workflow", ("workflows", "*", "**", "onSuccess", "*", "task"), "task"),
    ("workflow", ("workflows", "*", "**", "notify"), "role"),
    ("workflow", ("workflows", "*", "**", "escalateTo"), "role"),
    ("workflow", ("workflows", "*", "**", "reassignTo"), "role"),
    ("workflow", ("workflows", "*", "**", "set", "<key>"), "field"),
    ("events", ("events", "*", "entity"), "entity"),
    ("events", ("events", "*", "payload", "*"), "field"),
    ("schema", ("entities", "*", "fields", "**", "to"), "entity"),
    ("package", ("defaultLocale",), "locale"),
    ("localization", ("labels", "<key>"), "label-key"),
    ("localization", ("picklists", "<key>"), "picklist-key"),
    ("localization", ("picklists", "*", "<key>"), "picklist-value"),
    ("localization", ("messages", "<key>"), "message-key"),
    ("localization", ("plurals", "<key>"), "message-key"),
)


def _match(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and (head == "*" or head == path[0]) and _match(rest, path[1:])


def _parts(path: JsonPath) -> tuple[str, ...]:
    return tuple(str(part) for part in path)


def expression_role(kind: str, path: JsonPath) -> str | None:
    """Whether the value at `path` of an artifact of `kind` is a CEL expression, and which (`when`, `guard`, ...)."""
    base = kind.split("/", 1)[0]
    parts = _parts(path)
    return next((role for k, pattern, role in _EXPRESSIONS if k == base and _match(pattern, parts)), None)


def reference_at(kind: str, path: JsonPath, *, key: bool) -> str | None:
    """What the value at `path` names (`field`, `step`, `state`, ...), or with `key`, what a new key of the
    mapping at `path` names; None when it names nothing of the package."""
    base = kind.split("/", 1)[0]
    parts = (*_parts(path), "<key>") if key else _parts(path)
    return next((what for k, pattern, what in REFERENCES if k == base and _match(pattern, parts)), None)
