"""`crmctl new package|entity|field|rule`: thin wrappers over `crmctl.scaffold`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import out

if TYPE_CHECKING:
    from pathlib import Path

    from crmctl.scaffold import ScaffoldResult

__all__ = ["run_entity", "run_field", "run_package", "run_rule"]


def run_package(name: str, template: str, directory: Path | None, output_format: str = "text") -> int:
    from crmctl.scaffold import new_package

    result = new_package(name, template, directory)
    _report(result, output_format)
    if output_format == "text":
        out(f"next: crmctl lint {result.root}")
    return 0


def run_entity(package_dir: Path, name: str, description: str | None, output_format: str = "text") -> int:
    from crmctl.scaffold import add_entity

    _report(add_entity(package_dir, name, description), output_format)
    return 0


def run_field(
    package_dir: Path,
    target: str,
    field_type: str,
    required: bool,
    options: list[str],
    description: str | None,
    output_format: str = "text",
) -> int:
    from crmctl.scaffold import add_field

    _report(add_field(package_dir, target, field_type, required, options, description), output_format)
    return 0


def run_rule(package_dir: Path, rule_id: str, *, output_format: str = "text", **fields: Any) -> int:
    """`fields` are `add_rule`'s keyword arguments (capability, scope, trigger, target, when, ...)."""
    from crmctl.scaffold import add_rule

    _report(add_rule(package_dir, rule_id, **fields), output_format)
    return 0


def _report(result: ScaffoldResult, output_format: str) -> None:
    if output_format == "json":
        body = {
            "summary": result.summary,
            "root": result.root.as_posix(),
            "created": [(result.root / rel).as_posix() for rel in result.created],
            "changed": [(result.root / rel).as_posix() for rel in result.changed],
        }
        out(json.dumps(body, sort_keys=True))
        return
    out(result.summary)
    for rel in result.created:
        out(f"  created {(result.root / rel).as_posix()}")
    for rel in result.changed:
        out(f"  changed {(result.root / rel).as_posix()}")
