"""Without --key, the key `crmctl keys generate` made is the one registry commands sign with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.cli.main import run
from tests.registry.conftest import LEAD_V1


def test_generated_default_key_is_used_without_key_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run(["keys", "generate", "--identity", "carol@example.com", "--format", "json"]) == 0
    generated = json.loads(capsys.readouterr().out)["result"]
    assert generated["path"] == str(tmp_path / "config" / "crmctl" / "keys" / "id_ed25519")
    registry = str(tmp_path / "reg")
    assert run(["registry", "init", registry, "--identity", "carol@example.com"]) == 0
    assert run(["publish", str(LEAD_V1), "--registry", registry, "--format", "json"]) == 0
    capsys.readouterr()
    assert run(["registry", "log", "--registry", registry, "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)["result"]["entries"]
    assert {e["signer"]["key"] for e in entries} == {generated["fingerprint"]}
