"""`crmctl fmt` through the real command line: exit codes, files on disk, stdin, the report."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.model.canonical import digest
from crmctl.model.package import load_package
from tests.conftest import MINIMAL, REPO, write_package

SHIPPED = ["packages/LeadLifecycle/v1", "packages/LeadLifecycle/v2", "packages/ClaimsIntake", "templates"]
UNFORMATTED_RULES = (
    "rules:\n  - when: company != ''\n    id: r1\n    entity: Lead\n    scope: record\n    trigger: ['onLoad']\n"
    "    capability: visibility\n"
)


@pytest.mark.parametrize("root", SHIPPED)
def test_the_shipped_packages_and_templates_are_formatted(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["fmt", "--check", str(REPO / root)]) == 0, capsys.readouterr().out


def _package(tmp_path: Path) -> Path:
    root = write_package(tmp_path / "p", MINIMAL)
    (root / "rules.yaml").write_text(UNFORMATTED_RULES, encoding="utf-8")
    return root


def test_check_lists_what_would_change_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _package(tmp_path)
    assert run(["fmt", "--check", str(root)]) == 1
    captured = capsys.readouterr()
    assert f"would reformat {root / 'rules.yaml'}" in captured.out
    assert "1 file(s) would be reformatted" in captured.err
    assert (root / "rules.yaml").read_text(encoding="utf-8") == UNFORMATTED_RULES


def test_fmt_writes_in_place_then_check_passes_and_the_digest_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _package(tmp_path)
    before = digest(load_package(root))
    assert run(["fmt", str(root)]) == 0
    assert (root / "rules.yaml").read_text(encoding="utf-8").startswith("rules:\n  - id: r1\n    entity: Lead\n")
    assert digest(load_package(root)) == before
    assert run(["fmt", "--check", str(root)]) == 0
    assert "0 file(s) would be reformatted" in capsys.readouterr().err


def test_diff_shows_the_change_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _package(tmp_path)
    assert run(["fmt", "--diff", str(root / "rules.yaml")]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- a/{root / 'rules.yaml'}\n+++ b/{root / 'rules.yaml'}\n")
    assert "+  - id: r1\n" in out and "-  - when: company != ''\n" in out
    assert (root / "rules.yaml").read_text(encoding="utf-8") == UNFORMATTED_RULES


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _package(tmp_path)
    assert run(["fmt", "--check", "--format", "json", str(root)]) == 1
    report = json.loads(capsys.readouterr().out)["result"]
    assert report["summary"] == {"changed": 1, "unchanged": 3, "errors": 0}
    assert {"file": str(root / "rules.yaml"), "changed": True, "diff": None, "content": None} in report["files"]


def test_a_broken_file_is_located_the_others_still_formatted_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _package(tmp_path)
    (root / "ui.yaml").write_text("steps: [\n", encoding="utf-8")
    assert run(["fmt", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"crmctl: error: {root / 'ui.yaml'}:2:1: invalid YAML" in err
    assert "Traceback" not in err
    assert (root / "ui.yaml").read_text(encoding="utf-8") == "steps: [\n"
    assert (root / "rules.yaml").read_text(encoding="utf-8") != UNFORMATTED_RULES


def test_directories_are_walked_for_packages_respecting_exclude(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = _package(tmp_path / "a")
    skipped = _package(tmp_path / "fixtures")
    (tmp_path / "pyproject.toml").write_text('[tool.crmctl]\nexclude = ["fixtures"]\n', encoding="utf-8")
    (kept / "notes.yaml").write_text("b: 'x'\n", encoding="utf-8")  # not a package file: left alone
    (kept / "nested").mkdir()
    (kept / "nested" / "rules.yaml").write_text(UNFORMATTED_RULES, encoding="utf-8")  # not read by the loader
    monkeypatch.chdir(tmp_path)
    assert run(["fmt", "--check"]) == 1
    out = capsys.readouterr().out
    assert "a/p/rules.yaml" in out and "fixtures" not in out and "notes.yaml" not in out
    assert run(["fmt"]) == 0
    assert (skipped / "rules.yaml").read_text(encoding="utf-8") == UNFORMATTED_RULES
    assert (kept / "notes.yaml").read_text(encoding="utf-8") == "b: 'x'\n"
    assert (kept / "nested" / "rules.yaml").read_text(encoding="utf-8") == UNFORMATTED_RULES


def test_no_packages_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["fmt"]) == 2
    assert "no packages found" in capsys.readouterr().err
    assert run(["fmt", "missing"]) == 2
    assert "missing: no such file or directory" in capsys.readouterr().err


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin_to_stdout_with_the_kind_from_stdin_filename(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(UNFORMATTED_RULES.encode()))
    assert run(["fmt", "-", "--stdin-filename", "rules.yaml"]) == 0
    assert capsys.readouterr().out.startswith("rules:\n  - id: r1\n")
    monkeypatch.setattr(sys, "stdin", _Stdin(b"x: 'y'\n"))
    assert run(["fmt", "-", "--check"]) == 1
    monkeypatch.setattr(sys, "stdin", _Stdin(b"x: 'y'\n"))
    assert run(["fmt", "-", "--diff"]) == 1
    assert "+x: y" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", _Stdin(b"x: y\n"))
    assert run(["fmt", "-", "--diff"]) == 0
    monkeypatch.setattr(sys, "stdin", _Stdin(b"a: [\n"))
    assert run(["fmt", "-", "--stdin-filename", "pkg/schema.yaml"]) == 2
    assert "crmctl: error: pkg/schema.yaml:2:1: invalid YAML" in capsys.readouterr().err
    assert run(["fmt", "-", "x.yaml"]) == 2


def test_a_file_outside_any_package_is_formatted_by_its_name(tmp_path: Path) -> None:
    loose = tmp_path / "rules.yaml"
    shutil.copyfile(REPO / "packages/LeadLifecycle/v1/rules.yaml", loose)
    assert run(["fmt", "--check", str(loose)]) == 0


def test_the_pre_commit_hook_formats_the_files_lint_checks() -> None:
    from ruamel.yaml import YAML

    hooks = {hook["id"]: hook for hook in YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["crmctl-fmt"]["entry"] == "crmctl fmt"
    assert hooks["crmctl-fmt"]["files"] == hooks["crmctl-lint"]["files"]


def test_a_diff_of_a_file_without_a_final_newline_applies_with_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fmt --diff` marks a missing final newline as git does, so `git apply` takes the diff as it is printed."""
    import subprocess

    root = write_package(tmp_path / "p", MINIMAL)
    (root / "rules.yaml").write_text(UNFORMATTED_RULES.rstrip("\n"), encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert run(["fmt", "--diff", str(root)]) == 1
    diff = capsys.readouterr().out
    assert "\\ No newline at end of file" in diff
    patch = tmp_path / "fmt.patch"
    patch.write_text(diff.replace(f"a/{root}/", "a/p/").replace(f"b/{root}/", "b/p/"), encoding="utf-8")
    subprocess.run(["git", "apply", str(patch)], cwd=tmp_path, check=True)
    assert run(["fmt", "--check", str(root)]) == 0
