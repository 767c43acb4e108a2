"""A registry location is never a git option.

A location that starts with `-` and has the shape of an scp-like remote (`--upload-pack=$(cmd)@h:x`: no slash, no
space, an `@` and a `:`) was passed to `git fetch` as is, and git took it for its `--upload-pack` option, running
the command through the shell. The location also comes from `registry = "..."` in a project's crmctl.toml or
pyproject.toml, so a pull request could make any CI job that runs `crmctl resolve` or `diff --against registry:`
execute what it wanted (with the CI's secrets, a publish job's signing key among them).

Now such a location is a local path (made absolute, so it can no longer start with `-`), and every git command
that takes the location has `--` before it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.registry.store import normalize_location
from crmctl.signing import SigningKey

PAYLOADS = [
    "--upload-pack=$(touch${IFS}pwned)@h:x",
    "-u$(touch${IFS}pwned)@h:x",
    "--receive-pack=$(touch${IFS}pwned)@h:x",
    "--exec=$(touch${IFS}pwned)@h:x",
    "-c${IFS}core.sshCommand=touch${IFS}pwned@h:x",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_location_that_looks_like_an_option_runs_nothing(
    payload: str,
    tmp_path: Path,
    alice: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalize_location(payload) == str(tmp_path / payload)
    key = str(tmp_path / "keys" / "alice")
    for argv in (
        ["resolve", "Demo", "--registry", payload],
        ["registry", "verify", "--registry", payload],
        ["promote", "Demo@1.0.0", "--to", "prod", "--registry", payload, "--key", key],
    ):
        assert run(argv) == 2, argv
    (tmp_path / "crmctl.toml").write_text(f'[tool.crmctl]\nregistry = "{payload}"\n')
    assert run(["resolve", "Demo"]) == 2
    assert "no such registry" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists()
