"""Ctrl-C stays Ctrl-C (`crmctl.interrupts`): whatever a library makes of it, the command ends with exit 130 and
commits nothing after it.

DuckDB turns a SIGINT during a query into its own `RuntimeError: Query interrupted`, or drops it when the query
ends first (the fresh-clone run of issue 14 saw an import run to the end after a Ctrl-C). The tests below make a
library swallow it deterministically (a call that catches the `KeyboardInterrupt` it provoked), and send a real
SIGINT into a real DuckDB query.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crmctl import interrupts
from crmctl.cli.main import run
from crmctl.runtime import row_checks
from crmctl.runtime.storage.events import EventLog
from crmctl.runtime.store import Store
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("terminal_ctrl_c")

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
DEMO = REPO / "scripts" / "demo"
NOW = ["--now", "2026-11-26T09:00:00Z"]


def _swallow_a_ctrl_c() -> None:
    """What DuckDB does when its query ends before it acts on a SIGINT: the interrupt is gone."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler runs here, at once
    except KeyboardInterrupt:
        return
    raise AssertionError("SIGINT was not delivered")


def _swallowing(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        _swallow_a_ctrl_c()
        return method(*args, **kwargs)

    return call


def test_a_swallowed_ctrl_c_is_raised_at_the_next_check_and_at_the_end() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt), interrupts.watched():  # the block ends as the Ctrl-C, however it ended
        interrupts.check()  # nothing pressed yet
        _swallow_a_ctrl_c()
        assert interrupts.pressed()
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert not interrupts.pressed()  # the next command starts afresh
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    interrupts.check()
    with interrupts.watched():  # no Ctrl-C: nothing raised
        pass


def test_an_error_or_an_exit_after_a_ctrl_c_leaves_as_the_ctrl_c() -> None:
    with pytest.raises(KeyboardInterrupt) as caught, interrupts.watched():
        _swallow_a_ctrl_c()
        raise RuntimeError("Query interrupted")
    assert isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(KeyboardInterrupt), interrupts.watched():
        _swallow_a_ctrl_c()
        raise SystemExit(0)  # as the CLI ends every command
    with pytest.raises(RuntimeError), interrupts.watched():  # without a Ctrl-C an error is itself
        raise RuntimeError("a real failure")


def test_nested_blocks_share_the_outermost_record() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.watched():
        with interrupts.watched():
            _swallow_a_ctrl_c()
        assert interrupts.pressed()  # the inner block's end does not forget it
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_commit_after_a_swallowed_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A form session's first step: the log append swallows the Ctrl-C, the step's commit is refused (review of
    issue 14: `simulate` committed its steps and exited 0)."""
    monkeypatch.setattr(EventLog, "append", _swallowing(EventLog.append))
    store = tmp_path / "rt.duckdb"
    script = str(DEMO / "lead-monday.yaml")
    assert run(["simulate", V1, "--script", script, "--session", "s", "--store", str(store)]) == 130
    with Store.open(store) as opened:
        assert list(opened.events("default")) == [] and opened.get_draft("default", "s") is None


def test_a_workflow_run_interrupted_half_way_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scripted run is written as a whole: a Ctrl-C at its second logged step leaves neither the first step's
    entry nor its instance (docs/runtime.md, "What a run leaves")."""
    calls: list[int] = []
    original = EventLog.append

    def append(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            _swallow_a_ctrl_c()
        return original(*args, **kwargs)

    monkeypatch.setattr(EventLog, "append", append)
    scenario = tmp_path / "run.yaml"
    scenario.write_text(
        "events:\n"
        "  - start: {instance: a, data: {firstName: A, lastName: B}}\n"
        "  - start: {instance: b, data: {firstName: C, lastName: D}}\n"
    )
    store = tmp_path / "rt.duckdb"
    v2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
    assert run(["workflow", "simulate", v2, "--script", str(scenario), "--store", str(store), *NOW]) == 130
    assert len(calls) == 2
    with Store.open(store) as opened:
        assert list(opened.events("default")) == [] and opened.list_instances("default") == []


def test_a_ctrl_c_inside_a_duckdb_query_stops_it_and_is_a_keyboard_interrupt() -> None:
    """DuckDB alone turns some of these into its own error and swallows others (the query runs on: about one in
    three here); an interruptible connection is stopped either way, within moments."""
    import duckdb

    for delay in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7):
        connection = interrupts.interruptible(duckdb.connect())
        timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
        guard = threading.Timer(20, connection.interrupt)  # fails the test instead of hanging it
        started = time.monotonic()
        guard.start()
        with pytest.raises(KeyboardInterrupt), interrupts.watched():
            timer.start()
            connection.execute("SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3").fetchall()
        guard.cancel()
        assert time.monotonic() - started < delay + 5, f"the query ran on after a Ctrl-C at {delay} s"
        connection.close()


def test_the_block_ends_only_once_its_interrupter_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread interrupting queries after a Ctrl-C has ended by the time the block has: a daemon thread still
    inside DuckDB's `interrupt()` when the interpreter shut down aborted the process (exit -6, "FATAL: exception not
    rethrown") instead of exit 130, about one Ctrl-C in fifteen during an import's start."""
    import duckdb

    connection = interrupts.interruptible(duckdb.connect())
    calls: list[float] = []
    original = interrupts._stop_queries

    def counted(stop: threading.Event) -> None:
        calls.append(time.monotonic())
        original(stop)

    monkeypatch.setattr(interrupts, "_stop_queries", counted)
    try:
        with pytest.raises(KeyboardInterrupt), interrupts.watched():
            _swallow_a_ctrl_c()
            deadline = time.monotonic() + 10
            while not calls and time.monotonic() < deadline:
                time.sleep(0.01)
        ended = time.monotonic()
    finally:
        connection.close()
    assert calls, "no interrupter started"
    assert not [t for t in threading.enumerate() if t.name == "crmctl-interrupt"]
    assert ended - calls[0] < 2  # stopped at once, not after its next pause


def test_an_ignored_ctrl_c_stays_ignored_and_a_servers_handler_stays() -> None:
    def own(signum: int, frame: Any) -> None:
        pass

    for handler in (signal.SIG_IGN, own):
        previous = signal.signal(signal.SIGINT, handler)
        try:
            with interrupts.watched():
                assert signal.getsignal(signal.SIGINT) is handler
            assert signal.getsignal(signal.SIGINT) is handler
        finally:
            signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_it_changes_nothing() -> None:
    seen: list[object] = []

    def body() -> None:
        with interrupts.watched():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def _hang(seconds: float) -> None:
    time.sleep(seconds)


def test_a_pool_does_not_wait_past_a_swallowed_ctrl_c() -> None:
    from crmctl.runtime.pool import Workers

    workers = Workers(1, hint="")
    try:
        future = workers.submit(_hang, 120)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt), interrupts.watched():
            _swallow_a_ctrl_c()
            workers.result(future)
        assert time.monotonic() - started < 10
    finally:
        workers.close(terminate=True)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_import_whose_ctrl_c_the_store_swallowed_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    import json

    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 50)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 32)
    monkeypatch.setattr(EventLog, "append_encoded", _swallowing(EventLog.append_encoded))
    path = tmp_path / "leads.jsonl"
    lead = {"firstName": "Ada", "email": "ada@example.com", "companySize": 12, "industry": "software"}
    path.write_text("".join(json.dumps({**lead, "lastName": f"L{i}"}) + "\n" for i in range(200)), "utf-8")
    store = tmp_path / "rt.duckdb"
    args = ["records", "import", V1, str(path), "-e", "Lead", "--store", str(store), "--jobs", jobs, *NOW]
    assert run(args) == 130
    assert "interrupted" in capsys.readouterr().err
    with Store.open(store) as opened:
        assert opened.count_records("default") == 0
        assert list(opened.events("default")) == []


def test_a_replay_whose_ctrl_c_the_store_swallowed_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    script = str(DEMO / "lead-monday.yaml")
    assert run(["simulate", V1, "--script", script, "--session", "s", "--store", store]) == 0
    capsys.readouterr()
    original = EventLog.sparse_entries

    def sparse_entries(self: EventLog, *args: Any) -> Iterator[Any]:
        for number, entry in enumerate(original(self, *args)):
            if number == 1:
                _swallow_a_ctrl_c()
            yield entry

    monkeypatch.setattr(EventLog, "sparse_entries", sparse_entries)
    assert run(["replay", "--store", store, "--jobs", "1", "-f", "json"]) == 130
    captured = capsys.readouterr()
    assert "interrupted" in captured.err and '"interrupted"' in captured.out
