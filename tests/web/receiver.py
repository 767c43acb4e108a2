"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 in a thread that answers from a script
(fail with 500, answer too late, redirect, succeed) and keeps every request it got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    content_type: str
    body: dict[str, Any]
    answered: int  # the status code sent back, 0 when the answer came too late on purpose


@dataclass
class Receiver:
    """The script is consumed one answer per request ("500", "slow", "302", then "200" once it runs out)."""

    url: str
    script: list[str] = field(default_factory=list)
    got: list[Received] = field(default_factory=list)
    slow_seconds: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[dict[str, Any]]:
        """The events answered 2xx, in the order received."""
        with self.lock:
            return [r.body for r in self.got if 200 <= r.answered < 300]


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    """Poll `condition` until it holds (a deadline, not a measurement: the test fails if it never does)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.01)


@contextmanager
def receiving(script: list[str] | None = None, port: int = 0) -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length))
            with receiver.lock:
                answer = receiver.script.pop(0) if receiver.script else "200"
            if answer == "slow":
                time.sleep(receiver.slow_seconds)
            code = 200 if answer == "slow" else int(answer)
            with receiver.lock:
                receiver.got.append(
                    Received(self.headers.get("content-type", ""), body, 0 if answer == "slow" else code)
                )
            try:
                self.send_response(code)
                if code in (301, 302, 307, 308):
                    self.send_header("location", receiver.url + "elsewhere")
                payload = b"receiver says no" if code >= 300 else b""
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/", list(script or []))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
