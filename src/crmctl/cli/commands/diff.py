"""`crmctl diff`: classify every change between two versions of a package and propose the semver bump."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmctl.cli.console import out, use_color

if TYPE_CHECKING:
    from crmctl.compat.classify import DiffResult
    from crmctl.model.diagnostics import Report
    from crmctl.model.package import Package
    from crmctl.model.tree import FileTree

__all__ = ["render_summary", "run"]

_CLASS_ORDER = ("breaking", "data-dependent", "behavioral", "compatible")


def run(
    old: str,
    new: str | None,
    *,
    against: str | None,
    merge_base: bool,
    fail_on: str,
    output_format: str,
    registry: str | None = None,
) -> int:
    from crmctl.compat.classify import diff_packages
    from crmctl.compat.report import build_report, parse_fail_on
    from crmctl.compat.sources import resolve_sides
    from crmctl.model.package import load_tree

    failing = parse_fail_on(fail_on)
    schemes = {"registry": lambda ref: _open_registry_ref(ref, registry)}
    old_tree, new_tree = resolve_sides(old, new, against=against, merge_base=merge_base, schemes=schemes)
    result = diff_packages(load_tree(old_tree), load_tree(new_tree))
    report = build_report(result, failing, digests=output_format == "json")
    _render(report, result, output_format)
    return 1 if any(change.cls in failing for change in result.changes) else 0


def _open_registry_ref(ref: str, registry: str | None) -> FileTree:
    """`registry:NAME@VERSION` or `registry:NAME@CHANNEL` (a bare `registry:NAME` means its latest version)."""
    from crmctl.errors import UsageError
    from crmctl.registry import open_version_tree
    from crmctl.registry.config import registry_location

    name, _, version_or_channel = ref.partition("@")
    if not name:
        raise UsageError(f"registry:{ref}: expected registry:NAME@VERSION or registry:NAME@CHANNEL")
    return open_version_tree(registry_location(registry), name, version_or_channel or None)


def _render(report: Report, result: DiffResult, output_format: str) -> None:
    from crmctl.cli.reporters import render

    if output_format != "text":
        out(render(report, output_format))
        return
    if result.changes:
        out(render(report, "text", color=use_color("text")))
        out("")
    out(render_summary(result, report))


def render_summary(result: DiffResult, report: Report) -> str:
    """Human summary: changes grouped by class, the proposed bump and the verdict."""
    old_side = f"{result.old.label} ({result.old.name} {_version(result.old)})"
    new_side = f"{result.new.label} ({result.new.name} {_version(result.new)})"
    lines = [f"crmctl diff: {old_side} → {new_side}"]
    if not result.changes:
        lines.append("no changes")
        lines.append(f"proposed bump: none ({result.verdict.message})")
        return "\n".join(lines)
    for cls in _CLASS_ORDER:
        group = [c for c in result.changes if c.cls.value == cls]
        if not group:
            continue
        lines.append("")
        lines.append(f"{cls} ({len(group)}):")
        lines.extend(f"  {c.code} {c.kind.id} {c.path}: {c.message}" for c in group)
    counts = ", ".join(f"{result.counts.get(c, 0)} {c}" for c in _CLASS_ORDER)
    lines.append("")
    lines.append(f"{len(result.changes)} changes: {counts}")
    lines.append(f"proposed bump: {result.bump} ({result.verdict.message})")
    failed = report.summary.get("failed", 0)
    fail_on = report.summary.get("fail_on", [])
    classes = ",".join(str(c) for c in fail_on) if isinstance(fail_on, list) else ""
    lines.append(f"result: {'FAIL' if failed else 'ok'} ({failed} changes in failing classes: {classes})")
    return "\n".join(lines)


def _version(pkg: Package) -> str:
    return pkg.manifest.version if pkg.manifest is not None else "?"
