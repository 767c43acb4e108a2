"""What every command schema must say, shared by the contract tests: the naming convention and closed objects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def naming_violations(node: Any, where: str = "") -> Iterator[str]:
    """Property names that are not lowerCamelCase, string enum values that are not kebab-case, objects with
    named properties that leave other keys open (a misspelt key would pass unnoticed)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from naming_violations(item, f"{where}[{index}]")
        return
    if not isinstance(node, dict):
        return
    for name in node.get("properties", {}):
        if name != "$schema" and not CAMEL.match(name):
            yield f"{where}: property {name!r} is not lowerCamelCase"
    declared = node.get("type")
    is_object = declared == "object" or (isinstance(declared, list) and "object" in declared)
    if is_object and "properties" in node and node.get("additionalProperties", True) is True:
        yield f"{where}: an object with named properties must set additionalProperties"
    values = node.get("enum", [])
    if "const" in node and where.endswith("status"):
        values = [node["const"]]
    for value in values:
        if isinstance(value, str) and not KEBAB.match(value):
            yield f"{where}: enumerated value {value!r} is not kebab-case"
    for key, value in node.items():
        if key not in ("enum", "const", "examples", "default", "description", "title", "pattern"):
            yield from naming_violations(value, f"{where}.{key}" if where else key)


def run_json(capsys: Any, argv: list[str]) -> tuple[int, dict[str, Any], str]:
    """Run crmctl with `argv`; its exit code, the one JSON document on stdout (checked against its schema), and
    stderr."""
    import json

    from crmctl.cli import contract
    from crmctl.cli.main import run

    code = run(argv)
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert contract.validation_errors(document) == []
    return code, document, captured.err
