"""Installing crmctl and its pre-commit hooks as docs/ci.md and the README say: real versions, commands that run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from crmctl import __version__

REPO = Path(__file__).resolve().parents[2]
DOCS = {name: (REPO / name).read_text(encoding="utf-8") for name in ("README.md", "docs/ci.md", "docs/formatting.md")}
HOOKS: dict[str, dict[str, Any]] = {
    hook["id"]: hook for hook in YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
}
V1 = REPO / "packages" / "LeadLifecycle" / "v1"
CRMCTL = str(Path(sys.executable).parent / "crmctl")


def _block(text: str, marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```\w*\n(.+?)\n```\n<!-- /{marker} -->", text, re.S)
    assert found is not None, marker
    return found.group(1)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_documented_version_is_the_package_version(name: str) -> None:
    """`rev:`, `@vX` and `--branch vX` name the tag the release of this version gets: they cannot drift."""
    text = DOCS[name]
    versions = re.findall(r"rev: (v\S+)", text) + re.findall(r"(?:crmctl|URL>)@(v\d[\w.-]*)", text)
    versions += re.findall(r"--branch (v\S+)", text)
    assert versions or name == "docs/formatting.md"
    assert set(versions) <= {f"v{__version__}"}, versions


def test_no_doc_tells_to_pip_install_the_unpublished_name() -> None:
    for name, text in DOCS.items():
        assert not re.search(r"pip install crmctl\b", text), name


def test_the_readme_points_at_the_install_that_works() -> None:
    readme = DOCS["README.md"]
    assert "docs/ci.md" in readme
    assert _block(DOCS["docs/ci.md"], "install-command") in readme


def test_the_install_command_installs_from_the_lock() -> None:
    command = _block(DOCS["docs/ci.md"], "install-command")
    assert f"--branch v{__version__}" in command
    assert "--require-hashes -r requirements.lock" in command
    assert "--no-deps ." in command


def test_the_pre_commit_config_names_the_offered_hooks() -> None:
    config = YAML(typ="safe").load(_block(DOCS["docs/ci.md"], "pre-commit-config"))
    repo = config["repos"][0]
    assert repo["rev"] == f"v{__version__}"
    assert {hook["id"] for hook in repo["hooks"]} == set(HOOKS)


def test_the_local_hooks_are_the_offered_hooks() -> None:
    snippets = re.findall(r"```yaml\n(repos:\n  - repo: local\n.+?)```", DOCS["docs/ci.md"], re.S)
    assert len(snippets) == 1
    hooks = YAML(typ="safe").load(snippets[0])["repos"][0]["hooks"]
    for hook in hooks:
        offered = HOOKS[hook["id"]]
        assert (hook["entry"], hook["files"], hook["name"]) == (offered["entry"], offered["files"], offered["name"])
        assert hook.get("require_serial", False) == offered.get("require_serial", False)
    assert {hook["id"] for hook in hooks} == set(HOOKS)


def _hook_files(root: Path, hook: str) -> list[str]:
    """The files under `root` pre-commit would pass to `hook` (paths relative to the repository root)."""
    pattern = re.compile(HOOKS[hook]["files"])
    files = (p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file())
    return [name for name in files if pattern.search(name)]


def _run_hook(root: Path, hook: str, files: list[str]) -> subprocess.CompletedProcess[str]:
    entry = HOOKS[hook]["entry"].split()
    assert entry[0] == "crmctl"
    return subprocess.run([CRMCTL, *entry[1:], *files], cwd=root, capture_output=True, text=True, check=False)


def test_the_hooks_pick_the_package_files_and_nothing_else(tmp_path: Path) -> None:
    shutil.copytree(V1, tmp_path / "packages" / "Lead")
    files = _hook_files(tmp_path, "crmctl-lint")
    names = {Path(name).relative_to("packages/Lead").as_posix() for name in files}
    assert {"package.yaml", "schema.yaml", "ui.yaml", "rules.yaml", "validations.yaml", "workflow.yaml"} <= names
    assert {"localization/en.yaml", "localization/de.yaml"} <= names
    assert not [name for name in names if name.startswith(("scenarios/", "scripts/"))]
    assert _hook_files(tmp_path, "crmctl-fmt") == files


def test_the_hook_entries_run_on_a_package(tmp_path: Path) -> None:
    package = tmp_path / "packages" / "Lead"
    shutil.copytree(V1, package)
    files = _hook_files(tmp_path, "crmctl-lint")
    clean = _run_hook(tmp_path, "crmctl-lint", files)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # a broken reference in one file: lint fails and reports that file
    rules = package / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("when: company != ''", "when: compagny != ''", 1), encoding="utf-8")
    broken = _run_hook(tmp_path, "crmctl-lint", ["packages/Lead/rules.yaml"])
    assert broken.returncode == 1
    assert "packages/Lead/rules.yaml:" in broken.stdout
    # fmt rewrites a file out of the canonical style, and then has nothing left to do
    schema = package / "schema.yaml"
    canonical = schema.read_text(encoding="utf-8")
    schema.write_text(canonical.replace("        type: text\n", "        type:    text\n", 1), encoding="utf-8")
    assert _run_hook(tmp_path, "crmctl-fmt", ["packages/Lead/schema.yaml"]).returncode == 0
    assert schema.read_text(encoding="utf-8") == canonical
    again = _run_hook(tmp_path, "crmctl-fmt", _hook_files(tmp_path, "crmctl-fmt"))
    assert again.returncode == 0
    assert "0 file(s) reformatted" in again.stderr


@pytest.mark.skipif(
    not os.environ.get("CRMCTL_TEST_INSTALL"),
    reason="clones this repository and installs it with its locked dependencies from PyPI (set CRMCTL_TEST_INSTALL=1)",
)
def test_the_documented_install_works_from_a_fresh_clone(tmp_path: Path) -> None:
    source = tmp_path / "source"
    subprocess.run(["git", "clone", "-q", str(REPO), str(source)], check=True)
    subprocess.run(["git", "-C", str(source), "tag", f"v{__version__}"], check=True)  # the lead tags the release
    command = _block(DOCS["docs/ci.md"], "install-command").replace("<repository URL>", f"file://{source}")
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"crmctl {__version__}")
