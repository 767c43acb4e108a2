"""The sandbox's state: the served packages (reloaded when their files change), one store, the injected clock and
ids, and the lock that serialises every use of the store (DuckDB: one connection, one writer).

Handlers never touch the store directly: they call `await sandbox.call(fn, …)`, which runs `fn` in a worker thread
under the lock, so the event loop stays free for other requests (and the webhook deliveries)."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from crmctl.errors import InputError
from crmctl.model.diagnostics import Diagnostic, Location, Severity

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
    package = load_package(path)  # InputError: at start the command's (exit 2); mid-edit, `Sandbox.reload` shows it
    diagnostics = lint_package(package) if package.valid else list(package.diagnostics)
    name = package.name
    generation = 0 if previous is None else previous.generation + 1
    return ServedPackage(path, name, package if package.valid else None, diagnostics, generation, stamp)


def _unreadable(text: str, root: Path) -> Diagnostic:
    """A package that does not load (`file:line:col: message` or `file: message`, as `InputError` says it: a YAML
    syntax error mid-edit, package.yaml gone) as a located finding of code `unreadable`, its file relative to the
    package (no absolute path of the machine in an answer)."""

    def shown(name: str) -> str:
        named = Path(name)
        if named.is_dir():  # the package's directory: its package.yaml is missing
            return "package.yaml"
        with contextlib.suppress(ValueError):
            return named.relative_to(root).as_posix()
        return named.name

    located = re.fullmatch(r"(?s)(.+?):(\d+):(\d+): (.*)", text)
    if located is not None:
        file, line, column, message = located.groups()
        return Diagnostic("unreadable", message, Location(shown(file), int(line), int(column)))
    named = re.fullmatch(r"(?s)(/[^:]+): (.*)", text)
    if named is not None:
        return Diagnostic("unreadable", named.group(2), Location(shown(named.group(1))))
    return Diagnostic("unreadable", text, Location("package.yaml"))


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
        self._unsettled: dict[str, tuple[tuple[str, int, int], ...]] = {}  # name -> files that did not load
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
            stamp = _stamp(served.path)
            if stamp == served.stamp:
                continue
            try:
                self.served[name] = load_served(served.path, served)
            except InputError as exc:
                # Broken YAML, package.yaml gone: maybe a file still being written, so it must stay so for one
                # more look; then the package is served with that located error (the overlay shows it).
                if self._unsettled.get(name) != stamp:
                    self._unsettled[name] = stamp
                    continue
                failure = _unreadable(str(exc), served.path)
                self.served[name] = ServedPackage(served.path, name, None, [failure], served.generation + 1, stamp)
            self._unsettled.pop(name, None)
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
