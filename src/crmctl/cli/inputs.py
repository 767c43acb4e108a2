"""What the runtime commands read from their user: the store to open, the injected clock (`--now`), `advance`
durations, and YAML or JSON documents (scripts, scenarios) parsed with their positions.

The store is found like the configuration (`resolve_store`), the same way by every runtime command: `--store`,
then `CRMCTL_STORE`, then `store = "..."` in `[tool.crmctl]` (relative to that file), then `.crm/runtime.duckdb`
at the project root: the directory of the nearest crmctl.toml or pyproject.toml with `[tool.crmctl]`, else the
root of the git work tree, else the current directory. A command run in a subdirectory of a project therefore uses
the project's store, never a second one next to it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError, UsageError

if TYPE_CHECKING:
    from crmctl.runtime.storage.locator import StoreURL
    from crmctl.runtime.store import Store

__all__ = [
    "DEFAULT_STORE",
    "SANDBOX_STORE",
    "STORE_ENV",
    "duration",
    "instant",
    "open_store",
    "read_document",
    "resolve_store",
    "sandbox_store",
]

DEFAULT_STORE = Path(".crm/runtime.duckdb")  # below the project root
SANDBOX_STORE = Path(".crm/sandbox.duckdb")  # `crmctl serve`'s own store, below the project root
STORE_ENV = "CRMCTL_STORE"


def resolve_store(explicit: str | Path | StoreURL | None, start: Path | None = None) -> Path | StoreURL:
    """The store every runtime command opens: `--store`, `CRMCTL_STORE`, `store` in `[tool.crmctl]` (a path
    relative to the configuration file, or a URL), else `.crm/runtime.duckdb` at the project root (see the
    module). Each may be a `postgresql://` URL (`runtime.storage.locator`)."""
    if isinstance(explicit, str) and not explicit.strip():  # as CRMCTL_STORE: not a file named " " (or ".")
        raise UsageError("--store is blank", hint="give a store file or URL, or leave --store out")
    if explicit is not None:
        return _a_store(explicit, "--store") if isinstance(explicit, str) else _a_store_path(explicit)
    env = os.environ.get(STORE_ENV)
    if env:  # empty: as if unset; blank: a mistake (it would be a file named " " in the current directory)
        if not env.strip():
            raise UsageError(f"{STORE_ENV} is blank", hint="set it to a store file or URL, or unset it")
        return _a_store(env, STORE_ENV)
    from crmctl.model.config import read_config

    here = start or Path.cwd()
    found = read_config(None, here)
    if found is not None:
        value = found.values.get("store")
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{found.path}: {found.where} store: expected a non-empty string (a store file)")
            configured = _a_store(value, f"{found.path}: {found.where} store")
            if isinstance(configured, Path) and not configured.is_absolute():
                return _a_file(found.path.parent / configured, f"{found.path}: {found.where} store", value)
            return configured
        return found.path.parent / DEFAULT_STORE
    return _project_root(here) / DEFAULT_STORE


def sandbox_store(explicit: str | Path | None, start: Path | None = None) -> tuple[Path | StoreURL, bool]:
    """The store `crmctl serve` opens and whether it is the sandbox's own: `--store` (a store like any other, whose
    versions never change content), else `.crm/sandbox.duckdb` at the project root, where the versions being edited
    are run as they change (`Runtime(iterating=True)`) and which no other command holds open."""
    if explicit is not None:
        return resolve_store(explicit), False
    from crmctl.model.config import read_config

    here = start or Path.cwd()
    found = read_config(None, here)
    root = found.path.parent if found is not None else _project_root(here)
    return root / SANDBOX_STORE, True


def store_argument(spelled: str, name: str) -> Path | StoreURL:
    """A store named by a command's argument `name` (`store copy SRC DST`): a PostgreSQL URL, or a file."""
    return _a_store(spelled, name)


def _a_store(spelled: str, source: str) -> Path | StoreURL:
    """A store given as text: a PostgreSQL URL, or a file."""
    from crmctl.runtime.storage.locator import StoreURL, locate

    found = locate(spelled)
    if isinstance(found, Path):
        if spelled.lower().startswith(("postgresql:", "postgres:")):  # a URL missing its //, not a file named so
            raise UsageError(  # the rest is not shown: it may hold a password
                f"{source}: a PostgreSQL store is postgresql://user@host/db: {spelled.split(':', 1)[0]}: lacks //"
            )
        return _a_file(found, source, spelled)
    scheme, rest = found.url.split(":", 1)  # libpq reads the scheme in lower case only (POSTGRESQL:// is refused)
    return StoreURL(scheme.lower() + ":" + rest)


def _a_store_path(found: Path | StoreURL) -> Path | StoreURL:
    """A store already located (a file checked like one given as text)."""
    return _a_file(found, "--store", str(found)) if isinstance(found, Path) else found


def _a_file(path: Path, source: str, spelled: str) -> Path:
    """A store is a file: a directory (or a name written as one, `dir/`) would have become a file named `dir`."""
    if spelled.endswith(("/", os.sep)) or path.is_dir():
        raise UsageError(
            f"{source}: {spelled!r} is a directory, not a store file",
            hint=f"name a file in it, e.g. {(path / 'runtime.duckdb').as_posix()}",
        )
    return path


def _project_root(start: Path) -> Path:
    """The git work tree holding `start` (a `.git` directory or file, as in a worktree), else `start` itself."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


@contextmanager
def open_store(
    path: str | Path | StoreURL | None,
    *,
    read_only: bool = False,
    create: bool | None = None,
    allow_old_format: bool = False,
) -> Iterator[Store]:
    """The store `resolve_store(path)` finds, created unless read-only (or `create` is False), closed on leaving;
    named under --verbose. `allow_old_format` is for `store migrate` only."""
    from crmctl.cli.console import detail
    from crmctl.runtime.store import Store

    target = resolve_store(path)
    detail(f"crmctl: store: {target}")
    creating = not read_only if create is None else create
    with Store.open(target, read_only=read_only, create=creating, allow_old_format=allow_old_format) as store:
        yield store


def instant(text: str | None) -> datetime:
    """The injected clock: `--now` parsed, or the wall clock (taken here, in the shell, never in the core)."""
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    from crmctl.runtime.instants import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise UsageError(f"--now {text!r}: not an ISO 8601 time (e.g. 2026-11-26T09:00:00Z)") from None


def duration(text: Any, where: str) -> timedelta:
    """An `advance` step's duration (`crmctl.model.durations.clock_step`), or a located InputError."""
    from crmctl.model.durations import clock_step

    try:
        return clock_step(str(text))
    except ValueError as error:
        raise InputError(f"{where}: {error}") from None


def read_document(path: Path, what: str) -> Any:
    """A YAML or JSON file parsed with positions (`SourceDoc`), or a located InputError."""
    from crmctl.model.source import load_document

    return load_document(path, str(path), what=f"the {what}")
