"""Trust replayed from the log: who may sign what at each entry, and the derived files (index, allowed_signers).

`replay` walks the log once: it checks sequence numbers, hash links, signatures and each signer's rights at that
entry, applies the valid entries, and records a `Problem` for every entry it cannot accept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from crmctl.errors import InputError, UsageError
from crmctl.registry.log import (
    entry_bytes,
    entry_format,
    entry_hash,
    exact_fields,
    parse_time,
    signed_bytes,
    text,
)
from crmctl.registry.names import (
    case_collision,
    check_channel,
    check_identity,
    check_name,
    check_scope,
    check_version,
    version_key,
)
from crmctl.registry.problems import FORMAT, Problem
from crmctl.signing import NAMESPACE_LOG, NAMESPACE_PACKAGE, SignatureError, fingerprint, load_public_key, verify

__all__ = ["FORMAT", "Problem", "RegistryState", "Signer", "Version", "apply_entry", "authorize", "replay"]

# A package digest: `sha256:` (format-1 canonical JSON) or `jcs-sha256:` (RFC 8785), see model.canonical.
_DIGEST = re.compile(r"(?:jcs-)?sha256:[0-9a-f]{64}")


@dataclass
class Signer:
    identity: str
    public_key: str
    key: str
    scopes: tuple[str, ...]
    admin: bool
    added: str
    removed: str | None = None

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    def as_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "key": self.key,
            "public_key": self.public_key,
            "admin": self.admin,
            "scopes": list(self.scopes),
            "added": self.added,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class Version:
    name: str
    version: str
    scope: str
    digest: str
    path: str
    tag: str
    seq: int
    time: str
    signer: str
    provenance: dict[str, Any]


@dataclass
class RegistryState:
    """What the log says: signers, versions, channels, and where the log ends."""

    registry_id: str | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    signers: dict[str, Signer] = field(default_factory=dict)
    packages: dict[str, dict[str, Version]] = field(default_factory=dict)
    channels: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    last_time: str | None = None  # the time of the last entry applied: times never decrease along the log
    # The registry's format: 1, or 2 once an entry of format 2 (RFC 8785) was applied (marker and index say it).
    format: int = 1

    @property
    def seq(self) -> int:
        return len(self.hashes)

    @property
    def head(self) -> str | None:
        return self.hashes[-1] if self.hashes else None

    def active(self, key: str) -> Signer | None:
        signer = self.signers.get(key)
        return signer if signer is not None and signer.removed is None else None

    def latest(self, name: str) -> str | None:
        versions = self.packages.get(name, {})
        return max(versions, key=version_key) if versions else None

    def index(self) -> dict[str, Any]:
        """The content of `index.json`, derived from the log."""
        packages = {
            name: {
                "scope": next(iter(versions.values())).scope,
                "versions": {
                    v.version: {"digest": v.digest, "seq": v.seq, "time": v.time, "signer": v.signer}
                    for v in sorted(versions.values(), key=lambda v: version_key(v.version))
                },
                "latest": self.latest(name),
                "channels": dict(sorted(self.channels.get(name, {}).items())),
            }
            for name, versions in sorted(self.packages.items())
        }
        return {
            "format": self.format,
            "registry": self.registry_id,
            "log": {"seq": self.seq, "head": self.head},
            "packages": packages,
        }

    def index_bytes(self) -> bytes:
        return (json.dumps(self.index(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def allowed_signers(self) -> bytes:
        """ssh-keygen's allowed-signers file: every signer ever added; a removed one only until its removal."""
        lines = ["# Derived from the registry log by crmctl; see docs/registry.md. Do not edit."]
        for signer in sorted(self.signers.values(), key=lambda s: (s.identity, s.key)):
            options = f'namespaces="{NAMESPACE_PACKAGE},{NAMESPACE_LOG}"'
            if signer.removed is not None:
                stamp = signer.removed.replace("-", "").replace(":", "").replace("T", "")
                options += f',valid-before="{stamp}"'
            lines.append(f"{signer.identity} {options} {' '.join(signer.public_key.split()[:2])}")
        return ("\n".join(lines) + "\n").encode()


def replay(files: list[tuple[str, bytes | None]], *, verify_signatures: bool = True) -> RegistryState:
    """Replay the log files (`(path, bytes)` in seq order) into a state, collecting problems."""
    state = RegistryState()
    prev: str | None = None
    for position, (path, data) in enumerate(files, start=1):
        subject = path
        if data is None:
            state.problems.append(Problem("REG101", "log entry is missing", subject))
            continue
        digest = entry_hash(data)
        try:
            entry = json.loads(data.decode("utf-8"))
            canonical = isinstance(entry, dict) and entry_bytes(entry) == data
        except (UnicodeDecodeError, ValueError):  # not JSON, or (format 2) a value JCS cannot hold
            entry, canonical = None, False
        if not isinstance(entry, dict) or not canonical:
            state.problems.append(Problem("REG101", "log entry is not canonical JSON", subject))
            prev = digest
            state.hashes.append(digest)
            continue
        if entry.get("seq") != position or path != f"log/{position:08d}.json":
            state.problems.append(
                Problem(
                    "REG102",
                    f"expected entry {position} here, found seq "
                    f"{entry.get('seq')!r} (an entry was deleted or reordered)",
                    subject,
                )
            )
        if entry.get("prev") != prev:
            state.problems.append(
                Problem("REG103", "prev does not match the hash of the previous entry (the chain is broken)", subject)
            )
        prev = digest
        state.hashes.append(digest)
        state.entries.append(entry)
        if position == 1:
            state.registry_id = digest
        problem = _apply(state, entry, first=position == 1, verify_signatures=verify_signatures)
        if problem is not None:
            state.problems.append(Problem(problem[0], problem[1], subject))
    return state


def _apply(
    state: RegistryState, entry: dict[str, Any], *, first: bool, verify_signatures: bool
) -> tuple[str, str] | None:
    """Apply one entry, or say why not. Who signed it comes first: an entry that no active signer's signature
    covers is a forgery (REG104/REG105, which every command but `verify` refuses), whatever else is wrong with it.
    Only a signed entry is judged for its content; one that is malformed, mistimed or not allowed is its signer's
    mistake, refused and not applied (REG106, REG109, REG110, REG30x)."""
    signer = _signer_of(state, entry, first=first)
    if isinstance(signer, tuple):
        return signer
    if verify_signatures:
        try:
            verify(str(entry.get("signature", "")), signed_bytes(entry), NAMESPACE_LOG, signer.public_key)
        except SignatureError as exc:
            return ("REG104", f"log signature does not verify: {exc}")
    try:
        kind = _check_entry(entry)
        body: dict[str, Any] = entry["body"]
        if (kind == "init") != first:
            raise ValueError("the first entry must be `init`, and only the first")
        _check_body(kind, body)
    except (UsageError, ValueError) as exc:
        return ("REG106", f"{entry.get('type')!s:.40} entry is invalid: {getattr(exc, 'message', exc)}")
    late = _time_problem(state, entry["time"], signer)
    if late is not None:
        return ("REG109", late)
    if kind == "publish" and (
        body["provenance"]["signer"] != entry["signer"] or body["provenance"]["time"] != entry["time"]
    ):
        return ("REG106", "publish body is invalid: its provenance names another signer or time than the entry")
    refusal = authorize(state, signer, kind, body)
    if refusal is not None:
        return refusal
    _commit(state, signer, kind, body, entry)
    return None


def _signer_of(state: RegistryState, entry: dict[str, Any], *, first: bool) -> Signer | tuple[str, str]:
    """The signer whose key the entry names (for entry 1, the admin its `init` body names), or why there is none."""
    ref = entry.get("signer")
    key, identity = (ref.get("key"), ref.get("identity")) if isinstance(ref, dict) else (None, None)
    if first:
        admin = _init_admin(entry)
        if admin is None or admin.key != key or admin.identity != identity:
            return ("REG105", "the first entry is not an `init` signed by the admin it names")
        return admin
    signer = state.active(key) if isinstance(key, str) else None
    if signer is None:
        what = "a removed key" if isinstance(key, str) and key in state.signers else "an unknown key"
        return ("REG105", f"signed by {what} ({str(key)[:60]})")
    if signer.identity != identity:
        return ("REG105", f"key {key} belongs to {signer.identity}, not {str(identity)[:60]}")
    return signer


def _init_admin(entry: dict[str, Any]) -> Signer | None:
    body = entry.get("body")
    admin = body.get("admin") if entry.get("type") == "init" and isinstance(body, dict) else None
    if not isinstance(admin, dict) or not isinstance(admin.get("identity"), str):
        return None
    try:
        public_key = _public_key(admin.get("public_key"))
    except ValueError:
        return None
    return Signer(admin["identity"], public_key, fingerprint(public_key), ("*",), True, str(entry.get("time")))


def _public_key(value: Any) -> str:
    """An OpenSSH ed25519 public key line that loads (a signer's key must be able to verify signatures)."""
    try:
        load_public_key(text(value, "public_key"))
        fingerprint(value)
    except InputError as exc:
        raise ValueError(exc.message) from None
    return str(value)


_ENTRY_KEYS = ("seq", "prev", "type", "time", "signer", "body", "signature")  # and `format` (2) since format 2
# Every entry type, and the keys of its body (a publish body may also have `data_dependent`).
_BODY_KEYS = {
    "init": ("format", "admin"),
    "signer-add": ("identity", "public_key", "scopes", "admin"),
    "signer-remove": ("identity", "key", "reason"),
    "publish": ("name", "version", "scope", "digest", "path", "tag", "provenance"),
    "promote": ("name", "version", "channel"),
}


def _check_entry(entry: dict[str, Any]) -> str:
    """The entry's type, if the entry has exactly the documented keys, of the documented types; else ValueError.

    (Its time is REG109's concern, its signer's values were matched by `_signer_of`.)
    """
    exact_fields(entry, "the entry", _ENTRY_KEYS, ("format",))
    if "format" in entry and entry_format(entry) != 2:
        raise ValueError("format must be 2 (an entry of format 1 has no format key)")
    seq, prev, kind = entry["seq"], entry["prev"], entry["type"]
    if type(seq) is not int or not (prev is None or isinstance(prev, str)) or not isinstance(entry["signature"], str):
        raise ValueError("seq must be an integer, prev a hash or null, signature a string")
    exact_fields(entry["signer"], "signer", ("identity", "key"))
    if not isinstance(kind, str) or kind not in _BODY_KEYS:  # a list or an object is no type (nor hashable)
        raise ValueError(f"unknown entry type {str(kind)[:40]!r}")
    exact_fields(entry["body"], f"the {kind} body", _BODY_KEYS[kind], ("data_dependent",) * (kind == "publish"))
    return str(kind)


def _time_problem(state: RegistryState, time: object, signer: Signer) -> str | None:
    """Why an entry's time is unacceptable: malformed, before its signer was added, or before the previous entry.

    (A removed signer signs nothing afterwards: its entries are refused as signed by a removed key.) Times of this
    one form sort as strings exactly as they do as times. Whether a time lies in the future depends on the reader's
    clock, so that is `verify`'s check, never a reason for the replay to drop an entry.
    """
    if not isinstance(time, str) or parse_time(time) is None:
        return f"time {str(time)[:40]!r} is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ"
    if time < signer.added:
        return f"time {time} is before its signer {signer.identity} was added ({signer.added})"
    if state.last_time is not None and time < state.last_time:
        return f"time {time} is earlier than the entry before it ({state.last_time}); entry times never decrease"
    return None


def authorize(state: RegistryState, signer: Signer, kind: str, body: dict[str, Any]) -> tuple[str, str] | None:
    """Why `signer` may not make this change now, as (problem code, message), or None."""
    refusal = _refusal(state, signer, kind, body)
    if refusal is None:
        return None
    return refusal if isinstance(refusal, tuple) else ("REG105", refusal)


def _refusal(state: RegistryState, signer: Signer, kind: str, body: dict[str, Any]) -> str | tuple[str, str] | None:
    if kind == "init":
        return None
    if kind == "signer-add":
        clash = case_collision(body["identity"], {s.identity for s in state.signers.values()})
        if clash is not None:
            return ("REG110", f"identity {body['identity']} differs only by letter case from the signer {clash}")
        if not signer.admin:
            return f"{signer.identity} is not an admin and cannot add signers"
        missing = [s for s in body["scopes"] if not signer.allows(s)]
        if missing:
            return f"{signer.identity} is not an admin for scope {missing[0]}"
        # A key joins an existing identity (key rotation) only by an admin for every scope of that identity's keys:
        # else a tenant's admin could sign as any identity, the `*` admin's included.
        held = {scope for s in state.signers.values() if s.identity == body["identity"] for scope in s.scopes}
        if not all(signer.allows(scope) for scope in sorted(held)):
            return f"{signer.identity} is not an admin for every scope of {body['identity']}, whose keys it would join"
        if fingerprint(body["public_key"]) in state.signers:
            return f"key {fingerprint(body['public_key'])} is already a signer (a removed key never returns)"
        return None
    if kind == "signer-remove":
        target = state.active(body["key"])
        if target is None or target.identity != body["identity"]:
            return f"{body['identity']} ({body['key']}) is not an active signer"
        if not signer.admin or not all(signer.allows(s) for s in target.scopes):
            return f"{signer.identity} is not an admin for every scope of {target.identity}"
        admins = [s for s in state.signers.values() if s.removed is None and s.admin and "*" in s.scopes]
        if target in admins and len(admins) == 1:
            return "cannot remove the last admin for every scope (*)"
        return None
    name = body["name"]
    if kind == "publish":
        versions = state.packages.get(name, {})
        clash = case_collision(name, state.packages)
        if clash is not None:
            return (
                "REG110",
                f"package name {name} differs only by letter case from the published {clash} (one "
                "directory and one tag on a case-insensitive file system)",
            )
        clash = case_collision(body["version"], versions)
        if clash is not None:
            return (
                "REG110",
                f"version {body['version']} differs only by letter case from the published {name}@"
                f"{clash} (one directory and one tag on a case-insensitive file system)",
            )
        if versions:
            scope = next(iter(versions.values())).scope
            if body["scope"] != scope:
                return ("REG304", f"{name} is a {scope} package; a new version cannot move it to {body['scope']}")
            latest = max(versions, key=version_key)
            if version_key(body["version"]) <= version_key(latest):
                return ("REG302", f"{name}@{body['version']} is not higher than the published {latest}")
        if not signer.allows(body["scope"]):
            return f"{signer.identity} may not publish into scope {body['scope']}"
        return None
    version = state.packages.get(name, {}).get(body["version"])
    if version is None:
        return f"{name}@{body['version']} is not published"
    if not signer.allows(version.scope):
        return f"{signer.identity} may not promote in scope {version.scope}"
    return None


def _commit(state: RegistryState, signer: Signer, kind: str, body: dict[str, Any], entry: dict[str, Any]) -> None:
    time = str(entry["time"])
    state.last_time = time
    state.format = max(state.format, entry_format(entry))
    if kind == "init":
        state.signers[signer.key] = signer
    elif kind == "signer-add":
        key = fingerprint(body["public_key"])
        state.signers[key] = Signer(
            body["identity"], body["public_key"], key, tuple(body["scopes"]), bool(body["admin"]), time
        )
    elif kind == "signer-remove":
        state.signers[body["key"]].removed = time
    elif kind == "publish":
        state.packages.setdefault(body["name"], {})[body["version"]] = Version(
            body["name"],
            body["version"],
            body["scope"],
            body["digest"],
            body["path"],
            body["tag"],
            int(entry["seq"]),
            time,
            signer.identity,
            body["provenance"],
        )
    else:
        state.channels.setdefault(body["name"], {})[body["channel"]] = body["version"]


def _check_body(kind: str, body: dict[str, Any]) -> None:
    """Every value of a body (whose keys `_check_entry` checked): its type, then its syntax. ValueError/UsageError."""
    if kind == "init":
        admin = exact_fields(body["admin"], "admin", ("identity", "public_key", "scopes"))
        if type(body["format"]) is not int or body["format"] not in (1, FORMAT) or admin["scopes"] != ["*"]:
            raise ValueError(f'format must be 1 or {FORMAT} and the admin\'s scopes ["*"]')
        check_identity(text(admin["identity"], "identity"))
        _public_key(admin["public_key"])
    elif kind == "signer-add":
        check_identity(text(body["identity"], "identity"))
        _public_key(body["public_key"])
        scopes = body["scopes"]
        if not isinstance(scopes, list) or not scopes or len(set(map(str, scopes))) != len(scopes):
            raise ValueError("scopes must be a non-empty list of distinct scopes")
        for scope in scopes:
            check_scope(text(scope, "a scope"))
        if not isinstance(body["admin"], bool):
            raise ValueError("admin must be a boolean")
    elif kind == "signer-remove":
        check_identity(text(body["identity"], "identity"))
        text(body["key"], "key")
        text(body["reason"], "reason")
    elif kind == "publish":
        name, version = check_name(text(body["name"], "name")), check_version(text(body["version"], "version"))
        check_scope(text(body["scope"], "scope"))
        if body["scope"] == "*" or _DIGEST.fullmatch(text(body["digest"], "digest")) is None:
            raise ValueError("scope must be global or tenant:<id>, digest sha256:<hex> or jcs-sha256:<hex>")
        if body["path"] != f"packages/{name}/{version}" or body["tag"] != f"{name}/v{version}":
            raise ValueError("path and tag must follow the name and version")
        _check_provenance(body["provenance"])
        if "data_dependent" in body:  # written since crmctl answers data-dependent changes; older entries lack it
            from crmctl.registry.data_gate import check_record

            check_record(body["data_dependent"])
    else:
        check_name(text(body["name"], "name"))
        check_version(text(body["version"], "version"))
        check_channel(text(body["channel"], "channel"))


def _check_provenance(value: Any) -> None:
    """What `publish` writes: the signer and time (matched against the entry's) and the source, null or its four
    keys."""
    provenance = exact_fields(value, "provenance", ("signer", "time", "source"))
    source = provenance["source"]
    if source is None:
        return
    exact_fields(source, "provenance.source", ("repository", "commit", "path", "dirty"))
    if not all(source[key] is None or isinstance(source[key], str) for key in ("repository", "commit")):
        raise ValueError("provenance.source: repository and commit must be strings or null")
    text(source["path"], "provenance.source.path")
    if not isinstance(source["dirty"], bool):
        raise ValueError("provenance.source.dirty must be a boolean")


def apply_entry(state: RegistryState, entry: dict[str, Any]) -> tuple[str, str] | None:
    """Append a new (just signed) entry to the replayed state; the refusal if it is not acceptable."""
    first = not state.hashes
    refusal = _apply(state, entry, first=first, verify_signatures=False)
    if refusal is None:
        digest = entry_hash(entry_bytes(entry))
        state.hashes.append(digest)
        state.entries.append(entry)
        if first:
            state.registry_id = digest
    return refusal
