"""A format-1 registry (written by crmctl before RFC 8785, tests/fixtures/formats/registry-v1.bundle) keeps
verifying, resolving and loading under its `sha256:` digests, and takes format-2 entries (docs/formats.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import rfc8785

from crmctl.model.canonical import LEGACY, digest
from crmctl.model.package import load_package, load_tree
from crmctl.registry import open_version_tree
from crmctl.registry.log import entry_bytes, entry_hash, entry_path, signed_bytes
from crmctl.registry.opening import NotARegistryError, parse_marker
from crmctl.registry.publish import publish
from crmctl.registry.query import resolve
from crmctl.registry.trust import replay
from crmctl.registry.verify import verify_registry
from crmctl.signing import NAMESPACE_LOG, SigningKey, verify
from tests.conftest import REPO
from tests.registry.conftest import NOW
from tests.registry.rogue import clone, git, push, rederive

FORMATS = REPO / "tests" / "fixtures" / "formats"
V1_DIGEST = "sha256:09bf048c7e6b0f9841c9826885a5f79cf4c7f0086fb34fc1579b829a2fa771bb"
JCS_DIGEST = "jcs-sha256:bc2aa65740c646abe63f803b98a455406d1ceaa41776ea8c42ff39131e84fb38"


@pytest.fixture
def old_key(tmp_path: Path) -> SigningKey:
    """The fixture registry's admin (a key that signs nothing else); ssh and crmctl want it private."""
    target = tmp_path / "keys" / "old-alice"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FORMATS / "keys" / "alice", target)
    shutil.copy(FORMATS / "keys" / "alice.pub", target.with_suffix(".pub"))
    target.chmod(0o600)
    return SigningKey.load(target)


@pytest.fixture
def old_registry(tmp_path: Path) -> str:
    location = tmp_path / "v1-registry"
    subprocess.run(
        ["git", "clone", "-q", "--mirror", str(FORMATS / "registry-v1.bundle"), str(location)],
        check=True,
        capture_output=True,
    )
    return str(location)


def _files(location: str, tmp_path: Path, name: str) -> Path:
    return clone(location, tmp_path / name)


def _package_at(tmp_path: Path, version: str, extra_field: str = "") -> Path:
    target = tmp_path / f"Formats-{version}"
    shutil.copytree(FORMATS / "package", target)
    manifest = target / "package.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", f"version: {version}"))
    if extra_field:
        schema = target / "schema.yaml"
        schema.write_text(schema.read_text() + extra_field)
        labels = target / "localization" / "en.yaml"
        labels.write_text(labels.read_text().replace("labels:\n", "labels:\n  Lead.nickname: Nickname\n"))
    return target


def test_a_format_1_registry_verifies_resolves_and_loads_under_its_sha256_digest(
    old_registry: str, tmp_path: Path
) -> None:
    result = verify_registry(old_registry, NOW)
    assert result.ok, result.problems
    files = _files(old_registry, tmp_path, "v1")
    assert json.loads((files / "crmctl-registry.json").read_text())["format"] == 1
    assert all(b'"format"' not in p.read_bytes().split(b'"body"', 1)[0] for p in (files / "log").iterdir())
    assert resolve(old_registry, "Formats", channel="prod").digest == V1_DIGEST
    package = load_tree(open_version_tree(old_registry, "Formats", "1.0.0"))
    assert package.digest_algorithm == LEGACY and digest(package) == V1_DIGEST
    # The same files, loaded from disk, are known by the current form: same content, another promise.
    assert digest(load_package(FORMATS / "package")) == JCS_DIGEST


def test_republishing_a_version_published_under_sha256_changes_nothing(
    old_registry: str, old_key: SigningKey, tmp_path: Path
) -> None:
    result = publish(old_registry, _package_at(tmp_path, "1.0.0"), old_key, NOW)
    assert result.status == "unchanged" and V1_DIGEST in result.message
    assert verify_registry(old_registry, NOW).ok


def test_a_change_to_a_format_1_registry_is_written_in_format_2_and_raises_the_registrys_format(
    old_registry: str, old_key: SigningKey, tmp_path: Path
) -> None:
    before = _files(old_registry, tmp_path, "before")
    new = _package_at(tmp_path, "1.1.0", "      nickname: {type: text}\n")
    result = publish(old_registry, new, old_key, NOW)
    assert result.status == "written" and result.entry is not None and result.entry["format"] == 2
    after = _files(old_registry, tmp_path, "after")
    for old_entry in (before / "log").iterdir():  # published entries are never rewritten
        assert (after / "log" / old_entry.name).read_bytes() == old_entry.read_bytes()
    data = (after / entry_path(4)).read_bytes()
    entry = json.loads(data)
    assert data == rfc8785.dumps(entry) + b"\n"  # a stock JCS library gives the file's bytes
    unsigned = {k: v for k, v in entry.items() if k != "signature"}
    verify(entry["signature"], rfc8785.dumps(unsigned), NAMESPACE_LOG, old_key.public_key())
    assert entry["prev"] == entry_hash((after / entry_path(3)).read_bytes())
    assert entry["body"]["digest"].startswith("jcs-sha256:")
    assert (after / "packages/Formats/1.1.0/digest").read_text() == entry["body"]["digest"] + "\n"
    marker = json.loads((after / "crmctl-registry.json").read_text())
    assert marker["format"] == 2 and json.loads((after / "index.json").read_text())["format"] == 2
    assert (after / "packages/Formats/1.0.0/digest").read_text() == V1_DIGEST + "\n"
    result_verify = verify_registry(old_registry, NOW)
    assert result_verify.ok, result_verify.problems
    assert resolve(old_registry, "Formats", version="1.0.0").digest == V1_DIGEST
    assert resolve(old_registry, "Formats").digest == entry["body"]["digest"]


def test_a_crmctl_that_reads_format_1_only_refuses_the_raised_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    import crmctl.registry.opening as opening

    monkeypatch.setattr(opening, "FORMAT", 1)
    with pytest.raises(NotARegistryError, match="registry format 2 was written by a newer crmctl; upgrade"):
        parse_marker(b'{"format": 2, "registry": "sha256:x"}', "reg")


def test_a_new_registry_is_format_2_from_its_first_entry(registry: str, tmp_path: Path) -> None:
    files = _files(registry, tmp_path, "new")
    first = (files / entry_path(1)).read_bytes()
    entry = json.loads(first)
    assert entry["format"] == 2 and entry["body"]["format"] == 2
    assert first == rfc8785.dumps(entry) + b"\n"
    assert json.loads((files / "crmctl-registry.json").read_text())["format"] == 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"format": 3}, "REG106"),  # no such entry format
        ({"format": "2"}, "REG106"),  # a string is not the format
        ({"format": True}, "REG106"),
    ],
)
def test_an_entry_with_another_format_value_is_refused(
    old_registry: str, old_key: SigningKey, tmp_path: Path, change: dict[str, object], code: str
) -> None:
    files = _files(old_registry, tmp_path, "rogue")
    prev = entry_hash((files / entry_path(3)).read_bytes())
    entry: dict[str, object] = {
        **change,
        "seq": 4,
        "prev": prev,
        "type": "promote",
        "time": "2026-11-26T09:31:00Z",
        "signer": {"identity": "alice@example.com", "key": old_key.fingerprint()},
        "body": {"name": "Formats", "version": "1.0.0", "channel": "beta"},
    }
    entry["signature"] = old_key.sign(signed_bytes(entry), NAMESPACE_LOG)
    (files / entry_path(4)).write_bytes(entry_bytes(entry))
    state = replay([(f"log/{p.name}", p.read_bytes()) for p in sorted((files / "log").iterdir())])
    assert [p.code for p in state.problems] == [code], state.problems
    assert "format must be 2" in state.problems[0].message


def test_a_format_2_entry_in_another_form_is_not_canonical(
    old_registry: str, old_key: SigningKey, tmp_path: Path
) -> None:
    """A format-2 entry promises JCS: the same entry in Python's form (here a float Python prints as `1e-07`)
    is REG101, a damaged log that every command but verify refuses."""
    files = _files(old_registry, tmp_path, "rogue")
    entry: dict[str, object] = {
        "format": 2,
        "seq": 4,
        "prev": entry_hash((files / entry_path(3)).read_bytes()),
        "type": "promote",
        "time": "2026-11-26T09:31:00Z",
        "signer": {"identity": "alice@example.com", "key": old_key.fingerprint()},
        "body": {"name": "Formats", "version": "1.0.0", "channel": "beta", "x": 1e-7},
    }
    entry["signature"] = old_key.sign(signed_bytes(entry), NAMESPACE_LOG)
    python_form = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    (files / entry_path(4)).write_text(python_form)
    rederive(files)
    push(files)
    result = verify_registry(old_registry, NOW)
    assert [p.code for p in result.problems if p.subject == entry_path(4)] == ["REG101"]
    assert git(files, "log", "-1", "--format=%s") == "tamper"
