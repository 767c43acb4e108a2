"""Free text a signer writes into the registry's log (a removal reason) and package strings it publishes reach
other people's terminals through `registry log/show/signer list`: they stay escaped in text (a guard: these outputs
print no free text raw today) and exact in JSON (issue 9 §3)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.signing import SigningKey
from tests.registry.conftest import LEAD_V1, make_key

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e[bold]x[/]"


def test_log_fields_and_package_strings_are_escaped(
    tmp_path: Path, registry: str, alice: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(tmp_path / "keys" / "alice")
    bob = make_key(tmp_path, "bob")
    assert (
        run(
            [
                "registry",
                "signer",
                "add",
                "bob@example.com",
                "--public-key",
                bob.public_key(),
                "--scope",
                "global",
                "--registry",
                registry,
                "--key",
                key,
            ]
        )
        == 0
    )
    assert (
        run(
            [
                "registry",
                "signer",
                "remove",
                "bob@example.com",
                "--reason",
                HOSTILE,
                "--registry",
                registry,
                "--key",
                key,
            ]
        )
        == 0
    )
    package = tmp_path / "pkg"
    shutil.copytree(LEAD_V1, package)
    manifest = package / "package.yaml"
    text = manifest.read_text(encoding="utf-8")
    description = f"description: {json.dumps(HOSTILE)}"
    manifest.write_text(re.sub(r"(?m)^description: .*$", lambda _: description, text), "utf-8")
    assert run(["publish", str(package), "--registry", registry, "--key", key]) == 0
    capsys.readouterr()
    for argv in (
        ["registry", "log"],
        ["registry", "signer", "list"],
        ["registry", "show", "LeadLifecycle@1.0.0"],
        ["registry", "list"],
        ["registry", "verify"],
    ):
        code = run([*argv, "--registry", registry])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert CONTROL.search((captured.out + captured.err).replace("\n", "")) is None, argv
    assert run(["registry", "log", "--registry", registry, "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)["result"]["entries"]
    assert [e["body"].get("reason") for e in entries if e["type"] == "signer-remove"] == [HOSTILE]
