"""Faults and bad input: a publish killed at any moment, remotes that fail, registries crmctl must not touch,
names and keys it must refuse. Every failure is a clear message and leaves the remote's refs as they were."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.registry import store as store_module
from crmctl.registry.ops import add_signer, remove_signer
from crmctl.registry.problems import FORMAT
from crmctl.registry.publish import publish
from crmctl.registry.query import log_entries
from crmctl.registry.store import Store, normalize_location
from crmctl.registry.verify import verify_registry
from crmctl.signing import SigningKey
from tests.registry.conftest import LEAD_V1, NOW, demo, make_key
from tests.registry.test_concurrency import RUNNER

Capture = pytest.CaptureFixture[str]


def refs(location: str) -> str:
    return subprocess.run(["git", "ls-remote", location], capture_output=True, text=True, check=True).stdout


def call(capsys: Capture, *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def push_change(registry: str, clone: Path, path: str, text: str) -> None:
    if not clone.exists():
        subprocess.run(["git", "clone", "-q", registry, str(clone)], check=True)
    (clone / path).write_text(text)
    subprocess.run(["git", "-C", str(clone), "commit", "-qam", f"edit {path}"], check=True)
    subprocess.run(["git", "-C", str(clone), "push", "-q", "origin", "HEAD:main"], check=True)


# --- kill -9 ---------------------------------------------------------------------------------------------------

KILLS = 15


def test_publish_killed_at_any_moment_leaves_the_registry_valid(
    tmp_path: Path, registry: str, alice: SigningKey
) -> None:
    """SIGKILL the publishing client (Python and its git children: the whole process group) at 15 moments from
    0 to 280 ms after its imports, which spans fetch, gates, commit building and the push. After each kill the
    registry verifies clean and holds the version completely or not at all; the same client, with whatever its
    cache was left holding, then publishes successfully."""
    assert alice.path is not None
    env = {
        **os.environ,
        "CRMCTL_CACHE_DIR": str(tmp_path / "victim" / "cache"),
        "CRMCTL_STATE_DIR": str(tmp_path / "victim" / "state"),
        "CRMCTL_REGISTRY": registry,
        "CRMCTL_KEY": str(alice.path),
    }
    (tmp_path / "victim").mkdir()
    outcomes = []
    for run_ in range(KILLS):
        version = f"1.{run_}.0"
        package = demo(tmp_path / "src" / version, version)
        ready, barrier = tmp_path / f"ready-{run_}", tmp_path / f"go-{run_}"
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(ready), str(barrier), "publish", str(package)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while not ready.exists():
            assert proc.poll() is None, "the publishing process died before it was ready"
            time.sleep(0.001)
        barrier.touch()
        time.sleep(run_ * 0.020)
        with contextlib.suppress(ProcessLookupError):  # it finished first
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        outcomes.append(proc.returncode)

        result = verify_registry(registry, datetime.now(UTC))  # the CLI dated its entries by the wall clock
        assert result.ok, (version, result.problems)
        published = [e for e in log_entries(registry) if e["type"] == "publish" and e["body"]["version"] == version]
        tagged = f"refs/tags/Demo/v{version}" in refs(registry)
        assert len(published) == int(tagged), (version, published, tagged)  # all or nothing

        again = subprocess.run(
            [sys.executable, "-m", "crmctl", "publish", str(package), "-f", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert again.returncode == 0, (version, again.stdout, again.stderr)
        assert json.loads(again.stdout)["result"]["status"] == ("unchanged" if published else "written")
    assert -signal.SIGKILL in outcomes, "no publish was ever killed: the delays are too long for this machine"
    result = verify_registry(registry, datetime.now(UTC))
    assert result.ok and result.versions == KILLS


@pytest.mark.parametrize("locks", [["packed-refs.lock"], ["refs/remotes/origin/main.lock", "packed-refs.lock"]])
def test_a_lock_left_in_the_cache_by_a_killed_command_does_not_block_the_client(
    locks: list[str], tmp_path: Path, registry: str, alice: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a kill during a ref update leaves (found by the test above, about one run in ten): a local tag that
    never reached the remote, which the next fetch prunes, and git's lock files. Without clearing the locks
    every later command of this client failed with "Unable to create '.../packed-refs.lock': File exists"."""
    monkeypatch.setattr(store_module, "_LOCK_PATIENCE", 0.05)
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    store = Store(normalize_location(registry))
    store.git("tag", "Demo/v1.1.0", "refs/remotes/origin/main")
    for lock in locks:
        (store.cache / lock).parent.mkdir(parents=True, exist_ok=True)
        (store.cache / lock).touch()
    assert publish(registry, demo(tmp_path / "b", "1.1.0"), alice, NOW).status == "written"
    assert not list(store.cache.rglob("*.lock"))
    assert verify_registry(registry, NOW).ok


# --- remotes that fail -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Unauthorized(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="registry"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_401() -> Iterator[str]:
    """A git server over https... that answers every request with 401: an authentication failure."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/registry.git"
    server.shutdown()
    server.server_close()


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a real process with an overall timeout: a remote that hangs fails the test instead."""
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "crmctl", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing-path", "no such registry"),
        ("missing-file-url", "cannot fetch the registry"),
        ("ssh-unreachable", "Could not resolve hostname"),
        ("ssh-auth-failure", "Permission denied (publickey)"),
        ("https-connection-refused", "cannot fetch the registry"),
        ("http-401", "cannot fetch the registry"),
    ],
)
def test_unreachable_remote_fails_fast_with_a_clear_message(
    kind: str, message: str, tmp_path: Path, alice: SigningKey, http_401: str
) -> None:
    assert alice.path is not None
    fake_ssh = tmp_path / "ssh"
    fail = {
        "ssh-unreachable": "ssh: Could not resolve hostname nonexistent.invalid: Name or service not known",
        "ssh-auth-failure": "git@nonexistent.invalid: Permission denied (publickey).",
    }.get(kind, "")
    fake_ssh.write_text(f"#!/bin/sh\necho '{fail}' >&2\nexit 255\n")
    fake_ssh.chmod(0o755)
    location = {
        "missing-path": str(tmp_path / "nope"),
        "missing-file-url": (tmp_path / "nope.git").as_uri(),
        "ssh-unreachable": "ssh://nonexistent.invalid/x",
        "ssh-auth-failure": "ssh://git@nonexistent.invalid/x",
        "https-connection-refused": f"https://127.0.0.1:{_free_port()}/x.git",
        "http-401": http_401,
    }[kind]
    env = {"GIT_SSH_COMMAND": str(fake_ssh), "CRMCTL_REGISTRY": location, "CRMCTL_KEY": str(alice.path)}
    for args in (["publish", str(LEAD_V1)], ["resolve", "LeadLifecycle"]):
        started = time.monotonic()
        result = _cli(tmp_path, *args, env=env)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert time.monotonic() - started < 10
    assert not (tmp_path / "nope").exists() and not (tmp_path / "nope.git").exists()  # nothing created


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads every file")
def test_unreadable_registry_is_an_error(tmp_path: Path, registry: str, capsys: Capture) -> None:
    Path(registry).chmod(0)
    try:
        code, _, err = call(capsys, "resolve", "Demo", "--registry", registry)
    finally:
        Path(registry).chmod(0o755)
    assert code == 2 and "cannot fetch the registry" in err


def test_not_a_registry_is_never_written(tmp_path: Path, alice: SigningKey, capsys: Capture) -> None:
    assert alice.path is not None
    plain = tmp_path / "plain.git"
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(plain)], check=True)
    subprocess.run(["git", "clone", "-q", str(plain), str(work)], capture_output=True, check=True)
    (work / "README").write_text("not a registry\n")
    subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    subprocess.run(["git", "-C", str(work), "commit", "-qm", "x"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD:main"], check=True)
    before = refs(str(plain))
    key = ["--registry", str(plain), "--key", str(alice.path)]
    for args in (
        ["publish", str(LEAD_V1), *key],
        ["promote", "LeadLifecycle@1.0.0", "--to", "prod", *key],
        ["registry", "signer", "add", "bob@example.com", "--public-key", alice.public_key(), "--scope", "global", *key],
        ["resolve", "LeadLifecycle", "--registry", str(plain)],
        ["registry", "verify", "--registry", str(plain)],
    ):
        code, _, err = call(capsys, *args)
        assert code == 2 and "not a crmctl registry" in err, (args, err)
    assert refs(str(plain)) == before


def test_registry_of_a_newer_crmctl_is_never_written(
    tmp_path: Path, registry: str, alice: SigningKey, capsys: Capture
) -> None:
    assert alice.path is not None
    publish(registry, LEAD_V1, alice, NOW)
    marker = json.loads(
        subprocess.run(
            ["git", "--git-dir", registry, "show", "main:crmctl-registry.json"], capture_output=True, check=True
        ).stdout
    )
    push_change(
        registry, tmp_path / "clone", "crmctl-registry.json", json.dumps({**marker, "format": FORMAT + 1}) + "\n"
    )
    before = refs(registry)
    key = ["--registry", registry, "--key", str(alice.path)]
    for args in (
        ["publish", str(demo(tmp_path / "d", "1.0.0")), *key],
        ["promote", "LeadLifecycle@1.0.0", "--to", "prod", *key],
        ["resolve", "LeadLifecycle", "--registry", registry],
        ["registry", "verify", "--registry", registry],
        ["registry", "init", registry, "--key", str(alice.path), "--identity", "a@example.com"],
    ):
        code, _, err = call(capsys, *args)
        assert code == 2, (args, err)
        assert "newer crmctl" in err or "already a crmctl registry" in err, (args, err)
    assert refs(registry) == before


# --- bad input -------------------------------------------------------------------------------------------------

BAD_NAMES = ["../x", "a b", "Demo/../../x", ""]
BAD_VERSIONS = ["1.0", "v1.0.0", "1.0.0/../..", "1.0.0 ", "01.0.0"]


@pytest.mark.parametrize(
    "args",
    [
        *(["resolve", name] for name in BAD_NAMES),
        *(["resolve", "Demo", "--version", version] for version in BAD_VERSIONS),
        *(["registry", "show", f"{name}@1.0.0"] for name in BAD_NAMES),
        *(["registry", "show", f"Demo@{version}"] for version in BAD_VERSIONS),
        *(["promote", f"{name}@1.0.0", "--to", "prod"] for name in BAD_NAMES),
        *(["promote", f"Demo@{version}", "--to", "prod"] for version in BAD_VERSIONS),
        ["promote", "Demo@1.0.0", "--to", "../prod"],
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_names_and_versions_in_arguments(
    args: list[str], registry: str, alice: SigningKey, tmp_path: Path, capsys: Capture
) -> None:
    assert alice.path is not None
    before = refs(registry)
    key = ["--key", str(alice.path)] if args[0] == "promote" else []
    code, out, err = call(capsys, *args, "--registry", registry, *key)
    assert code == 2, (out, err)
    assert any(words in err for words in ("not a valid", "not a semantic version", "give NAME@VERSION")), err
    assert "Traceback" not in err
    assert refs(registry) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "../x"), ("name", "a b"), ("version", "1.0"), ("version", "v1.0.0"), ("version", "1.0.0/../..")],
)
def test_publishing_a_package_with_a_bad_name_or_version_is_refused(
    field: str, value: str, registry: str, alice: SigningKey, tmp_path: Path, capsys: Capture
) -> None:
    assert alice.path is not None
    package = demo(tmp_path / "bad", "1.0.0")
    manifest = package / "package.yaml"
    text = manifest.read_text()
    manifest.write_text(
        text.replace("name: Demo", f"name: '{value}'")
        if field == "name"
        else text.replace("version: 1.0.0", f"version: '{value}'")
    )
    before = refs(registry)
    code, out, err = call(capsys, "publish", str(package), "--registry", registry, "--key", str(alice.path))
    assert code == 1, (out, err)
    assert "does not load cleanly" in out and "REG301" in out
    assert refs(registry) == before


def test_files_changed_after_signing(tmp_path: Path, registry: str, alice: SigningKey, capsys: Capture) -> None:
    """canonical.json edited in the registry after publication: verify says so, `diff --against` refuses it."""
    publish(registry, LEAD_V1, alice, NOW)
    path = "packages/LeadLifecycle/1.0.0/canonical.json"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", registry, str(clone)], check=True)
    push_change(registry, clone, path, (clone / path).read_text().replace("Lead", "Leed", 1))
    code, out, _ = call(capsys, "registry", "verify", "--registry", registry)
    assert code == 1
    assert "LeadLifecycle@1.0.0: REG202 canonical.json does not hash to the logged" in out
    assert "LeadLifecycle@1.0.0: REG207" in out


def test_unknown_key_is_refused_and_nothing_written(tmp_path: Path, registry: str, capsys: Capture) -> None:
    mallory = make_key(tmp_path, "mallory")
    before = refs(registry)
    for args in (
        ["publish", str(LEAD_V1)],
        ["registry", "signer", "add", "m@example.com", "--public-key", mallory.public_key(), "--scope", "*", "--admin"],
    ):
        code, out, err = call(capsys, *args, "--registry", registry, "--key", str(mallory.path))
        assert code == 1, (out, err)
        assert f"key {mallory.fingerprint()} is not a signer of this registry" in out
    assert refs(registry) == before


def test_revoked_key_is_refused_and_nothing_written(
    tmp_path: Path, registry: str, alice: SigningKey, capsys: Capture
) -> None:
    bob = make_key(tmp_path, "bob")
    add_signer(
        registry, alice, NOW, identity="bob@example.com", public_key=bob.public_key(), scopes=["global"], admin=False
    )
    publish(registry, LEAD_V1, bob, NOW)
    remove_signer(registry, alice, NOW, identity="bob@example.com", reason="left the company")
    before = refs(registry)
    for args in (["publish", str(demo(tmp_path / "d", "1.0.0"))], ["promote", "LeadLifecycle@1.0.0", "--to", "prod"]):
        code, out, err = call(capsys, *args, "--registry", registry, "--key", str(bob.path))
        assert code == 1, (args, out, err)
        assert f"key {bob.fingerprint()} was removed from this registry" in out
    assert refs(registry) == before
    assert verify_registry(registry, NOW).ok  # what bob signed before his removal stays valid


def test_corrupted_index_is_a_clear_error_and_the_next_change_rewrites_it(
    tmp_path: Path, registry: str, alice: SigningKey, capsys: Capture
) -> None:
    """index.json is derived: readers that trust it refuse a corrupted one; a change rebuilds it from the log."""
    publish(registry, LEAD_V1, alice, NOW)
    push_change(registry, tmp_path / "clone", "index.json", '{"format": 1, "packages": {')
    before = refs(registry)
    code, out, err = call(capsys, "resolve", "LeadLifecycle", "--registry", registry)
    assert code == 2 and out == ""
    assert "index.json does not match the log (corrupted index)" in err and "registry verify" in err
    assert refs(registry) == before
    code, out, _ = call(capsys, "registry", "verify", "--registry", registry)
    assert code == 1 and "index.json: REG401" in out
    publish(registry, demo(tmp_path / "d", "1.0.0"), alice, NOW)
    assert verify_registry(registry, NOW).ok
    assert call(capsys, "resolve", "Demo", "--registry", registry)[1] == "1.0.0\n"
