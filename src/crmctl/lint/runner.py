"""Running the catalogue over a package: structural findings, semantic rules, configuration, suppressions."""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatch

from crmctl.lint.config import LintConfig
from crmctl.lint.context import LintContext
from crmctl.lint.registry import all_rules, matches
from crmctl.lint.suppress import apply_inline_ignores
from crmctl.model.diagnostics import Diagnostic
from crmctl.model.package import Package

__all__ = ["lint_package"]


def lint_package(package: Package, config: LintConfig | None = None) -> list[Diagnostic]:
    """Every finding for `package` after selection, severity overrides and suppressions, sorted."""
    config = config or LintConfig()
    ctx = LintContext(package)
    name = package.name
    found = [d if d.package else replace(d, package=name) for d in package.diagnostics]
    for code, rule in all_rules().items():
        if not rule.structural and config.enabled(code):
            found.extend(rule().check(ctx))
    label = package.label.rstrip("/")

    def applies(code: str, file: str) -> bool:
        return config.enabled(code) and not _file_ignored(code, file, config, label)

    def kept(diag: Diagnostic) -> bool:
        return applies(diag.code, diag.location.file)

    found = apply_inline_ignores([d for d in found if kept(d)], package.docs, name, applies=applies)
    result: list[Diagnostic] = []
    for diag in found:
        if not kept(diag):
            continue
        override = config.severity.get(diag.code)
        if override is None:
            override = next((sev for sel, sev in config.severity.items() if diag.code.startswith(sel)), None)
        result.append(replace(diag, severity=override) if override and override is not diag.severity else diag)
    return sorted(result, key=Diagnostic.sort_key)


def _file_ignored(code: str, file: str, config: LintConfig, label: str) -> bool:
    if not config.per_file_ignores:
        return False
    rel = file[len(label) + 1 :] if label not in ("", ".") and file.startswith(label + "/") else file
    return any(
        (fnmatch(rel, glob) or fnmatch(file, glob)) and matches(code, codes)
        for glob, codes in config.per_file_ignores.items()
    )
