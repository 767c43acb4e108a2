"""Rollback and fork attacks against clients that only read: every read remembers the head and checks it.

Before, only `verify` and writes remembered the head: a CI job that only ran `resolve` or
`diff --against registry:` could be shown a rolled-back or forked registry without a word. The scenario is the one
of issue 9: a tenant signer resets `main`, deletes a tag and re-publishes the same NAME@VERSION with other
content. Every client that saw the first version must refuse what it is shown afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.registry.ops import add_signer
from crmctl.registry.publish import publish
from crmctl.signing import SigningKey
from tests.registry import rogue
from tests.registry.conftest import NOW, demo, make_key

Capture = pytest.CaptureFixture[str]
ACME = "packages/Acme/1.0.0"


@contextmanager
def client(monkeypatch: pytest.MonkeyPatch, root: Path) -> Iterator[None]:
    """Run as another machine: its own cache and remembered heads."""
    with monkeypatch.context() as env:
        env.setenv("CRMCTL_CACHE_DIR", str(root / "cache"))
        env.setenv("CRMCTL_STATE_DIR", str(root / "state"))
        yield


@pytest.fixture
def acme(registry: str, alice: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    """bob, trusted for tenant:acme only, publishes Acme 1.0.0 (the log: init, signer-add, publish)."""
    bob = make_key(tmp_path, "bob")
    add_signer(
        registry,
        alice,
        NOW,
        identity="bob@example.com",
        public_key=bob.public_key(),
        scopes=["tenant:acme"],
        admin=False,
    )
    with client(monkeypatch, tmp_path / "bob"):
        publish(registry, demo(tmp_path / "first", "1.0.0", name="Acme", scope="tenant:acme"), bob, NOW)
    return bob


def _rewrite(registry: str, bob: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, fork: bool) -> None:
    """bob resets main to before his publish and deletes the tag; with `fork`, he then publishes Acme 1.0.0
    again, with other content, through crmctl (from a machine that never saw the first one)."""
    repo = rogue.clone(registry, tmp_path / "rewrite")
    before = rogue.git(repo, "log", "--format=%H", "-1", "--", "log/00000003.json") + "~1"
    rogue.git(repo, "push", "-q", "-f", "origin", f"{before}:refs/heads/main", ":refs/tags/Acme/v1.0.0")
    if fork:
        other = demo(
            tmp_path / "second",
            "1.0.0",
            name="Acme",
            scope="tenant:acme",
            labels="labels:\n  Lead.firstName: Given name\n",
        )
        with client(monkeypatch, tmp_path / "bob-elsewhere"):
            publish(registry, other, bob, NOW)


READS = {
    "resolve": lambda reg, pkg: ["resolve", "Acme", "--registry", reg],
    "resolve-json": lambda reg, pkg: ["resolve", "Acme", "--version", "1.0.0", "--registry", reg, "-f", "json"],
    "show": lambda reg, pkg: ["registry", "show", "Acme@1.0.0", "--registry", reg],
    "list": lambda reg, pkg: ["registry", "list", "--registry", reg],
    "log": lambda reg, pkg: ["registry", "log", "--registry", reg],
    "diff": lambda reg, pkg: ["diff", str(pkg), "--against", "registry:Acme@1.0.0", "--registry", reg],
}


@pytest.mark.parametrize("fork", [False, True], ids=["rolled-back", "forked"])
@pytest.mark.parametrize("first", sorted(READS))
def test_a_client_that_only_read_refuses_a_rewritten_registry(
    registry: str,
    acme: SigningKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Capture,
    first: str,
    fork: bool,
) -> None:
    package = tmp_path / "first"
    assert run(READS[first](registry, package)) == 0  # this client's only contact with the registry
    capsys.readouterr()
    _rewrite(registry, acme, tmp_path, monkeypatch, fork=fork)
    for name, args in READS.items():
        code = run(args(registry, package))
        captured = capsys.readouterr()
        printed = json.loads(captured.out)["result"] if name.endswith("-json") else captured.out
        assert (code, printed) == (2, None if name.endswith("-json") else ""), (name, captured)
        assert "history rewritten or rolled back" in captured.err and "registry verify" in captured.err, name
    code = run(["registry", "verify", "--registry", registry, "--format", "json"])
    problems = json.loads(capsys.readouterr().out)["result"]["findings"]
    assert code == 1 and problems[0]["code"] == "REG501" and problems[0]["subject"] == "log/00000003.json"


def test_the_resolve_fast_path_remembers_the_head_too(
    registry: str, acme: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """`resolve` answers from the state it checked before while the log is unchanged; even then it records the
    head when this client did not remember it (a state directory restored from an old backup, say)."""
    assert run(["resolve", "Acme", "--registry", registry]) == 0
    for memory in (tmp_path / "state").glob("*.json"):
        memory.unlink()
    assert run(["resolve", "Acme", "--registry", registry]) == 0  # the fast path: the log tree is unchanged
    assert list((tmp_path / "state").glob("*.json")), "the fast path remembered the head"
    capsys.readouterr()
    _rewrite(registry, acme, tmp_path, monkeypatch, fork=True)
    assert run(["resolve", "Acme", "--registry", registry]) == 2
    assert "history rewritten or rolled back" in capsys.readouterr().err


def test_the_remembered_head_only_moves_forward(registry: str, acme: SigningKey, tmp_path: Path) -> None:
    """Two commands of one client may finish in any order: the one that read an older head does not replace the
    newer one the other remembered (and each file is replaced whole, never seen half-written)."""
    from crmctl.registry.opening import advance, remembered
    from crmctl.registry.query import log_entries

    entries = log_entries(registry)  # remembers entry 3
    registry_id = entries[0]["hash"]
    advance(registry, registry_id, 2, entries[1]["hash"])
    memory, location_id = remembered(registry, registry_id)
    assert memory is not None and (memory["seq"], memory["head"]) == (3, entries[2]["hash"])
    assert location_id == registry_id
    assert not list((tmp_path / "state").glob("**/*.tmp"))


def test_a_mirror_behind_what_this_client_read_elsewhere_is_refused_and_said_so(
    registry: str, acme: SigningKey, alice: SigningKey, tmp_path: Path, capsys: Capture
) -> None:
    """The memory is per registry, not per location: a mirror that has not caught up with what this client read at
    the primary is indistinguishable from a rollback, and refused. The message says which location was ahead."""
    from crmctl.registry.ops import promote

    mirror = tmp_path / "mirror.git"
    rogue.git(tmp_path, "clone", "-q", "--bare", registry, str(mirror))
    assert run(["resolve", "Acme", "--registry", str(mirror)]) == 0
    promote(registry, acme, NOW, name="Acme", version="1.0.0", channel="prod")
    assert run(["resolve", "Acme", "--registry", registry]) == 0
    capsys.readouterr()
    assert run(["resolve", "Acme", "--registry", str(mirror)]) == 2
    err = capsys.readouterr().err
    assert "history rewritten or rolled back" in err and f"read entry 4 at '{registry}'" in err, err
    rogue.git(mirror, "fetch", "-q", registry, "+refs/heads/*:refs/heads/*")
    assert run(["resolve", "Acme", "--registry", str(mirror)]) == 0  # caught up
