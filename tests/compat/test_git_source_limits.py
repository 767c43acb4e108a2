"""Packages read from git objects at their limits: sizes checked before reading, loops and deep files located."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crmctl.compat import gitrefs
from tests.compat._cli import invoke
from tests.compat.test_git_sources import BASE, git


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    shutil.copytree(BASE, root / "pkg")
    monkeypatch.chdir(root)
    return root


def _commit(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", "x")


def test_a_blob_over_the_size_limit_is_refused_before_it_is_read(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitrefs, "MAX_FILE_BYTES", 500)
    _commit(repo)
    size = (repo / "pkg" / "schema.yaml").stat().st_size
    result = invoke("diff", "pkg", "--against", "git:HEAD")
    assert result.code == 2
    assert f"git:HEAD:pkg/schema.yaml: file is {size} bytes; the limit is 500 bytes" in result.err


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda pkg: (pkg / "schema.yaml").write_text("a: " + "[" * 30_000 + "]" * 30_000 + "\n"),
            "git:HEAD:pkg/schema.yaml:1:68: nesting is deeper than 64 levels",
        ),
        (
            lambda pkg: (pkg / "schema.yaml").write_text("a: " + "9" * 5_000 + "\n"),
            "git:HEAD:pkg/schema.yaml:1:4: integer has 5000 digits; the limit is 4300",
        ),
        (
            lambda pkg: ((pkg / "schema.yaml").unlink(), (pkg / "schema.yaml").symlink_to("schema.yaml")),
            "git:HEAD:pkg/schema.yaml: symlink points outside the package directory (schema.yaml)",
        ),
    ],
)
def test_bad_files_at_a_revision_are_located(repo: Path, setup: object, message: str) -> None:
    setup(repo / "pkg")  # type: ignore[operator]
    _commit(repo)
    shutil.rmtree(repo / "pkg")
    shutil.copytree(BASE, repo / "pkg")
    result = invoke("diff", "pkg", "--against", "git:HEAD")
    assert result.code == 2, result
    assert message in result.err
