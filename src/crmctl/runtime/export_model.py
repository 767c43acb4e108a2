"""Export's vocabulary: what an export is asked (`ExportOptions`), what it reports, how it fails (see
`runtime.export`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crmctl.errors import UserError

__all__ = [
    "BATCH_ROWS",
    "DatasetReport",
    "ExportError",
    "ExportFormat",
    "ExportOptions",
    "ExportReport",
    "Progress",
]

ExportFormat = Literal["parquet", "csv"]
"""The file formats an export writes."""
Progress = Callable[[int, int], None]
"""Called with (rows done, rows in total) after each batch."""
BATCH_ROWS = 122_880
"""Rows per Arrow batch, so per Parquet row group: the row group size DuckDB writes too."""


class ExportError(UserError):
    """The export cannot be done as asked: an unwritable directory, conflicting field types, a bad option."""


@dataclass(frozen=True)
class ExportOptions:
    """What to export where: the output directory, the format, an optional tenant and entity, Hive partitions."""

    out: Path
    format: ExportFormat = "parquet"
    tenant: str | None = None
    entity: str | None = None
    partition_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetReport:
    """One dataset written: its rows, files and the package versions its rows are pinned to."""

    kind: str
    name: str
    rows: int
    files: list[str]
    package_digests: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "rows": self.rows,
            "files": self.files,
            "package_digests": self.package_digests,
        }


@dataclass
class ExportReport:
    """An export done: its kind, format, directory and datasets."""

    kind: str
    format: ExportFormat
    out: str
    datasets: list[DatasetReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.datasets)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": self.format,
            "out": self.out,
            "rows": self.rows,
            "datasets": [d.to_json() for d in self.datasets],
        }
