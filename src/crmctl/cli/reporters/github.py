"""GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` annotation per finding."""

from __future__ import annotations

from crmctl.model.diagnostics import Report

__all__ = ["render"]

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def _data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(value: str) -> str:
    return _data(value).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    lines = []
    for diag in report.sorted():
        loc = diag.location
        props = f"file={_prop(loc.file)},line={loc.line},col={loc.column},title={_prop(diag.code)}"
        message = diag.message + (f" (help: {diag.fix})" if diag.fix else "")
        if diag.extra.get("records"):
            message += f" [stored records: {diag.extra['records']}]"
        lines.append(f"::{_COMMAND[diag.severity.value]} {props}::{_data(message)}")
    return "\n".join(lines)
