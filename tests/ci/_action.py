"""Running the composite action (action.yml) locally, the way a GitHub runner does, for the tests.

The steps come from action.yml itself: each `run:` is executed with bash with the step's `env:`, its
`working-directory:` and its `if:`, `${{ inputs.X }}` and `${{ steps.ID.outputs.Y }}` filled in, and the GITHUB_*
files a runner provides (GITHUB_OUTPUT per step, GITHUB_STEP_SUMMARY, GITHUB_PATH, RUNNER_TEMP...). What the tests
run therefore cannot drift from what the action runs. `uses:` steps (actions/setup-python) are not run: the
interpreter running the tests stands in for them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_NAME = re.compile(r"\b(inputs|steps)\.([A-Za-z0-9_-]+)(?:\.(outputs|outcome)(?:\.([A-Za-z0-9_-]+))?)?")


def load_action() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(ACTION.read_text(encoding="utf-8"))
    return data


@dataclass
class Step:
    id: str | None
    outcome: str  # success, failure or skipped, as `steps.ID.outcome` says
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    steps: list[Step]
    outputs: dict[str, str]
    summary: str
    path_additions: list[str]

    @property
    def failed(self) -> bool:
        return any(step.outcome == "failure" for step in self.steps)

    def step(self, id_: str) -> Step:
        return next(step for step in self.steps if step.id == id_)


def _read_outputs(path: Path) -> dict[str, str]:
    outputs: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            assert sep, f"GITHUB_OUTPUT line without '=': {line!r}"
            outputs[name] = value
    return outputs


class _Context:
    def __init__(self, inputs: dict[str, str], steps: dict[str, Step]) -> None:
        self.inputs = inputs
        self.steps = steps

    def value(self, match: re.Match[str]) -> str:
        scope, name, part, key = match.groups()
        if scope == "inputs":
            assert name in self.inputs, f"action.yml uses an undeclared input {name!r}"
            return self.inputs[name]
        step = self.steps.get(name)
        if part == "outcome":
            return step.outcome if step else ""
        return step.outputs.get(key or "", "") if step else ""

    def fill(self, text: str) -> str:
        """`${{ ... }}` in a string: only plain `inputs.X` / `steps.ID.outputs.Y` references are supported."""

        def one(match: re.Match[str]) -> str:
            inner = match.group(1)
            found = _NAME.fullmatch(inner)
            assert found is not None, f"unsupported expression in action.yml: {inner!r}"
            return self.value(found)

        return _EXPR.sub(one, text)

    def condition(self, text: str | None, failed: bool) -> bool:
        """A step's `if:` (default `success()`), evaluated for the small grammar action.yml uses."""
        if text is None:
            return not failed
        expr = text.strip()
        if expr.startswith("${{"):
            expr = _EXPR.fullmatch(expr).group(1)  # type: ignore[union-attr]
        if not re.search(r"\b(success|failure|always|cancelled)\(\)", expr):
            expr = f"success() && ({expr})"  # GitHub's rule: a condition without a status function gets success()
        python = _NAME.sub(lambda m: repr(self.value(m)), expr)
        python = python.replace("&&", " and ").replace("||", " or ")
        python = python.replace("!cancelled()", "True").replace("success()", repr(not failed))
        python = python.replace("failure()", repr(failed))
        python = re.sub(r"!(?!=)", " not ", python)
        assert re.fullmatch(r"[\w\s'\-=!().]*", python), f"unsupported condition in action.yml: {text!r}"
        return bool(eval(python, {"__builtins__": {}}))  # the grammar above: literals, and, or, not, ==


def run_action(workspace: Path, runner: Path, inputs: dict[str, str], env: dict[str, str] | None = None) -> Run:
    """Run action.yml's steps in `workspace` (the checked-out repository) with `runner` as the runner's temp dir."""
    action = load_action()
    declared = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs not declared in action.yml: {unknown}"
    context = _Context({**declared, **inputs}, {})
    runner.mkdir(parents=True, exist_ok=True)
    summary = runner / "step_summary.md"
    github_path = runner / "github_path"
    summary.touch()
    github_path.touch()
    base_env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(REPO),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_PATH": str(github_path),
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(runner),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    steps: list[Step] = []
    failed = False
    for number, spec in enumerate(action["runs"]["steps"]):
        step_id = spec.get("id")
        if "uses" in spec:
            continue
        if not context.condition(spec.get("if"), failed):
            step = Step(step_id, "skipped")
        else:
            outputs_file = runner / f"output_{number}"
            step_env = {**base_env, "GITHUB_OUTPUT": str(outputs_file)}
            step_env.update({key: context.fill(str(value)) for key, value in (spec.get("env") or {}).items()})
            cwd = workspace / context.fill(str(spec.get("working-directory", ".")))
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", spec["run"]],
                cwd=cwd,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            outcome = "success" if done.returncode == 0 else "failure"
            failed = failed or outcome == "failure"
            step = Step(step_id, outcome, done.returncode, done.stdout, done.stderr, _read_outputs(outputs_file))
        steps.append(step)
        if step_id:
            context.steps[step_id] = step
    outputs = {name: context.fill(str(spec["value"])) for name, spec in action["outputs"].items()}
    paths = github_path.read_text(encoding="utf-8").splitlines()
    return Run(steps, outputs, summary.read_text(encoding="utf-8"), paths)
