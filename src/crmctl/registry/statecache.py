"""What this client learned from a registry it replayed and checked, keyed by the git id of the `log/` tree.

`resolve` must answer in well under a tenth of a second, yet never from anything an attacker with write access
could edit (`index.json` is derived and unsigned). So after a full, strict replay (hash chain, signatures, rights)
the client stores the versions and channels it computed, together with the object id of the log tree it read.
Git ids are content hashes: while the remote's `log/` tree has the same id, every entry is byte-identical to the
ones checked, and the stored answer is the log's answer. Any change to the log (an append, or any tampering)
changes the id, and the next reader replays again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmctl.registry.trust import RegistryState

__all__ = ["load", "save", "state_root"]


def state_root() -> Path:
    """The directory where this machine remembers registries (heads seen, checked states): `CRMCTL_STATE_DIR`, or
    `$XDG_STATE_HOME/crmctl/registries` (default `~/.local/state/crmctl/registries`)."""
    override = os.environ.get("CRMCTL_STATE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "crmctl" / "registries"


def _path(location: str) -> Path:
    return state_root() / "replayed" / f"{hashlib.sha256(location.encode()).hexdigest()[:16]}.json"


def save(location: str, log_tree: str, index_blob: str, state: RegistryState) -> None:
    """Record the checked state; best effort (an unwritable state dir only costs the next reader a replay).

    `index_blob` is the id of an `index.json` whose bytes were found equal to what the log derives.
    """
    body = {
        "location": location,
        "log_tree": log_tree,
        "index_blob": index_blob,
        "registry": state.registry_id,
        "seq": state.seq,
        "head": state.head,
        "packages": {name: {v: ver.digest for v, ver in versions.items()} for name, versions in state.packages.items()},
        "channels": state.channels,
    }
    from crmctl.model.files import write_atomic

    path = _path(location)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(body, sort_keys=True) + "\n")
    except OSError:
        pass


def load(location: str, log_tree: str) -> dict[str, Any] | None:
    """The stored state if it was computed from exactly this log tree, else None (the caller still checks the
    remembered head, which may be newer than this state, and the index blob)."""
    try:
        body = json.loads(_path(location).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("log_tree") != log_tree or body.get("location") != location:
        return None
    shapes = {"registry": str, "seq": int, "head": str, "index_blob": str, "packages": dict, "channels": dict}
    if not all(isinstance(body.get(key), kind) for key, kind in shapes.items()):
        return None  # damaged: only costs a replay
    return body
