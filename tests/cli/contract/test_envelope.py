"""The envelope every `--format json` prints, whatever happens: usage errors, bad input, bugs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli import contract
from crmctl.cli.main import click_app, command_path, run
from tests.cli.contract.schema_rules import naming_violations, run_json

REPO = Path(__file__).resolve().parents[3]
NOT_CONTRACT = {"lsp", "mcp"}  # servers: they speak their own protocol on stdout


_json = run_json


def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Every command that runs: the leaves, and a group that runs without a subcommand too (`replay`)."""
    commands = getattr(command, "commands", None)
    if not commands:
        return [" ".join(path)]
    runs = [" ".join(path)] if getattr(command, "invoke_without_command", False) and path else []
    return runs + [leaf for name, sub in commands.items() for leaf in _leaves(sub, (*path, name))]


def test_ok_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    code, document, _ = _json(capsys, ["package", "digest", str(REPO / "packages/ClaimsIntake"), "-f", "json"])
    assert code == 0
    assert document["command"] == "package digest"
    assert document["$schema"] == "https://crmctl.dev/schemas/cli/v1/package-digest.schema.json"
    assert (document["status"], document["exitCode"], document["problems"]) == ("ok", 0, [])
    assert document["result"]["name"] == "ClaimsIntake"


@pytest.mark.parametrize(
    "argv",
    [
        ["package", "digest", "-f", "json"],  # missing argument
        ["package", "digest", "x", "--format=json", "--bogus"],  # unknown option
        ["frobnicate", "-f", "json"],  # unknown command
        ["package", "digest", "-fjson"],
    ],
)
def test_usage_errors_are_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, document, err = _json(capsys, argv)
    assert code == 2
    assert (document["status"], document["exitCode"], document["result"]) == ("error", 2, None)
    [problem] = document["problems"]
    assert problem["code"] == "usage-error" and problem["message"]
    assert "Usage:" not in problem["message"]
    assert "Error:" in err  # people still read the message on stderr


def test_input_error_is_json_and_located(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "package.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    code, document, err = _json(capsys, ["package", "digest", str(tmp_path), "-f", "json"])
    assert code == 2
    [problem] = document["problems"]
    assert problem["code"] == "input-error"
    assert problem["file"] and problem["file"].endswith("package.yaml")
    assert problem["line"] and problem["column"]
    assert "crmctl: error:" in err


def test_text_mode_prints_nothing_on_stdout_for_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["package", "digest", "nowhere"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "crmctl: error:" in captured.err


def test_a_bug_is_an_internal_error_envelope(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmctl.cli.commands import package

    def broken(path: Path, output_format: str) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(package, "run_digest", broken)
    code, document, err = _json(capsys, ["package", "digest", "x", "-f", "json"])
    assert code == 3
    assert document["status"] == "internal-error"
    assert document["problems"][0]["message"] == "RuntimeError: boom"
    assert "Traceback" in err


def test_output_that_breaks_its_schema_is_never_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contract, "envelope", lambda *a, **k: {"command": "package digest", "result": 1})
    assert run(["package", "digest", str(REPO / "packages/ClaimsIntake"), "-f", "json"]) == 3
    captured = capsys.readouterr()
    assert "breaks its schema" in captured.err


def test_warnings_become_problems_in_json_and_lines_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    with contract.invoked("package digest", json_mode=True):
        contract.warn("a.yaml:3:7: something odd", code="odd-thing", hint="look")
        contract.emit({"name": "x", "version": None, "digest": "jcs-sha256:" + "0" * 64})
    document = json.loads(capsys.readouterr().out)
    assert document["problems"] == [
        {
            "code": "odd-thing",
            "severity": "warning",
            "message": "something odd",
            "hint": "look",
            "file": "a.yaml",
            "line": 3,
            "column": 7,
        }
    ]
    with contract.invoked("package digest", json_mode=False):
        contract.warn("plain")
    assert capsys.readouterr().err == "crmctl: warning: plain\n"


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["-f", "json"], True),
        (["--format", "json"], True),
        (["--format=json"], True),
        (["-fjson"], True),
        (["--format", "text"], False),
        (["--", "--format", "json"], False),
        (["--format"], False),
    ],
)
def test_json_requested(argv: list[str], wanted: bool) -> None:
    assert contract.json_requested(argv) is wanted


def test_command_path() -> None:
    assert command_path(["registry", "signer", "add", "bob", "--scope", "global"]) == "registry signer add"
    assert command_path(["--version"]) == ""
    assert command_path(["lint", "registry"]) == "lint"


def test_every_schema_names_a_command_and_follows_the_convention() -> None:
    leaves = set(_leaves(click_app()))
    for command in contract.contract_commands():
        assert command in leaves, f"schema for unknown command {command!r}"
        schema = contract.command_schema(command)
        assert list(naming_violations(schema)) == []
    assert list(naming_violations(contract.command_schema(""))) == []


def test_every_command_has_a_schema() -> None:
    missing = set(_leaves(click_app())) - NOT_CONTRACT - set(contract.contract_commands())
    assert missing == set()


def test_schema_export_writes_the_command_schemas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema", "export", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "commands" / "package-digest.schema.json").read_text(encoding="utf-8"))
    assert written == contract.command_schema("package digest")
    assert (tmp_path / "commands" / "envelope.schema.json").is_file()
