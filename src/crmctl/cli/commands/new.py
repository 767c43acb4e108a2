"""`crmctl new package|entity|field|rule`: thin wrappers over `crmctl.scaffold`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmctl.cli.console import out

if TYPE_CHECKING:
    from pathlib import Path

    from crmctl.scaffold import ScaffoldResult

__all__ = ["run_entity", "run_field", "run_package", "run_rule"]


def run_package(name: str, template: str, directory: Path | None) -> int:
    from crmctl.scaffold import new_package

    result = new_package(name, template, directory)
    _report(result)
    out(f"next: crmctl lint {result.root}")
    return 0


def run_entity(package_dir: Path, name: str, description: str | None) -> int:
    from crmctl.scaffold import add_entity

    _report(add_entity(package_dir, name, description))
    return 0


def run_field(
    package_dir: Path, target: str, field_type: str, required: bool, options: list[str], description: str | None
) -> int:
    from crmctl.scaffold import add_field

    _report(add_field(package_dir, target, field_type, required, options, description))
    return 0


def run_rule(
    package_dir: Path,
    rule_id: str,
    *,
    capability: str,
    scope: str,
    trigger: str,
    target: str | None,
    when: str | None,
    expression: str | None,
    entity: str | None,
) -> int:
    from crmctl.scaffold import add_rule

    result = add_rule(package_dir, rule_id, capability=capability, scope=scope, trigger=trigger, target=target,
                      when=when, expression=expression, entity=entity)  # fmt: skip
    _report(result)
    return 0


def _report(result: ScaffoldResult) -> None:
    out(result.summary)
    for rel in result.created:
        out(f"  created {(result.root / rel).as_posix()}")
    for rel in result.changed:
        out(f"  changed {(result.root / rel).as_posix()}")
