"""`crmctl diff`: classify every change between two versions of a package and propose the semver bump."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from crmctl.cli.console import out

if TYPE_CHECKING:
    from collections.abc import Callable

    from crmctl.compat.classify import DiffResult
    from crmctl.model.diagnostics import Report

__all__ = ["render_summary", "run"]

_CLASS_ORDER = ("breaking", "data-dependent", "behavioral", "compatible")


def run(old: str, new: str | None, *, against: str | None, merge_base: bool, fail_on: str, output_format: str) -> int:
    from crmctl.compat.classify import diff_packages
    from crmctl.compat.report import build_report, parse_fail_on
    from crmctl.compat.sources import resolve_sides
    from crmctl.model.package import load_tree

    failing = parse_fail_on(fail_on)
    old_tree, new_tree = resolve_sides(old, new, against=against, merge_base=merge_base)
    result = diff_packages(load_tree(old_tree), load_tree(new_tree))
    report = build_report(result, failing)
    _render(report, result, output_format)
    return 1 if any(change.cls in failing for change in result.changes) else 0


def _render(report: Report, result: DiffResult, output_format: str) -> None:
    reporter = _shared_reporter(output_format)
    if output_format == "text":
        if result.changes and reporter is not None:
            out(reporter(report))
        out(render_summary(result, report, detailed=reporter is None))
        return
    if reporter is not None:
        out(reporter(report))
    elif output_format == "json":
        out(json.dumps(_json_body(report), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        from crmctl.errors import UsageError

        raise UsageError(f"--format {output_format} needs the shared reporters, which are not installed")


def _shared_reporter(output_format: str) -> Callable[[Report], str] | None:
    """The teammates' reporter for `output_format`, if the reporters package provides one."""
    try:
        from crmctl.cli import reporters
    except ImportError:  # pragma: no cover - reporters always ship with the CLI
        return None
    render = getattr(reporters, "render", None)
    if render is None:
        return None
    def rendered(report: Report) -> str:
        return str(render(report, output_format))

    return rendered


def _json_body(report: Report) -> dict[str, object]:
    return {
        "command": report.command,
        "summary": report.summary,
        "diagnostics": [
            {"code": d.code, "severity": d.severity.value, "message": d.message, "path": d.path,
             "location": str(d.location), "fix": d.fix, "package": d.package, **d.extra}
            for d in report.sorted()
        ],
    }  # fmt: skip


def render_summary(result: DiffResult, report: Report, *, detailed: bool) -> str:
    """Human summary: changes grouped by class (with details when no shared reporter printed them), the bump."""
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
        for change in group:
            where = f"{change.location}: " if detailed and change.location else ""
            lines.append(f"  {where}{change.code} {change.kind.id}: {change.message}")
            if detailed and change.hint:
                lines.append(f"      hint: {change.hint}")
    counts = ", ".join(f"{result.counts.get(c, 0)} {c}" for c in _CLASS_ORDER)
    lines.append("")
    lines.append(f"{len(result.changes)} changes: {counts}")
    lines.append(f"proposed bump: {result.bump} ({result.verdict.message})")
    failed = report.summary.get("failed", 0)
    fail_on = ",".join(str(c) for c in report.summary.get("fail_on", []))  # type: ignore[attr-defined]
    lines.append(f"result: {'FAIL' if failed else 'ok'} ({failed} changes in failing classes: {fail_on})")
    return "\n".join(lines)


def _version(pkg: object) -> str:
    manifest = getattr(pkg, "manifest", None)
    return str(manifest.version) if manifest is not None else "?"
