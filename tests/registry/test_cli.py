"""The registry through the real command line: exit codes, JSON output, bad input, unreachable registries."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.registry.ops import init_registry
from crmctl.registry.problems import FORMAT
from crmctl.registry.publish import publish
from crmctl.signing import SigningKey
from tests.registry.conftest import LEAD_V1, LEAD_V2, NOW, make_key

Capture = pytest.CaptureFixture[str]


def call(capsys: Capture, *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_end_to_end_through_the_cli(tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "alice"
    code, out, _ = call(capsys, "keys", "generate", str(key), "--identity", "alice@example.com", "-f", "json")
    generated = json.loads(out)["result"]
    assert code == 0 and generated["fingerprint"].startswith("SHA256:")
    assert json.loads(call(capsys, "keys", "show", str(key), "-f", "json")[1])["result"] == generated
    location = (tmp_path / "reg").as_uri()
    assert call(capsys, "registry", "init", location, "--key", str(key), "--identity", "alice@example.com")[0] == 0
    monkeypatch.setenv("CRMCTL_REGISTRY", location)
    monkeypatch.setenv("CRMCTL_KEY", str(key))
    code, out, _ = call(capsys, "publish", str(LEAD_V1), "-f", "json")
    assert code == 0 and json.loads(out)["result"]["status"] == "written"
    assert call(capsys, "publish", str(LEAD_V2))[0] == 0
    code, out, _ = call(capsys, "publish", str(LEAD_V1))
    assert code == 0 and "nothing to do" in out
    assert call(capsys, "promote", "LeadLifecycle@1.1.0", "--to", "prod")[0] == 0
    code, out, _ = call(capsys, "resolve", "LeadLifecycle", "--channel", "prod", "--format", "json")
    assert code == 0 and json.loads(out)["result"]["version"] == "1.1.0"
    assert call(capsys, "resolve", "LeadLifecycle", "--version", "1.0.0")[1] == "1.0.0\n"
    assert call(capsys, "resolve", "LeadLifecycle", "--help")[0] == 0
    code, out, _ = call(capsys, "registry", "list", "-f", "json")
    assert json.loads(out)["result"]["packages"][0]["versions"] == ["1.0.0", "1.1.0"]
    code, out, _ = call(capsys, "registry", "show", "LeadLifecycle@1.0.0", "-f", "json")
    assert json.loads(out)["result"]["tag"] == "LeadLifecycle/v1.0.0"
    assert "channels" in call(capsys, "registry", "show", "LeadLifecycle")[1]
    code, out, _ = call(capsys, "registry", "log", "-f", "json")
    assert [e["type"] for e in json.loads(out)["result"]["entries"]] == ["init", "publish", "publish", "promote"]
    assert "promote LeadLifecycle@1.1.0 -> prod" in call(capsys, "registry", "log")[1]
    assert "LeadLifecycle 1.1.0" in call(capsys, "registry", "list")[1]
    code, out, _ = call(capsys, "registry", "verify", "-f", "json")
    assert code == 0 and json.loads(out)["result"]["ok"] is True
    code, out, _ = call(capsys, "registry", "verify")
    assert code == 0 and out.endswith(": ok\n")


def test_signer_commands(tmp_path: Path, capsys: Capture, registry: str, alice: SigningKey) -> None:
    assert alice.path is not None
    bob = make_key(tmp_path, "bob")
    common = ["--registry", registry, "--key", str(alice.path)]
    pub = str(tmp_path / "keys" / "bob.pub")
    assert (
        call(
            capsys,
            "registry",
            "signer",
            "add",
            "bob@example.com",
            "--public-key",
            pub,
            "--scope",
            "tenant:a",
            "--scope",
            "tenant:b",
            *common,
        )[0]
        == 0
    )
    code, out, _ = call(capsys, "registry", "signer", "list", "--registry", registry, "-f", "json")
    assert [s["scopes"] for s in json.loads(out)["result"]["signers"]] == [["*"], ["tenant:a", "tenant:b"]]
    assert call(capsys, "registry", "signer", "remove", "bob@example.com", "--reason", "left", *common)[0] == 0
    assert "(removed " in call(capsys, "registry", "signer", "list", "--registry", registry)[1]
    code, _, err = call(
        capsys, "registry", "signer", "add", "bad name", "--public-key", bob.public_key(), "--scope", "global", *common
    )
    assert code == 2 and "not a valid signer identity" in err


def test_a_rotated_key_can_be_revoked(tmp_path: Path, capsys: Capture, registry: str, alice: SigningKey) -> None:
    """Key rotation adds a second key under the same identity ("the same spelling with a new key is still the same
    signer"); `signer remove` then refused ("has 2 keys; crmctl removes one identity with one key"), so neither
    key, a compromised one included, could ever be revoked. `--fingerprint` names the key to remove."""
    assert alice.path is not None
    common = ["--registry", registry, "--key", str(alice.path)]
    old, new = make_key(tmp_path, "bob-old"), make_key(tmp_path, "bob-new")
    for key in (old, new):
        assert (
            call(
                capsys,
                "registry",
                "signer",
                "add",
                "bob@example.com",
                "--public-key",
                key.public_key(),
                "--scope",
                "global",
                *common,
            )[0]
            == 0
        )
    code, _, err = call(capsys, "registry", "signer", "remove", "bob@example.com", *common)
    assert code == 2 and "bob@example.com has 2 active keys" in err and old.fingerprint() in err, err
    code, _, err = call(
        capsys, "registry", "signer", "remove", "bob@example.com", "--fingerprint", alice.fingerprint(), *common
    )
    assert code == 2 and "not an active key of bob@example.com" in err, err
    assert (
        call(
            capsys,
            "registry",
            "signer",
            "remove",
            "bob@example.com",
            "--fingerprint",
            old.fingerprint(),
            "--reason",
            "laptop stolen",
            *common,
        )[0]
        == 0
    )
    signers = json.loads(call(capsys, "registry", "signer", "list", "--registry", registry, "-f", "json")[1])["result"][
        "signers"
    ]
    assert {s["fingerprint"]: s["removed"] is not None for s in signers if s["identity"] == "bob@example.com"} == {
        old.fingerprint(): True,
        new.fingerprint(): False,
    }
    # With one active key left, the fingerprint is optional again.
    assert call(capsys, "registry", "signer", "remove", "bob@example.com", *common)[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["registry", "show", "../x"], "not a valid package name"),
        (["registry", "show", "Lead Lifecycle"], "not a valid package name"),
        (["resolve", "../x"], "not a valid package name"),
        (["resolve", "Demo", "--version", "1.x"], "not a semantic version"),
        (["promote", "Demo@1.x", "--to", "prod"], "not a semantic version"),
        (["promote", "Demo", "--to", "prod"], "give NAME@VERSION"),
        (["promote", "Demo@1.0.0", "--to", "Prod Env"], "not a valid channel name"),
    ],
)
def test_bad_names_and_versions_exit_2(
    capsys: Capture, registry: str, alice: SigningKey, args: list[str], message: str
) -> None:
    assert alice.path is not None
    key = ["--key", str(alice.path)] if "promote" in args else []
    code, _, err = call(capsys, *args, "--registry", registry, *key)
    assert code == 2
    assert message in err


def test_not_a_registry_newer_format_and_unreachable(tmp_path: Path, capsys: Capture, alice: SigningKey) -> None:
    plain = tmp_path / "plain"
    subprocess.run(["git", "init", "-q", "-b", "main", str(plain)], check=True)
    (plain / "README").write_text("hello\n")
    subprocess.run(["git", "-C", str(plain), "add", "."], check=True)
    subprocess.run(["git", "-C", str(plain), "commit", "-q", "-m", "x"], check=True)
    code, _, err = call(capsys, "registry", "list", "--registry", str(plain))
    assert code == 2 and "not a crmctl registry" in err
    assert alice.path is not None
    code, _, err = call(capsys, "registry", "init", str(plain), "--key", str(alice.path), "--identity", "a@b.c")
    assert code == 2 and "not empty and not a registry" in err
    for missing in (str(tmp_path / "nope"), "file:///nonexistent/registry.git", "https://127.0.0.1:9/x.git"):
        code, _, err = call(capsys, "registry", "list", "--registry", missing)
        assert code == 2, err
        assert "registry" in err
    newer = tmp_path / "newer"
    subprocess.run(["git", "clone", "-q", str(_registry(tmp_path, alice)), str(newer)], check=True)
    (newer / "crmctl-registry.json").write_text(f'{{"format": {FORMAT + 1}, "registry": "x"}}\n')
    subprocess.run(["git", "-C", str(newer), "commit", "-qam", "future"], check=True)
    code, _, err = call(capsys, "registry", "log", "--registry", str(newer))
    assert code == 2 and "newer crmctl" in err


def _registry(tmp_path: Path, alice: SigningKey) -> Path:
    location = tmp_path / "fresh"
    init_registry(str(location), alice, "alice@example.com", NOW)
    return location


def test_init_refuses_an_existing_registry_and_uses_git_identity(
    tmp_path: Path, capsys: Capture, alice: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert alice.path is not None
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    subprocess.run(["git", "config", "--global", "user.email", "dora@example.com"], check=True)
    assert call(capsys, "registry", "init", str(empty), "--key", str(alice.path))[0] == 0
    code, out, _ = call(capsys, "registry", "log", "--registry", str(empty), "-f", "json")
    assert json.loads(out)["result"]["entries"][0]["signer"]["identity"] == "dora@example.com"
    code, _, err = call(capsys, "registry", "init", str(empty), "--key", str(alice.path))
    assert code == 2 and "already a crmctl registry" in err


def test_rewritten_history_is_refused(tmp_path: Path, capsys: Capture, registry: str, alice: SigningKey) -> None:
    publish(registry, LEAD_V1, alice, NOW)
    assert call(capsys, "registry", "verify", "--registry", registry)[0] == 0
    subprocess.run(["git", "--git-dir", registry, "update-ref", "refs/heads/main", "main~1"], check=True)
    for args in (["registry", "list"], ["resolve", "LeadLifecycle"]):
        code, _, err = call(capsys, *args, "--registry", registry)
        assert code == 2 and "remembered head" in err
    code, out, _ = call(capsys, "registry", "verify", "--registry", registry)
    assert code == 1 and "REG501" in out


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_ssh_keygen_verifies_a_published_version(tmp_path: Path, registry: str, alice: SigningKey) -> None:
    publish(registry, LEAD_V1, alice, NOW)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", registry, str(clone)], check=True)
    version = clone / "packages" / "LeadLifecycle" / "1.0.0"
    canonical = hashlib.sha256((version / "canonical.json").read_bytes()).hexdigest()
    assert (version / "digest").read_text() == f"jcs-sha256:{canonical}\n"
    result = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            str(clone / "trust" / "allowed_signers"),
            "-I",
            "alice@example.com",
            "-n",
            "crmctl-package",
            "-s",
            str(version / "signature.sig"),
        ],
        input=(version / "digest").read_bytes(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_registry_and_key_from_config(
    tmp_path: Path, capsys: Capture, registry: str, alice: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "crmctl.toml").write_text(f'registry = "../reg"\nsigning-key = "{alice.path}"\n')
    monkeypatch.chdir(project)
    assert call(capsys, "publish", str(LEAD_V1))[0] == 0
    assert call(capsys, "resolve", "LeadLifecycle")[1] == "1.0.0\n"
    monkeypatch.chdir(tmp_path)
    code, _, err = call(capsys, "registry", "list")
    assert code == 2 and "no registry given" in err


def test_a_tenant_admin_cannot_add_a_key_under_an_identity_of_another_scope(
    tmp_path: Path, capsys: Capture, registry: str, alice: SigningKey
) -> None:
    """An admin of tenant:acme could add its own key under the identity `alice@example.com` (the `*` admin):
    what that key signed then read "alice@example.com publish ..." in the log and in provenance, and
    `ssh-keygen -Y verify -I alice@example.com` accepted it. A key joins an existing identity only by an admin for
    every scope that identity's keys have (who could remove them); rotation itself still works."""
    assert alice.path is not None
    acme_admin, fake, acme_new = make_key(tmp_path, "acme-admin"), make_key(tmp_path, "fake"), make_key(tmp_path, "n")
    as_alice = ["--registry", registry, "--key", str(alice.path)]
    as_acme = ["--registry", registry, "--key", str(tmp_path / "keys" / "acme-admin")]
    assert (
        call(
            capsys,
            "registry",
            "signer",
            "add",
            "admin@acme.example",
            "--public-key",
            acme_admin.public_key(),
            "--scope",
            "tenant:acme",
            "--admin",
            *as_alice,
        )[0]
        == 0
    )
    assert (
        call(
            capsys,
            "registry",
            "signer",
            "add",
            "dev@acme.example",
            "--public-key",
            make_key(tmp_path, "d").public_key(),
            "--scope",
            "tenant:acme",
            *as_acme,
        )[0]
        == 0
    )
    code, out, _ = call(
        capsys,
        "registry",
        "signer",
        "add",
        "alice@example.com",
        "--public-key",
        fake.public_key(),
        "--scope",
        "tenant:acme",
        *as_acme,
    )
    assert code == 1 and "REG105" in out and "alice@example.com" in out, out
    # Rotation by those who hold the identity's scopes: the tenant admin for its signer, a * admin for anyone.
    assert (
        call(
            capsys,
            "registry",
            "signer",
            "add",
            "dev@acme.example",
            "--public-key",
            acme_new.public_key(),
            "--scope",
            "tenant:acme",
            *as_acme,
        )[0]
        == 0
    )
    assert (
        call(
            capsys,
            "registry",
            "signer",
            "add",
            "alice@example.com",
            "--public-key",
            fake.public_key(),
            "--scope",
            "*",
            "--admin",
            *as_alice,
        )[0]
        == 0
    )
