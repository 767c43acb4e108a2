"""`crmctl new package|entity|field|rule`: thin wrappers over `crmctl.scaffold`.

With `--dry-run` nothing is written: the command says what it would create and change, with the unified diff of
the edit (text: the diff itself; JSON: `result.diff`), so a person or an agent can review it before applying.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crmctl.cli.console import out
from crmctl.cli.contract import emit

if TYPE_CHECKING:
    from pathlib import Path

    from crmctl.scaffold import ScaffoldResult

__all__ = ["run_entity", "run_field", "run_package", "run_rule", "scaffold_result"]


def run_package(
    name: str, template: str, directory: Path | None, output_format: str = "text", *, dry_run: bool = False
) -> int:
    from crmctl.scaffold import new_package

    result = new_package(name, template, directory, dry_run=dry_run)
    if output_format == "json":
        return emit(scaffold_result(result))
    _report(result)
    if not dry_run:
        out(f"next: crmctl lint {result.root}")
    return 0


def run_entity(
    package_dir: Path, name: str, description: str | None, output_format: str = "text", *, dry_run: bool = False
) -> int:
    from crmctl.scaffold import add_entity

    return _finish(add_entity(package_dir, name, description, dry_run=dry_run), output_format)


def run_field(
    package_dir: Path,
    target: str,
    field_type: str,
    required: bool,
    options: list[str],
    description: str | None,
    output_format: str = "text",
    *,
    dry_run: bool = False,
) -> int:
    from crmctl.scaffold import add_field

    result = add_field(package_dir, target, field_type, required, options, description, dry_run=dry_run)
    return _finish(result, output_format)


def run_rule(
    package_dir: Path, rule_id: str, *, output_format: str = "text", dry_run: bool = False, **fields: Any
) -> int:
    """`fields` are `add_rule`'s keyword arguments (capability, scope, trigger, target, when, ...)."""
    from crmctl.scaffold import add_rule

    return _finish(add_rule(package_dir, rule_id, dry_run=dry_run, **fields), output_format)


def scaffold_result(result: ScaffoldResult) -> dict[str, Any]:
    """The JSON result of every `new` command (schemas/commands/new-*.json)."""
    return {
        "summary": result.summary,
        "dryRun": result.dry_run,
        "root": result.root.as_posix(),
        "created": [(result.root / rel).as_posix() for rel in result.created],
        "changed": [(result.root / rel).as_posix() for rel in result.changed],
        "diff": result.diff,
    }


def _finish(result: ScaffoldResult, output_format: str) -> int:
    if output_format == "json":
        return emit(scaffold_result(result))
    _report(result)
    if result.dry_run and result.diff:
        out(result.diff.rstrip("\n"))
    return 0


def _report(result: ScaffoldResult) -> None:
    if result.dry_run:
        out(f"would have {result.summary} (--dry-run: nothing written)")
    else:
        out(result.summary)
    verb = "would create" if result.dry_run else "created"
    for rel in result.created:
        out(f"  {verb} {(result.root / rel).as_posix()}")
    verb = "would change" if result.dry_run else "changed"
    for rel in result.changed:
        out(f"  {verb} {(result.root / rel).as_posix()}")
