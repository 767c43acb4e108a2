"""`crmctl lint`: load packages, run the catalogue, apply the baseline, hand the report to a reporter."""

from __future__ import annotations

import os
from pathlib import Path

from crmctl.cli.console import err, out, use_color
from crmctl.errors import InputError
from crmctl.model.diagnostics import Diagnostic, Report, Severity

__all__ = ["discover_packages", "run"]

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}


def discover_packages(root: Path) -> list[Path]:
    """Every directory under `root` containing package.yaml (skipping VCS, virtualenv and node_modules)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        if "package.yaml" in filenames:
            found.append(Path(dirpath))
    return found


def _targets(paths: list[Path]) -> list[Path]:
    """Packages to lint: each given package, every package under a given non-package directory, or under `.`."""
    if not paths:
        found = discover_packages(Path())
        if not found:
            raise InputError("no packages found: no directory under . contains package.yaml")
        return found
    targets: list[Path] = []
    for path in paths:
        inner = discover_packages(path) if path.is_dir() and not (path / "package.yaml").exists() else []
        targets.extend(inner or [path])
    return targets


def run(
    paths: list[Path],
    output_format: str,
    *,
    config: Path | None,
    select: list[str],
    ignore: list[str],
    baseline: Path | None,
    write_baseline: Path | None,
) -> int:
    from crmctl.cli.reporters import render
    from crmctl.lint import lint_package, load_config
    from crmctl.lint.baseline import apply_baseline, read_baseline
    from crmctl.lint.baseline import write_baseline as save_baseline
    from crmctl.model.package import load_package

    settings = load_config(config, Path.cwd()).with_cli(select, ignore)
    targets = _targets(paths)
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    names: list[str] = []
    for target in targets:
        label = os.path.normpath(str(target))
        package = load_package(target, label)
        names.append(package.name)
        sources.update({doc.file: doc.text for doc in package.docs.values()})
        diagnostics.extend(lint_package(package, settings))
    summary: dict[str, object] = {"packages": names}
    if write_baseline is not None:
        save_baseline(write_baseline, diagnostics)
        err(f"crmctl: wrote {len(diagnostics)} finding(s) to baseline {write_baseline}")
    if baseline is not None:
        diagnostics, covered = apply_baseline(diagnostics, read_baseline(baseline))
        summary["baselined"] = covered
    report = Report("lint", diagnostics, sources=sources, summary=summary)
    out(render(report, output_format, color=use_color(output_format)))
    return 1 if any(d.severity is Severity.ERROR for d in diagnostics) else 0
