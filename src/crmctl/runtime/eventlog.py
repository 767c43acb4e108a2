"""Hash-chained event log: canonical JSON entries, each naming the hash of the one before it.

An entry is a JSON object with three chain keys besides its body: `seq` (1, 2, 3, ... per chain), `prev` (the
previous entry's `hash`, `GENESIS` for the first) and `hash` ("sha256:" + the sha256 of the entry's canonical JSON
without `hash`). Editing, deleting, inserting or reordering an entry breaks a hash, a link or the sequence, so
`verify_chain` finds it; truncating the end is found only against a head remembered elsewhere (`expected_head`).

Entries carrying a `tenant` key form one chain per tenant; `verify_chain` follows each chain separately, so an
export of several tenants verifies as it is. The module is pure: no clock, no files, no database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHAIN_CODES",
    "CHAIN_KEYS",
    "GENESIS",
    "ChainProblem",
    "dumps",
    "entry_hash",
    "link",
    "value_hash",
    "verify_chain",
]

GENESIS = "sha256:" + "0" * 64
CHAIN_KEYS = frozenset({"seq", "prev", "hash"})


def dumps(value: Any) -> str:
    """Canonical JSON: keys sorted, no whitespace, UTF-8 text, numbers in their shortest round-trip form, as
    orjson writes them (four times faster than the json module: every logged event and record is encoded).
    NaN and infinities have no JSON form and are refused (orjson would write null, so text containing null is
    checked); so are integers beyond 64 bits."""
    import orjson

    try:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:  # orjson.JSONEncodeError: a non-JSON type, a 65-bit integer, a non-string key
        raise ValueError(f"no canonical JSON for this value: {exc}") from None
    if b"null" in data and not _finite(value):
        raise ValueError("NaN and infinities have no JSON form")
    return data.decode("utf-8")


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return value - value == 0.0
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def value_hash(value: Any) -> str:
    """ "sha256:" + hex digest of a value's canonical JSON (`dumps`): a log entry records its effects' hash."""
    return "sha256:" + hashlib.sha256(dumps(value).encode("utf-8")).hexdigest()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash an entry must carry: sha256 over its canonical JSON with the `hash` key left out."""
    content = {key: value for key, value in entry.items() if key != "hash"}
    return "sha256:" + hashlib.sha256(dumps(content).encode("utf-8")).hexdigest()


def link(body: Mapping[str, Any], seq: int, prev: str) -> dict[str, Any]:
    """Chain `body` as entry number `seq` after the entry whose hash is `prev`."""
    clash = CHAIN_KEYS.intersection(body)
    if clash:
        raise ValueError(f"event body must not contain the chain keys {sorted(clash)}")
    entry: dict[str, Any] = {**body, "seq": seq, "prev": prev}
    entry["hash"] = entry_hash(entry)
    return entry


# code -> what the problem means (`crmctl explain LOG001`; `verify_chain` reports them)
CHAIN_CODES: dict[str, str] = {
    "LOG001": "an entry's hash does not match its content: the entry was edited",
    "LOG002": "`prev` is not the previous entry's hash: an entry was inserted, deleted or reordered",
    "LOG003": "`seq` skips (an entry deleted) or repeats or decreases (an entry inserted or reordered)",
    "LOG004": "the chain does not end at the expected head: entries removed from the end, or appended",
    "LOG005": "an entry that is not an object with an integer `seq` and string `prev` and `hash`, or not canonical",
}


@dataclass(frozen=True)
class ChainProblem:
    """One way the log is not what was written: `position` is the 0-based index in the entries given."""

    seq: int | None
    position: int
    code: str
    message: str


@dataclass
class _Tail:
    seq: int
    hash: str
    position: int


def verify_chain(
    entries: Iterable[Mapping[str, Any]], *, expected_head: str | Mapping[str, str] | None = None
) -> list[ChainProblem]:
    """Check every chain in `entries` (in order) and return its problems in order; empty means intact.

    Codes: LOG001 an entry's hash does not match its content (edited); LOG002 `prev` is not the previous
    entry's hash (inserted, deleted or reordered); LOG003 `seq` skips (deleted) or repeats/decreases (inserted,
    reordered); LOG004 the chain does not end at `expected_head` (truncated, or entries appended); LOG005 an
    entry that is not an object with integer `seq` and string `prev`/`hash`. After a problem the check resumes
    from the offending entry, so one tampering yields one or two problems rather than one per later entry.

    `expected_head` is the hash the last entry must have (one chain), or a mapping tenant → last hash when
    `entries` hold several tenants (a tenant named there but absent from `entries` is reported as truncated).
    """
    problems: list[ChainProblem] = []
    tails: dict[Any, _Tail] = {}
    last: _Tail | None = None
    position = -1
    for position, entry in enumerate(entries):
        problem = _malformed(entry, position)
        if problem is not None:
            problems.append(problem)
            continue
        seq, prev, stated = entry["seq"], entry["prev"], entry["hash"]
        tenant = entry.get("tenant")
        where = f"{_chain(tenant)}entry seq {seq}"
        actual = _hash_or_none(entry)
        if actual is None:
            problems.append(ChainProblem(seq, position, "LOG005", f"{where} is not canonical JSON"))
        elif actual != stated:
            message = f"{where} was edited: its content hashes to {actual}, not {stated}"
            problems.append(ChainProblem(seq, position, "LOG001", message))
        tail = tails.get(tenant)
        want_seq, want_prev = (1, GENESIS) if tail is None else (tail.seq + 1, tail.hash)
        if seq != want_seq:
            what = "skips" if seq > want_seq else "repeats or goes back"
            message = f"{where}: the sequence {what} (expected seq {want_seq}; entries deleted, inserted or reordered)"
            problems.append(ChainProblem(seq, position, "LOG003", message))
        if prev != want_prev:
            message = f"{where} does not link to the entry before it (entries inserted, deleted or reordered)"
            problems.append(ChainProblem(seq, position, "LOG002", message))
        tails[tenant] = last = _Tail(seq, stated, position)
    problems.extend(_head_problems(tails, last, expected_head, position + 1))
    return problems


def _malformed(entry: object, position: int) -> ChainProblem | None:
    if not isinstance(entry, Mapping):
        return ChainProblem(None, position, "LOG005", f"entry at position {position} is not a JSON object")
    seq = entry.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        return ChainProblem(None, position, "LOG005", f"entry at position {position} has no integer seq")
    missing = [key for key in ("prev", "hash") if not isinstance(entry.get(key), str)]
    if missing:
        return ChainProblem(seq, position, "LOG005", f"entry seq {seq} has no string {' or '.join(missing)}")
    return None


def _hash_or_none(entry: Mapping[str, Any]) -> str | None:
    try:
        return entry_hash(entry)
    except (TypeError, ValueError):
        return None


def _chain(tenant: object) -> str:
    return "" if tenant is None else f"tenant {tenant}: "


def _head_problems(
    tails: dict[Any, _Tail], last: _Tail | None, expected_head: str | Mapping[str, str] | None, length: int
) -> list[ChainProblem]:
    if expected_head is None:
        return []
    ends: list[tuple[object, _Tail | None, str]]
    if isinstance(expected_head, str):
        ends = [(None, last, expected_head)]
    else:
        ends = [(tenant, tails.get(tenant), head) for tenant, head in expected_head.items()]
    problems = []
    for tenant, tail, head in ends:
        if tail is None:
            message = f"{_chain(tenant)}the log is empty but should end at {head} (truncated)"
            problems.append(ChainProblem(None, length, "LOG004", message))
        elif tail.hash != head:
            message = (
                f"{_chain(tenant)}the log ends at seq {tail.seq} ({tail.hash}), not at the expected head "
                f"{head} (entries removed from the end, or appended)"
            )
            problems.append(ChainProblem(tail.seq, tail.position, "LOG004", message))
    return problems
