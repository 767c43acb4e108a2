"""Markdown for a GitHub job summary (`$GITHUB_STEP_SUMMARY`) or a pull-request comment.

`render` takes any `Report` (lint findings); `render_diff` takes a diff's result, for the verdict, the proposed
bump, the changes grouped by class and, with `--records`, what the stored records say about each change.

Every string that comes from a package, a path or a store is escaped (`escape`): it can neither close a table cell
(`|`), start markup (backticks, `*`, `[`, `<script>`), mention someone (`@team`) nor break a line. Groups longer
than `FOLD_AFTER` rows are folded in `<details>`, and the whole text stays under `LIMIT` characters (a GitHub
comment holds 65,536): what does not fit is cut at a row boundary and a note says how many rows were left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from crmctl.model.diagnostics import Diagnostic, Report

if TYPE_CHECKING:
    from crmctl.compat.classify import DiffResult
    from crmctl.compat.kinds import ChangeClass
    from crmctl.compat.records_impact import RecordsImpact
    from crmctl.model.package import Package

__all__ = ["FOLD_AFTER", "LIMIT", "escape", "render", "render_diff"]

LIMIT = 60_000  # under GitHub's 65,536-character comment body, leaving room for a caller's own header
FOLD_AFTER = 10
_CLASS_ORDER = ("breaking", "data-dependent", "behavioral", "compatible")
_SEVERITY_TITLE = {"error": "Errors", "warning": "Warnings", "info": "Notes"}
# What GFM reads as inline markup, or as the end of a table cell, mid-line; a backslash makes each one literal.
# (Escaped strings never start a line, so block markers such as `#`, `-` or `1.` need nothing.)
_MARKUP = re.compile(r"([\\`*_\[\]|~])")
_SEP = "|---"  # how a table's delimiter row starts
_NEWLINES = re.compile(r"\r\n|\r|\n")


def escape(text: str) -> str:
    """`text` as literal Markdown inline content, safe inside a table cell."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKUP.sub(r"\\\1", text).replace("@", "&#64;")
    return _NEWLINES.sub("<br>", text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _section(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A heading and its table; folded when long (the heading stays visible as the summary)."""
    table = _table(header, rows)
    if len(rows) <= FOLD_AFTER:
        return [f"#### {title}", "", *table, ""]
    return [f"<details><summary><b>{title}</b></summary>", "", *table, "", "</details>", ""]


def _data_rows(lines: list[str]) -> int:
    """How many of `lines` are table rows other than a header (the line before a delimiter row)."""
    headers = sum(1 for line in lines if line.startswith(_SEP))
    return sum(1 for line in lines if line.startswith("| ")) - headers


def _bounded(lines: list[str], limit: int) -> str:
    """The lines, or as many as fit in `limit` characters with a note; a cut inside `<details>` closes it."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    if len(text) <= limit:
        return text
    note_room = 200
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit - note_room:
            break
        kept.append(line)
        size += len(line) + 1
    left = _data_rows(lines[len(kept) :])
    opened = sum(1 for line in kept if line.startswith("<details>")) - sum(1 for line in kept if line == "</details>")
    tail = ["", "</details>"] * opened
    note = f"**Output truncated:** {left} more rows did not fit in {limit:,} characters; run crmctl locally for all."
    return "\n".join([*kept, *tail, "", note]) + "\n"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _finding_row(diag: Diagnostic) -> list[str]:
    message = escape(diag.message)
    if diag.fix:
        message += f"<br>help: {escape(diag.fix)}"
    return [f"`{diag.code}`", escape(str(diag.location)), message]


def _package_name(item: object) -> str:
    """A package of lint's summary: its name, or `name (path)` when the summary gives both."""
    if isinstance(item, dict):
        name, path = item.get("name"), item.get("path")
        return escape(f"{name} ({path})" if path else str(name))
    return escape(str(item))


def render(report: Report, *, limit: int = LIMIT) -> str:
    """Findings of any report (lint) grouped by severity, with a one-line verdict."""
    counts = report.counts()
    verdict = "✅ no errors" if not counts["errors"] else f"❌ {_plural(counts['errors'], 'error')}"
    lines = [
        f"### crmctl {report.command}: {verdict}",
        "",
        f"{_plural(counts['errors'], 'error')}, {_plural(counts['warnings'], 'warning')}, "
        f"{_plural(counts['infos'], 'note')}",
        "",
    ]
    packages = report.summary.get("packages")
    if isinstance(packages, list) and packages:
        lines.extend([f"Packages: {', '.join(_package_name(item) for item in packages)}", ""])
    ordered = report.sorted()
    for severity, title in _SEVERITY_TITLE.items():
        rows = [_finding_row(d) for d in ordered if d.severity.value == severity]
        if rows:
            lines.extend(_section(f"{title} ({len(rows)})", ("Code", "Location", "Message"), rows))
    return _bounded(lines, limit)


def _side(pkg: Package) -> str:
    version = pkg.manifest.version if pkg.manifest is not None else "?"
    return f"{escape(pkg.name)} {escape(version)}"


def render_diff(
    result: DiffResult,
    failing: Iterable[ChangeClass],
    impact: RecordsImpact | None = None,
    *,
    limit: int = LIMIT,
) -> str:
    """The diff as a summary: verdict, proposed bump from the old version, counts, then one table per class and
    one for the records API (each change there with its class)."""
    from crmctl.compat.report import failed

    fail = frozenset(failing)
    failures = [c for c in result.reported if failed(c, fail, impact)]
    failing_ids = {id(c) for c in failures}
    own = sum(1 for c in result.changes if id(c) in failing_ids)  # API changes restate these: counted once
    classes = ", ".join(sorted(c.value for c in fail))
    if failures:
        verdict = f"❌ {_plural(own, 'change')} fail (failing classes: {classes}"
        verdict += "; or breaking stored records)" if impact is not None else ")"
    else:
        verdict = f"✅ no change in a failing class ({classes})"
    old_version = result.old.manifest.version if result.old.manifest is not None else "?"
    bump = result.bump
    if bump != "none":
        bump += f" from {escape(old_version)} (expected {escape(result.verdict.expected)})"
    lines = [
        f"### crmctl diff: {_side(result.old)} → {_side(result.new)}",
        "",
        f"**{verdict}**",
        "",
        f"**Proposed bump:** {bump}: {'✅' if result.verdict.ok else '❌'} {escape(result.verdict.message)}",
        "",
    ]
    if not result.reported:
        lines.extend(["No changes.", ""])
        return _bounded(lines, limit)
    lines.extend(_table(_CLASS_ORDER, [[str(result.counts.get(cls, 0)) for cls in _CLASS_ORDER]]))
    lines.append("")
    header = ["Code", "Location", "Change", "Message"]
    if impact is not None:
        header.append("Stored records")
        lines[-1:-1] = [
            "",
            f"Stored records: {impact.records:,} {escape(impact.package)} records read from "
            f"{escape(str(impact.store))} (tenant {escape(impact.tenant or '-')}).",
        ]
        lines.append("")
    groups = [(f"{cls.capitalize()}", [c for c in result.changes if c.cls.value == cls]) for cls in _CLASS_ORDER]
    groups.append(("Records API", result.api))
    for title, group in groups:
        if not group:
            continue
        rows = []
        for change in group:
            where = change.location
            message = escape(change.message) + (f"<br>help: {escape(change.hint)}" if change.hint else "")
            row = [
                f"`{change.code}`" + (" ❌" if id(change) in failing_ids else ""),
                escape(str(where)) if where is not None else escape(change.path),
                f"{escape(change.kind.id)} {escape(change.path)}"
                + (f" ({change.cls.value})" if change.kind.section == "api" else ""),
                message,
            ]
            if impact is not None:
                item = impact.for_change(change)
                row.append(escape(item.describe()) if item is not None else "")
            rows.append(row)
        lines.extend(_section(f"{title} ({len(group)})", header, rows))
    return _bounded(lines, limit)
