"""The registry's log: append-only, hash-chained, signed entries, one file `log/<seq>.json` each.

An entry's canonical JSON depends on its format (docs/formats.md): an entry with `"format": 2` (what crmctl
writes now) is RFC 8785 (JCS), which any stock JCS library recomputes; an entry without `format` (format 1,
written before) is Python's `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`. For every
entry crmctl accepts (ASCII keys, integers below 2^53, no floats) the two give the same bytes; the entry says
which one it promises, so a verifier never guesses.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmctl.signing import SigningKey

__all__ = [
    "CLOCK_SKEW",
    "ENTRY_FORMAT",
    "canonical_json",
    "entry_bytes",
    "entry_format",
    "entry_hash",
    "entry_path",
    "exact_fields",
    "format_time",
    "make_entry",
    "parse_time",
    "signed_bytes",
    "text",
]

# How far an entry's time may lie ahead of the clock of the machine that verifies or extends the log.
CLOCK_SKEW = timedelta(minutes=5)
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The format of the entries this crmctl writes: 2 = RFC 8785 canonical JSON, marked by the entry's `format` key.
ENTRY_FORMAT = 2


def canonical_json(value: Any) -> str:
    """The format-1 canonical JSON of a log entry (entries without a `format` key)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_format(entry: dict[str, Any]) -> int:
    """2 for an entry marked `"format": 2` (RFC 8785), else 1 (a value other than 2 is refused as REG106)."""
    value = entry.get("format")
    return 2 if type(value) is int and value == ENTRY_FORMAT else 1


def _canonical(entry: dict[str, Any]) -> bytes:
    """The entry's canonical JSON in the form its format names; ValueError for a value JCS cannot hold."""
    if entry_format(entry) == 1:
        return canonical_json(entry).encode("utf-8")
    from crmctl.model.canonical import jcs_dumps

    return jcs_dumps(entry)


def exact_fields(value: Any, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """`value` if it is an object with every `required` key and no key beyond `optional`, else ValueError.

    A format-1 log entry carries exactly the documented keys: a newer crmctl that needs another one raises the
    registry's format (which this one refuses to read), so an unknown key is never silently ignored.
    """
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object")
    missing = [key for key in required if key not in value]
    unknown = sorted(str(key)[:40] for key in value if key not in required and key not in optional)
    if missing or unknown:
        found = [f"lacks {', '.join(missing)}"] * bool(missing) + [f"has unknown keys {unknown[:3]}"] * bool(unknown)
        raise ValueError(f"{what} {' and '.join(found)}")
    return value


def text(value: Any, what: str) -> str:
    """`value` if it is a string, else ValueError (JSON gives numbers, lists and null just as easily)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {type(value).__name__}")
    return value


def entry_bytes(entry: dict[str, Any]) -> bytes:
    """The bytes of `log/<seq>.json`: canonical JSON (of the entry's format) and a newline."""
    return _canonical(entry) + b"\n"


def signed_bytes(entry: dict[str, Any]) -> bytes:
    """What the entry's signature covers: its canonical JSON without `signature` (and without a newline), in the
    form its `format` names (`format` itself is signed)."""
    return _canonical({k: v for k, v in entry.items() if k != "signature"})


def entry_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entry_path(seq: int) -> str:
    return f"log/{seq:08d}.json"


def format_time(now: datetime) -> str:
    """UTC, whole seconds, `Z` suffix: `2026-11-26T09:30:00Z`."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    moment = now.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"  # %Y is not zero-padded on every platform


def parse_time(text: str) -> datetime | None:
    """An entry's time (exactly `format_time`'s form, a real date and time) as an aware datetime, else None."""
    if _TIME.fullmatch(text) is None:
        return None
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # 2026-02-30, 25:00:00
        return None


def make_entry(
    seq: int, prev: str | None, kind: str, body: dict[str, Any], *, identity: str, key: SigningKey, now: datetime
) -> dict[str, Any]:
    from crmctl.signing import NAMESPACE_LOG

    entry: dict[str, Any] = {
        "format": ENTRY_FORMAT,
        "seq": seq,
        "prev": prev,
        "type": kind,
        "time": format_time(now),
        "signer": {"identity": identity, "key": key.fingerprint()},
        "body": body,
    }
    entry["signature"] = key.sign(signed_bytes(entry), NAMESPACE_LOG)
    return entry
