"""The sandbox's state: the served packages (reloaded when their files change), one store, the injected clock and
ids, and the lock that serialises every use of the store (DuckDB: one connection, one writer).

Handlers never touch the store directly: they call `await sandbox.call(fn, …)`, which runs `fn` in a worker thread
under the lock, so the event loop stays free for other requests (and the webhook deliveries)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from crmctl.errors import InputError
from crmctl.model.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.runtime.record_service import RecordService
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

__all__ = ["Sandbox", "ServedPackage", "Settings"]

P = ParamSpec("P")
T = TypeVar("T")

ONE_MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """How the server runs: where it listens, who may talk to it, what it accepts."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # required on every request when set (always set when the host is not loopback)
    tenant: str = "default"
    body_limit: int = ONE_MIB  # bytes of a request body, at most
    reload: bool = True  # watch the packages' files and reload them
    webhooks: tuple[str, ...] = ()  # URLs events are delivered to (CloudEvents 1.0, structured JSON)

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")


@dataclass
class ServedPackage:
    """One served package directory as last loaded: the package when it is valid, its lint findings either way.
    `generation` counts the loads whose content changed (the renderer reloads when it moves)."""

    path: Path
    name: str
    package: Package | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    generation: int = 0
    stamp: tuple[tuple[str, int, int], ...] = ()  # (file, size, mtime_ns) of every file, to notice edits

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]


def _stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """What the package directory looks like now: every regular file's path, size and modification time."""
    found = []
    for path in sorted(root.rglob("*")):
        try:
            info = path.stat()
        except OSError:
            continue
        if path.is_file():
            found.append((path.relative_to(root).as_posix(), info.st_size, info.st_mtime_ns))
    return tuple(found)


def load_served(path: Path, previous: ServedPackage | None = None) -> ServedPackage:
    """Load and lint the package at `path` (the lint findings are what the renderer's overlay shows)."""
    from crmctl.lint.runner import lint_package
    from crmctl.model.package import load_package

    stamp = _stamp(path)
    if previous is None:
        package = load_package(path)  # at start a file that does not parse is the command's input error (exit 2)
    else:
        try:
            package = load_package(path)
        except InputError as error:  # mid-edit (a YAML syntax error while typing): shown, tried at the next edit
            unreadable = _unreadable(path, error)
            return ServedPackage(path, previous.name, None, [unreadable], previous.generation + 1, stamp)
    diagnostics = lint_package(package) if package.valid else list(package.diagnostics)
    name = package.name
    generation = 0 if previous is None else previous.generation + 1
    return ServedPackage(path, name, package if package.valid else None, diagnostics, generation, stamp)


def _unreadable(root: Path, error: InputError) -> Diagnostic:
    """A package file that does not parse, as a finding the overlay shows (`file:line:col: message`)."""
    import re

    from crmctl.model.diagnostics import Location

    found = re.match(r"(?s)(.+?):(\d+):(\d+): (.*)", error.message)
    if found is None:
        return Diagnostic("unreadable", error.message, Location("package.yaml"))
    file, line, column, message = found.groups()
    with contextlib.suppress(ValueError):
        file = Path(file).relative_to(root).as_posix()
    return Diagnostic("unreadable", message, Location(file, int(line), int(column)))


class Sandbox:
    """What every handler shares. Built by the CLI with an open store and the injected clock and ids."""

    def __init__(
        self,
        store: Store,
        packages: Iterable[Path],
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        iterating: bool = False,
    ) -> None:
        from crmctl.runtime.record_service import RecordService
        from crmctl.runtime.service import Runtime

        self.store = store
        self.settings = settings
        self.clock, self.new_id = clock, new_id
        self.runtime: Runtime = Runtime(store, settings.tenant, iterating=iterating)
        self.records: RecordService = RecordService(self.runtime)
        self.lock = threading.Lock()
        self.served: dict[str, ServedPackage] = {}
        for path in packages:
            loaded = load_served(path)
            self.served[loaded.name] = loaded

    # -- packages -----------------------------------------------------------------------------------------------

    def package(self, name: str) -> Package:
        """The served package `name` as last loaded; a ProblemError (404, or 409 while it does not lint)."""
        from crmctl.web.problems import ProblemError

        served = self.served.get(name)
        if served is None:
            raise ProblemError(404, "unknown-package", "No such package", f"this sandbox serves no package {name!r}")
        if served.package is None:
            first = served.errors[0] if served.errors else None
            detail = f"{first.location}: {first.message} ({first.code})" if first else "it does not load"
            raise ProblemError(409, "package-does-not-lint", "The package has errors", detail)
        return served.package

    def reload(self) -> list[str]:
        """Reload every served package whose files changed; the names of those that did."""
        changed = []
        for name, served in list(self.served.items()):
            if _stamp(served.path) != served.stamp:
                self.served[name] = load_served(served.path, served)
                changed.append(name)
        return changed

    def summary(self) -> list[Mapping[str, Any]]:
        """The served packages as the renderer's index lists them."""
        return [
            {
                "name": name,
                "version": s.package.manifest.version if s.package and s.package.manifest else None,
                "path": str(s.path),
                "generation": s.generation,
                "errors": len(s.errors),
            }
            for name, s in sorted(self.served.items())
        ]

    # -- the store ----------------------------------------------------------------------------------------------

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(*args, **kwargs)` in a worker thread, holding the store's lock."""
        from starlette.concurrency import run_in_threadpool

        def locked() -> T:
            with self.lock:
                return fn(*args, **kwargs)

        return await run_in_threadpool(locked)
