"""Lint configuration: the lint keys of `[tool.crmctl]` (the file is found and read by `crmctl.model.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.errors import InputError
from crmctl.lint.registry import all_rules, matches
from crmctl.model.config import read_config
from crmctl.model.diagnostics import Severity

__all__ = ["LintConfig", "load_config", "parse_config"]

_KEYS = {"select", "ignore", "per-file-ignores", "severity", "exclude", "registry", "signing-key", "baseline", "store"}


@dataclass(frozen=True)
class LintConfig:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    severity: dict[str, Severity] = field(default_factory=dict)
    source: Path | None = None
    exclude: tuple[str, ...] = ()
    # The version the language server checks compatibility against as you type: any source `crmctl diff --against`
    # takes (`git:main`, `registry:NAME@CHANNEL`, a directory); relative to the package directory.
    baseline: str | None = None

    def excluded(self, directory: Path) -> bool:
        """Whether package discovery skips `directory` (globs relative to the configuration file's folder)."""
        if not self.exclude:
            return False
        base = self.source.parent.resolve() if self.source is not None else Path.cwd().resolve()
        try:
            rel = directory.resolve().relative_to(base)
        except ValueError:
            return False
        return any(rel.match(glob) or rel.as_posix().startswith(glob.rstrip("/") + "/") for glob in self.exclude)

    def enabled(self, code: str) -> bool:
        if self.select and not matches(code, self.select):
            return False
        return not matches(code, self.ignore)

    def with_cli(self, select: list[str], ignore: list[str]) -> LintConfig:
        """Command-line --select replaces the configured selection; --ignore adds to it."""
        for sel in (*select, *ignore):
            _check_selector(sel, "command line")
        return LintConfig(
            select=tuple(s.upper() for s in select) or self.select,
            ignore=(*self.ignore, *(s.upper() for s in ignore)),
            per_file_ignores=self.per_file_ignores,
            severity=self.severity,
            source=self.source,
            exclude=self.exclude,
            baseline=self.baseline,
        )


def load_config(explicit: Path | None, start: Path) -> LintConfig:
    """The lint settings of the configuration file (`crmctl.model.config`); defaults when there is none."""
    found = read_config(explicit, start)
    if found is None:
        return LintConfig()
    return parse_config(found.values, f"{found.path}: {found.where}", found.path)


def parse_config(table: dict[str, Any], where: str, source: Path | None = None) -> LintConfig:
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r}", hint=f"known keys: {', '.join(sorted(_KEYS))}")
    select = _codes(table.get("select", []), f"{where}.select")
    ignore = _codes(table.get("ignore", []), f"{where}.ignore")
    per_file: dict[str, tuple[str, ...]] = {}
    raw_pfi = table.get("per-file-ignores", {})
    if not isinstance(raw_pfi, dict):
        raise InputError(f"{where}.per-file-ignores: expected a table of glob = [codes]")
    for glob, codes in raw_pfi.items():
        per_file[glob] = _codes(codes, f"{where}.per-file-ignores.{glob!r}")
    severity: dict[str, Severity] = {}
    raw_sev = table.get("severity", {})
    if not isinstance(raw_sev, dict):
        raise InputError(f'{where}.severity: expected a table of CODE = "error" | "warning" | "info"')
    for code, value in raw_sev.items():
        _check_selector(code, f"{where}.severity")
        try:
            severity[code.upper()] = Severity(value)
        except ValueError:
            raise InputError(f"{where}.severity.{code}: {value!r} is not one of error, warning, info") from None
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(e, str) and e for e in exclude):
        raise InputError(f'{where}.exclude: expected a list of directory globs, e.g. ["tests/fixtures"]')
    baseline = table.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise InputError(f'{where}.baseline: expected a source such as "git:main" or "registry:NAME@prod"')
    return LintConfig(select, ignore, per_file, severity, source, tuple(exclude), baseline)


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: expected a list of rule codes or prefixes")
    for code in value:
        _check_selector(code, where)
    return tuple(v.upper() for v in value)


def _check_selector(selector: str, where: str) -> None:
    if not any(code.startswith(selector.upper()) for code in all_rules()) or not selector:
        raise InputError(f"{where}: {selector!r} matches no rule code", hint="`crmctl rules` lists them")
