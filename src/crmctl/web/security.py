"""The server's guard, an ASGI middleware in front of every route: who may talk to the sandbox, and what it takes.

- Host: only the names the server listens under (DNS rebinding cannot reach a loopback sandbox from a web page).
  On a wildcard address (`0.0.0.0`, `::`) any name is accepted — the machine's names and addresses are not known
  in advance — because the token is then always required, and a rebound page has neither it nor its cookie.
- Token: when one is set (always when listening beyond loopback), every request carries it: `Authorization:
  Bearer TOKEN`, or the cookie the browser gets from opening the printed URL once (`?token=`).
- CORS stays closed: no `Access-Control-Allow-*` header is ever sent, a preflight is refused, and a request that
  changes something from another origin is refused (CSRF).
- Bodies: at most `Settings.body_limit` bytes, announced or streamed (413 past it).
- Headers: nosniff, no referrer, no framing, a content security policy that allows only the sandbox's own files,
  on every response (files, problems, refusals, redirects).
- Errors: an exception no handler answered is logged and becomes a 500 problem without its text.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from crmctl.web.problems import PROBLEM_TYPE_BASE
from crmctl.web.sandbox import Settings

__all__ = ["TOKEN_COOKIE", "BodyTooLarge", "Guard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("crmctl.serve")

TOKEN_COOKIE = "crmctl_token"
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class BodyTooLarge(Exception):
    """A streamed body went past the limit (the app answers 413)."""


class Guard:
    """Wraps the app; see the module's docstring for what it enforces."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        names = {"127.0.0.1", "localhost", "[::1]", settings.host if ":" not in settings.host else f"[{settings.host}]"}
        self.hosts = frozenset(names)
        self.any_host = settings.host in WILDCARD_HOSTS and settings.token is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _send_problem(send, *refusal)
            return
        token_in_query = self._token_from_query(scope)
        if (
            token_in_query
            and self.settings.token is not None
            and scope["method"] in _SAFE_METHODS
            and "text/html" in headers.get("accept", "")
        ):
            # Opening the printed URL: keep the token in a cookie and drop it from the address bar.
            await _redirect_with_cookie(send, scope, self.settings.token or "")
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._bounded(receive, headers), _with_headers(sending))
        except Exception:
            log.exception("internal error on %s %s", scope["method"], scope.get("path", ""))
            if started:  # too late for a problem: the connection is cut
                raise
            await _send_problem(send, 500, "internal-error", "Internal error", "the sandbox failed; see its log")

    # -- the checks ---------------------------------------------------------------------------------------------

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str, str] | None:
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not self.any_host and name.lower() not in self.hosts:
            return 421, "unknown-host", "Unknown host", "this sandbox answers only under the names it listens on"
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            return 403, "cross-origin", "Cross-origin requests are refused", "the sandbox allows no other origin"
        origin = headers.get("origin")
        if scope["method"] not in _SAFE_METHODS and (
            (origin is not None and not self._same_origin(origin, host))
            # a browser that sends no Origin still says where the request comes from (Fetch Metadata)
            or headers.get("sec-fetch-site", "same-origin").strip().lower() not in ("same-origin", "none")
        ):
            return 403, "cross-origin", "Cross-origin requests are refused", "the sandbox allows no other origin"
        if self.settings.token is not None and not self._authorized(scope, headers):
            return 401, "token-required", "A token is required", "send Authorization: Bearer TOKEN (printed at start)"
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.settings.body_limit):
            return 413, "body-too-large", "Request body too large", f"at most {self.settings.body_limit} bytes"
        return None

    @staticmethod
    def _same_origin(origin: str, host: str) -> bool:
        return origin.lower() in (f"http://{host.lower()}", f"https://{host.lower()}")

    def _authorized(self, scope: Scope, headers: dict[str, str]) -> bool:
        expected = (self.settings.token or "").encode()
        given = []
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        for part in headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == TOKEN_COOKIE:
                given.append(value)
        query = self._token_from_query(scope)
        if query:
            given.append(query)
        return any(hmac.compare_digest(candidate.encode(), expected) for candidate in given)

    @staticmethod
    def _token_from_query(scope: Scope) -> str | None:
        for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if key == "token":
                return str(value)
        return None

    def _bounded(self, receive: Receive, headers: dict[str, str]) -> Receive:
        limit = self.settings.body_limit
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        return bounded


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            # CORS stays closed whatever a route sets
            kept = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-")]
            present = {k.lower() for k, _ in kept}
            message["headers"] = [*kept, *((k, v) for k, v in _HEADERS if k not in present)]
        await send(message)

    return sending


async def _send_problem(send: Send, status: int, kind: str, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": PROBLEM_TYPE_BASE + kind, "title": title, "status": status, "detail": detail}, sort_keys=True
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="crmctl sandbox"'))
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *_HEADERS]})
    await send({"type": "http.response.body", "body": body})


async def _redirect_with_cookie(send: Send, scope: Scope, token: str) -> None:
    query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k != "token"]
    # the same page, as a path of this server: `//host` or `/\\host` would send the browser to another site, and the
    # decoded path may hold line breaks or characters a header cannot carry, so it is encoded again
    path = "/" + quote(scope.get("path", "/").lstrip("/\\"), safe="/:@!$&'()*+,;=-._~")
    location = path + (f"?{urlencode(query)}" if query else "")
    cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    headers = [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1"))]
    await send({"type": "http.response.start", "status": 303, "headers": [*headers, *_HEADERS]})
    await send({"type": "http.response.body", "body": b""})
