"""`crmctl serve`: the local sandbox (crmctl.web) for the packages given, on uvicorn.

The shell's part: find the packages and the store, inject the wall clock, ids and the token, bind the socket
(so a port in use is a usage error, before anything starts), say where it listens, and stop cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import err, note
from crmctl.cli.contract import emit, flush_emitted, warn
from crmctl.errors import InputError, UsageError

if TYPE_CHECKING:
    from crmctl.runtime.storage.locator import StoreURL
    from crmctl.web.sandbox import Sandbox, Settings

__all__ = ["TOKEN_ENV", "run_serve"]

TOKEN_ENV = "CRMCTL_SERVE_TOKEN"


def _packages(given: list[Path]) -> list[Path]:
    from crmctl.lint.config import load_config
    from crmctl.lint.discovery import discover_packages

    if given:
        for path in given:
            if not (path / "package.yaml").is_file():
                raise InputError(f"{path}: no package here (no package.yaml)")
        return given
    root = Path()
    found = discover_packages(root, load_config(None, root).excluded)
    if not found:
        raise UsageError("no package here to serve", hint="name package directories: crmctl serve PACKAGE…")
    return found


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts: a port in use is a usage error, not a crash later."""
    import errno

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose protocol says TCP, and
    # with Nagle on every response waits 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UsageError(
                f"cannot listen on {host}:{port}: the port is in use", hint="stop what holds it, or use --port 0"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}", hint="check --host") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _token(host: str, given: str | None) -> str | None:
    from crmctl.web.sandbox import Settings

    token = given or os.environ.get(TOKEN_ENV) or None
    if token is None and not Settings(host=host).loopback:
        token = secrets.token_urlsafe(24)  # beyond loopback, never without one
    return token


def _url(settings: Settings, port: int) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{port}/"


def _check_names(sandbox: Sandbox, paths: list[Path]) -> None:
    if len(sandbox.served) != len(paths):
        names: dict[str, list[str]] = {}
        for path in paths:
            from crmctl.model.package import load_package

            names.setdefault(load_package(path).name, []).append(str(path))
        twice = next(f"{name} ({', '.join(where)})" for name, where in names.items() if len(where) > 1)
        raise UsageError(f"one version per package: {twice} are the same package", hint="serve one of them")


def run_serve(
    packages: list[Path],
    *,
    store: str | None,
    host: str,
    port: int,
    token: str | None,
    tenant: str,
    reload: bool,
    webhooks: list[str],
    output_format: str,
) -> int:
    from crmctl.cli.inputs import sandbox_store
    from crmctl.runtime.store import Store
    from crmctl.web.app import build_app
    from crmctl.web.sandbox import Sandbox, Settings

    paths = _packages(packages)
    _check_webhooks(webhooks)
    store_path, iterating = sandbox_store(store)
    settings = Settings(
        host=host, port=port, token=_token(host, token), tenant=tenant, reload=reload, webhooks=tuple(webhooks)
    )
    sock = _bind(host, port)
    try:
        with Store.open(store_path) as opened:
            sandbox = Sandbox(
                opened,
                paths,
                settings,
                clock=lambda: datetime.now(UTC),
                new_id=lambda: str(uuid.uuid4()),
                iterating=iterating,
            )
            _check_names(sandbox, paths)
            _warn_unloaded(sandbox)
            server = _server(build_app(sandbox, background=_background(settings)))
            with _stopped_by_signals(server):
                _announce(_url(settings, sock.getsockname()[1]), settings, sandbox, store_path, output_format)
                # From here on the envelope is out: an ending is said on stderr only (the boundary knows).
                server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def _server(app: Any) -> Any:
    """uvicorn's server for the sandbox; the signals are `_stopped_by_signals`'s (see `SandboxServer`)."""
    import uvicorn

    from crmctl.web.app import SandboxServer

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    return SandboxServer(config)


@contextlib.contextmanager
def _stopped_by_signals(server: Any) -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the server (a second Ctrl-C stops it without waiting for open requests), from before
    it says where it listens: a server has no other ending, so stopping it is success (exit 0, not 130), once the
    background jobs are cancelled and the store is closed."""
    import signal

    previous = {sig: signal.signal(sig, server.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _warn_unloaded(sandbox: Sandbox) -> None:
    """A package that does not lint is served anyway: the browser shows its findings (the lint overlay) until an
    edit fixes it, which is what the sandbox is for."""
    for name, served in sorted(sandbox.served.items()):
        if served.package is None:
            first = served.errors[0] if served.errors else None
            where = f": {first.location}: {first.message} ({first.code})" if first else ""
            warn(
                f"{name} ({served.path}) does not load{where}",
                code="package-does-not-lint",
                hint="it is served with its findings shown until it is fixed; crmctl lint lists them all",
            )


def _check_webhooks(urls: list[str]) -> None:
    """Each --webhook is an absolute http or https URL with a host (events are POSTed to it)."""
    from urllib.parse import urlsplit

    for url in urls:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - a port out of range or not a number raises here
        except ValueError as error:
            raise UsageError(f"--webhook {url!r}: not a URL ({error})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--webhook {url!r}: not an http or https URL with a host",
                hint="e.g. --webhook http://127.0.0.1:9000/hook",
            )
    if len(set(urls)) != len(urls):
        raise UsageError("--webhook: a URL is given twice", hint="each webhook gets every event once")


def _background(settings: Settings) -> list[Any]:
    """The jobs that run beside the server (live reload, webhook deliveries)."""
    import functools
    import random

    from crmctl.web import hooks, reload

    jobs: list[Any] = [reload.watch] if settings.reload else []
    if settings.webhooks:
        jitter = random.Random(secrets.randbits(64)).random  # spreads retries; guards nothing
        jobs.append(functools.partial(hooks.deliver, jitter=jitter))
    return jobs


def _announce(url: str, settings: Settings, sandbox: Sandbox, store_path: Path | StoreURL, output_format: str) -> None:
    shown = f"{url}?token={settings.token}" if settings.token else url
    if output_format == "json":
        emit(
            {
                "url": url,
                "openUrl": shown,
                "host": settings.host,
                "port": int(url.rsplit(":", 1)[1].rstrip("/")),
                "tokenRequired": settings.token is not None,
                "token": settings.token,
                "store": str(store_path),
                "tenant": settings.tenant,
                "packages": [
                    {"name": p["name"], "version": p["version"], "path": p["path"], "errors": p["errors"]}
                    for p in sandbox.summary()
                ],
            }
        )
        flush_emitted()
        return
    names = ", ".join(f"{p['name']} {p['version'] or ''}".strip() for p in sandbox.summary())
    err(f"crmctl sandbox: {shown}")  # even under --quiet: without it (and its token) nobody can connect
    note(f"  serving {names}; store {store_path}; Ctrl-C stops it")
