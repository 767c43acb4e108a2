"""`crmctl diff`: classify every change between two versions of a package and propose the semver bump."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crmctl.cli.console import out, use_color
from crmctl.cli.words import plural

if TYPE_CHECKING:
    from crmctl.compat.classify import DiffResult
    from crmctl.compat.records_impact import RecordsImpact
    from crmctl.model.diagnostics import Report
    from crmctl.model.package import Package

__all__ = ["existing_store", "read_records", "render_records", "render_summary", "run"]

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
    records: str | None = None,
    records_limit: int = 10,
    tenant: str | None = None,
) -> int:
    from crmctl.compat.classify import diff_packages
    from crmctl.compat.report import build_report, failed, parse_fail_on
    from crmctl.compat.sources import resolve_sides
    from crmctl.model.package import load_tree
    from crmctl.registry import open_registry_ref

    failing = parse_fail_on(fail_on)
    store_path = existing_store(records) if records is not None else None
    schemes = {"registry": lambda ref: open_registry_ref(ref, registry)}
    old_tree, new_tree = resolve_sides(old, new, against=against, merge_base=merge_base, schemes=schemes)
    result = diff_packages(load_tree(old_tree), load_tree(new_tree))
    impact = read_records(result, store_path, tenant, records_limit) if store_path is not None else None
    report = build_report(result, failing, digests=output_format == "json", records=impact)
    # A change in a failing class fails; so does one the stored records show to break some of them.
    code = 1 if any(failed(change, failing, impact) for change in result.reported) else 0
    if output_format == "json":
        from crmctl.cli.contract import emit
        from crmctl.cli.reporters import json_output

        return emit(json_output.result(report), exit_code=code)
    if output_format == "markdown":
        from crmctl.cli.reporters import markdown

        out(markdown.render_diff(result, failing, impact))
    else:
        _render(report, result, output_format, impact)
    return code


def existing_store(records: str) -> Path:
    """Check before any work that `--records` names a file: opening a missing store must not create one."""
    from crmctl.errors import InputError
    from crmctl.model.files import check_regular

    path = Path(records)
    check_regular(path, f"--records {records}")
    if not path.is_file():
        raise InputError(
            f"--records {records}: no runtime store at this path",
            hint="pass the store the runtime writes (by default .crm/runtime.duckdb)",
        )
    return path


def read_records(result: DiffResult, path: Path, tenant: str | None, limit: int) -> RecordsImpact:
    """Open the store read-only and count, for every data-dependent change, the stored records it hits."""
    from crmctl.compat.records_impact import RecordsCheck
    from crmctl.errors import UsageError
    from crmctl.model.regex import compile_pattern
    from crmctl.runtime.store import Store

    if limit < 0:
        raise UsageError(f"--records-limit must be 0 or more, not {limit}")
    check = RecordsCheck(result, compile_pattern)
    with Store.open(path, read_only=True) as store:
        if tenant is None:
            tenants = store.tenants()
            if len(tenants) > 1:
                raise UsageError(
                    f"--records {path} holds several tenants ({', '.join(tenants)}); pick one with --tenant"
                )
            tenant = tenants[0] if tenants else ""
        records = (r for entity in check.entities for r in store.iter_records(tenant, entity))
        impact = check.measure(records, limit=limit)
    impact.store = str(path)
    impact.tenant = tenant
    return impact


def _render(report: Report, result: DiffResult, output_format: str, impact: RecordsImpact | None = None) -> None:
    from crmctl.cli.reporters import render

    if output_format != "text":
        out(render(report, output_format))
        return
    if result.reported:
        out(render(report, "text", color=use_color("text")))
        out("")
    out(render_summary(result, report))
    if impact is not None:
        out("")
        out(render_records(impact))


def render_records(impact: RecordsImpact) -> str:
    """The stored-records section of the text output: one line per change the records can answer."""
    lines = [
        f"stored records ({impact.store}, tenant {impact.tenant or '-'}): {impact.records:,} {impact.package} "
        "records read"
    ]
    if not impact.impacts:
        lines.append("  no change depends on stored data")
    for item in impact.impacts:
        change = item.change
        lines.append(f"  {change.code} {change.kind.id} {change.path}: {change.message}")
        lines.append(f"    {item.describe()}")
    return "\n".join(lines)


def render_summary(result: DiffResult, report: Report) -> str:
    """Human summary: changes grouped by class, the proposed bump and the verdict."""
    old_side = f"{result.old.label} ({result.old.name} {_version(result.old)})"
    new_side = f"{result.new.label} ({result.new.name} {_version(result.new)})"
    lines = [f"crmctl diff: {old_side} → {new_side}"]
    if not result.reported:
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
    if result.api:
        lines.append("")
        lines.append(f"records API ({len(result.api)}):")
        lines.extend(f"  {c.code} {c.kind.id} [{c.cls.value}] {c.path}: {c.message}" for c in result.api)
    counts = ", ".join(f"{result.counts.get(c, 0)} {c}" for c in _CLASS_ORDER)
    lines.append("")
    to_api = f" (and {len(result.api)} to the records API)" if result.api else ""
    lines.append(f"{plural(len(result.changes), 'change')}: {counts}{to_api}")
    lines.append(f"proposed bump: {result.bump} ({result.verdict.message})")
    failed = report.summary.get("failed", 0)
    fail_on = report.summary.get("fail_on", [])
    classes = ",".join(str(c) for c in fail_on) if isinstance(fail_on, list) else ""
    by_records = report.summary.get("failed_by_records", 0)
    extra = f"; {by_records} more {'breaks' if by_records == 1 else 'break'} stored records" if by_records else ""
    in_classes = failed - by_records if isinstance(failed, int) and isinstance(by_records, int) else failed
    lines.append(f"result: {'FAIL' if failed else 'ok'} ({in_classes} changes in failing classes: {classes}{extra})")
    return "\n".join(lines)


def _version(pkg: Package) -> str:
    return pkg.manifest.version if pkg.manifest is not None else "?"
