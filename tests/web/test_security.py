"""The sandbox's security promises, against a real uvicorn: no path traversal in its files, CORS closed, bodies
bounded (announced or streamed) with nothing written past the limit, the token, the Host allow-list, no stack
traces, and the security headers on every response. Raw requests go over a socket, so nothing normalises them."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from crmctl.web import app as web_app
from crmctl.web import ui
from crmctl.web.problems import read_json
from crmctl.web.sandbox import Sandbox, Settings
from crmctl.web.security import TOKEN_COOKIE
from tests.web.server import LEAD_V1, Running, running_app

LIMIT = 1024
SECRET = "TOP-SECRET-CONTENT"
LEAD = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}


def _probe_routes(sandbox: Sandbox) -> Sequence[BaseRoute]:
    """Routes that exercise the guard: one that writes a record once it has read the body, one that fails, one
    that tries to open CORS."""

    async def write(request: Request) -> Response:
        await read_json(request)  # the whole body, bounded by the guard
        package = sandbox.package("LeadLifecycle")
        outcome = await sandbox.call(sandbox.records.create, package, "Lead", sandbox.new_id(), LEAD, sandbox.clock())
        return JSONResponse({"ok": outcome.ok}, status_code=201)

    async def fail(_: Request) -> Response:
        raise RuntimeError(f"{SECRET} in /etc/crmctl/secret.py line 12")

    async def midway(_: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first part"
            raise RuntimeError(SECRET)

        return StreamingResponse(chunks(), media_type="text/plain")

    async def cors(_: Request) -> Response:
        return JSONResponse({}, headers={"access-control-allow-origin": "*", "access-control-allow-credentials": "1"})

    return [
        Route("/_probe/write", write, methods=["POST"]),
        Route("/_probe/fail", fail, methods=["GET"]),
        Route("/_probe/cors", cors, methods=["GET"]),
        Route("/_probe/midway", midway, methods=["GET"]),
    ]


@pytest.fixture
def static_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The renderer's files copied next to a secret, with a symlink inside pointing out at it."""
    static = tmp_path / "site" / "static"
    shutil.copytree(ui.STATIC, static)
    (tmp_path / "site" / "secret.txt").write_text(SECRET, encoding="utf-8")
    (static / "link.txt").symlink_to(tmp_path / "site" / "secret.txt")
    monkeypatch.setattr(ui, "STATIC", static)
    return static


def _serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Iterator[Running]:
    parts = web_app._parts()
    monkeypatch.setattr(web_app, "_parts", lambda: [*parts, _probe_routes])
    with running_app([LEAD_V1], tmp_path / "sandbox.duckdb", settings=Settings(body_limit=LIMIT, **settings)) as r:
        yield r


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, static_copy: Path) -> Iterator[Running]:
    yield from _serve(tmp_path, monkeypatch)


@pytest.fixture
def token_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    yield from _serve(tmp_path, monkeypatch, token="t0k3n-for-tests")


class Answer:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            key, _, value = line.partition(":")
            self.headers.append((key.strip().lower(), value.strip()))

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _raw(
    running: Running,
    target: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    chunks: Sequence[bytes] = (),
) -> Answer:
    parts = urlsplit(running.url)
    assert parts.hostname and parts.port
    fields = {"host": f"{parts.hostname}:{parts.port}", "connection": "close", **(headers or {})}
    if body:
        fields.setdefault("content-length", str(len(body)))
    if chunks:
        fields["transfer-encoding"] = "chunked"
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v) + "\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        try:
            sock.sendall(head.encode("latin-1") + body)
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            if chunks:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed before the body was all sent
            pass
        received = b""
        while data := sock.recv(65536):
            received += data
    return Answer(received)


def _has_security_headers(answer: Answer) -> bool:
    csp = answer.header("content-security-policy") or ""
    return (
        answer.header("x-content-type-options") == "nosniff"
        and answer.header("x-frame-options") == "DENY"
        and answer.header("referrer-policy") == "no-referrer"
        and "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
        and not any(k.startswith("access-control-") for k, _ in answer.headers)
    )


def _stored_leads(running: Running) -> int:
    assert running.sandbox is not None
    with running.sandbox.lock:
        return len(running.sandbox.records.list("Lead"))


# -- static files ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/..\\secret.txt",
        "/static/..%5csecret.txt",
        "/static/%2e%2e%5csecret.txt",
        "/static/./../secret.txt",
        "/static/sub/../../secret.txt",
        "/static/%252e%252e/secret.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/../../../../../../etc/passwd",
        "/static/app.js%00.html",
        "/static/%00",
        "/static/link.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
    ],
)
def test_no_path_traversal_in_static_files(server: Running, target: str) -> None:
    answer = _raw(server, target)
    assert answer.status in (400, 404), (target, answer.status)
    assert SECRET not in answer.text and "root:" not in answer.text
    assert _has_security_headers(answer)


def test_static_files_are_served_with_the_security_headers(server: Running) -> None:
    answer = _raw(server, "/static/app.js")
    assert answer.status == 200 and "mount" in answer.text
    assert _has_security_headers(answer)


# -- CORS -----------------------------------------------------------------------------------------------------------


def test_a_preflight_is_refused(server: Running) -> None:
    headers = {"origin": "http://evil.example", "access-control-request-method": "POST"}
    answer = _raw(server, "/_probe/write", method="OPTIONS", headers=headers)
    assert answer.status == 403 and answer.header("content-type") == "application/problem+json"
    assert _has_security_headers(answer)


def test_no_cors_header_even_when_a_route_sets_one(server: Running) -> None:
    for target in ("/", "/_sandbox/packages", "/_probe/cors"):
        answer = _raw(server, target, headers={"origin": "http://evil.example"})
        assert answer.status == 200
        assert _has_security_headers(answer)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://localhost"])
def test_a_cross_origin_write_is_refused(server: Running, origin: str) -> None:
    body = b'{"a": 1}'
    answer = _raw(
        server,
        "/_probe/write",
        method="POST",
        body=body,
        headers={"origin": origin, "content-type": "application/json"},
    )
    assert answer.status == 403
    assert _stored_leads(server) == 0


def test_a_same_origin_write_is_allowed(server: Running) -> None:
    parts = urlsplit(server.url)
    origin = f"http://{parts.hostname}:{parts.port}"
    answer = _raw(
        server,
        "/_probe/write",
        method="POST",
        body=b"{}",
        headers={"origin": origin, "content-type": "application/json"},
    )
    assert answer.status == 201, answer.text
    assert _stored_leads(server) == 1


@pytest.mark.parametrize("site", ["cross-site", "same-site", "Cross-Site"])
@pytest.mark.parametrize("media", ["application/json", "text/plain"])
def test_a_write_a_browser_says_is_cross_site_is_refused_without_an_origin(
    server: Running, site: str, media: str
) -> None:
    """Fetch Metadata: `same-site` is another port of this machine too (a dev server on localhost:3000)."""
    answer = _raw(
        server, "/_probe/write", method="POST", body=b"{}", headers={"sec-fetch-site": site, "content-type": media}
    )
    assert answer.status == 403
    assert _has_security_headers(answer)
    assert _stored_leads(server) == 0


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_a_write_from_the_page_itself_or_typed_by_the_user_is_allowed(server: Running, site: str) -> None:
    parts = urlsplit(server.url)
    host = f"LOCALHOST:{parts.port}"  # names are case-insensitive, the origin a browser sends is lower case
    origin = f"http://localhost:{parts.port}"
    headers = {"host": host, "origin": origin, "sec-fetch-site": site, "content-type": "application/json"}
    answer = _raw(server, "/_probe/write", method="POST", body=b"{}", headers=headers)
    assert answer.status == 201, answer.text


# -- bodies ---------------------------------------------------------------------------------------------------------


def test_a_body_at_the_limit_is_read(server: Running) -> None:
    body = b'{"pad": "' + b"x" * (LIMIT - 11) + b'"}'
    assert len(body) == LIMIT
    answer = _raw(server, "/_probe/write", method="POST", body=body, headers={"content-type": "application/json"})
    assert answer.status == 201 and _stored_leads(server) == 1


def test_an_announced_body_over_the_limit_is_refused_unread(server: Running) -> None:
    body = b'{"pad": "' + b"x" * LIMIT + b'"}'
    answer = _raw(server, "/_probe/write", method="POST", body=body, headers={"content-type": "application/json"})
    assert answer.status == 413 and answer.header("content-type") == "application/problem+json"
    assert _has_security_headers(answer)
    lying = _raw(
        server,
        "/_probe/write",
        method="POST",
        body=b"{}",
        headers={"content-type": "application/json", "content-length": "-1"},
    )
    assert lying.status in (400, 413)
    assert _stored_leads(server) == 0


def test_a_streamed_body_past_the_limit_is_refused_and_nothing_is_written(server: Running) -> None:
    chunks = [b'{"pad": "', *([b"x" * 256] * 8), b'"}']
    answer = _raw(server, "/_probe/write", method="POST", chunks=chunks, headers={"content-type": "application/json"})
    assert answer.status == 413, answer.text
    assert answer.header("content-type") == "application/problem+json"
    assert _has_security_headers(answer)
    assert _stored_leads(server) == 0
    # and a small streamed body still goes through
    small = _raw(
        server, "/_probe/write", method="POST", chunks=[b"{", b"}"], headers={"content-type": "application/json"}
    )
    assert small.status == 201 and _stored_leads(server) == 1


# -- the token ------------------------------------------------------------------------------------------------------


def test_without_the_token_nothing_answers(token_server: Running) -> None:
    for target in ("/", "/_sandbox/packages", "/static/app.js", "/no/such/thing"):
        answer = _raw(token_server, target)
        assert answer.status == 401, target
        assert answer.header("www-authenticate") == 'Bearer realm="crmctl sandbox"'
        assert _has_security_headers(answer)
        assert "mount" not in answer.text and "LeadLifecycle" not in answer.text


@pytest.mark.parametrize(
    "authorization", ["Bearer wrong", "Bearer t0k3n-for-test", "Bearer t0k3n-for-testsX", "Basic dDBrM24=", "Bearer"]
)
def test_a_wrong_token_is_refused(token_server: Running, authorization: str) -> None:
    assert _raw(token_server, "/_sandbox/packages", headers={"authorization": authorization}).status == 401


def test_the_bearer_token_is_compared_in_constant_time(token_server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    from crmctl.web import security

    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    answer = _raw(token_server, "/_sandbox/packages", headers={"authorization": "Bearer t0k3n-for-tests"})
    assert answer.status == 200
    assert (b"t0k3n-for-tests", b"t0k3n-for-tests") in compared


def test_the_printed_url_sets_a_strict_cookie_and_drops_the_token(token_server: Running) -> None:
    opened = _raw(token_server, "/?token=t0k3n-for-tests&x=1", headers={"accept": "text/html"})
    assert opened.status == 303 and opened.header("location") == "/?x=1"
    cookie = opened.header("set-cookie") or ""
    assert cookie.startswith(f"{TOKEN_COOKIE}=t0k3n-for-tests;")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert _has_security_headers(opened)
    with_cookie = _raw(token_server, "/_sandbox/packages", headers={"cookie": f"{TOKEN_COOKIE}=t0k3n-for-tests"})
    assert with_cookie.status == 200
    wrong = _raw(token_server, "/?token=nope", headers={"accept": "text/html"})
    assert wrong.status == 401 and wrong.header("set-cookie") is None
    assert _raw(token_server, "/_sandbox/packages", headers={"cookie": f"{TOKEN_COOKIE}=nope"}).status == 401


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("//evil.example/?token=t0k3n-for-tests", "/evil.example/"),  # not a protocol-relative URL
        ("/\\evil.example?token=t0k3n-for-tests", "/evil.example"),  # browsers read `/\\` as `//`
        ("/%0d%0aSet-Cookie:%20x=1?token=t0k3n-for-tests", "/%0D%0ASet-Cookie:%20x=1"),  # no header injection
        ("/%E2%80%A8?token=t0k3n-for-tests", "/%E2%80%A8"),  # not latin-1: was a bare 500
    ],
)
def test_the_printed_url_redirects_only_to_this_server(token_server: Running, target: str, location: str) -> None:
    opened = _raw(token_server, target, headers={"accept": "text/html"})
    assert opened.status == 303 and opened.header("location") == location
    assert _has_security_headers(opened)


# -- the Host allow-list --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "localhost.attacker.example",
        "127.0.0.1.nip.io",
        "127.0.0.2",
        "0.0.0.0",
        "user@127.0.0.1",
        "",
    ],
)
def test_dns_rebinding_names_are_refused(server: Running, host: str) -> None:
    answer = _raw(server, "/_sandbox/packages", headers={"host": host} if host else {"host": ""})
    assert answer.status in (400, 421), (host, answer.status)
    if answer.status == 421:
        assert _has_security_headers(answer)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]", "[::1]:8000", "localhost:1234"])
def test_the_names_a_loopback_sandbox_listens_under_are_allowed(server: Running, host: str) -> None:
    assert _raw(server, "/_sandbox/packages", headers={"host": host}).status == 200


def test_a_wildcard_host_with_a_token_accepts_any_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On 0.0.0.0 the machine is reached by names not known in advance; the token is what keeps strangers out."""
    for running in _serve(tmp_path, monkeypatch, host="0.0.0.0", token="t0k3n-for-tests"):
        for host in ("my-laptop.local", "192.168.1.20:8000", "[fe80::1]:8000"):
            bearer = {"host": host, "authorization": "Bearer t0k3n-for-tests"}
            assert _raw(running, "/_sandbox/packages", headers=bearer).status == 200
            assert _raw(running, "/_sandbox/packages", headers={"host": host}).status == 401


def test_a_wildcard_host_without_a_token_keeps_the_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`crmctl serve` never runs so (it generates a token), but the guard does not rely on it."""
    for running in _serve(tmp_path, monkeypatch, host="::"):
        assert _raw(running, "/_sandbox/packages", headers={"host": "attacker.example"}).status == 421
        assert _raw(running, "/_sandbox/packages", headers={"host": "[::]:8000"}).status == 200


# -- errors ---------------------------------------------------------------------------------------------------------


def test_a_failing_route_answers_a_problem_without_a_trace(server: Running) -> None:
    answer = _raw(server, "/_probe/fail")
    assert answer.status == 500 and answer.header("content-type") == "application/problem+json"
    assert SECRET not in answer.text and "Traceback" not in answer.text and "secret.py" not in answer.text
    assert '"internal-error"' not in answer.text  # the type is a URL ending in it
    assert answer.text.count("internal-error") == 1
    assert _has_security_headers(answer)


def test_a_route_failing_midway_cuts_the_answer_without_a_trace(server: Running) -> None:
    answer = _raw(server, "/_probe/midway")
    assert answer.status == 200 and SECRET not in answer.text and "Traceback" not in answer.text


def test_malformed_json_is_a_located_problem(server: Running) -> None:
    answer = _raw(
        server, "/_probe/write", method="POST", body=b'{"a": 1,\n "b": }', headers={"content-type": "application/json"}
    )
    assert answer.status == 400 and answer.header("content-type") == "application/problem+json"
    assert "line 2, column" in answer.text and "Traceback" not in answer.text
    assert _has_security_headers(answer)
    assert _stored_leads(server) == 0


def test_a_wrong_method_is_a_problem_with_the_headers(server: Running) -> None:
    answer = _raw(server, "/_sandbox/packages", method="DELETE")
    assert answer.status == 405 and answer.header("content-type") == "application/problem+json"
    assert _has_security_headers(answer)
