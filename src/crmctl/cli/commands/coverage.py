"""`crmctl workflow coverage`: how much of a workflow a directory of scenarios exercises (docs/workflow-coverage.md).

Scenarios are loaded as `workflow simulate` loads them and played in memory (`runtime.coverage`): no store, no
event log. Exit 0, or 1 when `--fail-under` is given and the coverage is below it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from crmctl.cli.commands.workflow import load_scenario
from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.errors import InputError

if TYPE_CHECKING:
    from crmctl.runtime.coverage import CoverageReport

__all__ = ["run_coverage", "scenario_files"]

_SUFFIXES = (".yaml", ".yml", ".json")
_KIND_LABELS = {
    "state": "states",
    "transition": "transitions",
    "guard": "guard outcomes",
    "sla": "SLA paths",
    "timer": "timers",
    "task": "task outcomes",
    "approval": "approvals",
}


def scenario_files(path: Path) -> list[Path]:
    """The scenarios under a directory (recursively, in path order), or the one file named."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such scenario file or directory")
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
    if not found:
        raise InputError(f"{path}: no scenario files (*.yaml, *.yml, *.json)")
    return found


def run_coverage(
    package_path: Path,
    *,
    scenarios: Path,
    workflow: str | None,
    output_format: str,
    skeletons_dir: Path | None,
    fail_under: float | None,
) -> int:
    from crmctl.model.package import load_package
    from crmctl.runtime.coverage import SKELETON_NOW, coverage, play, skeletons
    from crmctl.runtime.scenario import PlayError
    from crmctl.runtime.workflow import WorkflowEngine, WorkflowModel

    files = scenario_files(scenarios)
    package = load_package(package_path)
    if not package.valid:
        first = package.diagnostics[0]
        raise InputError(f"{first.location}: {first.message} (run crmctl lint {package_path})")
    engine = WorkflowEngine(WorkflowModel.build(package, workflow))
    timelines = {}
    for path in files:
        scenario = load_scenario(path)
        try:
            timelines[str(path)] = play(engine, [s for _, s in scenario.steps], scenario.now or SKELETON_NOW)
        except PlayError as exc:
            raise InputError(f"{scenario.steps[exc.index][0]}: {exc.message}") from None
    report = coverage(engine.model, timelines)
    written: list[dict[str, object]] = []
    if skeletons_dir is not None:
        try:
            skeletons_dir.mkdir(parents=True, exist_ok=True)
            for skeleton in skeletons(engine, report.uncovered):
                name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{report.workflow}-{skeleton.item.id}") + ".yaml"
                (skeletons_dir / name).write_text(skeleton.text, encoding="utf-8")
                written.append(
                    {"item": skeleton.item.id, "file": str(skeletons_dir / name), "reaches": skeleton.reaches}
                )
        except OSError as exc:
            raise InputError(f"{skeletons_dir}: cannot write the skeletons: {exc.strerror}") from None
    exit_code = 1 if fail_under is not None and report.percent < fail_under else 0
    if output_format == "json":
        return emit({**report.to_json(), "failUnder": fail_under, "skeletons": written}, exit_code=exit_code)
    _print(report, written, skeletons_dir)
    return exit_code


def _print(report: CoverageReport, written: list[dict[str, object]], skeletons_dir: Path | None) -> None:
    package = report.package
    out(
        f"{report.workflow} ({package['name']} {package['version']}): {report.covered}/{len(report.items)} items "
        f"covered ({report.percent}%) by {len(report.scenarios)} scenario(s)"
    )
    for kind, counts in report.by_kind().items():
        out(f"  {_KIND_LABELS[kind]:<15} {counts['covered']}/{counts['total']}")
    if report.uncovered:
        out("uncovered:")
        width = max(len(i.id) for i in report.uncovered)
        for item in report.uncovered:
            out(f"  {item.id:<{width}}  {item.what}")
    if skeletons_dir is not None:
        reaching = sum(1 for w in written if w["reaches"])
        out(f"skeletons: {len(written)} written to {skeletons_dir} ({reaching} reach their item as they stand)")
