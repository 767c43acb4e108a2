"""Every registry command when git fails under it: git missing, a cache it cannot create or read, damaged
objects, a full disk, git killed or printing nonsense. Each is a message for people with exit 2 (the registry
or its cache) or exit 3 with an environment error (the machine) — never a traceback (issue 9 §3)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.signing import SigningKey
from tests.registry.conftest import LEAD_V1, LEAD_V2

REAL_GIT = shutil.which("git")


def _fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str, then: str) -> None:
    """Put a `git` first on PATH that runs the real one, except for commands whose arguments match `when`
    (a shell pattern), where it runs `then` instead."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "git"
    script.write_text(f'#!/bin/sh\ncase " $* " in\n  {when}) {then} ;;\nesac\nexec {REAL_GIT} "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def _cache_dirs(tmp_path: Path) -> list[Path]:
    return [d for d in (tmp_path / "cache").iterdir() if d.is_dir() and not d.name.startswith(".")]


def _objects(tmp_path: Path) -> list[Path]:
    return sorted(
        p for d in _cache_dirs(tmp_path) for p in (d / "objects").rglob("*") if p.is_file() and len(p.parent.name) == 2
    )


def _corrupt_objects(tmp_path: Path) -> None:
    for path in _objects(tmp_path):
        path.chmod(0o644)
        path.write_bytes(b"garbage")


Setup = Callable[[Path, pytest.MonkeyPatch], None]
FAILURES: dict[str, tuple[Setup, int, str]] = {
    "git missing": (lambda t, m: m.setenv("PATH", str(t / "empty")), 3, "git is not installed or not on PATH"),
    "cache dir under a file": (
        lambda t, m: ((t / "afile").write_text("x"), m.setenv("CRMCTL_CACHE_DIR", str(t / "afile" / "cache"))),
        3,
        "cannot create the registry cache in",
    ),
    "cache parent is a file": (
        lambda t, m: (shutil.rmtree(t / "cache"), (t / "cache").write_text("x")),
        3,
        "cannot create the registry cache in",
    ),
    "disk full creating the cache": (
        lambda t, m: (
            shutil.rmtree(t / "cache"),
            _fake_git(t, m, "*--bare*", "echo 'fatal: No space left on device' >&2; exit 128"),
        ),
        3,
        "cannot create the registry cache",
    ),
    "disk full fetching": (
        lambda t, m: _fake_git(
            t, m, "*fetch*", "echo 'error: unable to write file: No space left on device' >&2; exit 128"
        ),
        3,
        "No space left on device",
    ),
    "permission denied fetching": (
        lambda t, m: _fake_git(
            t, m, "*fetch*", "echo 'error: insufficient permission for adding an object' >&2; exit 128"
        ),
        3,
        "insufficient permission",
    ),
    "git killed fetching": (lambda t, m: _fake_git(t, m, "*fetch*", "kill -9 $$"), 2, "git was killed by signal 9"),
    "damaged cache objects": (lambda t, m: _corrupt_objects(t), 2, "cannot fetch the registry"),
    "cache config garbage": (
        lambda t, m: [(d / "config").write_text("[[[garbage") for d in _cache_dirs(t)],
        2,
        "bad config line 1",
    ),
    "cat-file fails": (
        lambda t, m: _fake_git(t, m, "*cat-file*", "echo 'fatal: unable to read object' >&2; exit 128"),
        3,
        "git cat-file failed on the registry cache",
    ),
    "ls-tree fails": (
        lambda t, m: _fake_git(t, m, "*ls-tree*", "echo 'fatal: not a tree object' >&2; exit 128"),
        3,
        "failed on the registry cache",
    ),
    "cat-file prints nonsense": (
        lambda t, m: _fake_git(t, m, "*cat-file*", "echo 'garbage output here'; exit 0"),
        3,
        "git cat-file printed what crmctl cannot read",
    ),
    "cat-file cut short": (
        lambda t, m: _fake_git(t, m, "*cat-file*", "echo '0123 blob 99999'; exit 0"),
        3,
        "git cat-file printed what crmctl cannot read",
    ),
}

COMMANDS: dict[str, list[str]] = {
    "registry list": ["registry", "list"],
    "registry show": ["registry", "show", "LeadLifecycle@1.0.0"],
    "registry log": ["registry", "log"],
    "registry verify": ["registry", "verify"],
    "registry signer list": ["registry", "signer", "list"],
    "resolve": ["resolve", "LeadLifecycle"],
    "resolve --format json": ["resolve", "LeadLifecycle", "--format", "json"],
    "diff --against registry:": ["diff", str(LEAD_V2), "--against", "registry:LeadLifecycle@1.0.0"],
    "publish": ["publish", str(LEAD_V2), "--key", "{key}"],
    "promote": ["promote", "LeadLifecycle@1.0.0", "--to", "sandbox", "--key", "{key}"],
}


@pytest.fixture
def published(tmp_path: Path, registry: str, alice: SigningKey, capsys: pytest.CaptureFixture[str]) -> str:
    key = str(tmp_path / "keys" / "alice")
    assert run(["publish", str(LEAD_V1), "--registry", registry, "--key", key]) == 0
    assert run(["registry", "list", "--registry", registry]) == 0  # the cache holds it all
    capsys.readouterr()
    return registry


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_git_is_a_message_never_a_traceback(
    tmp_path: Path,
    published: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: str,
    command: str,
) -> None:
    setup, expected, message = FAILURES[failure]
    setup(tmp_path, monkeypatch)
    argv = [arg.replace("{key}", str(tmp_path / "keys" / "alice")) for arg in COMMANDS[command]]
    code = run([*argv, "--registry", published])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    if "fetching" in failure and command.startswith("resolve"):
        assert code == 0  # a local registry whose main is where the cache has it is not fetched from
        return
    assert code == expected, err
    assert message in err, err
    prefix = "crmctl: environment error: " if expected == 3 else "crmctl: error: "
    assert err.startswith(prefix), err


def test_a_damaged_cache_names_the_way_out(tmp_path: Path, published: str, capsys: pytest.CaptureFixture[str]) -> None:
    _corrupt_objects(tmp_path)
    assert run(["registry", "list", "--registry", published]) == 2
    cache = _cache_dirs(tmp_path)[0]
    assert f"hint: if the registry itself is intact, the local cache {cache} may be damaged" in capsys.readouterr().err
    shutil.rmtree(cache)
    assert run(["registry", "list", "--registry", published]) == 0


def test_init_without_git_is_an_environment_failure(
    tmp_path: Path, alice: SigningKey, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    key = str(tmp_path / "keys" / "alice")
    assert run(["registry", "init", str(tmp_path / "new"), "--key", key, "--identity", "alice@example.com"]) == 3
    assert capsys.readouterr().err.startswith("crmctl: environment error: git is not installed")


@pytest.mark.parametrize("command", [["resolve", "Demo"], ["registry", "init"], ["registry", "verify"]])
def test_a_local_path_too_long_for_the_file_system_is_a_message(
    tmp_path: Path, alice: SigningKey, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`Path.exists()` raises (instead of answering False) for a name longer than the file system allows: a
    traceback (exit 3) whose message repeated the 100,000-character path."""
    location = str(tmp_path / ("A" * 100_000))
    argv = [*command, location] if command == ["registry", "init"] else [*command, "--registry", location]
    if command[-1] == "init":
        argv += ["--key", str(tmp_path / "keys" / "alice"), "--identity", "alice@example.com"]
    code = run(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "File name too long" in err and len(err) < 500, err[:300]
