"""SARIF 2.1.0 for code-scanning tools: the rule catalogue as `tool.driver.rules`, one result per finding."""

from __future__ import annotations

import json
from typing import Any

from crmctl import __version__
from crmctl.model.diagnostics import Diagnostic, Report

__all__ = ["SARIF_SCHEMA", "render", "sarif_dict"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rules(report: Report) -> list[dict[str, Any]]:
    from crmctl.lint import all_rules

    rules: list[dict[str, Any]] = []
    for code, rule in all_rules().items():
        rules.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.why},
                "help": {"text": rule.fix},
                "defaultConfiguration": {"level": _LEVEL[rule.severity.value]},
            }
        )
    known = {r["id"] for r in rules}
    others = sorted({d.code for d in report.diagnostics} - known)
    rules.extend({"id": code, "shortDescription": {"text": code}} for code in others)
    return rules


def _records(diag: Diagnostic) -> str:
    """`crmctl diff --records`: what the stored records say about the change, after the message."""
    records = diag.extra.get("records")
    return f" [stored records: {records}]" if records else ""


def sarif_dict(report: Report) -> dict[str, Any]:
    rules = _rules(report)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for diag in report.sorted():
        loc = diag.location
        result: dict[str, Any] = {
            "ruleId": diag.code,
            "ruleIndex": index[diag.code],
            "level": _LEVEL[diag.severity.value],
            "message": {"text": diag.message + (f" (help: {diag.fix})" if diag.fix else "") + _records(diag)},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": loc.file},
                        "region": {"startLine": loc.line, "startColumn": loc.column},
                    }
                }
            ],
            "partialFingerprints": {"crmctl/v1": diag.fingerprint()},
        }
        if diag.path:
            result["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": diag.path}]
        if diag.extra:
            result["properties"] = dict(diag.extra)
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "crmctl",
                        "version": __version__,
                        "informationUri": "https://crmctl.dev/docs/lint-rules",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def render(report: Report) -> str:
    return json.dumps(sarif_dict(report), indent=2, ensure_ascii=False)
