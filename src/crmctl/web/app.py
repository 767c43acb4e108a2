"""The sandbox's ASGI app: the routes of each part, behind the guard, with one error model.

Each part of the server is a module with `routes(sandbox) -> list[BaseRoute]` (the renderer's `ui`, the records
API, …); `build_app` mounts them. Any exception a handler does not turn into a response becomes a 500 problem
without its text (the guard, outside Starlette's own error middleware, logs it and answers)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from crmctl.web.problems import ProblemError, problem
from crmctl.web.sandbox import Sandbox
from crmctl.web.security import BodyTooLarge, Guard

__all__ = ["SandboxServer", "build_app"]

Part = Callable[[Sandbox], Sequence[BaseRoute]]


def _parts() -> list[Part]:
    """The modules that make up the server, in routing order."""
    from crmctl.web import forms, hooks, records, reload, ui, workflows

    return [ui.routes, forms.routes, workflows.routes, reload.routes, records.routes, hooks.routes]


def build_app(sandbox: Sandbox, *, background: Sequence[Callable[[Sandbox], Any]] = ()) -> Starlette:
    """The app for `sandbox`. `background` are coroutine functions started with the app and cancelled when it
    stops (the live-reload watcher, the webhook deliverer)."""
    routes: list[BaseRoute] = [route for part in _parts() for route in part(sandbox)]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job(sandbox)) for job in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):  # a job logs its own failure
                    await task
            if tasks:  # a job cancelled inside `sandbox.call` leaves its worker thread running: wait for the store
                from starlette.concurrency import run_in_threadpool

                await run_in_threadpool(sandbox.lock.acquire)
                sandbox.lock.release()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=_HANDLERS)
    app.state.sandbox = sandbox
    app.state.stopping = asyncio.Event()  # set by SandboxServer: endless responses (event streams) end with the server
    app.add_middleware(Guard, settings=sandbox.settings)
    return app


class SandboxServer(uvicorn.Server):
    """uvicorn's server for the sandbox app: when it stops, it first sets the app's `stopping` event, so event
    streams end and the graceful shutdown does not wait for them (uvicorn waits for open responses before it ends
    the app's lifespan)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Signals are the caller's: `crmctl serve` routes Ctrl-C and SIGTERM to `handle_exit` itself (uvicorn's
        own capture would raise them again once stopped, ending the command as interrupted); in a thread (the
        tests) there are none to capture."""
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        stopping = getattr(getattr(self.config.app, "state", None), "stopping", None)
        if isinstance(stopping, asyncio.Event):
            stopping.set()
        await super().shutdown(sockets)


async def _problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem(exc.status, exc.kind, exc.title, exc.detail, **exc.extra)


async def _http(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(
        exc.status_code, kind, exc.detail if isinstance(exc.detail, str) else "Error", headers=dict(exc.headers or {})
    )


async def _too_large(_: Request, exc: Exception) -> Response:
    return problem(413, "body-too-large", "Request body too large")


_HANDLERS: dict[Any, Any] = {
    ProblemError: _problem,
    HTTPException: _http,
    BodyTooLarge: _too_large,
}  # any other exception: the guard logs it and answers a 500 problem (with the security headers)
