"""Registry changes other than publish: init, signer add/remove, promote."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crmctl.errors import UserError
from crmctl.registry.log import entry_bytes, entry_hash, format_time, make_entry
from crmctl.registry.names import check_channel, check_identity, check_name, check_scope, check_version, shown
from crmctl.registry.opening import MARKER, NotARegistryError, remember
from crmctl.registry.store import RemoteError, Store, is_local, normalize_location
from crmctl.registry.trust import FORMAT, RegistryState, apply_entry
from crmctl.registry.writing import Change, WriteResult, genesis_files, unchanged, write_change
from crmctl.signing import fingerprint

if TYPE_CHECKING:
    from crmctl.registry.opening import Opened
    from crmctl.signing import SigningKey

__all__ = ["add_signer", "init_registry", "promote", "remove_signer"]


def init_registry(location: str, key: SigningKey, identity: str, now: datetime) -> WriteResult:
    """Create the registry: a new bare repository at a local path that does not exist, or an empty remote."""
    check_identity(identity)
    normalized = normalize_location(location)
    local = _local_path(normalized)
    store = Store(normalized)  # first: it says so when git is missing
    if local is not None and not local.exists():
        result = subprocess.run(
            ["git", "init", "-q", "--bare", "-b", "main", str(local)], capture_output=True, check=False
        )
        if result.returncode != 0:
            raise RemoteError(f"{normalized}: cannot create the registry: {result.stderr.decode().strip()}")
    head = store.refresh()
    if head is not None:
        marker = store.snapshot(head).read(MARKER)
        if marker is not None:
            raise UserError(f"{normalized}: already a crmctl registry")
        raise NotARegistryError(
            f"{normalized}: the repository is not empty and not a registry; refusing to write into it",
            hint="use an empty repository or a new path",
        )
    if store.remote_has_refs():
        raise NotARegistryError(f"{normalized}: the repository has refs but no main branch; refusing to write")
    state = RegistryState()
    body = {"format": FORMAT, "admin": {"identity": identity, "public_key": key.public_key(), "scopes": ["*"]}}
    entry = make_entry(1, None, "init", body, identity=identity, key=key, now=now)
    refusal = apply_entry(state, entry)
    assert refusal is None, refusal
    when = format_time(now)
    message = f"init registry (admin {identity})"
    commit = store.write_commit(None, genesis_files(entry, state), message=message, identity=identity, when=when)
    store.push(commit, tag=None, tag_message="", identity=identity, when=when)
    head_hash = entry_hash(entry_bytes(entry))
    remember(normalized, head_hash, 1, head_hash)
    return WriteResult("written", 1, head_hash, commit, entry, f"initialized registry {head_hash}")


def _local_path(location: str) -> Path | None:
    """The directory of a local path or `file://` URL (which init may create), else None."""
    if is_local(location):
        return Path(location)
    if location.startswith("file://"):
        from urllib.parse import unquote, urlparse

        parsed = urlparse(location)
        return Path(unquote(parsed.path)) if parsed.netloc in ("", "localhost") else None
    return None


def add_signer(
    location: str, key: SigningKey, now: datetime, *, identity: str, public_key: str, scopes: list[str], admin: bool
) -> WriteResult:
    check_identity(identity)
    for scope in scopes:
        check_scope(scope)
    if not scopes:
        raise UserError("give at least one --scope (global, tenant:<id> or *)")
    line = " ".join(public_key.split()[:2])
    fingerprint(line)

    def plan(opened: Opened) -> Change:
        granted = sorted(set(scopes))
        body = {"identity": identity, "public_key": line, "scopes": granted, "admin": admin}
        return Change("signer-add", body, {}, f"signer add {identity} ({', '.join(granted)})")

    return write_change(location, key, now, plan)


def remove_signer(
    location: str, key: SigningKey, now: datetime, *, identity: str, reason: str = "", fingerprint: str | None = None
) -> WriteResult:
    """Remove one active key of `identity`: `fingerprint` names it, and must when the identity has several (a
    rotated key is added under the same identity, and either may be the one to revoke)."""
    check_identity(identity)

    def plan(opened: Opened) -> Change:
        keys = sorted(s.key for s in opened.state.signers.values() if s.identity == identity and s.removed is None)
        if not keys:
            raise UserError(f"{identity} is not an active signer of this registry")
        if fingerprint is not None and fingerprint not in keys:
            raise UserError(
                f"{shown(fingerprint)} is not an active key of {identity}", hint=f"its active keys: {', '.join(keys)}"
            )
        if fingerprint is None and len(keys) > 1:
            raise UserError(
                f"{identity} has {len(keys)} active keys: {', '.join(keys)}",
                hint="name the one to remove with --fingerprint SHA256:...",
            )
        body = {"identity": identity, "key": fingerprint or keys[0], "reason": reason}
        return Change("signer-remove", body, {}, f"signer remove {identity}")

    return write_change(location, key, now, plan)


def promote(location: str, key: SigningKey, now: datetime, *, name: str, version: str, channel: str) -> WriteResult:
    check_name(name)
    check_version(version)
    check_channel(channel)

    def plan(opened: Opened) -> Change | WriteResult:
        if version not in opened.state.packages.get(name, {}):
            raise UserError(f"{name}@{version} is not published in this registry")
        if opened.state.channels.get(name, {}).get(channel) == version:
            return unchanged(opened, f"{name} {channel} already points at {version}; nothing to do")
        body = {"name": name, "version": version, "channel": channel}
        return Change("promote", body, {}, f"promote {name} {version} to {channel}")

    return write_change(location, key, now, plan)
