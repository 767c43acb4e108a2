"""`crmctl rules` and `crmctl explain CODE`: the lint catalogue for people and tools."""

from __future__ import annotations

import json

from crmctl.cli.console import out
from crmctl.errors import UsageError

__all__ = ["run_explain", "run_list"]


def run_list(output_format: str) -> int:
    from crmctl.lint import all_rules

    rules = all_rules()
    if output_format == "json":
        body = [
            {
                "code": code,
                "name": rule.name,
                "severity": rule.severity.value,
                "summary": rule.summary,
                "structural": rule.structural,
            }
            for code, rule in rules.items()
        ]
        out(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    width = max(len(rule.name) for rule in rules.values())
    for code, rule in rules.items():
        out(f"{code:<8} {rule.name:<{width}} {rule.severity.value:<7} {rule.summary}")
    return 0


def run_explain(code: str) -> int:
    """Explain a lint rule (`RUL301`) or a diff change kind (`CMP101`), as both appear in findings."""
    from crmctl.lint import get_rule

    rule = get_rule(code)
    if rule is None and code.upper().startswith("CMP"):
        return _explain_change(code.upper())
    if rule is None:
        raise UsageError(f"unknown rule code {code!r}", hint="`crmctl rules` lists every code")
    structural = " (reported by the package loader)" if rule.structural else ""
    out(
        f"{rule.code} {rule.name}\n"
        f"severity: {rule.severity.value}{structural}\n\n"
        f"{rule.summary}\n\n"
        f"Why: {rule.why}\n\n"
        f"Bad:\n{_indent(rule.bad)}\n\n"
        f"Good:\n{_indent(rule.good)}\n\n"
        f"Fix: {rule.fix}"
    )
    return 0


def _explain_change(code: str) -> int:
    from crmctl.compat.kinds import explain_change

    text = explain_change(code)
    if text is None:
        raise UsageError(f"unknown change code {code!r}", hint="docs/compatibility.md lists every change kind")
    out(text)
    return 0


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
