"""Live reload: the served packages are reloaded when their files change, and the renderer hears of it.

- `watch(sandbox)`, a background job of the server (`crmctl serve`, unless `--no-reload`), reloads every served
  package whose files changed (`Sandbox.reload`, which loads and lints it) about every `POLL` seconds.
- `GET /_sandbox/changes` is a stream of server-sent events (`text/event-stream`): on connecting, one `package`
  event per served package as it is now, then one each time a package changes, with its `name`, `generation`
  (moves at every reload) and `errors` (its lint errors); a comment line as heartbeat. The stream ends when the
  server stops (`app.SandboxServer` sets the app's `stopping` event).
- `GET /_sandbox/packages/{name}/diagnostics` lists the package's lint findings with their location
  (`file:line:col`), code, message and severity: what the renderer's overlay shows while the package has errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from crmctl.web.problems import ProblemError
from crmctl.web.sandbox import Sandbox, ServedPackage

__all__ = ["HEARTBEAT", "POLL", "routes", "watch"]

log = logging.getLogger("crmctl.serve")

POLL = 0.3  # seconds between two looks at the packages' files (and at the generations, for each stream)
HEARTBEAT = 15.0  # seconds between two comment lines on a quiet stream (proxies and browsers keep it open)
RETRY_MS = 1000  # how soon a browser reconnects a broken stream


async def watch(sandbox: Sandbox, *, interval: float = POLL) -> None:
    """Reload changed packages until cancelled; a failing reload is logged and tried again at the next look."""
    while True:
        try:
            changed = await sandbox.call(sandbox.reload)
        except Exception:
            log.exception("reloading the packages failed")
        else:
            for name in changed:
                served = sandbox.served[name]
                log.info("reloaded %s (generation %d, %d errors)", name, served.generation, len(served.errors))
        await asyncio.sleep(interval)


def _event(served: ServedPackage) -> str:
    data = {"name": served.name, "generation": served.generation, "errors": len(served.errors)}
    return f"event: package\nid: {served.name}:{served.generation}\ndata: {json.dumps(data)}\n\n"


def _within(served: ServedPackage, file: str) -> str:
    """A finding's file relative to the package's directory (a package that does not load names it in full)."""
    from pathlib import Path

    path = Path(file)
    return path.relative_to(served.path).as_posix() if path.is_relative_to(served.path) else file


def routes(sandbox: Sandbox) -> Sequence[BaseRoute]:
    async def changes(request: Request) -> Response:
        stopping: asyncio.Event = request.app.state.stopping

        async def stream() -> AsyncIterator[str]:
            seen: dict[str, int] = {}
            quiet = 0.0
            yield f"retry: {RETRY_MS}\n\n"
            while not stopping.is_set():
                news = [s for _, s in sorted(sandbox.served.items()) if seen.get(s.name) != s.generation]
                for served in news:
                    seen[served.name] = served.generation
                    yield _event(served)
                quiet = 0.0 if news else quiet + POLL
                if quiet >= HEARTBEAT:
                    quiet = 0.0
                    yield ": heartbeat\n\n"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), POLL)

        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def diagnostics(request: Request) -> Response:
        name = request.path_params["name"]
        served = sandbox.served.get(name)
        if served is None:
            raise ProblemError(404, "unknown-package", "No such package", f"this sandbox serves no package {name!r}")
        findings = [
            {
                "location": f"{_within(served, d.location.file)}:{d.location.line}:{d.location.column}",
                "file": _within(served, d.location.file),
                "line": d.location.line,
                "column": d.location.column,
                "code": d.code,
                "message": d.message,
                "severity": d.severity.value,
            }
            for d in sorted(served.diagnostics, key=lambda d: d.sort_key())
        ]
        body = {"name": name, "generation": served.generation, "errors": len(served.errors), "diagnostics": findings}
        return JSONResponse(body, headers={"cache-control": "no-store"})

    return [
        Route("/_sandbox/changes", changes, methods=["GET"]),
        Route("/_sandbox/packages/{name}/diagnostics", diagnostics, methods=["GET"]),
    ]
