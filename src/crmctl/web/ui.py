"""The browser renderer's side of the server: its page and static files, and the index of served packages.

The renderer itself is `static/` (ES modules and CSS, no build step); it renders only what the runtime's effects
say and sends only events (docs/serve.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from crmctl.web.sandbox import Sandbox

__all__ = ["STATIC", "routes"]

STATIC = Path(__file__).parent / "static"


def routes(sandbox: Sandbox) -> Sequence[BaseRoute]:
    async def index(_: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def packages(_: Request) -> Response:
        return JSONResponse({"tenant": sandbox.settings.tenant, "packages": sandbox.summary()})

    return [
        Route("/", index, methods=["GET"]),
        Route("/_sandbox/packages", packages, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
    ]
