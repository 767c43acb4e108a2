"""Inline suppressions: `# crmctl: ignore[CODE, ...] reason="..."` on a finding's line or the line above."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from crmctl.lint.registry import get_rule, matches
from crmctl.model.diagnostics import Diagnostic, Location
from crmctl.model.source import SourceDoc

__all__ = ["InlineIgnore", "apply_inline_ignores", "scan_ignores"]

_IGNORE_RE = re.compile(r'#\s*crmctl:\s*ignore\[([^\]]*)\](?:\s+reason\s*=\s*"([^"]*)")?')


@dataclass
class InlineIgnore:
    location: Location
    codes: tuple[str, ...]
    reason: str | None
    used: set[str] = field(default_factory=set)

    @property
    def valid(self) -> bool:
        return bool(self.reason and self.reason.strip())


def scan_ignores(doc: SourceDoc) -> list[InlineIgnore]:
    if "crmctl:" not in doc.text:
        return []
    found: list[InlineIgnore] = []
    for number, line in enumerate(doc.text.splitlines(), start=1):
        if "crmctl:" not in line:
            continue
        for match in _IGNORE_RE.finditer(line):
            codes = tuple(c.strip().upper() for c in match.group(1).split(",") if c.strip())
            found.append(InlineIgnore(Location(doc.file, number, match.start() + 1), codes, match.group(2)))
    return found


def apply_inline_ignores(
    diagnostics: list[Diagnostic],
    docs: dict[str, SourceDoc],
    package: str,
    *,
    applies: Callable[[str, str], bool] = lambda code, file: True,
) -> list[Diagnostic]:
    """Drop findings suppressed by a reasoned ignore; add PKG010 (no reason) and PKG011 (unused) findings.

    `applies(code, file)` says whether configuration lets a rule report in a file; an ignore of a code that does
    not apply there is not reported as unused, since nothing could have been suppressed.
    """
    ignores: dict[tuple[str, int], list[InlineIgnore]] = {}
    every: list[InlineIgnore] = []
    for doc in docs.values():
        for ignore in scan_ignores(doc):
            ignores.setdefault((ignore.location.file, ignore.location.line), []).append(ignore)
            every.append(ignore)
    if not every:
        return diagnostics
    kept: list[Diagnostic] = []
    for diag in diagnostics:
        loc = diag.location
        candidates = ignores.get((loc.file, loc.line), []) + ignores.get((loc.file, loc.line - 1), [])
        suppressor = next((i for i in candidates if i.valid and matches(diag.code, i.codes)), None)
        if suppressor is None:
            kept.append(diag)
        else:
            suppressor.used.update(c for c in suppressor.codes if diag.code.startswith(c))
    for ignore in every:
        codes = ", ".join(ignore.codes)
        if not ignore.valid:
            rule = get_rule("PKG010")
            kept.append(
                _finding("PKG010", f'ignore[{codes}] has no reason="..." and suppresses nothing', ignore, package, rule)
            )
            continue
        unused = [c for c in ignore.codes if c not in ignore.used and _any_applies(c, ignore.location.file, applies)]
        if unused:
            rule = get_rule("PKG011")
            kept.append(_finding("PKG011", f"ignore[{', '.join(unused)}] suppresses no finding", ignore, package, rule))
    return kept


def _any_applies(selector: str, file: str, applies: Callable[[str, str], bool]) -> bool:
    from crmctl.lint.registry import all_rules

    return any(applies(code, file) for code in all_rules() if code.startswith(selector))


def _finding(code: str, message: str, ignore: InlineIgnore, package: str, rule: object) -> Diagnostic:
    from crmctl.model.diagnostics import Severity

    severity = getattr(rule, "severity", Severity.ERROR)
    path = f"ignore:{ignore.location.file}:{','.join(ignore.codes)}"
    fix = getattr(rule, "fix", None)
    return Diagnostic(code, message, ignore.location, severity=severity, path=path, fix=fix, package=package)
