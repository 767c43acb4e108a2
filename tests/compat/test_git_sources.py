"""`crmctl diff PATH --against git:...`: packages read from git objects, bad refs and shallow clones exit 2."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.compat._cli import invoke

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compat"
BASE = FIXTURES / "identical" / "old"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=crmctl test",
            "-c",
            "user.email=test@crmctl.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with pkg/ at v1 (commit 1) and v2 without Lead.headcount (commit 2)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    shutil.copytree(BASE, root / "pkg")
    git(root, "add", ".")
    git(root, "commit", "-qm", "v1")
    edit(root / "pkg" / "schema.yaml", "      headcount:\n        type: number\n", "")
    edit(root / "pkg" / "package.yaml", "version: 1.0.0", "version: 1.1.0")
    git(root, "commit", "-qam", "v2")
    monkeypatch.chdir(root)
    return root


def test_against_previous_commit_reports_breaking_change(repo: Path) -> None:
    result = invoke("diff", "pkg", "--against", "git:HEAD~1")
    assert result.code == 1, result
    assert "CMP101 field-removed" in result.out
    assert "git:HEAD~1:pkg (Demo 1.0.0) → pkg (Demo 1.1.0)" in result.out
    assert "proposed bump: major (version 1.1.0 is too small for a breaking change; expected 2.0.0)" in result.out


def test_against_head_is_clean_and_work_tree_untouched(repo: Path) -> None:
    (repo / "pkg" / "notes.txt").write_text("dirty\n")
    before = git(repo, "status", "--porcelain")
    result = invoke("diff", "pkg", "--against", "git:HEAD")
    assert result.code == 0, result
    assert "no changes" in result.out
    assert git(repo, "status", "--porcelain") == before


def test_explicit_path_in_ref(repo: Path) -> None:
    result = invoke("diff", "pkg", "--against", "git:HEAD~1:pkg")
    assert result.code == 1
    assert "Lead.headcount" in result.out


def test_from_a_subdirectory_uses_path_relative_to_repo_root(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "pkg")
    result = invoke("diff", ".", "--against", "git:HEAD~1")
    assert result.code == 1
    assert "field-removed" in result.out


def test_missing_ref_exits_2(repo: Path) -> None:
    result = invoke("diff", "pkg", "--against", "git:no-such-branch")
    assert result.code == 2
    assert "git:no-such-branch: no such revision" in result.err
    assert "git rev-parse --verify no-such-branch" in result.err


def test_path_missing_at_revision_exits_2_not_breaking(repo: Path) -> None:
    shutil.copytree(repo / "pkg", repo / "pkg2")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "second package")
    result = invoke("diff", "pkg2", "--against", "git:HEAD~1")
    assert result.code == 2
    assert "pkg2 does not exist at HEAD~1" in result.err
    assert "breaking" not in result.out


def test_not_a_git_repository_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BASE, tmp_path / "plain" / "pkg")
    monkeypatch.chdir(tmp_path / "plain")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    result = invoke("diff", "pkg", "--against", "git:HEAD")
    assert result.code == 2
    assert "not inside a git repository" in result.err


def test_shallow_clone_missing_base_says_what_to_fetch(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    assert (clone / ".git" / "shallow").exists()
    monkeypatch.chdir(clone)
    result = invoke("diff", "pkg", "--against", "git:HEAD~1")
    assert result.code == 2, result
    assert "shallow clone" in result.err
    assert "git fetch --unshallow" in result.err
    result = invoke("diff", "pkg", "--against", "git:origin/release")
    assert result.code == 2
    assert "git fetch origin release:refs/remotes/origin/release --depth=50" in result.err


def test_merge_base_compares_against_the_fork_point(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo / "pkg" / "schema.yaml", "      phone:\n        type: text\n", "")
    git(repo, "commit", "-qam", "feature removes phone")
    git(repo, "checkout", "-q", "main")
    edit(repo / "pkg" / "schema.yaml", "      phone:\n", "      fromMain:\n        type: boolean\n      phone:\n")
    git(repo, "commit", "-qam", "main adds fromMain")
    git(repo, "checkout", "-q", "feature")

    forked = invoke("diff", "pkg", "--against", "git:main", "--merge-base", "-f", "json")
    assert forked.code == 1
    assert "Lead.phone" in forked.out and "fromMain" not in forked.out

    tip = invoke("diff", "pkg", "--against", "git:main")
    assert "Lead.fromMain" in tip.out and "Lead.phone" in tip.out


def test_merge_base_needs_a_git_ref(repo: Path) -> None:
    result = invoke("diff", "pkg", "--against", str(BASE), "--merge-base")
    assert result.code == 2
    assert "--merge-base needs a git ref" in result.err


def test_git_refs_as_positional_old_and_new(repo: Path) -> None:
    result = invoke("diff", "git:HEAD~1", "pkg")
    assert result.code == 1
    assert "git:HEAD~1:pkg (Demo 1.0.0)" in result.out
    both = invoke("diff", "git:HEAD~1:pkg", "git:HEAD:pkg", "--fail-on", "behavioral")
    assert both.code == 1
    assert "Lead.headcount" in both.out
