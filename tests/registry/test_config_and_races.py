"""Key and registry configuration, the resolve fast path's fallbacks, and a real lost push race."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.cli.commands.registry import parse_resolve
from crmctl.cli.main import run
from crmctl.errors import UserError
from crmctl.registry.config import registry_location, signing_key_path
from crmctl.registry.publish import publish
from crmctl.registry.query import log_entries
from crmctl.registry.store import Store
from crmctl.signing import SigningKey, generate_key
from tests.registry.conftest import NOW, demo


def test_signing_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="no signing key"):
        signing_key_path(None)
    default = Path.home() / ".ssh" / "id_ed25519"
    generate_key(default, "me")
    assert signing_key_path(None) == default
    monkeypatch.setenv("CRMCTL_KEY", "/k")
    assert signing_key_path(None) == Path("/k")
    assert signing_key_path(Path("x")) == Path("x")
    monkeypatch.delenv("CRMCTL_KEY")
    (tmp_path / "crmctl.toml").write_text('signing-key = "keys/k"\nregistry = 3\n')
    assert signing_key_path(None) == tmp_path / "keys" / "k"
    with pytest.raises(UserError, match="expected a non-empty string"):
        registry_location(None)
    (tmp_path / "crmctl.toml").write_text("registry = [")
    with pytest.raises(UserError, match="cannot read configuration"):
        registry_location(None)
    for bad in ("registry = " + "[" * 100_000, "registry = " + "9" * 5_000):  # tomllib: RecursionError, ValueError
        (tmp_path / "crmctl.toml").write_text(bad)
        with pytest.raises(UserError, match="cannot read configuration"):
            registry_location(None)


def test_keys_show_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["keys", "generate", "--identity", "me@example.com"]) == 0
    generated = capsys.readouterr().out
    assert run(["keys", "show"]) == 0
    assert capsys.readouterr().out == generated
    assert run(["keys", "generate", "--identity", "me@example.com"]) == 2
    assert "never overwrites" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["resolve"],
        ["resolve", "a", "b"],
        ["resolve", "a", "--format", "xml"],
        ["resolve", "a", "--channel"],
        ["resolve", "a", "-c", "x", "-c", "y"],
        ["resolve", "a", "--bogus"],
        ["lint"],
    ],
)
def test_resolve_fast_path_leaves_unusual_arguments_to_typer(args: list[str]) -> None:
    assert parse_resolve(args) is None


def test_resolve_fast_path_parses_options() -> None:
    parsed = parse_resolve(["resolve", "Demo", "--channel=prod", "-r", "/x", "-f", "json"])
    assert parsed == {"name": "Demo", "channel": "prod", "registry": "/x", "format": "json"}


def test_refused_publish_renders_problems(
    tmp_path: Path, registry: str, alice: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    assert alice.path is not None
    publish(registry, demo(tmp_path / "a", "1.1.0"), alice, NOW)
    lower = str(demo(tmp_path / "b", "1.0.0"))
    assert run(["publish", lower, "--registry", registry, "--key", str(alice.path), "-f", "json"]) == 1
    body = json.loads(capsys.readouterr().out)["result"]
    assert body["status"] == "refused" and body["findings"][0]["code"] == "REG302"
    assert run(["publish", lower, "--registry", registry, "--key", str(alice.path)]) == 1
    assert "Demo@1.0.0: REG302" in capsys.readouterr().out


def test_a_lost_push_race_is_rebuilt_on_the_new_head(
    tmp_path: Path, registry: str, alice: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between our fetch and our push another client publishes; our push is rejected, we re-fetch and win."""
    original = Store.write_commit
    raced = []

    def write_then_lose(self: Store, *args: object, **kwargs: object) -> str:
        commit = original(self, *args, **kwargs)  # type: ignore[arg-type]
        if not raced:
            raced.append(True)
            monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "other-cache"))
            monkeypatch.setattr(Store, "write_commit", original)
            publish(registry, demo(tmp_path / "other", "1.0.0", name="Other"), alice, NOW)
            monkeypatch.setattr(Store, "write_commit", write_then_lose)
        return commit

    monkeypatch.setattr(Store, "write_commit", write_then_lose)
    result = publish(registry, demo(tmp_path / "mine", "1.0.0"), alice, NOW)
    assert (result.status, result.seq) == ("written", 3)
    published = [(e["body"]["name"], e["seq"]) for e in log_entries(registry) if e["type"] == "publish"]
    assert published == [("Other", 2), ("Demo", 3)]
