"""Webhook delivery throughput: events/s from the store's outbox to a local receiver, as `crmctl serve` delivers them.

A store gets N business events (one workflow log entry per 10 events); the deliverer (`crmctl.web.hooks`, the same
rounds `crmctl serve` runs: relay the log into the outbox, POST each due event in order, book the attempts) runs
until the receiver answered and the store booked every one. The receiver is a threaded `http.server` on
127.0.0.1 answering 204. The time includes the relay, every request and every booking.

    .venv/bin/python benchmarks/serve_webhooks.py [--events 2000] [--webhooks 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2 as httpx

from crmctl.runtime.store import Store
from crmctl.runtime.webhooks import DEFAULT_POLICY
from crmctl.web.hooks import TIMEOUT_SECONDS, deliver_once
from crmctl.web.sandbox import Sandbox, Settings

AT = "2026-11-02T09:00:00Z"


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as most receivers

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _fill(store: Store, events: int) -> None:
    bodies = []
    for first in range(0, events, 10):
        effects = [{"effect": "event", "event": "LeadQualified", "payload": {"n": n}} for n in range(first, first + 10)]
        bodies.append(
            {"session": f"workflow:w{first}", "at": AT, "kind": "workflow", "effects": effects[: events - first]}
        )
    store.append_events("default", bodies)


async def _drain(sandbox: Sandbox, expected: int) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_SECONDS), follow_redirects=False) as client:
        while sandbox.store.outbox.counts("default")["delivered"] < expected:
            await deliver_once(sandbox, client, DEFAULT_POLICY, lambda: 0.0)


def run_once(events: int, webhooks: int, url: str) -> float:
    with tempfile.TemporaryDirectory() as directory, Store.open(Path(directory) / "s.duckdb") as store:
        _fill(store, events)
        urls = tuple(f"{url}hook{n}" for n in range(webhooks))
        sandbox = Sandbox(store, [], Settings(webhooks=urls), clock=lambda: datetime.now(UTC), new_id=lambda: "x")
        started = time.perf_counter()
        asyncio.run(_drain(sandbox, events * webhooks))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        times = [run_once(args.events, args.webhooks, url) for _ in range(args.repeat)]
    finally:
        server.shutdown()
    delivered = args.events * args.webhooks
    best, median = min(times), statistics.median(times)
    print(f"{delivered} deliveries ({args.events} events x {args.webhooks} webhooks), {args.repeat} runs")
    print(f"  best   {best:.2f} s  {delivered / best:,.0f} events/s")
    print(f"  median {median:.2f} s  {delivered / median:,.0f} events/s")


if __name__ == "__main__":
    main()
