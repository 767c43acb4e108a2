"""The sandbox's ASGI app: the routes of each part, behind the guard, with one error model.

Each part of the server is a module with `routes(sandbox) -> list[BaseRoute]` (the renderer's `ui`, the records
API, …); `build_app` mounts them. Any exception a handler does not turn into a response becomes a 500 problem
without its text (the server logs it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from crmctl.web.problems import ProblemError, problem
from crmctl.web.sandbox import Sandbox
from crmctl.web.security import BodyTooLarge, Guard

__all__ = ["build_app"]

log = logging.getLogger("crmctl.serve")

Part = Callable[[Sandbox], Sequence[BaseRoute]]


def _parts() -> list[Part]:
    """The modules that make up the server, in routing order."""
    from crmctl.web import hooks, ui

    return [ui.routes, hooks.routes]


def build_app(sandbox: Sandbox, *, background: Sequence[Callable[[Sandbox], Any]] = ()) -> Starlette:
    """The app for `sandbox`. `background` are coroutine functions started with the app and cancelled when it
    stops (the live-reload watcher, the webhook deliverer)."""
    routes: list[BaseRoute] = [route for part in _parts() for route in part(sandbox)]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        import asyncio

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
    app.add_middleware(Guard, settings=sandbox.settings)
    return app


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


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal-error", "Internal error", "the sandbox failed; its log has the details")


_HANDLERS: dict[Any, Any] = {
    ProblemError: _problem,
    HTTPException: _http,
    BodyTooLarge: _too_large,
    Exception: _internal,
}
