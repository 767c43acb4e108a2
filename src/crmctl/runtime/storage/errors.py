"""What can go wrong with a runtime store: its errors, and DuckDB's errors translated into them at the edge
(PostgreSQL's are translated by its backend, `postgresql_backend`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NoReturn

from crmctl.errors import CrmctlError, EnvironmentFailure, UserError

__all__ = [
    "RESTORE_HINT",
    "RecordExistsError",
    "RecordNotFoundError",
    "StoreConflictError",
    "StoreError",
    "StoreFormatError",
    "StoreIntegrityError",
    "StoreLockedError",
    "StoreMissingError",
    "open_failure",
    "store_failure",
]

RESTORE_HINT = "restore the file from a backup, or pass --store to use another file"
"""The hint of every error saying that the store file was edited or is damaged."""

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


class StoreConflictError(StoreError):
    """Another writer to a shared (PostgreSQL) store took a key this write needed, meanwhile; nothing was written."""


class _KeysError(StoreError):
    def __init__(self, message: str, keys: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.keys = keys


class RecordExistsError(_KeysError):
    """A create named records that already exist; `keys` lists (entity, id) of some of them."""


class RecordNotFoundError(_KeysError):
    """An update named records that do not exist; `keys` lists (entity, id) of some of them."""


# What DuckDB says when the disk, not the file, is the problem (the message is all its IOException carries).
_ENVIRONMENT = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied")


def open_failure(path: Path, error: Exception) -> CrmctlError:
    """The crmctl error for a DuckDB error met while opening the store at `path`: a full or read-only disk, a lock
    held by another process (naming its PID), a file that is no DuckDB database or one of another DuckDB version."""
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


def store_failure(path: Path | str, error: Exception) -> NoReturn:
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
    raise EnvironmentFailure(
        f"{path}: the runtime store is damaged and cannot be read ({text}); {RESTORE_HINT}"
    ) from error
