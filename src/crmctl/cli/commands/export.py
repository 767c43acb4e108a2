"""`crmctl export records|drafts|events|workflows`: a thin command over `crmctl.runtime.export` (docs/export.md).

Exit codes: 0 written, 2 bad input (an unwritable --out, an unknown --partition-by column, conflicting field
types between versions; see the error boundary), 130 Ctrl-C (no file is left half written).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crmctl.cli.console import out, progress
from crmctl.cli.contract import emit
from crmctl.cli.inputs import open_store
from crmctl.cli.words import plural
from crmctl.errors import UsageError

if TYPE_CHECKING:
    from crmctl.runtime.export import ExportReport

__all__ = ["run_export"]


def _partitions(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    names = tuple(name.strip() for name in text.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise UsageError(f"--partition-by {text!r}: give distinct column names separated by commas")
    return names


def _report(report: ExportReport, output_format: str) -> int:
    if output_format == "json":
        datasets = [
            {
                "kind": d.kind,
                "name": d.name,
                "rows": d.rows,
                "files": d.files,
                "packageDigests": d.package_digests,
            }
            for d in report.datasets
        ]
        doc = {"kind": report.kind, "fileFormat": report.format, "out": report.out, "rows": report.rows}
        return emit({**doc, "datasets": datasets})
    if not report.datasets:
        out(f"nothing to export: no {report.kind} match")
        return 0
    lines = []
    for dataset in report.datasets:
        files = plural(len(dataset.files), "file") if len(dataset.files) != 1 else dataset.files[0]
        lines.append(f"{dataset.kind}/{dataset.name}: {plural(dataset.rows, 'row')} -> {files}")
    lines.append(f"exported {plural(report.rows, 'row')} in {plural(len(report.datasets), 'dataset')} to {report.out}")
    out("\n".join(lines))
    return 0


def run_export(
    kind: str,
    *,
    out_dir: Path,
    file_format: str,
    entity: str | None,
    tenant: str | None,
    partition_by: str | None,
    store: str | None,
    output_format: str,
) -> int:
    from crmctl.runtime.export import EXPORTERS, ExportOptions, export

    if kind not in EXPORTERS:
        raise UsageError(f"unknown export kind {kind!r}; one of {', '.join(EXPORTERS)}")
    options = ExportOptions(
        out_dir, "csv" if file_format == "csv" else "parquet", tenant, entity, _partitions(partition_by)
    )
    with open_store(store, read_only=True) as opened, progress(f"exporting {kind}") as update:
        report = export(opened, kind, options, update)
    return _report(report, output_format)
