"""`crmctl completion SHELL --format json` and the shared options under JSON output (the contract)."""

from __future__ import annotations

import json

import pytest

from crmctl.cli.main import run
from tests.cli.contract.schema_rules import run_json

COVERED = {"completion"}


_json = run_json


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_in_json(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, document, _ = _json(capsys, ["completion", shell, "-f", "json"])
    assert (code, document["command"], document["status"]) == (0, "completion", "ok")
    result = document["result"]
    assert result["shell"] == shell and "_CRMCTL_COMPLETE" in result["script"]
    assert f"crmctl completion {shell}" in result["install"]
    assert run(["completion", shell]) == 0
    assert capsys.readouterr().out == result["script"]  # the text output is the same script


def test_completion_of_an_unknown_shell_is_an_error_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    code, document, err = _json(capsys, ["completion", "tcsh", "-f", "json"])
    assert (code, document["status"], document["result"]) == (2, "error", None)
    assert document["problems"][0]["code"] == "usage-error" and "tcsh" in document["problems"][0]["message"]
    assert "tcsh" in err


@pytest.mark.parametrize("extra", [["-q"], ["-v"], ["--color", "always"], ["--quiet", "--color", "never"]])
def test_shared_options_leave_the_json_document_alone(extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _, plain, _ = _json(capsys, ["completion", "zsh", "-f", "json"])
    code, document, _ = _json(capsys, ["completion", "zsh", "-f", "json", *extra])
    assert code == 0 and document == plain
    assert "\x1b[" not in json.dumps(document)


def test_quiet_with_verbose_is_a_usage_error_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    code, document, _ = _json(capsys, ["completion", "bash", "-f", "json", "-q", "-v"])
    assert (code, document["status"]) == (2, "error")
    assert "--quiet and --verbose" in document["problems"][0]["message"]
