"""`crmctl lint`: load packages, run the catalogue, apply the baseline, hand the report to a reporter."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from crmctl.cli.console import note, out, use_color
from crmctl.errors import InputError
from crmctl.lint.discovery import discover_packages
from crmctl.model.diagnostics import Diagnostic, Report, Severity

__all__ = ["discover_packages", "run"]


def _targets(paths: list[Path], skip: Callable[[Path], bool]) -> tuple[list[Path], set[str] | None]:
    """Packages to lint, and the files to report on (None: all of them).

    A path may be a package, a directory holding packages (default `.`), or a file inside a package, as
    pre-commit and editors pass them: its package is linted and only that file's findings are reported.
    """
    if not paths:
        found = discover_packages(Path(), skip)
        if not found:
            raise InputError("no packages found: no directory under . contains package.yaml")
        return found, None
    targets: list[Path] = []
    files: set[str] = set()
    for path in paths:
        if path.is_file():
            root = _package_of(path)
            if root not in targets:
                targets.append(root)
            files.add(os.path.normpath(str(path)))
            continue
        inner = discover_packages(path, skip) if path.is_dir() and not (path / "package.yaml").exists() else []
        targets.extend(inner or [path])
    only = files if files and len(files) == len(paths) else None
    return targets, only


def _package_of(path: Path) -> Path:
    for parent in path.parents:
        if (parent / "package.yaml").is_file():
            return parent
        if parent == parent.parent or (parent / ".git").exists():
            break
    raise InputError(f"{path}: not inside a package (no package.yaml in this or a parent directory)")


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
    targets, only_files = _targets(paths, settings.excluded)
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    packages: list[dict[str, object]] = []
    for target in targets:
        label = os.path.normpath(str(target))
        package = load_package(target, label)
        version = package.manifest.version if package.manifest is not None else None
        packages.append({"name": package.name, "version": version, "path": label})
        sources.update({doc.file: doc.text for doc in package.docs.values()})
        found = lint_package(package, settings)
        if only_files is not None:
            found = [d for d in found if os.path.normpath(d.location.file) in only_files]
        diagnostics.extend(found)
    summary: dict[str, object] = {"packages": packages}
    if write_baseline is not None:
        save_baseline(write_baseline, diagnostics)
        note(f"crmctl: wrote {len(diagnostics)} finding(s) to baseline {write_baseline}")
    if baseline is not None:
        diagnostics, covered = apply_baseline(diagnostics, read_baseline(baseline))
        summary["baselined"] = covered
    report = Report("lint", diagnostics, sources=sources, summary=summary)
    code = 1 if any(d.severity is Severity.ERROR for d in diagnostics) else 0
    if output_format == "json":
        from crmctl.cli.contract import emit
        from crmctl.cli.reporters.json_output import result

        return emit(result(report), exit_code=code)
    out(render(report, output_format, color=use_color(output_format)))
    return code
