"""JSON output, version 1 (documented in docs/lint-rules.md)."""

from __future__ import annotations

import json
from typing import Any

from crmctl.model.diagnostics import Diagnostic, Report

__all__ = ["JSON_VERSION", "finding_dict", "render", "report_dict"]

JSON_VERSION = 1


def finding_dict(diag: Diagnostic) -> dict[str, Any]:
    return {
        "code": diag.code,
        "severity": diag.severity.value,
        "message": diag.message,
        "file": diag.location.file,
        "line": diag.location.line,
        "column": diag.location.column,
        "path": diag.path,
        "fix": diag.fix,
        "package": diag.package,
        "extra": dict(diag.extra),
    }


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "tool": "crmctl",
        "command": report.command,
        "findings": [finding_dict(d) for d in report.sorted()],
        "summary": {**report.counts(), **report.summary},
    }


def render(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False, sort_keys=False, default=str)
