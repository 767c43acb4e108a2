"""Human-readable output: findings grouped by file, the source line with a caret, the fix as `help:`."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from crmctl.model.diagnostics import Report

__all__ = ["render"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render(report: Report, *, color: bool = False) -> str:
    lines = list(_lines(report))
    if not color:
        return "".join(text for text, _ in lines)
    from crmctl.cli.console import render_styled

    return render_styled(lines)


def _lines(report: Report) -> Iterator[tuple[str, str | None]]:
    """Each output line with its style; plain output ignores the styles (and never pays for rich)."""
    for file, group in groupby(report.sorted(), key=lambda d: d.location.file):
        source = report.sources.get(file, "").splitlines()
        yield f"{file}\n", "bold underline"
        for diag in group:
            loc, severity = diag.location, diag.severity.value
            yield f"{loc}: {diag.code} [{severity}] {diag.message}\n", _STYLE[severity]
            if 0 < loc.line <= len(source):
                yield f"  {loc.line:>4} | {source[loc.line - 1].expandtabs(1)}\n", "dim"
                yield f"       | {' ' * max(loc.column - 1, 0)}^\n", _STYLE[severity]
            if diag.fix:
                yield f"  help: {diag.fix}\n", "green"
        yield "\n", None
    yield _summary_line(report) + "\n", "bold"


def _summary_line(report: Report) -> str:
    numbers = report.counts()
    parts = [f"{numbers['errors']} error(s)", f"{numbers['warnings']} warning(s)", f"{numbers['infos']} info(s)"]
    extra = [f"{key}: {value}" for key, value in report.summary.items() if isinstance(value, int | str)]
    line = ("no findings" if not numbers["total"] else ", ".join(parts)) + f" ({report.command})"
    return line + (f"; {', '.join(extra)}" if extra else "")
