"""One registry change = one log entry + the derived files (+ a version's files and tag), pushed atomically.

`write_change` retries on a rejected push: it fetches the new head, lets the caller rebuild the change (gates
re-checked against the new state) and tries again, up to `RETRIES` times.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.registry.log import CLOCK_SKEW, entry_bytes, entry_path, format_time, make_entry, parse_time
from crmctl.registry.opening import MARKER, Opened, open_registry, remember
from crmctl.registry.store import ConflictError
from crmctl.registry.trust import FORMAT, Problem, RegistryState, apply_entry

if TYPE_CHECKING:
    from crmctl.signing import SigningKey

__all__ = [
    "RETRIES",
    "Change",
    "Refused",
    "WriteResult",
    "derived_files",
    "entry_time",
    "marker_bytes",
    "write_change",
]

RETRIES = 3


class Refused(UserError):
    """A gate refused the change: exit 1 with every problem listed."""

    exit_code = 1

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass
class Change:
    """What the caller wants written, built against one opened registry (None = nothing to do)."""

    kind: str
    body: dict[str, Any]
    files: dict[str, bytes]
    message: str
    tag: str | None = None
    # Directories this change writes from nothing: their content afterwards is exactly `files` below them.
    fresh: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    status: str  # "written" or "unchanged"
    seq: int
    head: str
    commit: str
    entry: dict[str, Any] | None
    message: str


def marker_bytes(registry_id: str, registry_format: int = FORMAT) -> bytes:
    """`crmctl-registry.json`: the registry's id and format (1 until an entry of format 2 is written to it)."""
    return (json.dumps({"format": registry_format, "registry": registry_id}, indent=2, sort_keys=True) + "\n").encode()


def derived_files(state: RegistryState) -> dict[str, bytes]:
    """The files every change rewrites from the log; the marker too, so a format-1 registry's first format-2
    entry raises its format (a crmctl that reads format 1 only then says to upgrade, instead of misreading it)."""
    files = {"index.json": state.index_bytes(), "trust/allowed_signers": state.allowed_signers()}
    if state.registry_id is not None:
        files[MARKER] = marker_bytes(state.registry_id, state.format)
    return files


def signer_identity(state: RegistryState, key: SigningKey) -> str:
    signer = state.active(key.fingerprint())
    if signer is None:
        known = "was removed from" if key.fingerprint() in state.signers else "is not a signer of"
        raise Refused(
            f"key {key.fingerprint()} {known} this registry",
            [Problem("REG105", f"key {key.fingerprint()} {known} this registry", "signer")],
        )
    return signer.identity


def entry_time(state: RegistryState, now: datetime) -> datetime:
    """The time of the next entry: the clock, or the last entry's time when that is later (by at most CLOCK_SKEW).

    Entry times never decrease along the log, and the machines that write a registry never share one clock: a
    publisher whose clock runs a minute behind the previous one's dates its entry as the previous entry. A last
    entry further ahead than the allowed skew is refused: this clock is wrong, or that entry is (`verify` says).
    """
    last = parse_time(state.last_time) if state.last_time is not None else None
    if last is None or last <= now:
        return now
    if last - now > CLOCK_SKEW:
        raise UserError(
            f"the registry's last entry is dated {state.last_time}, more than "
            f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes after this machine's clock "
            f"({format_time(now)})",
            hint="check this machine's clock; if it is right, run "
            "`crmctl registry verify`, which reports entries dated in the future",
        )
    return last


def write_change(
    location: str, key: SigningKey, now: datetime, build: Callable[[Opened], Change | WriteResult]
) -> WriteResult:
    """Open, build, append and push; on a lost race re-open and rebuild (gates re-checked), up to RETRIES times."""
    last_head = ""
    for _attempt in range(RETRIES + 1):
        opened = open_registry(location)
        planned = build(opened)
        if isinstance(planned, WriteResult):
            return planned
        state = opened.state
        identity = signer_identity(state, key)
        when = entry_time(state, now)
        entry = make_entry(state.seq + 1, state.head, planned.kind, planned.body, identity=identity, key=key, now=when)
        refusal = apply_entry(state, entry)
        if refusal is not None:
            raise Refused(refusal[1], [Problem(refusal[0], refusal[1], planned.body.get("name", "signer"))])
        files = {**planned.files, entry_path(state.seq): entry_bytes(entry), **derived_files(state)}
        stamp = format_time(when)
        commit = opened.store.write_commit(
            opened.commit, files, message=planned.message, identity=identity, when=stamp, fresh=planned.fresh
        )
        try:
            opened.store.push(commit, tag=planned.tag, tag_message=planned.message, identity=identity, when=stamp)
        except ConflictError:
            last_head = opened.store.refresh() or ""
            continue
        assert state.head is not None
        remember(opened.store.location, opened.registry_id, state.seq, state.head)
        return WriteResult("written", state.seq, state.head, commit, entry, planned.message)
    raise ConflictError(
        f"{location}: the registry kept changing while writing (now at commit {last_head[:12]}); "
        f"tried {RETRIES + 1} times",
        hint="run the command again",
    )


def unchanged(opened: Opened, message: str) -> WriteResult:
    state = opened.state
    return WriteResult("unchanged", state.seq, state.head or "", opened.commit, None, message)


def genesis_files(entry: dict[str, Any], state: RegistryState) -> dict[str, bytes]:
    assert state.registry_id is not None
    return {entry_path(1): entry_bytes(entry), **derived_files(state)}
