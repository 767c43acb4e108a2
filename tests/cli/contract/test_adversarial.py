"""The contract under attack: endings from deep inside a command (Ctrl-C, end of input, click's Abort), command
lines that ask for JSON and then for text, groups named without a command, and every schema as a JSON Schema.
Also the two commands no area's table runs: `package digest` and `draft resume`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from jsonschema import Draft202012Validator

from crmctl.cli import contract
from crmctl.cli.main import run
from tests.conftest import REPO

COVERED = {"package digest", "draft resume"}

CLAIMS = str(REPO / "packages" / "ClaimsIntake")
V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
DEMO = REPO / "scripts" / "demo"


def _envelope(capsys: pytest.CaptureFixture[str], argv: list[str], exit_code: int) -> tuple[dict[str, Any], str]:
    assert run(argv) == exit_code
    captured = capsys.readouterr()
    document: dict[str, Any] = json.loads(captured.out)  # exactly one document, nothing around it
    assert contract.validation_errors(document) == []
    assert document["exitCode"] == exit_code
    return document, captured.err


# --- endings from inside a command ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), EOFError(), typer.Abort()])
def test_an_interrupted_command_says_so_in_its_envelope(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, raised: BaseException
) -> None:
    """typer swallowed Ctrl-C (exit 130, no word, no envelope) and turned end of input into an "Aborted!" exit 1
    whose envelope said `failed` with a null result, which its schema refuses."""
    from crmctl.cli.commands import package

    def interrupted(path: Path, output_format: str) -> int:
        raise raised

    monkeypatch.setattr(package, "run_digest", interrupted)
    document, err = _envelope(capsys, ["package", "digest", CLAIMS, "-f", "json"], 130)
    assert (document["status"], document["result"]) == ("interrupted", None)
    assert [p["code"] for p in document["problems"]] == ["interrupted"]
    assert "crmctl: interrupted" in err
    assert run(["package", "digest", CLAIMS]) == 130
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "crmctl: interrupted\n")


# --- what the command line asks for --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["-f", "json", "-f", "text"], False),  # the last --format wins, as it does for the command
        (["--format=json", "--format", "text"], False),
        (["-fjson", "-ftext"], False),
        (["-f", "text", "--format=json"], True),
        (["--format", "text", "-fjson"], True),
        (["--file-format", "json"], False),  # export's file format is not the output's
        (["--format"], False),
        (["-f", "json", "--", "-f", "text"], True),
        (["-qf", "json"], True),  # grouped short flags, as click reads them
        (["-vfjson"], True),
        (["-qvf", "text"], False),
        (["-q", "-v"], False),
        (["-fjson", "-qftext"], False),
    ],
)
def test_the_last_format_wins(argv: list[str], wanted: bool) -> None:
    assert contract.json_requested(argv) is wanted


@pytest.mark.parametrize("grouped", [["-qf", "json"], ["-qfjson"]])
def test_grouped_short_flags_ask_for_json(capsys: pytest.CaptureFixture[str], grouped: list[str]) -> None:
    """`-qf json` ran the command in JSON mode, but its errors printed no envelope."""
    document, _ = _envelope(capsys, ["package", "digest", "nowhere", *grouped], 2)
    assert document["problems"][0]["code"] == "input-error"


def test_json_then_text_prints_text_errors_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["package", "digest", "nowhere", "-f", "json", "-f", "text"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "crmctl: error:" in captured.err


@pytest.mark.parametrize("argv", [["registry", "-f", "json"], ["registry", "signer", "--format=json"]])
def test_a_group_without_a_command_points_at_the_envelope_schema(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """The `$schema` was `.../registry.schema.json`, a schema `crmctl schema export` never writes."""
    document, _ = _envelope(capsys, argv, 2)
    assert document["$schema"] == f"{contract.SCHEMA_BASE_URL}envelope.schema.json"
    assert document["problems"][0]["code"] == "usage-error"


# --- the schemas ---------------------------------------------------------------------------------------------------


def test_every_exported_schema_is_a_json_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema", "export", str(tmp_path)]) == 0
    capsys.readouterr()
    written = sorted((tmp_path / "commands").glob("*.schema.json"))
    assert len(written) == len(contract.contract_commands()) + 1
    for path in written:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(path.name)


@pytest.mark.parametrize(("exit_code", "status"), [(0, "failed"), (1, "ok"), (2, "ok"), (3, "error"), (130, "ok")])
def test_a_status_that_disagrees_with_the_exit_code_breaks_the_schema(exit_code: int, status: str) -> None:
    document = contract.envelope("package digest", None, exit_code=2)
    document.update(exitCode=exit_code, status=status)
    assert contract.validation_errors(document) != []


# --- package digest, draft resume ----------------------------------------------------------------------------------


def test_package_digest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document, _ = _envelope(capsys, ["package", "digest", CLAIMS, "-f", "json"], 0)
    assert document["result"]["name"] == "ClaimsIntake"
    assert document["result"]["digest"].startswith("jcs-sha256:")
    document, _ = _envelope(capsys, ["package", "digest", str(tmp_path / "nowhere"), "-f", "json"], 2)
    assert (document["status"], document["result"]) == ("error", None)


def test_draft_resume(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    where = ["--store", str(tmp_path / "rt.duckdb")]
    monday, tuesday = str(DEMO / "lead-monday.yaml"), str(DEMO / "lead-tuesday.yaml")
    assert run(["simulate", V1, "--script", monday, *where, "--session", "lead-ada"]) == 0
    capsys.readouterr()
    document, _ = _envelope(capsys, ["draft", "resume", "lead-ada", "--script", tuesday, *where, "-f", "json"], 0)
    result = document["result"]
    assert (result["sessionId"], result["status"]) == ("lead-ada", "submitted")
    assert result["data"]["companySize"] == 320
    document, _ = _envelope(capsys, ["draft", "resume", "nobody", "--script", tuesday, *where, "-f", "json"], 2)
    assert document["result"] is None and document["problems"][0]["code"] == "user-error"


def test_draft_resume_in_json_on_a_terminal_needs_a_script(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a terminal `draft resume ID -f json` started the interactive session (a rich UI on stdout) and printed
    no envelope, where `simulate` and `workflow simulate` refuse JSON without --script."""
    where = ["--store", str(tmp_path / "rt.duckdb")]
    assert run(["simulate", V1, "--script", str(DEMO / "lead-monday.yaml"), *where, "--session", "lead-ada"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    document, _ = _envelope(capsys, ["draft", "resume", "lead-ada", *where, "-f", "json"], 2)
    assert document["problems"][0]["code"] == "usage-error"
    assert "--script" in document["problems"][0]["message"]


# --- one document, even when a command fails after giving its answer -----------------------------------------------


def test_an_error_after_the_answer_replaces_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that emitted its envelope and then failed (a store that cannot be closed, Ctrl-C) printed two
    documents: its answer, then the error's envelope."""
    from crmctl.cli.commands import package
    from crmctl.errors import InputError

    def answers_then_fails(path: Path, output_format: str) -> int:
        contract.emit({"name": "x", "version": None, "digest": "jcs-sha256:" + "0" * 64})
        raise InputError("store.duckdb: cannot be closed")

    monkeypatch.setattr(package, "run_digest", answers_then_fails)
    document, err = _envelope(capsys, ["package", "digest", CLAIMS, "-f", "json"], 2)
    assert (document["status"], document["result"]) == ("error", None)
    assert document["problems"][0]["message"] == "store.duckdb: cannot be closed"
    assert "cannot be closed" in err


def test_a_command_that_emits_twice_is_a_bug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmctl.cli.commands import package

    def twice(path: Path, output_format: str) -> int:
        contract.emit({"name": "x", "version": None, "digest": "jcs-sha256:" + "0" * 64})
        return contract.emit({"name": "y", "version": None, "digest": "jcs-sha256:" + "0" * 64})

    monkeypatch.setattr(package, "run_digest", twice)
    document, _ = _envelope(capsys, ["package", "digest", CLAIMS, "-f", "json"], 3)
    assert document["status"] == "internal-error"
    assert "two envelopes" in document["problems"][0]["message"]


# --- bytes that are not UTF-8 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [b"package", b"digest", b"/nowhere/caf\xe9", b"-f", b"json"],  # a Latin-1 file name
        [b"explain", b"X\xff", b"-f", b"json"],
        [b"package", b"digest", CLAIMS.encode(), b"-f", b"json", b"--bogus\xff"],  # a usage error quoting it
    ],
)
def test_bytes_that_are_not_utf8_keep_the_document_utf8(argv: list[bytes]) -> None:
    """The raw byte went out inside the JSON text: not UTF-8, so `jq` and every JSON parser refused the document."""
    crmctl = Path(sys.executable).with_name("crmctl")
    done = subprocess.run([crmctl, *argv], capture_output=True, check=False, env={**os.environ, "LC_ALL": "C"})
    assert done.returncode == 2, done.stderr
    document = json.loads(done.stdout.decode("utf-8"))  # strict: the raw byte 0xe9 or 0xff fails here
    assert document["status"] == "error"
    message = document["problems"][0]["message"]
    assert b"\xe9" in os.fsencode(message) or "\\udcff" in message or b"\xff" in os.fsencode(message)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(("argv", "exit_code"), [(["rules"], 3), (["package", "digest", "nowhere"], 2)])
def test_a_full_disk_on_stdout_is_an_ending_not_a_crash(argv: list[str], exit_code: int) -> None:
    """Printing the envelope when the command ends raised out of the boundary: a bare traceback, exit 1."""
    crmctl = Path(sys.executable).with_name("crmctl")
    with Path("/dev/full").open("w", encoding="utf-8") as full:
        done = subprocess.run([crmctl, *argv, "-f", "json"], stdout=full, stderr=subprocess.PIPE, check=False)
    assert done.returncode == exit_code
    stderr = done.stderr.decode()
    assert stderr.rstrip().endswith("cannot write the JSON envelope: [Errno 28] No space left on device")
    assert "Traceback" not in stderr and "a bug in crmctl" not in stderr  # the machine's failure, said as such
