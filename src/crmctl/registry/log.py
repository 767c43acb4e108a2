"""The registry's log: append-only, hash-chained, signed entries, one file `log/<seq>.json` each."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmctl.signing import SigningKey

__all__ = [
    "ENTRY_TYPES",
    "entry_bytes",
    "entry_hash",
    "entry_path",
    "format_time",
    "make_entry",
    "signed_bytes",
]

ENTRY_TYPES = ("init", "signer-add", "signer-remove", "publish", "promote")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_bytes(entry: dict[str, Any]) -> bytes:
    """The bytes of `log/<seq>.json`: canonical JSON and a newline."""
    return (canonical_json(entry) + "\n").encode("utf-8")


def signed_bytes(entry: dict[str, Any]) -> bytes:
    """What the entry's signature covers: its canonical JSON without `signature` (and without a newline)."""
    return canonical_json({k: v for k, v in entry.items() if k != "signature"}).encode("utf-8")


def entry_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry_path(seq: int) -> str:
    return f"log/{seq:08d}.json"


def format_time(now: datetime) -> str:
    """UTC, whole seconds, `Z` suffix: `2026-11-26T09:30:00Z`."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_entry(seq: int, prev: str | None, kind: str, body: dict[str, Any], *, identity: str, key: SigningKey,
               now: datetime) -> dict[str, Any]:  # fmt: skip
    from crmctl.signing import NAMESPACE_LOG

    entry: dict[str, Any] = {
        "seq": seq, "prev": prev, "type": kind, "time": format_time(now),
        "signer": {"identity": identity, "key": key.fingerprint()}, "body": body,
    }  # fmt: skip
    entry["signature"] = key.sign(signed_bytes(entry), NAMESPACE_LOG)
    return entry
