"""The CLI boundary: exit codes, version, digest and schema export through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crmctl import __version__
from crmctl.cli.main import run
from tests.conftest import MINIMAL, write_package


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"crmctl {__version__}\n"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_digest_text_and_json_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_package(tmp_path / "p", MINIMAL)
    assert run(["package", "digest", str(root)]) == 0
    text = capsys.readouterr().out.strip()
    assert run(["package", "digest", str(root), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)["result"]
    assert body == {"name": "Demo", "version": "1.0.0", "digest": text}


def test_digest_of_a_broken_package_exits_2_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_package(tmp_path / "p", {**MINIMAL, "schema.yaml": "entities:\n  Lead:\n    fields: {a: {type: x}}\n"})
    assert run(["package", "digest", str(root)]) == 2
    err = capsys.readouterr().err
    assert "schema.yaml:3:24: unknown type 'x'" in err
    assert "Traceback" not in err


def test_missing_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["package", "digest", str(tmp_path / "nope")]) == 2
    assert "no such package directory" in capsys.readouterr().err


def test_schema_export_writes_every_artifact_schema(tmp_path: Path) -> None:
    assert run(["schema", "export", str(tmp_path / "schemas")]) == 0
    names = sorted(p.name for p in (tmp_path / "schemas").iterdir() if p.is_file())
    assert names == [
        "events.schema.json",
        "localization.schema.json",
        "package.schema.json",
        "rules.schema.json",
        "scenario.schema.json",
        "schema.schema.json",
        "script.schema.json",
        "ui.schema.json",
        "validations.schema.json",
        "workflow.schema.json",
    ]
    schema = json.loads((tmp_path / "schemas" / "schema.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_internal_errors_exit_3_with_a_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import crmctl.cli.commands.package as command

    def boom(*_: object) -> int:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(command, "run_digest", boom)
    assert run(["package", "digest", "."]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "simulated bug" in err


def test_version_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from crmctl.cli.main import run; run(['--version']);"
        "heavy = {'duckdb', 'pyarrow', 'git', 'cel_expr_python', 'jsonschema', 'pydantic', 'rich',"
        " 'pygls', 'lsprotocol', 'mcp', 'mcp_types', 'anyio', 'starlette', 'httpx2'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_new_commands_speak_json_and_transition_rules_take_goto(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "Sc"
    assert run(["new", "package", "Sc", "--dir", str(root), "--format", "json"]) == 0
    created = json.loads(capsys.readouterr().out)["result"]["created"]
    assert str(root / "package.yaml") in created
    args = ["new", "rule", "skip", "-p", str(root), "--capability", "transition", "--scope", "step"]
    args += ["--trigger", "onExitStep", "--target", "main", "--when", "true", "--goto", "main", "--format", "json"]
    assert run(args) == 0
    assert json.loads(capsys.readouterr().out)["result"]["created"] == [str(root / "rules.yaml")]
    assert run(["lint", str(root)]) == 0


@pytest.mark.parametrize(
    ("tty", "no_color", "fmt", "expected"),
    [(True, None, "text", True), (True, "1", "text", False), (False, None, "text", False), (True, None, "json", False)],
)
def test_colour_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: str | None, fmt: str, expected: bool
) -> None:
    from crmctl.cli.console import use_color

    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert use_color(fmt) is expected


def test_json_output_of_lint_and_diff_matches_the_shipped_command_schemas(
    repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crmctl.cli.contract import validation_errors

    broken = write_package(tmp_path / "p", {**MINIMAL, "ui.yaml": "steps:\n  - id: a\n    fields: [nope]\n"})
    v1, v2 = repo_root / "packages/LeadLifecycle/v1", repo_root / "packages/LeadLifecycle/v2"
    for args, code in [
        (["lint", str(broken), "--format", "json"], 1),
        (["diff", str(v1), str(v2), "--format", "json"], 0),
        (["diff", str(v2), str(v1), "--format", "json"], 1),
    ]:
        assert run(args) == code
        document = json.loads(capsys.readouterr().out)
        assert validation_errors(document) == [], args
        assert document["result"]["findings"], args


def test_a_missing_git_is_an_environment_error_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on PATH
    monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "reg").mkdir()
    assert run(["registry", "list", "--registry", str(tmp_path / "reg")]) == 3
    err = capsys.readouterr().err
    assert "environment error: git is not installed" in err and "Traceback" not in err


def test_runtime_commands_are_registered_explicitly_not_by_importing_their_module() -> None:
    # Importing main_runtime alone touches no app (it does not even import `crmctl.cli.main`); `register` is the
    # one place its commands reach the root app, in the order `--help` lists them.
    code = (
        "import sys, typer; from crmctl.cli import main_runtime;"
        "print('crmctl.cli.main' in sys.modules);"
        "app = typer.Typer(); main_runtime.register(app);"
        "print([c.name or c.callback.__name__ for c in app.registered_commands]);"
        "print([g.name for g in app.registered_groups])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [
        "False",
        "['simulate', 'export', 'serve']",
        "['draft', 'log', 'store', 'replay', 'records', 'workflow', 'events']",
    ]
