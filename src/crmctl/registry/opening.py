"""Opening a registry: fetch it, check it is one this crmctl can read, replay its log, check remembered history.

A client remembers the last head it read, verified or wrote (`$XDG_STATE_HOME/crmctl/registries/<id>.json`, or
`$CRMCTL_STATE_DIR`) and refuses a registry whose log no longer has that head at that position: every command
that reads the registry checks the head first and then remembers the newer one, so a client that once saw an
entry cannot later be shown a history without it (rolled back) or with another entry in its place (forked).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.files import write_atomic
from crmctl.registry import statecache
from crmctl.registry.log import entry_hash, entry_path
from crmctl.registry.names import shown
from crmctl.registry.problems import FORMAT, Problem
from crmctl.registry.statecache import state_root
from crmctl.registry.store import Snapshot, Store, normalize_location

if TYPE_CHECKING:
    from crmctl.registry.trust import RegistryState

__all__ = [
    "MARKER",
    "HistoryError",
    "NotARegistryError",
    "Opened",
    "entry_files",
    "open_registry",
    "remember",
    "remembered_entry",
]

MARKER = "crmctl-registry.json"
_ENTRY_NAME = re.compile(r"[0-9]{8}\.json")


class NotARegistryError(UserError):
    """The location holds no registry, or one this crmctl cannot read."""


class HistoryError(UserError):
    """The registry's log no longer contains the head this client remembers."""


@dataclass
class Opened:
    store: Store
    commit: str
    snapshot: Snapshot
    state: RegistryState
    history: Problem | None

    @property
    def registry_id(self) -> str:
        assert self.state.registry_id is not None
        return self.state.registry_id


def read_marker(snapshot: Snapshot, location: str) -> dict[str, Any]:
    data = snapshot.read(MARKER)
    return parse_marker(data, location)


def parse_marker(data: bytes | None, location: str) -> dict[str, Any]:
    if data is None:
        raise NotARegistryError(
            f"{location}: not a crmctl registry (no {MARKER} on branch main)",
            hint="create one with `crmctl registry init LOCATION`",
        )
    try:
        marker = json.loads(data)
        version = int(marker["format"])
    except (ValueError, KeyError, TypeError):
        raise NotARegistryError(f"{location}: {MARKER} is not a registry marker") from None
    if version > FORMAT:
        raise NotARegistryError(
            f"{location}: registry format {version} was written by a newer crmctl; upgrade "
            f"crmctl to read it (this one reads format {FORMAT})"
        )
    return dict(marker)


def fetch(location: str, *, tags: bool = True) -> tuple[Store, str]:
    store = Store(normalize_location(location))
    head = store.refresh(tags=tags)
    if head is None:
        raise NotARegistryError(
            f"{store.location}: not a crmctl registry (no branch main)",
            hint="create one with `crmctl registry init LOCATION`",
        )
    return store, head


def open_registry(location: str, *, strict: bool = True) -> Opened:
    """Fetch and replay the registry. `strict` refuses a broken log or rewritten history (every command but verify)."""
    from crmctl.registry.trust import replay

    store, head = fetch(location)
    snapshot = store.snapshot(head)
    read_marker(snapshot, store.location)
    paths = entry_files(snapshot)
    data = snapshot.read_many(paths)
    state = replay([(path, data[path]) for path in paths])
    if state.registry_id is None:
        raise NotARegistryError(f"{store.location}: the registry has no log (log/00000001.json is missing)")
    history = check_history(store.location, state.registry_id, snapshot)
    if strict:
        if history is not None:
            raise HistoryError(
                f"{store.location}: {history.message}",
                hint="someone rewrote the registry's history; run `crmctl registry verify`",
            )
        broken = [p for p in state.problems if p.code in ("REG101", "REG102", "REG103", "REG104", "REG105")]
        if broken:
            raise UserError(
                f"{store.location}: the registry's log is damaged ({broken[0].subject}: {broken[0].message})",
                hint="run `crmctl registry verify` for every problem",
            )
    if strict:
        assert state.head is not None
        advance(store.location, state.registry_id, state.seq, state.head)
        # What is left in state.problems are signed entries the replay refused and did not apply: the state is
        # the log's answer all the same, so `resolve` may reuse it.
        _save_checked_state(store, snapshot, state)
    return Opened(store, head, snapshot, state, history)


def entry_files(snapshot: Snapshot) -> list[str]:
    """The log's entry files (`log/<8 digits>.json`), in order; anything else in `log/` is not an entry."""
    return [f"log/{name}" for name in snapshot.files_under("log") if _ENTRY_NAME.fullmatch(name)]


def _save_checked_state(store: Store, snapshot: Snapshot, state: RegistryState) -> None:
    """Keep what this replay established for `resolve`, when the derived index.json agrees with it."""

    ids = store.object_ids(snapshot.commit, "log", "index.json")
    if "log" in ids and "index.json" in ids and snapshot.read("index.json") == state.index_bytes():
        statecache.save(store.location, ids["log"], ids["index.json"], state)


def _memory_path(registry_id: str) -> Path:
    return state_root() / f"{registry_id.removeprefix('sha256:')[:32]}.json"


def _location_path(location: str) -> Path:
    return state_root() / "locations" / f"{hashlib.sha256(location.encode()).hexdigest()[:16]}.json"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def remembered(location: str, registry_id: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(the remembered head of this registry, the registry id this location had before)."""
    by_location = _load(_location_path(location))
    previous_id = by_location.get("registry") if by_location else None
    memory = _load(_memory_path(registry_id)) if registry_id else None
    return memory, previous_id if isinstance(previous_id, str) else None


def remembered_entry(location: str, registry_id: str) -> list[str]:
    """The log file `check_history` will read (none when this client remembers no head), so that a caller can
    fetch it in the same `cat-file` round trip as other files."""
    memory, _ = remembered(location, registry_id)
    seq = memory.get("seq") if memory is not None else None
    return [entry_path(seq)] if type(seq) is int and seq > 0 else []


def check_history(location: str, registry_id: str, snapshot: Snapshot) -> Problem | None:
    memory, previous_id = remembered(location, registry_id)
    if previous_id is not None and previous_id != registry_id:
        return Problem(
            "REG501",
            f"this location held registry {previous_id[:19]}..., now {registry_id[:19]}...: "
            "its whole history was replaced",
            "log",
        )
    if memory is None:
        return None
    seq, head = memory.get("seq"), memory.get("head")
    if not isinstance(seq, int) or not isinstance(head, str):
        return None
    data = snapshot.read(entry_path(seq))
    if data is None or entry_hash(data) != head:
        where = memory.get("location")  # the memory is per registry: another location of it may be ahead
        behind = ""
        if data is None and isinstance(where, str) and where != location:
            behind = f"; this client read entry {seq} at {shown(where)}, and a location behind another is refused"
        return Problem(
            "REG501",
            f"the log no longer has the remembered head {head[:19]}... at entry {seq} "
            f"(history rewritten or rolled back{behind})",
            entry_path(seq),
        )
    return None


def remember(location: str, registry_id: str, seq: int, head: str) -> None:
    """Record a head this client read, verified or wrote; best effort (an unwritable state dir only loses memory).

    Each file is replaced whole (a temporary file renamed over it), so a concurrent reader never sees half of one.
    """
    body = {"registry": registry_id, "seq": seq, "head": head, "location": location}
    try:
        (state_root() / "locations").mkdir(parents=True, exist_ok=True)
        write_atomic(_memory_path(registry_id), json.dumps(body, indent=2) + "\n")
        write_atomic(_location_path(location), json.dumps({"registry": registry_id}) + "\n")
    except OSError:
        pass


def advance(location: str, registry_id: str, seq: int, head: str) -> None:
    """Remember `head` unless this client already remembers it (or a later one) for this location.

    Called after `check_history` accepted the registry, so the remembered head is an entry of this log and `seq` is
    at least its position. Writes nothing in the common case: `resolve` stays fast.
    """
    memory, previous_id = remembered(location, registry_id)
    current = memory is not None and memory.get("head") == head
    later = memory is not None and isinstance(memory.get("seq"), int) and memory["seq"] > seq
    if previous_id != registry_id or not (current or later):
        remember(location, registry_id, seq, head)
