"""Reporters: render a `Report` (lint or diff findings) as text, json, sarif, github, junit or markdown."""

from __future__ import annotations

from crmctl.model.diagnostics import Report

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "sarif", "github", "junit", "markdown")


def render(report: Report, output_format: str, *, color: bool = False) -> str:
    """The report in `output_format` (one of FORMATS); `color` only affects text."""
    if output_format == "text":
        from crmctl.cli.reporters import text

        return text.render(report, color=color)
    if output_format == "json":
        from crmctl.cli.reporters import json_output

        return json_output.render(report)
    if output_format == "sarif":
        from crmctl.cli.reporters import sarif

        return sarif.render(report)
    if output_format == "github":
        from crmctl.cli.reporters import github

        return github.render(report)
    if output_format == "junit":
        from crmctl.cli.reporters import junit

        return junit.render(report)
    if output_format == "markdown":
        from crmctl.cli.reporters import markdown

        return markdown.render(report)
    raise ValueError(f"unknown output format {output_format!r}")
