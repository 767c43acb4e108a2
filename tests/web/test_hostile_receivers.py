"""Webhook receivers that misbehave on purpose: one that trickles its answer a byte at a time never holds the
deliverer longer than its timeout, and holds up no other webhook meanwhile. (Found by the security review: the
timeouts were per read, so a trickling receiver held every webhook's deliveries for as long as it liked.)"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crmctl.runtime.store import Store
from tests.web.receiver import receiving, wait_until
from tests.web.test_hooks import attempts, emit, in_store, sandbox_with


@contextmanager
def trickling() -> Iterator[str]:
    """A receiver that starts a 200 answer and then sends one header byte every 50 ms, for a minute."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nx-slow: ")
                deadline = time.monotonic() + 60
                while not stop.is_set() and time.monotonic() < deadline:
                    conn.sendall(b"a")
                    time.sleep(0.05)
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        server.close()


def test_a_trickling_receiver_times_out_as_a_whole_and_holds_up_no_other(tmp_path: Path) -> None:
    with (
        trickling() as slow,
        receiving() as receiver,
        sandbox_with(tmp_path / "s.duckdb", [slow, receiver.url], timeout=0.5) as running,
    ):
        emit(running, "One", "Two")
        # the good webhook gets both while the trickling one is still on its first attempt
        wait_until(lambda: len(receiver.delivered()) == 2, seconds=5)
        event = receiver.delivered()[0]["id"]
        wait_until(lambda: any(a["webhook"] == slow for a in attempts(running, event)), seconds=10)
        tried = [a for a in attempts(running, event) if a["webhook"] == slow]
        assert tried[0]["error"] == "timed out" and tried[0]["statusCode"] is None
        assert tried[0]["durationMs"] < 5000
        pending = in_store(running, lambda s: s.store.outbox.counts("default"))
    assert pending["delivered"] == 2


def test_a_server_stopped_mid_round_books_what_it_sent(tmp_path: Path) -> None:
    """Stopping (Ctrl-C) in the middle of a round of deliveries: what was sent is booked, so the next server sends
    again at most the one request in flight (found by the security review: the whole round, up to 100 events, was
    neither booked nor recorded as attempts, and all of it was sent again)."""
    store = tmp_path / "s.duckdb"
    with receiving(["slow"] * 60) as receiver:
        receiver.slow_seconds = 0.05
        with sandbox_with(store, [receiver.url]) as running:
            emit(running, *(f"E{i}" for i in range(30)))
            wait_until(lambda: len(receiver.got) >= 8)
        sent_before = len(receiver.got)
        assert sent_before < 30
        with Store.open(store) as reopened:
            counts = reopened.outbox.counts("default")
        assert counts["delivered"] >= sent_before - 1
        with sandbox_with(store, [receiver.url]) as running:
            wait_until(lambda: in_store(running, lambda s: s.store.outbox.counts("default"))["delivered"] == 30)
        ids = [r.body["id"] for r in receiver.got]
    assert len(set(ids)) == 30 and len(ids) <= 30 + 1
