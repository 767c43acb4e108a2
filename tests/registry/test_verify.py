"""verify's checks one by one on small mutations, and the log replay on malformed entries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from crmctl.registry.log import entry_bytes, entry_path, make_entry
from crmctl.registry.names import version_key
from crmctl.registry.publish import publish
from crmctl.registry.store import ConflictError, Store
from crmctl.registry.trust import replay
from crmctl.registry.verify import verify_registry
from crmctl.signing import SigningKey
from tests.registry.conftest import NOW, demo


def _commit(clone: Path, message: str) -> None:
    subprocess.run(["git", "-C", str(clone), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(clone), "commit", "-qm", message], check=True)
    subprocess.run(["git", "-C", str(clone), "push", "-q", "origin", "HEAD:main"], check=True)


@pytest.fixture
def published(registry: str, alice: SigningKey, tmp_path: Path) -> Path:
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", registry, str(clone)], check=True)
    return clone


def _codes(registry: str) -> set[str]:
    return {p.code for p in verify_registry(registry, NOW).problems}


def test_edited_artifact_and_derived_files(registry: str, published: Path) -> None:
    version = published / "packages" / "Demo" / "1.0.0"
    (version / "artifacts" / "schema.json").write_text('{"entities": {}}\n')
    (version / "canonical.json").write_text("{}")
    (published / "index.json").write_text("{}\n")
    (published / "trust" / "allowed_signers").write_text("\n")
    (published / "packages" / "Demo" / "9.9.9").mkdir()
    (published / "packages" / "Demo" / "9.9.9" / "digest").write_text("x\n")
    _commit(published, "tamper")
    assert {"REG202", "REG203", "REG206", "REG207", "REG401", "REG402"} <= _codes(registry)


def test_swapped_signature_deleted_file_and_moved_tag(registry: str, published: Path, alice: SigningKey) -> None:
    version = published / "packages" / "Demo" / "1.0.0"
    (version / "signature.sig").write_text(alice.sign(b"something else\n", "crmctl-package"))
    (version / "provenance.json").unlink()
    _commit(published, "tamper")
    subprocess.run(
        ["git", "-C", str(published), "tag", "-f", "-a", "-m", "moved", "Demo/v1.0.0"], check=True, capture_output=True
    )
    subprocess.run(["git", "-C", str(published), "push", "-qf", "origin", "refs/tags/Demo/v1.0.0"], check=True)
    assert {"REG201", "REG204", "REG205", "REG207"} <= _codes(registry)


def test_log_entry_edited_deleted_and_forged(registry: str, published: Path, tmp_path: Path) -> None:
    log = published / "log"
    entry = json.loads((log / "00000002.json").read_text())
    entry["body"]["digest"] = "sha256:" + "0" * 64
    (log / "00000002.json").write_bytes(entry_bytes(entry))
    mallory = SigningKey.load(_mallory(tmp_path))
    forged = make_entry(
        3,
        None,
        "promote",
        {"name": "Demo", "version": "1.0.0", "channel": "prod"},
        identity="alice@example.com",
        key=mallory,
        now=NOW,
    )
    (log / "00000004.json").write_bytes(entry_bytes(forged))
    _commit(published, "tamper")
    codes = _codes(registry)
    assert {"REG102", "REG103", "REG104", "REG105"} <= codes


def _mallory(tmp_path: Path) -> Path:
    from crmctl.signing import generate_key

    generate_key(tmp_path / "mallory", "mallory")
    return tmp_path / "mallory"


def test_replay_flags_malformed_entries(alice: SigningKey) -> None:
    init = make_entry(
        1,
        None,
        "init",
        {"format": 1, "admin": {"identity": "alice@example.com", "public_key": alice.public_key(), "scopes": ["*"]}},
        identity="alice@example.com",
        key=alice,
        now=NOW,
    )
    first = entry_bytes(init)
    from crmctl.registry.log import entry_hash

    bad_body = make_entry(
        2, entry_hash(first), "publish", {"name": "../x"}, identity="alice@example.com", key=alice, now=NOW
    )
    unknown = make_entry(
        3, entry_hash(entry_bytes(bad_body)), "rename", {}, identity="alice@example.com", key=alice, now=NOW
    )
    files: list[tuple[str, bytes | None]] = [
        (entry_path(1), first),
        (entry_path(2), entry_bytes(bad_body)),
        (entry_path(3), entry_bytes(unknown)),
        (entry_path(4), b'{"not": "canonical"}\n'),
        (entry_path(5), None),
    ]
    problems = replay(files).problems
    assert [p.code for p in problems] == ["REG106", "REG106", "REG101", "REG101"]


def test_version_precedence() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0", "1.10.0"]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("1.0.0+build") == version_key("1.0.0")


def test_a_lost_race_is_retried_then_reported(
    registry: str, alice: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reject(self: Store, *args: object, **kwargs: object) -> None:
        raise ConflictError("rejected")

    monkeypatch.setattr(Store, "push", reject)
    with pytest.raises(ConflictError, match="kept changing"):
        publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
