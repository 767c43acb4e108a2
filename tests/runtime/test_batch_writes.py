"""Batch writes behind the import loop (`runtime.batch_writes`): order, bounds, errors, and leaving early."""

from __future__ import annotations

import threading

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


def test_an_error_raised_here_is_not_hidden_by_a_batchs_error() -> None:
    log = Log(fail=1)
    with pytest.raises(KeyError), BatchWrites(log) as writes:
        writes.behind()
        writes.write(1)
        raise KeyError("the caller's own error")
    assert log.batches == []
