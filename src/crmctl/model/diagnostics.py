"""Diagnostics: the result objects every checker returns and every reporter renders."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Diagnostic", "Location", "Report", "Severity"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, order=True)
class Location:
    """A place in a package: file relative to the package root, 1-based line and column."""

    file: str
    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One finding. `path` is the semantic address (e.g. `Lead.email`, `rule:showCompany`) used by baselines."""

    code: str
    message: str
    location: Location
    severity: Severity = Severity.ERROR
    path: str = ""
    fix: str | None = None
    package: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def sort_key(self) -> tuple[str, str, int, int, str, str]:
        return (self.package, self.location.file, self.location.line, self.location.column, self.code, self.message)

    def fingerprint(self) -> str:
        """Stable across edits that move lines: code + package + semantic path + message."""
        import hashlib

        raw = "\x1f".join((self.code, self.package, self.path or self.location.file, self.message))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class Report:
    """What a checking command hands to a reporter.

    `command` is `lint` or `diff`; `sources` maps a display file name to its text (for source lines in text
    output); `summary` carries command-specific machine-readable fields (e.g. the proposed semver bump).
    """

    command: str
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.diagnostics, key=Diagnostic.sort_key)

    def counts(self) -> dict[str, int]:
        """Findings by severity: errors, warnings, infos and total."""
        by = Counter(d.severity.value for d in self.diagnostics)
        return {"errors": by["error"], "warnings": by["warning"], "infos": by["info"], "total": len(self.diagnostics)}
