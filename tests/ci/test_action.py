"""The GitHub Action (action.yml), run locally step by step on real git repositories with a base and a head."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ci._action import REPO, Run, load_action, run_action

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
V2 = REPO / "packages" / "LeadLifecycle" / "v2"
SCRIPTS = REPO / "scripts" / "action"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def pull_request(tmp_path: Path, head: Path | None = None, edit: tuple[str, str] | None = None) -> Path:
    """A clone of an `origin` whose main holds LeadLifecycle v1 as Lead/, checked out on a branch `feature` whose
    head commit replaces it with `head` or applies `edit` (old, new) to its schema.yaml; as actions/checkout
    leaves a pull request: the head checked out, the base only as origin/main."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "-b", "main")
    shutil.copytree(V1, work / "Lead")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "base")
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "-b", "feature")
    if head is not None:
        shutil.rmtree(work / "Lead")
        shutil.copytree(head, work / "Lead")
    if edit is not None:
        schema = work / "Lead" / "schema.yaml"
        text = schema.read_text(encoding="utf-8")
        assert edit[0] in text
        schema.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "head")
    git(work, "branch", "-q", "-D", "main")
    return work


BREAKING = ("currency: EUR", "currency: USD")
PR = {"GITHUB_BASE_REF": "main", "GITHUB_EVENT_NAME": "pull_request"}
PREINSTALLED = {"crmctl-source": "preinstalled"}


def act(work: Path, tmp_path: Path, env: dict[str, str] | None = None, **inputs: str) -> Run:
    return run_action(work, tmp_path / "runner", {**PREINSTALLED, **inputs}, {**PR, **(env or {})})


def annotations(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("::")]


def test_a_breaking_change_fails_the_job_with_annotations_summary_and_outputs(tmp_path: Path) -> None:
    work = pull_request(tmp_path, edit=BREAKING)
    run = act(work, tmp_path)
    assert run.step("install").outcome == "success"
    assert "crmctl 0." in run.step("install").stdout
    lint, diff = run.step("lint"), run.step("diff")
    assert (lint.code, diff.code) == (0, 1)
    assert run.failed  # the job fails on the breaking change
    assert annotations(lint.stdout) == []
    found = annotations(diff.stdout)
    [first] = [a for a in found if "title=CMP134::" in a]
    api = [a for a in found if a != first]
    assert first == (
        "::error file=Lead/schema.yaml,line=47,col=9,title=CMP134::[breaking] currency of Lead.annualRevenue "
        "changed from EUR to USD (help: add a new field in the new currency and migrate the amounts explicitly)"
    )
    # What the change does to the records API: readers and writers of annualRevenue (docs/compatibility.md#api).
    assert [line.split("title=")[1].split("::")[0] for line in api] == ["CMP904", "CMP907"]
    report = run.outputs.pop("report")
    assert run.outputs == {"bump": "major", "breaking": "1", "failed": "1", "lint-errors": "0"}
    summary = run.summary
    assert summary.index("### crmctl lint: ✅ no errors") < summary.index("### crmctl diff: LeadLifecycle 1.0.0 →")
    assert "**❌ 1 change fail (failing classes: breaking)**" in summary
    assert "**Proposed bump:** major from 1.0.0 (expected 2.0.0)" in summary
    assert "| `CMP134` ❌ | Lead/schema.yaml:" in summary
    # the report file a PR-comment step posts holds the same sections
    assert Path(report).read_text(encoding="utf-8") == summary


def test_a_compatible_change_passes_and_proposes_minor(tmp_path: Path) -> None:
    work = pull_request(tmp_path, head=V2)
    run = act(work, tmp_path)
    assert not run.failed, [(s.id, s.code, s.stderr) for s in run.steps]
    assert run.outputs["bump"] == "minor"
    assert (run.outputs["breaking"], run.outputs["failed"], run.outputs["lint-errors"]) == ("0", "0", "0")
    diff = run.step("diff").stdout
    assert all(line.startswith(("::warning ", "::notice ")) for line in annotations(diff))
    assert any(line.startswith("::notice file=Lead/") for line in annotations(diff))
    assert "**✅ no change in a failing class (breaking)**" in run.summary
    assert "**Proposed bump:** minor from 1.0.0 (expected 1.1.0): ✅" in run.summary


def test_fail_on_behavioral_fails_the_compatible_pull_request(tmp_path: Path) -> None:
    work = pull_request(tmp_path, head=V2)
    run = act(work, tmp_path, **{"fail-on": "behavioral"})
    assert run.step("diff").code == 1
    assert int(run.outputs["failed"]) > 0
    assert run.outputs["breaking"] == "0"


def test_lint_errors_fail_the_job_and_the_diff_still_runs(tmp_path: Path) -> None:
    # dropping an enum value leaves its localization keys behind (lint errors) and breaks stored records
    work = pull_request(tmp_path, edit=("values: [web, referral, event, partner, coldCall]", "values: [web]"))
    run = act(work, tmp_path)
    lint, diff = run.step("lint"), run.step("diff")
    assert (lint.outcome, lint.code) == ("failure", 1)
    assert run.outputs["lint-errors"] == str(len([a for a in annotations(lint.stdout) if a.startswith("::error ")]))
    assert int(run.outputs["lint-errors"]) >= 1
    assert (diff.outcome, diff.code) == ("failure", 1)
    assert run.outputs["breaking"] == "4"
    assert "### crmctl lint: ❌" in run.summary
    assert "#### Breaking (4)" in run.summary


def test_the_base_branch_is_fetched_when_the_checkout_lacks_it(tmp_path: Path) -> None:
    work = pull_request(tmp_path, edit=BREAKING)
    git(work, "update-ref", "-d", "refs/remotes/origin/main")
    run = act(work, tmp_path)
    assert run.step("diff").code == 1
    assert run.outputs["breaking"] == "1"  # the currency change (its records API restatements are counted apart)
    assert git(work, "rev-parse", "--verify", "origin/main").strip()


def test_the_base_is_the_merge_base_not_the_moved_base_branch(tmp_path: Path) -> None:
    work = pull_request(tmp_path, head=V2)
    # main moves on after the branch started (a breaking change there): the pull request is still judged alone
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(other))
    schema = other / "Lead" / "schema.yaml"
    schema.write_text(schema.read_text(encoding="utf-8").replace(*BREAKING), encoding="utf-8")
    git(other, "commit", "-q", "-am", "main moves")
    git(other, "push", "-q", "origin", "main")
    git(work, "fetch", "-q", "origin")
    assert act(work, tmp_path).outputs["bump"] == "minor"
    # without merge-base the head is compared with the moved tip (where currency is USD)
    assert act(work, tmp_path, **{"merge-base": "false"}).outputs["breaking"] == "1"


def test_a_new_package_is_noted_not_diffed(tmp_path: Path) -> None:
    work = pull_request(tmp_path, head=V2)
    shutil.copytree(V1, work / "Other")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "a second package")
    run = act(work, tmp_path, paths="Lead\nOther")
    diff = run.step("diff")
    assert diff.code == 0, diff.stdout + diff.stderr
    assert "::notice title=crmctl diff::Other is a new package (not at git:origin/main)" in diff.stdout
    assert "New package: not at the base, nothing to compare." in run.summary
    assert run.outputs["bump"] == "minor"
    # without `paths`, every package git tracks is found
    found = act(work, tmp_path / "again")
    assert "Other is a new package" in found.step("diff").stdout
    assert found.outputs["bump"] == "minor"


def test_outside_a_pull_request_diff_is_skipped_unless_against_is_given(tmp_path: Path) -> None:
    work = pull_request(tmp_path, edit=BREAKING)
    run = act(work, tmp_path, env={"GITHUB_BASE_REF": "", "GITHUB_EVENT_NAME": "push"})
    assert run.step("diff").code == 0
    assert "::notice title=crmctl diff::skipped: not a pull request and no 'against' input" in run.step("diff").stdout
    assert (run.outputs["bump"], run.outputs["breaking"]) == ("none", "0")
    pushed = act(work, tmp_path / "push", env={"GITHUB_BASE_REF": ""}, against="git:HEAD~1")
    assert (pushed.step("diff").code, pushed.outputs["breaking"]) == (1, "1")


def test_a_missing_base_is_a_usage_error_not_a_verdict(tmp_path: Path) -> None:
    work = pull_request(tmp_path, edit=BREAKING)
    run = act(work, tmp_path, against="git:no-such-branch")
    diff = run.step("diff")
    assert diff.code == 2
    assert "no-such-branch" in diff.stderr
    assert "crmctl diff" not in run.summary
    assert run.outputs["bump"] == "none"


def test_switches_and_working_directory(tmp_path: Path) -> None:
    work = pull_request(tmp_path, edit=BREAKING)
    run = act(work, tmp_path, lint="false", summary="false", paths="Lead")
    assert run.step("lint").outcome == "skipped"
    assert run.step("diff").code == 1
    assert run.summary == ""
    assert Path(run.outputs["report"]).read_text(encoding="utf-8") == ""
    nested = act(work, tmp_path / "nested", diff="false", **{"working-directory": "Lead"})
    assert nested.step("diff").outcome == "skipped"
    assert nested.step("lint").code == 0
    assert "Packages: LeadLifecycle" in nested.summary


def test_records_impact_reaches_the_summary(tmp_path: Path) -> None:
    from crmctl.runtime.store import Store, StoredRecord

    work = pull_request(tmp_path, edit=("maxLength: 32", "maxLength: 4"))
    store = tmp_path / "runtime.duckdb"
    stamp, digest = "2026-11-26T10:00:00Z", "sha256:" + "0" * 64
    with Store.open(store) as opened:
        opened.put_records(
            [
                StoredRecord("acme", "Lead", f"lead-{n}", "LeadLifecycle", "1.0.0", digest, data, 1, stamp, stamp)
                for n, data in enumerate([{"phone": "+49 30 1234"}, {"phone": "+1"}, {}])
            ]
        )
    run = act(work, tmp_path, records=str(store))
    diff = run.step("diff")
    assert diff.code == 1, diff.stderr  # data-dependent, and a stored record is too long
    assert "| Stored records |" in run.summary
    assert "1 of 3 Lead records" in run.summary
    assert run.outputs["breaking"] == "0"
    assert run.outputs["failed"] == "1"


def test_a_preinstalled_source_without_crmctl_is_an_error(tmp_path: Path) -> None:
    work = pull_request(tmp_path, edit=BREAKING)
    run = act(work, tmp_path, env={"PATH": "/usr/bin:/bin"})
    install = run.step("install")
    assert install.code == 2
    assert "::error title=crmctl action::install: preinstalled, but there is no crmctl on PATH" in install.stdout
    assert [s.outcome for s in run.steps if s.id in {"report", "lint", "diff"}] == ["skipped"] * 3


@pytest.mark.skipif(
    not os.environ.get("CRMCTL_TEST_INSTALL"),
    reason="installs crmctl and its locked dependencies from PyPI into a venv (set CRMCTL_TEST_INSTALL=1)",
)
def test_the_default_install_uses_the_lock_and_the_action_checkout(tmp_path: Path) -> None:
    work = pull_request(tmp_path, edit=BREAKING)
    run = run_action(work, tmp_path / "runner", {"lint": "false", "diff": "false"}, PR)
    install = run.step("install")
    assert install.code == 0, install.stderr
    from crmctl import __version__

    assert install.stdout.strip().endswith(f"crmctl {__version__}")
    assert run.path_additions == [str(tmp_path / "runner" / "crmctl-venv" / "bin")]


# --- action.yml itself: no drift between what it declares, what the scripts read and what the docs say ---


def test_every_run_step_is_a_script_the_tests_run_and_every_script_is_used() -> None:
    steps = load_action()["runs"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    scripts = [re.fullmatch(r'bash "\$GITHUB_ACTION_PATH/scripts/action/([a-z-]+\.sh)"', run) for run in runs]
    assert all(scripts), runs  # a step's logic lives in a script, so tests run the very same code
    used = {match.group(1) for match in scripts if match}
    assert used == {p.name for p in SCRIPTS.glob("*.sh")} - {"common.sh"}
    assert [step.get("uses") for step in steps if "uses" in step] == ["actions/setup-python@v5"]
    assert all(step.get("shell") == "bash" for step in steps if "run" in step)


def test_inputs_and_outputs_are_documented_and_used() -> None:
    action = load_action()
    text = (REPO / "action.yml").read_text(encoding="utf-8")
    docs = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    for name, spec in action["inputs"].items():
        assert str(spec.get("description", "")).strip(), name
        assert re.search(rf"inputs\.{name}(?![\w-])", text), f"input {name} is declared but no step uses it"
        assert f"| `{name}` |" in docs, f"docs/ci.md does not document input {name}"
    for name, spec in action["outputs"].items():
        assert str(spec.get("description", "")).strip(), name
        assert f"| `{name}` |" in docs, f"docs/ci.md does not document output {name}"


def test_the_scripts_read_only_what_the_steps_set() -> None:
    action = load_action()
    given = {key for step in action["runs"]["steps"] for key in (step.get("env") or {})}
    for script in SCRIPTS.glob("*.sh"):
        read = set(re.findall(r"\bCRMCTL_[A-Z_]+", script.read_text(encoding="utf-8")))
        # CRMCTL_PYTHON lets a test or a self-hosted runner pick the interpreter; the action leaves it to PATH
        assert read - {"CRMCTL_PYTHON"} <= given, (script.name, read - given)


def _root_package_pull_request(tmp_path: Path, edit: tuple[str, str]) -> Path:
    """A pull request on a repository that IS one package (package.yaml at the root), as many are."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "-b", "main")
    shutil.copytree(V1, work, dirs_exist_ok=True)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "base")
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "-b", "feature")
    schema = work / "schema.yaml"
    schema.write_text(schema.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    git(work, "commit", "-q", "-am", "head")
    git(work, "branch", "-q", "-D", "main")
    return work


@pytest.mark.parametrize("paths", ["", ".", "./"])
def test_a_package_at_the_repository_root_is_diffed_not_called_new(tmp_path: Path, paths: str) -> None:
    # Regression: the path relative to the top of the repository was computed by stripping "$top/", which left
    # the root package's absolute path, so the base never "had" it: a breaking change passed as a new package.
    work = _root_package_pull_request(tmp_path, BREAKING)
    run = act(work, tmp_path, lint="false", paths=paths)
    diff = run.step("diff")
    assert "new package" not in diff.stdout
    assert (diff.code, run.outputs["breaking"]) == (1, "1"), diff.stdout + diff.stderr


def test_a_package_path_that_does_not_exist_fails_the_diff(tmp_path: Path) -> None:
    # Regression: a mistyped `paths` entry was reported as "a new package" and the diff step passed.
    work = pull_request(tmp_path, edit=BREAKING)
    run = act(work, tmp_path, lint="false", paths="Lead Leed")
    diff = run.step("diff")
    assert "Leed is a new package" not in diff.stdout
    assert diff.code == 2
    assert "Leed" in diff.stderr


def _run_scripts(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(value) for key, value in node.items() if key == "run"]
        return found + [script for value in node.values() for script in _run_scripts(value)]
    if isinstance(node, list):
        return [script for value in node for script in _run_scripts(value)]
    return []


def test_no_expression_is_interpolated_into_a_script() -> None:
    # `${{ ... }}` inside `run:` is pasted into the script before bash reads it: a value holding `"; curl ...`
    # runs as code (GitHub's script-injection advice). Values go through `env:`, in the action and in the
    # workflows docs/ci.md tells people to copy (regression: its comment step and plain steps did this).
    from ruamel.yaml import YAML

    documents: list[tuple[str, object]] = [("action.yml", load_action())]
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    for number, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, flags=re.S)):
        documents.append((f"docs/ci.md yaml block {number}", YAML(typ="safe").load(block)))
    assert len(documents) >= 4
    scripts = [(where, script) for where, document in documents for script in _run_scripts(document)]
    assert any("gh pr comment" in script for _, script in scripts)
    assert [(where, script) for where, script in scripts if "${{" in script] == []


def test_without_paths_diff_finds_the_packages_lint_finds_excluded_fixtures_left_out(tmp_path: Path) -> None:
    # Regression: without `paths`, diff took every package.yaml git tracks, ignoring [tool.crmctl] exclude: a
    # repository keeping deliberately broken packages as test fixtures (excluded from lint) failed the diff step
    # with exit 2 on them although lint was clean and the real package's change was compatible.
    work = pull_request(tmp_path, head=V2)  # a compatible change
    git(work, "checkout", "-q", "-b", "base", "origin/main")  # the fixtures are on the base already
    broken = work / "tests" / "fixtures" / "Broken"
    broken.mkdir(parents=True)
    (broken / "package.yaml").write_text("name: [not, a, name\n", encoding="utf-8")
    (work / "pyproject.toml").write_text('[tool.crmctl]\nexclude = ["tests/fixtures"]\n', encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "fixtures")
    git(work, "push", "-q", "origin", "HEAD:main")
    git(work, "checkout", "-q", "feature")
    git(work, "rebase", "-q", "origin/main")
    run = act(work, tmp_path)
    diff = run.step("diff")
    assert run.step("lint").code == 0, run.step("lint").stdout
    assert diff.code == 0, diff.stdout + diff.stderr
    assert "Broken" not in diff.stdout + diff.stderr + run.summary
    assert "crmctl diff" in run.summary


def test_a_file_crmctl_cannot_read_is_an_annotation_on_its_line(tmp_path: Path) -> None:
    # Regression: a YAML syntax error (exit 2) printed `crmctl: error: FILE:LINE:COL: ...` on stderr only: no
    # annotation, so the pull request showed nothing on the file. Lint and diff now annotate their errors.
    work = pull_request(tmp_path, edit=("      annualRevenue:\n", "      annualRevenue:\n      annualRevenue:\n"))
    run = act(work, tmp_path, paths="Lead")
    lint, diff = run.step("lint"), run.step("diff")
    assert (lint.code, diff.code) == (2, 2)
    for step, title in ((lint, "crmctl lint"), (diff, "crmctl diff")):
        [line] = [a for a in annotations(step.stdout) if a.startswith("::error ")]
        assert line.startswith(f"::error file=Lead/schema.yaml,line=45,col=7,title={title}::duplicate key"), line
    assert run.outputs["lint-errors"] == "1"


def test_annotations_escape_what_would_end_or_split_them(tmp_path: Path) -> None:
    """A message or file name holding `%`, `,`, `:` or a line break stays one annotation with its properties."""
    fake = tmp_path / "bin" / "crmctl"
    fake.parent.mkdir()
    problem = {"severity": "error", "message": "50% bad\nsecond line", "hint": "fix: it", "file": "a,b:c.yaml"}
    envelope = {"status": "error", "problems": [{**problem, "line": 3, "column": None}]}
    fake.write_text(f"#!/bin/sh\ncat <<'END'\n{__import__('json').dumps(envelope)}\nEND\n", encoding="utf-8")
    fake.chmod(0o755)
    script = f'source "{SCRIPTS / "common.sh"}"; annotate_failure "crmctl lint" lint x'
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out == ("::error file=a%2Cb%3Ac.yaml,line=3,title=crmctl lint::50%25 bad%0Asecond line (hint: fix: it)\n")


def test_arrays_expand_safely_on_the_bash_of_macos_runners() -> None:
    # Regression: macOS runners run `shell: bash` with bash 3.2, where "${a[@]}" of an EMPTY array under `set -u`
    # aborts with "unbound variable": the lint step without `paths` and the diff step without `records` (the
    # defaults) died on every macOS job. Every array expansion uses the 3.2-safe ${a[@]+"${a[@]}"} form.
    for script in sorted(SCRIPTS.glob("*.sh")):
        text = script.read_text(encoding="utf-8")
        bare = re.findall(r'(?<!\+)"\$\{\w+\[@\]\}"', text)
        assert bare == [], f"{script.name}: {bare}"
        for name in re.findall(r"\$\{(\w+)\[@\]", text):
            assert f'${{{name}[@]+"${{{name}[@]}}"}}' in text, (script.name, name)
