"""The `result` of `crmctl lint --format json` and `crmctl diff --format json`: findings and a summary, in the
contract's naming (schemas/commands/lint.json and diff.json; printed in the envelope by `crmctl.cli.contract`)."""

from __future__ import annotations

import json
from typing import Any

from crmctl.model.diagnostics import Diagnostic, Report

__all__ = ["finding_dict", "render", "result"]


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


def result(report: Report) -> dict[str, Any]:
    """The report as the command's result: `findings` in order, `summary` with the counts and what the command
    says about the whole run (lint: the packages checked; diff: the sides, the bump, the verdict)."""
    summary = {**report.counts(), **(_diff_summary(report.summary) if report.command == "diff" else _lint(report))}
    return {"findings": [finding_dict(d) for d in report.sorted()], "summary": summary}


def _lint(report: Report) -> dict[str, Any]:
    baselined = report.summary.get("baselined")
    return {"packages": report.summary.get("packages", []), "baselined": baselined}


def _diff_summary(summary: dict[str, Any]) -> dict[str, Any]:
    records = summary.get("records")
    check = summary["version_check"]
    return {
        "proposedBump": summary["proposed_bump"],
        "old": summary["old"],
        "new": summary["new"],
        "counts": summary["counts"],
        "changes": summary["changes"],
        "api": summary["api"],
        "failOn": summary["fail_on"],
        "failed": summary["failed"],
        "failedByRecords": summary.get("failed_by_records"),
        "versionCheck": {"ok": check["ok"], "expected": check["expected"], "message": check["message"]},
        "records": None if records is None else _records(records),
    }


def _records(records: dict[str, Any]) -> dict[str, Any]:
    renamed = {"examples_limit": "examplesLimit", "by_version": "byVersion"}
    impacts = [{renamed.get(k, k): v for k, v in impact.items()} for impact in records["impacts"]]
    return {**{renamed.get(k, k): v for k, v in records.items() if k != "impacts"}, "impacts": impacts}


def render(report: Report) -> str:
    """The result alone, as JSON (the commands print it inside the envelope: `crmctl.cli.contract.emit`)."""
    return json.dumps(result(report), indent=2, ensure_ascii=False, default=str)
