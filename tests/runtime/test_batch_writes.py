"""Batch writes behind the import loop (`runtime.batch_writes`): order, bounds, errors, and leaving early."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from crmctl.runtime.batch_writes import BatchWrites


class Log:
    """A write that records each batch and the thread that wrote it; batch `block` waits for `release`."""

    def __init__(self, block: int | None = None, fail: int | None = None) -> None:
        self.batches: list[int] = []
        self.threads: set[str] = set()
        self.block, self.fail = block, fail
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, batch: int) -> None:
        if batch == self.block:
            self.entered.set()
            assert self.release.wait(10)
        if batch == self.fail:
            raise ValueError(f"batch {batch} refused")
        self.threads.add(threading.current_thread().name)
        self.batches.append(batch)


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("crmctl-write")]


def test_batches_are_written_here_until_the_pool_asks_for_writing_behind() -> None:
    log = Log()
    with BatchWrites(log) as writes:
        writes.write(1)
        assert log.batches == [1]  # written before `write` returned
        writes.behind()
        for batch in range(2, 30):
            writes.write(batch)
        writes.finish()
    assert log.batches == list(range(1, 30))
    assert threading.current_thread().name in log.threads and any(t.startswith("crmctl-write") for t in log.threads)
    assert _writer_threads() == []


def test_at_most_depth_batches_wait_behind_the_one_being_written() -> None:
    log = Log(block=1)
    with BatchWrites(log) as writes:
        writes.behind(depth=2)
        for batch in (1, 2, 3):  # one being written, two waiting: no wait here
            writes.write(batch)
        assert log.entered.wait(10)
        fourth = threading.Thread(target=writes.write, args=(4,))
        fourth.start()
        fourth.join(0.3)
        assert fourth.is_alive(), "a fourth batch was queued while three were outstanding"
        log.release.set()
        fourth.join(10)
        writes.finish()
    assert log.batches == [1, 2, 3, 4]


def test_the_first_failed_batch_is_raised_and_later_ones_are_not_written() -> None:
    log = Log(fail=3)
    with pytest.raises(ValueError, match="batch 3 refused"), BatchWrites(log) as writes:
        writes.behind(depth=10)
        for batch in range(1, 8):
            writes.write(batch)
        writes.finish()
    assert log.batches == [1, 2]
    assert _writer_threads() == []


def test_leaving_early_drops_waiting_batches_and_waits_for_the_one_being_written() -> None:
    log = Log(block=2)
    with pytest.raises(KeyboardInterrupt), BatchWrites(log) as writes:
        writes.behind(depth=5)
        for batch in range(1, 6):
            writes.write(batch)
        assert log.entered.wait(10)
        threading.Timer(0.2, log.release.set).start()
        raise KeyboardInterrupt
    # Leaving the block waited for batch 2 (released 0.2 s later) before going on: no write runs beside the
    # caller's rollback; batches 3-5 were dropped.
    assert log.release.is_set()
    assert log.batches == [1, 2]
    assert _writer_threads() == []


def test_an_error_met_here_comes_after_the_batches_handed_over_before_it() -> None:
    # In one thread, batches 1-3 were written before the caller met its error: they are written first.
    log = Log(block=1)
    with pytest.raises(KeyError), BatchWrites(log) as writes:
        writes.behind()
        for batch in (1, 2, 3):
            writes.write(batch)
        threading.Timer(0.2, log.release.set).start()
        raise KeyError("the caller's own error, after batch 3")
    assert log.batches == [1, 2, 3]
    assert _writer_threads() == []


def test_a_batch_refused_before_an_error_met_here_is_the_error_as_in_one_thread() -> None:
    log = Log(fail=2)
    with pytest.raises(ValueError, match="batch 2 refused") as raised, BatchWrites(log) as writes:
        writes.behind()
        for batch in (1, 2, 3):
            writes.write(batch)
        raise KeyError("the caller's own error, after batch 3")
    assert isinstance(raised.value.__context__, KeyError)
    assert log.batches == [1]
    assert _writer_threads() == []


def test_ctrl_c_is_not_hidden_by_a_batchs_error_and_writes_nothing_more() -> None:
    log = Log(block=1, fail=1)
    with pytest.raises(KeyboardInterrupt), BatchWrites(log) as writes:
        writes.behind()
        for batch in (1, 2, 3):
            writes.write(batch)
        threading.Timer(0.2, log.release.set).start()
        raise KeyboardInterrupt
    assert log.batches == []
    assert _writer_threads() == []


def test_ctrl_c_pressed_again_while_a_batch_is_written_still_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second Ctrl-C in `close` must not let the caller's rollback run beside the batch being written."""
    from crmctl.runtime import batch_writes

    log = Log(block=2)
    polling, pressed_again = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:  # `close` waiting for the batch being written
        polling.set()
        time.sleep(seconds)

    def press_again_then_release() -> None:
        assert polling.wait(10)
        pressed_again.set()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)
        log.release.set()

    monkeypatch.setattr(batch_writes, "time", SimpleNamespace(sleep=sleep))
    with pytest.raises(KeyboardInterrupt), BatchWrites(log) as writes:
        writes.behind(depth=5)
        for batch in (1, 2, 3):
            writes.write(batch)
        assert log.entered.wait(10)
        threading.Thread(target=press_again_then_release).start()
        raise KeyboardInterrupt
    assert pressed_again.is_set() and log.release.is_set()
    assert log.batches == [1, 2]
    assert _writer_threads() == []
