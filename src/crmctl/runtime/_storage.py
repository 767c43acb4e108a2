"""The store's building blocks: constants, errors, row types, the format-1 schema and row conversions (see
`runtime.store`)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from crmctl.errors import CrmctlError, EnvironmentFailure, InputError, UserError
from crmctl.runtime import eventlog

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "DEFAULT_PATH",
    "EXPORT_FORMAT",
    "FORMAT",
    "LAYOUTS",
    "MIGRATIONS",
    "Draft",
    "RecordExistsError",
    "RecordNotFoundError",
    "StoreError",
    "StoreFormatError",
    "StoreIntegrityError",
    "StoreLockedError",
    "StoreMissingError",
    "StoredRecord",
]

DEFAULT_PATH = Path(".crm/runtime.duckdb")
FORMAT = 2
EXPORT_FORMAT = "eventlog/1"
_CHUNK = 10_000
_SHOWN = 10
_LOCK = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class StoreError(UserError):
    """The runtime store cannot be used as asked."""


class StoreMissingError(StoreError):
    """No store exists at the path and none may be created."""


class StoreLockedError(StoreError):
    """Another process holds the store file open."""

    def __init__(self, message: str, *, pid: int, program: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.pid = pid
        self.program = program


class StoreFormatError(StoreError):
    """The file is not a crmctl store, or one of another format version."""


class StoreIntegrityError(StoreError):
    """Stored content is damaged or contradicts itself (unreadable bytes, a digest that does not match them)."""


class _KeysError(StoreError):
    def __init__(self, message: str, keys: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.keys = keys


class RecordExistsError(_KeysError):
    """A create named records that already exist; `keys` lists (entity, id) of some of them."""


class RecordNotFoundError(_KeysError):
    """An update named records that do not exist; `keys` lists (entity, id) of some of them."""


@dataclass(frozen=True)
class Draft:
    """A record being filled in, step by step, not yet saved as a record."""

    tenant: str
    draft_id: str
    entity: str
    package_name: str
    package_version: str
    package_digest: str
    data: dict[str, Any]
    state: dict[str, Any]
    last_step: str | None
    updated_at: str


@dataclass(frozen=True)
class StoredRecord:
    """A saved record with the package version that validated it."""

    tenant: str
    entity: str
    id: str
    package_name: str
    package_version: str
    package_digest: str
    data: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str


def _create_format_1(con: duckdb.DuckDBPyConnection) -> None:
    ids = "package_name VARCHAR NOT NULL, package_version VARCHAR NOT NULL, package_digest VARCHAR NOT NULL"
    for statement in (
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        "CREATE TABLE packages (digest VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, version VARCHAR NOT NULL, "
        "canonical BLOB NOT NULL)",
        f"CREATE TABLE drafts (tenant VARCHAR NOT NULL, draft_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, {ids}, "
        "data VARCHAR NOT NULL, state VARCHAR NOT NULL, last_step VARCHAR, updated_at TIMESTAMPTZ NOT NULL, "
        "PRIMARY KEY (tenant, draft_id))",
        f"CREATE TABLE records (tenant VARCHAR NOT NULL, entity VARCHAR NOT NULL, id VARCHAR NOT NULL, {ids}, "
        "data VARCHAR NOT NULL, revision INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL, "
        "updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant, entity, id))",
        'CREATE TABLE events (tenant VARCHAR NOT NULL, seq BIGINT NOT NULL, session VARCHAR NOT NULL, "at" '
        "TIMESTAMPTZ NOT NULL, entry VARCHAR NOT NULL, hash VARCHAR NOT NULL, PRIMARY KEY (tenant, seq))",
    ):
        con.execute(statement).fetchall()


def _add_workflow_instances(con: duckdb.DuckDBPyConnection) -> None:
    """Format 2: workflow instances, each pinned to the package version that started it."""
    con.execute(
        "CREATE TABLE workflow_instances (tenant VARCHAR NOT NULL, instance_id VARCHAR NOT NULL, "
        "workflow VARCHAR NOT NULL, entity VARCHAR NOT NULL, package_name VARCHAR NOT NULL, "
        "package_version VARCHAR NOT NULL, package_digest VARCHAR NOT NULL, state VARCHAR NOT NULL, "
        "status VARCHAR NOT NULL, clock TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant, instance_id))"
    ).fetchall()


# Migration from format n to n + 1. Format 0 is an empty database.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {0: _create_format_1, 1: _add_workflow_instances}

# The tables each format's migrations create, as DuckDB's information_schema lists their columns: a store is
# checked against its format's layout when opened, so a table someone dropped, renamed, replaced by a view or
# gave other columns is refused once, by name, instead of failing in the middle of a command (a test holds these
# to what MIGRATIONS create).
_TZ = "TIMESTAMP WITH TIME ZONE"
_IDS = "package_name VARCHAR, package_version VARCHAR, package_digest VARCHAR"
_LAYOUT_1 = {
    "meta": "key VARCHAR, value VARCHAR",
    "packages": "digest VARCHAR, name VARCHAR, version VARCHAR, canonical BLOB",
    "drafts": f"tenant VARCHAR, draft_id VARCHAR, entity VARCHAR, {_IDS}, data VARCHAR, state VARCHAR, "
    f"last_step VARCHAR, updated_at {_TZ}",
    "records": f"tenant VARCHAR, entity VARCHAR, id VARCHAR, {_IDS}, data VARCHAR, revision INTEGER, "
    f"created_at {_TZ}, updated_at {_TZ}",
    "events": f"tenant VARCHAR, seq BIGINT, session VARCHAR, at {_TZ}, entry VARCHAR, hash VARCHAR",
}
LAYOUTS: dict[int, dict[str, str]] = {
    1: _LAYOUT_1,
    2: {
        **_LAYOUT_1,
        "workflow_instances": f"tenant VARCHAR, instance_id VARCHAR, workflow VARCHAR, entity VARCHAR, "
        f"{_IDS}, state VARCHAR, status VARCHAR, clock {_TZ}",
    },
}
_RESTORE = "restore the file from a backup, or pass --store to use another file"

_DRAFT_COLUMNS = (
    "tenant",
    "draft_id",
    "entity",
    "package_name",
    "package_version",
    "package_digest",
    "data",
    "state",
    "last_step",
    "updated_at",
)
_RECORD_COLUMNS = (
    "tenant",
    "entity",
    "id",
    "package_name",
    "package_version",
    "package_digest",
    "data",
    "revision",
    "created_at",
    "updated_at",
)
_EVENT_COLUMNS = ("tenant", "seq", "session", "at", "entry", "hash")
_TIMES = frozenset({"updated_at", "created_at", "at"})


_JSON_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _loads(text: str, path: Path | str, what: str, *where: object) -> dict[str, Any]:
    """A stored JSON object parsed (orjson: twice as fast as json on entries, the same values; replay reads
    millions). Text that is no JSON object (a store edited by hand or damaged) is a `StoreIntegrityError` naming
    `what` and `where` (e.g. "event", tenant, seq), built only then."""
    import orjson

    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError) as error:
        problem = f"is not JSON ({error})"
    else:
        if isinstance(value, dict):
            return value
        problem = f"is a JSON {_JSON_KINDS.get(type(value), 'value')}, not an object"
    located = " ".join([what, "/".join(str(part) for part in where)]).strip()
    raise StoreIntegrityError(
        f"{path}: the stored {located} {problem}; the file was edited or is damaged", hint=_RESTORE
    )


def _select(columns: Sequence[str]) -> str:
    return ", ".join(f'epoch_us("{c}")' if c in _TIMES else f'"{c}"' for c in columns)


def _instant(text: object) -> datetime:
    try:
        value = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        value = None
    if value is None or value.utcoffset() is None:
        raise InputError(f"{text!r} is not an ISO 8601 UTC timestamp such as 2026-11-26T10:00:00Z")
    return value.astimezone(UTC)


def _link_text(body: dict[str, Any], seq: int, prev: str) -> tuple[dict[str, Any], str]:
    """`eventlog.link(body, seq, prev)` and the entry's canonical JSON, encoding the entry once instead of twice.

    The entry is encoded with a random stand-in for its hash. Keys are sorted and `hash` is never the last key
    (`seq`, `session` and `tenant` follow it), so dropping `"hash":"<stand-in>",` gives exactly the canonical JSON
    the hash covers (`eventlog.entry_hash`); the stand-in is then replaced by the hash.
    """
    stand_in = "sha256:" + os.urandom(32).hex()
    entry = {**body, "seq": seq, "prev": prev, "hash": stand_in}
    text = eventlog.dumps(entry)
    field = f'"hash":"{stand_in}",'
    if text.count(stand_in) != 1 or field not in text:  # pragma: no cover - a body quoting the stand-in
        linked = eventlog.link(body, seq, prev)
        return linked, eventlog.dumps(linked)
    digest = "sha256:" + hashlib.sha256(text.replace(field, "", 1).encode("utf-8")).hexdigest()
    entry["hash"] = digest
    return entry, text.replace(stand_in, digest, 1)


def _iso(micros: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(microseconds=micros)).isoformat() + "Z"


def _draft(path: Path, row: tuple[Any, ...]) -> Draft:
    tenant, draft_id, entity, name, version, digest, data, state, last_step, updated_at = row
    return Draft(
        tenant,
        draft_id,
        entity,
        name,
        version,
        digest,
        _loads(data, path, "draft", tenant, draft_id),
        _loads(state, path, "draft state", tenant, draft_id),
        last_step,
        _iso(updated_at),
    )


def _record(path: Path, row: tuple[Any, ...]) -> StoredRecord:
    tenant, entity, id_, name, version, digest, data, revision, created_at, updated_at = row
    return StoredRecord(
        tenant,
        entity,
        id_,
        name,
        version,
        digest,
        _loads(data, path, "record", tenant, entity, id_),
        revision,
        _iso(created_at),
        _iso(updated_at),
    )


def _keys(rows: list[tuple[Any, ...]], total: int) -> str:
    shown = ", ".join(f"{entity}/{id_}" for entity, id_ in rows)
    return shown + (f" and {total - len(rows)} more" if total > len(rows) else "")


# What DuckDB says when the disk, not the file, is the problem (the message is all its IOException carries).
_ENVIRONMENT = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied")


def _translate_open(path: Path, error: Exception) -> CrmctlError:
    text = str(error)
    if any(marker in text for marker in _ENVIRONMENT):
        return EnvironmentFailure(f"cannot open the runtime store {path}: {text}")
    lock = _LOCK.search(text)
    if lock:
        pid, program = int(lock["pid"]), Path(lock["program"]).name
        return StoreLockedError(
            f"{path} is in use by PID {pid} ({program}); wait for it to finish or pass --store to use another file",
            pid=pid,
            program=program,
        )
    if "not a valid DuckDB database" in text or "version" in text.lower():
        hint = "pass --store to use another file, or upgrade crmctl if a newer one wrote it"
        return StoreFormatError(f"{path} is not a runtime store this crmctl can read: {text}", hint=hint)
    if "different configuration" in text:
        return StoreError(f"{path} is already open in this process with a different read-only setting")
    return StoreError(f"cannot open the runtime store {path}: {text}")


def _store_failure(path: Path, error: Exception) -> NoReturn:
    """Raise a DuckDB error met while reading or writing an open store as an `EnvironmentFailure` (exit 3): a
    damaged or truncated file, a full or read-only disk, no memory left. Not a `UserError`, so nothing that handles
    the refusal of one event or row (replay, an interactive session, an import) takes it for one: the command
    stops. Other DuckDB errors are raised as they are, with their traceback: the tables were checked against the
    store's format when it was opened, so a missing table or column now is a crmctl bug."""
    import duckdb

    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if isinstance(error, duckdb.OutOfMemoryException):
        raise EnvironmentFailure(f"{path}: DuckDB ran out of memory: {text}") from error
    damaged = (
        duckdb.IOException,
        duckdb.SerializationException,
        duckdb.FatalException,
        duckdb.InternalException,
        duckdb.TransactionException,
    )
    if not isinstance(error, damaged) and type(error) is not duckdb.Error:
        raise error
    if any(marker in text for marker in _ENVIRONMENT):
        raise EnvironmentFailure(
            f"{path}: cannot write the runtime store ({text}); make room or fix the "
            "permissions, then run the command again"
        ) from error
    raise EnvironmentFailure(f"{path}: the runtime store is damaged and cannot be read ({text}); {_RESTORE}") from error


def _event_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("tenant", pa.string()),
            ("seq", pa.int64()),
            ("session", pa.string()),
            ("at", pa.timestamp("us", "UTC")),
            ("entry", pa.string()),
            ("hash", pa.string()),
        ]
    )


def _utc_or_none(text: str) -> str | None:
    """`text` in the store's ISO form (what `_iso` returns for the same instant), None if it is no UTC timestamp."""
    try:
        return _instant(text).replace(tzinfo=None).isoformat() + "Z"
    except InputError:
        return None
