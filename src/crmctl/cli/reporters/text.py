"""Human-readable output: findings grouped by file, the source line with a caret, the fix as `help:`."""

from __future__ import annotations

import io
from itertools import groupby

from crmctl.cli.reporters import counts
from crmctl.model.diagnostics import Report

__all__ = ["render"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render(report: Report, *, color: bool = False) -> str:
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=color, no_color=not color, color_system="standard" if color else None,
        highlight=False, soft_wrap=True, width=200,
    )  # fmt: skip
    findings = report.sorted()
    for file, group in groupby(findings, key=lambda d: d.location.file):
        lines = report.sources.get(file, "").splitlines()
        console.print(Text(file, style="bold underline"))
        for diag in group:
            loc = diag.location
            head = Text()
            head.append(f"{loc}: ", style="bold")
            head.append(diag.code, style="bold")
            head.append(f" [{diag.severity.value}] ", style=_STYLE[diag.severity.value])
            head.append(diag.message)
            console.print(head)
            if 0 < loc.line <= len(lines):
                source = lines[loc.line - 1].expandtabs(1)
                console.print(Text(f"  {loc.line:>4} | {source}", style="dim"))
                console.print(Text(f"       | {' ' * max(loc.column - 1, 0)}^", style=_STYLE[diag.severity.value]))
            if diag.fix:
                console.print(Text(f"  help: {diag.fix}", style="green"))
        console.print()
    console.print(Text(_summary_line(report), style="bold"))
    return buffer.getvalue()


def _summary_line(report: Report) -> str:
    numbers = counts(report)
    parts = [f"{numbers['errors']} error(s)", f"{numbers['warnings']} warning(s)", f"{numbers['infos']} info(s)"]
    extra = [f"{key}: {value}" for key, value in report.summary.items() if isinstance(value, int | str)]
    line = ("no findings" if not numbers["total"] else ", ".join(parts)) + f" ({report.command})"
    return line + (f"; {', '.join(extra)}" if extra else "")
