"""Opening a registry: fetch it, check it is one this crmctl can read, replay its log, check remembered history.

A client remembers the last head it verified or wrote (`$XDG_STATE_HOME/crmctl/registries/<id>.json`, or
`$CRMCTL_STATE_DIR`) and refuses a registry whose log no longer has that head at that position.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.registry.log import entry_hash, entry_path
from crmctl.registry.problems import FORMAT, Problem
from crmctl.registry.store import Snapshot, Store, normalize_location

if TYPE_CHECKING:
    from crmctl.registry.trust import RegistryState

__all__ = ["MARKER", "HistoryError", "NotARegistryError", "Opened", "open_registry", "remember"]

MARKER = "crmctl-registry.json"


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


def state_root() -> Path:
    override = os.environ.get("CRMCTL_STATE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "crmctl" / "registries"


def read_marker(snapshot: Snapshot, location: str) -> dict[str, Any]:
    data = snapshot.read(MARKER)
    return parse_marker(data, location)


def parse_marker(data: bytes | None, location: str) -> dict[str, Any]:
    if data is None:
        raise NotARegistryError(f"{location}: not a crmctl registry (no {MARKER} on branch main)",
                                hint="create one with `crmctl registry init LOCATION`")  # fmt: skip
    try:
        marker = json.loads(data)
        version = int(marker["format"])
    except (ValueError, KeyError, TypeError):
        raise NotARegistryError(f"{location}: {MARKER} is not a registry marker") from None
    if version > FORMAT:
        raise NotARegistryError(f"{location}: registry format {version} was written by a newer crmctl; upgrade "
                                f"crmctl to read it (this one reads format {FORMAT})")  # fmt: skip
    return dict(marker)


def fetch(location: str, *, tags: bool = True) -> tuple[Store, str]:
    store = Store(normalize_location(location))
    head = store.refresh(tags=tags)
    if head is None:
        raise NotARegistryError(f"{store.location}: not a crmctl registry (no branch main)",
                                hint="create one with `crmctl registry init LOCATION`")  # fmt: skip
    return store, head


def open_registry(location: str, *, strict: bool = True) -> Opened:
    """Fetch and replay the registry. `strict` refuses a broken log or rewritten history (every command but verify)."""
    from crmctl.registry.trust import replay

    store, head = fetch(location)
    snapshot = store.snapshot(head)
    read_marker(snapshot, store.location)
    paths = [f"log/{name}" for name in snapshot.files_under("log")]
    data = snapshot.read_many(paths)
    state = replay([(path, data[path]) for path in paths])
    if state.registry_id is None:
        raise NotARegistryError(f"{store.location}: the registry has no log (log/00000001.json is missing)")
    history = check_history(store.location, state.registry_id, snapshot)
    if strict:
        if history is not None:
            raise HistoryError(f"{store.location}: {history.message}",
                               hint="someone rewrote the registry's history; run `crmctl registry verify`")  # fmt: skip
        broken = [p for p in state.problems if p.code in ("REG101", "REG102", "REG103", "REG104", "REG105")]
        if broken:
            raise UserError(f"{store.location}: the registry's log is damaged ({broken[0].subject}: "
                            f"{broken[0].message})", hint="run `crmctl registry verify` for every problem")  # fmt: skip
    if strict and not state.problems:
        _save_checked_state(store, snapshot, state)
    return Opened(store, head, snapshot, state, history)


def _save_checked_state(store: Store, snapshot: Snapshot, state: RegistryState) -> None:
    """Keep what this replay established for `resolve`, when the derived index.json agrees with it."""
    from crmctl.registry import statecache

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


def check_history(location: str, registry_id: str, snapshot: Snapshot) -> Problem | None:
    memory, previous_id = remembered(location, registry_id)
    if previous_id is not None and previous_id != registry_id:
        return Problem("REG501", f"this location held registry {previous_id[:19]}..., now {registry_id[:19]}...: "
                                 "its whole history was replaced", "log")  # fmt: skip
    if memory is None:
        return None
    seq, head = memory.get("seq"), memory.get("head")
    if not isinstance(seq, int) or not isinstance(head, str):
        return None
    data = snapshot.read(entry_path(seq))
    if data is None or entry_hash(data) != head:
        return Problem("REG501", f"the log no longer has the remembered head {head[:19]}... at entry {seq} "
                                 "(history rewritten or rolled back)", entry_path(seq))  # fmt: skip
    return None


def remember(location: str, registry_id: str, seq: int, head: str) -> None:
    """Record a head this client verified or wrote; best effort (an unwritable state dir only loses memory)."""
    try:
        root = state_root()
        (root / "locations").mkdir(parents=True, exist_ok=True)
        _memory_path(registry_id).write_text(
            json.dumps({"registry": registry_id, "seq": seq, "head": head, "location": location}, indent=2) + "\n",
            encoding="utf-8",
        )
        _location_path(location).write_text(json.dumps({"registry": registry_id}) + "\n", encoding="utf-8")
    except OSError:
        pass
