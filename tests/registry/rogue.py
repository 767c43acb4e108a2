"""A rogue writer: someone with push rights who writes a registry with git and a trusted key, not with crmctl.

Entries are signed properly (with any time, name or body the test wants), and the derived files are rewritten as
crmctl would derive them from the resulting log, so that `verify` finds only what the test planted.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from crmctl.registry.log import entry_bytes, entry_hash, entry_path, signed_bytes
from crmctl.registry.trust import replay
from crmctl.registry.writing import derived_files
from crmctl.signing import NAMESPACE_LOG, SigningKey

__all__ = ["append_entry", "clone", "git", "push", "rederive", "signed_entry"]


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def clone(registry: str, target: Path) -> Path:
    subprocess.run(["git", "clone", "-q", registry, str(target)], check=True, capture_output=True)
    git(target, "config", "user.email", "mallory@example.com")
    git(target, "config", "user.name", "mallory")
    return target


def push(repo: Path, message: str = "tamper", *, force: bool = False) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    git(repo, "push", "-q", *(["-f"] if force else []), "origin", "HEAD:main")


def signed_entry(
    key: SigningKey, identity: str, seq: int, prev: str | None, kind: str, body: dict[str, Any], time: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "seq": seq,
        "prev": prev,
        "type": kind,
        "time": time,
        "signer": {"identity": identity, "key": key.fingerprint()},
        "body": body,
    }
    entry["signature"] = key.sign(signed_bytes(entry), NAMESPACE_LOG)
    return entry


def _log(repo: Path) -> list[Path]:
    return sorted((repo / "log").glob("[0-9]" * 8 + ".json"))


def rederive(repo: Path) -> None:
    """index.json and trust/allowed_signers as crmctl derives them from the clone's log."""
    state = replay([(f"log/{p.name}", p.read_bytes()) for p in _log(repo)])
    for rel, data in derived_files(state).items():
        (repo / rel).write_bytes(data)


def append_entry(
    repo: Path,
    key: SigningKey,
    identity: str,
    kind: str,
    body: dict[str, Any],
    *,
    time: str,
    files: dict[str, bytes] | None = None,
    commit: bool = True,
) -> dict[str, Any]:
    """Append one signed entry (and `files`) to the clone's log, rederive, and commit and push it."""
    entries = _log(repo)
    prev = entry_hash(entries[-1].read_bytes()) if entries else None
    entry = signed_entry(key, identity, len(entries) + 1, prev, kind, body, time)
    (repo / entry_path(len(entries) + 1)).write_bytes(entry_bytes(entry))
    for rel, data in (files or {}).items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    rederive(repo)
    if commit:
        push(repo, f"{kind} {json.dumps(body, sort_keys=True)[:60]}")
    return entry
