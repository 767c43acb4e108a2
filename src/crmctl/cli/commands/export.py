"""`crmctl export records|drafts|events`: a thin command over `crmctl.runtime.export` (docs/export.md).

Exit codes: 0 written, 2 bad input (an unwritable --out, an unknown --partition-by column, conflicting field
types between versions; see the error boundary), 130 Ctrl-C (no file is left half written).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.commands.runtime import open_store
from crmctl.cli.console import out
from crmctl.errors import UsageError

if TYPE_CHECKING:
    from crmctl.runtime.export import ExportReport

__all__ = ["run_export"]

_SHOW_AFTER = 1.0  # seconds: short exports finish before a bar would be worth drawing


@contextmanager
def _progress(enabled: bool, kind: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (a terminal only), shown once an export has run for a second."""
    started = time.monotonic()
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if not enabled or time.monotonic() - started < _SHOW_AFTER:
            return
        if "bar" not in state:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            from crmctl.cli.console import rich_console

            state["bar"] = Progress(
                TextColumn(f"exporting {kind}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} rows"),
                TimeRemainingColumn(),
                console=rich_console(stderr=True),
                transient=True,
            )
            state["bar"].start()
            state["task"] = state["bar"].add_task(kind, total=total)
        state["bar"].update(state["task"], completed=done, total=total)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].stop()


def _partitions(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    names = tuple(name.strip() for name in text.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise UsageError(f"--partition-by {text!r}: give distinct column names separated by commas")
    return names


def _report(report: ExportReport, output_format: str) -> None:
    if output_format == "json":
        out(json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
        return
    if not report.datasets:
        out(f"nothing to export: no {report.kind} match")
        return
    lines = []
    for dataset in report.datasets:
        files = f"{len(dataset.files)} files" if len(dataset.files) != 1 else dataset.files[0]
        lines.append(f"{dataset.kind}/{dataset.name}: {dataset.rows:,} rows -> {files}")
    lines.append(f"exported {report.rows:,} rows in {len(report.datasets)} dataset(s) to {report.out}")
    out("\n".join(lines))


def run_export(
    kind: str,
    *,
    out_dir: Path,
    file_format: str,
    entity: str | None,
    tenant: str | None,
    partition_by: str | None,
    store: Path | None,
    output_format: str,
) -> int:
    from crmctl.runtime.export import EXPORTERS, ExportOptions, export

    if kind not in EXPORTERS:
        raise UsageError(f"unknown export kind {kind!r}; one of {', '.join(EXPORTERS)}")
    options = ExportOptions(
        out_dir, "csv" if file_format == "csv" else "parquet", tenant, entity, _partitions(partition_by)
    )
    with open_store(store, read_only=True) as opened, _progress(sys.stderr.isatty(), kind) as progress:
        report = export(opened, kind, options, progress)
    _report(report, output_format)
    return 0
