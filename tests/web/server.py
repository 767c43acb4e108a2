"""Real servers for the web tests: the sandbox app on uvicorn in a thread of the test process (its code is measured
by coverage), or `crmctl serve` as a process (the command itself: startup, output, Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx

from crmctl.runtime.store import Store
from crmctl.web.app import SandboxServer, build_app
from crmctl.web.sandbox import Sandbox, Settings

REPO = Path(__file__).resolve().parents[2]
LEAD_V1 = REPO / "packages" / "LeadLifecycle" / "v1"
LEAD_V2 = REPO / "packages" / "LeadLifecycle" / "v2"
CLAIMS = REPO / "packages" / "ClaimsIntake"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Ticking:
    """An injected clock that moves one second per reading (deterministic, always forward)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def counting_ids(prefix: str = "id") -> Callable[[], str]:
    counter = iter(range(1, 1 << 62))
    return lambda: f"{prefix}-{next(counter):06d}"


@dataclass
class Running:
    url: str  # with a final slash
    sandbox: Sandbox | None
    token: str | None

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The served store, held under the sandbox's lock (the server may be using it at the same moment)."""
        assert self.sandbox is not None
        with self.sandbox.lock:
            yield self.sandbox.store

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kwargs)


def _free_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY: see serve._bind
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    return sock


@contextmanager
def running_app(
    packages: Sequence[Path],
    store_path: Path,
    *,
    settings: Settings | None = None,
    background: Sequence[Callable[[Sandbox], Any]] = (),
    iterating: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[Running]:
    """The sandbox on a real uvicorn in a thread, on a free loopback port; stopped and its store closed after."""
    import uvicorn

    sock = _free_socket()
    port = sock.getsockname()[1]
    settings = settings or Settings(port=port)
    with Store.open(store_path) as store:
        sandbox = Sandbox(
            store, packages, settings, clock=clock or Ticking(), new_id=counting_ids(), iterating=iterating
        )
        app = build_app(sandbox, background=background)
        server = SandboxServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.01)
        try:
            yield Running(f"http://127.0.0.1:{port}/", sandbox, settings.token)
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()


@dataclass
class Process:
    proc: subprocess.Popen[str]
    envelope: dict[str, Any]
    running: Running

    def interrupt(self, timeout: float = 10) -> int:
        """Ctrl-C: SIGINT, then the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)


def _read_envelope(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The envelope the command printed (indented JSON: read line by line until it parses)."""
    assert proc.stdout is not None
    text = ""
    while line := proc.stdout.readline():
        text += line
        if line.startswith("}"):  # the envelope's closing brace is the only one in column 0
            document: dict[str, Any] = json.loads(text)
            return document
    said = proc.stderr.read() if proc.stderr else ""
    raise RuntimeError(f"crmctl serve printed no envelope: exit {proc.wait(10)}, {text!r}, {said}")


@contextmanager
def serve_process(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Iterator[Process]:
    """`crmctl serve ARGS --port 0 --format json` as a process; yields once it printed its envelope (listening)."""
    command = [sys.executable, "-m", "crmctl", "serve", *args, "--port", "0", "--format", "json"]
    proc = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        envelope = _read_envelope(proc)
        result = envelope["result"] or {}
        yield Process(proc, envelope, Running(str(result.get("url", "")), None, result.get("token")))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
