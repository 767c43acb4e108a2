"""Reading a registry: resolve, list, show, log, and a published version as a `FileTree` for `diff`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError, UserError
from crmctl.registry.log import entry_path
from crmctl.registry.names import check_channel, check_name, check_version, version_key
from crmctl.registry.opening import (
    MARKER,
    HistoryError,
    advance,
    check_history,
    fetch,
    open_registry,
    parse_marker,
    remembered_entry,
)

if TYPE_CHECKING:
    from crmctl.model.tree import FileTree
    from crmctl.registry.trust import Version

__all__ = ["Resolved", "list_packages", "log_entries", "open_version_tree", "resolve", "show"]


class NotPublishedError(UserError):
    """No such package, version or channel in the registry."""


@dataclass(frozen=True)
class Resolved:
    name: str
    version: str
    digest: str
    channel: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "digest": self.digest, "channel": self.channel}


def resolve(location: str, name: str, *, channel: str | None = None, version: str | None = None) -> Resolved:
    """The version a channel points at, an exact version, or the latest — always the log's answer.

    Fast path: the state this client computed by replaying and checking the log, reused while the remote's
    `log/` tree is byte-identical (same git id) to the one it checked; otherwise a full, strict replay.
    """
    from crmctl.registry import statecache

    check_name(name)
    if channel is not None:
        check_channel(channel)
    if version is not None:
        check_version(version)
    store, head = fetch(location, tags=False)
    snapshot = store.snapshot(head)
    ids = store.object_ids(head, "log", "index.json")
    known = statecache.load(store.location, ids["log"]) if "log" in ids else None
    # The marker and the entry at the remembered head, in one `cat-file` (each git process costs milliseconds).
    snapshot.read_many([MARKER, *(remembered_entry(store.location, known["registry"]) if known else [])])
    parse_marker(snapshot.read(MARKER), store.location)
    if known is not None:
        history = check_history(store.location, known["registry"], snapshot)
        if history is not None:
            raise HistoryError(f"{store.location}: {history.message}", hint="run `crmctl registry verify`")
        advance(store.location, known["registry"], known["seq"], known["head"])
        if known.get("index_blob") != ids.get("index.json"):
            raise InputError(
                f"{store.location}: index.json does not match the log (corrupted index)",
                hint="run `crmctl registry verify`",
            )
        versions = dict(known["packages"].get(name, {}))
        channels = dict(known["channels"].get(name, {}))
    else:
        opened = open_registry(location)
        if opened.snapshot.read("index.json") != opened.state.index_bytes():
            raise InputError(
                f"{store.location}: index.json does not match the log (corrupted index)",
                hint="run `crmctl registry verify`",
            )
        versions = {v: ver.digest for v, ver in opened.state.packages.get(name, {}).items()}
        channels = opened.state.channels.get(name, {})
    if not versions:
        raise NotPublishedError(f"{name}: not published in {store.location}")
    if channel is not None:
        chosen = channels.get(channel)
        if chosen is None:
            raise NotPublishedError(f"{name}: no channel {channel!r}")
    elif version is not None:
        chosen = version
    else:
        chosen = max(versions, key=version_key)
    if chosen not in versions:
        raise NotPublishedError(f"{name}@{chosen}: not published in {store.location}")
    return Resolved(name, chosen, str(versions[chosen]), channel)


def _index(data: bytes | None, location: str) -> dict[str, Any]:
    try:
        index = json.loads(data or b"")
    except ValueError:
        index = None
    if not isinstance(index, dict):
        raise InputError(
            f"{location}: index.json is missing or not JSON (corrupted index)", hint="run `crmctl registry verify`"
        )
    return index


def _pick(state_versions: dict[str, Version], channels: dict[str, str], name: str, ref: str | None) -> Version:
    if not state_versions:
        raise NotPublishedError(f"{name}: not published in this registry")
    if ref is None:
        return state_versions[max(state_versions, key=version_key)]
    if ref in state_versions:
        return state_versions[ref]
    if ref in channels:
        return state_versions[channels[ref]]
    if ref[:1].isdigit():
        check_version(ref)
        raise NotPublishedError(f"{name}@{ref}: not published in this registry")
    check_channel(ref)
    raise NotPublishedError(f"{name}: no channel {ref!r} (channels: {', '.join(sorted(channels)) or 'none'})")


def open_version_tree(location: str, name: str, ref: str | None) -> FileTree:
    """A published version (`ref` = a version or a channel) as a FileTree; its artifacts must match the log."""
    check_name(name)
    opened = open_registry(location)
    state = opened.state
    version = _pick(state.packages.get(name, {}), state.channels.get(name, {}), name, ref)
    from crmctl.registry.versions import load_version, version_tree

    load_version(opened.snapshot, version)
    return version_tree(opened.snapshot, version)


def list_packages(location: str) -> list[dict[str, Any]]:
    state = open_registry(location).state
    index = state.index()["packages"]
    return [
        {"name": name, **{k: v for k, v in info.items() if k != "versions"}, "versions": list(info["versions"])}
        for name, info in index.items()
    ]


def show(location: str, spec: str) -> dict[str, Any]:
    """A package (every version, channels) or one version (digest, signer, provenance, channels naming it, and
    the answer to its data-dependent changes when it had any)."""
    name, _, ref = spec.partition("@")
    check_name(name)
    # A bad version or channel is refused before the registry is read, like every other name.
    if ref[:1].isdigit():
        check_version(ref)
    elif ref:
        check_channel(ref)
    state = open_registry(location).state
    versions = state.packages.get(name)
    if not versions:
        raise NotPublishedError(f"{name}: not published in this registry")
    channels = state.channels.get(name, {})
    if not ref:
        return {"name": name, **state.index()["packages"][name]}
    version = _pick(versions, channels, name, ref)
    shown = {
        "name": name,
        "version": version.version,
        "scope": version.scope,
        "digest": version.digest,
        "path": version.path,
        "tag": version.tag,
        "seq": version.seq,
        "time": version.time,
        "signer": version.signer,
        "provenance": version.provenance,
        "channels": sorted(c for c, v in channels.items() if v == version.version),
    }
    answered = state.entries[version.seq - 1]["body"].get("data_dependent")  # who accepted what, when it applies
    if answered is not None:
        shown["data_dependent"] = answered
    return shown


def log_entries(location: str) -> list[dict[str, Any]]:
    """Every log entry, oldest first, without the armored signatures (who, what, when), each with `problem`: null,
    or why the replay did not apply it (a signed entry refused for its content stays in the log forever)."""
    state = open_registry(location).state
    refused = {p.subject: {"code": p.code, "message": p.message} for p in state.problems}
    shown = zip(state.entries, state.hashes, strict=False)
    return [
        {k: v for k, v in entry.items() if k != "signature"} | {"hash": h, "problem": refused.get(entry_path(n))}
        for n, (entry, h) in enumerate(shown, start=1)
    ]
