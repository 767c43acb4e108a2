"""An import's batch writes, in order: in the calling thread, or behind it in one thread of their own.

While worker processes check an import's rows (`row_checks`), this process chains and inserts them in batches. A
batch that fills a row group of the store keeps DuckDB compressing for about a second; meanwhile this process
took no results and handed out no rows, the workers ran out of rows after about 0.7 s, and a core idled (twice
per 300,000 rows of leads; docs/benchmarks.md#parallel-import). Written behind, by a thread of their own, the
batches no longer hold up the loop that feeds the workers: the store's queries release the GIL.

Only with the pool: with the rows checked in this process, the writing thread and the checking loop fought over
the GIL and a 300,000-row import took 22 s instead of 17.6 s.

The batches stay in order and nothing changes in what is written: the thread runs the same write, one batch
after the other, in the caller's transaction; the caller touches the store only after `finish` or `close`. What
fails is what would have failed in one thread:

- the first failed batch's error is raised in the caller (at its next `write`, or at `finish`), and the batches
  after it are not written;
- an error the caller meets itself (an unreadable row, a rejected one, a worker that died) came after the batches
  it had handed over: leaving the block with it first writes them, and the first of them the store refuses is
  the error raised, as it would have been in one thread;
- leaving with Ctrl-C (or once it was pressed: `crmctl.interrupts`) drops the batches not yet begun and waits for
  the one being written, also through more Ctrl-Cs, so that the caller's rollback never runs beside a query of
  it; the first Ctrl-C stops that query.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from crmctl import interrupts

__all__ = ["BEHIND", "BatchWrites"]

BEHIND = 2
"""Batches that may wait behind the one being written: while a row group is compressed (about a second) the loop
hands over two batches and gathers a third, about 30,000 rows of leads from two workers (measured with three
outstanding; docs/benchmarks.md#parallel-import)."""


class BatchWrites:
    """Runs `write(*batch)` for each batch, in order: here until `behind` is called, then in a thread of its own.
    One per import: not used again after `close`."""

    def __init__(self, write: Callable[..., None]) -> None:
        self._write = write
        self._thread: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        self._depth = 0
        self._failed = False  # no batch begins from now on
        self._busy = False  # a batch is being written

    def __enter__(self) -> BatchWrites:
        return self

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        try:
            if isinstance(error, Exception) and not interrupts.pressed():
                self.finish()  # in one thread they came before `error`: the first failed one is the error
        finally:
            self.close()

    def behind(self, depth: int = BEHIND) -> None:
        """Write the following batches in a thread of their own, with at most `depth` waiting."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="crmctl-write")
            self._depth = depth

    def write(self, *batch: Any) -> None:
        """Write `batch`, or queue it; raise the error of a batch written before, if one failed. The caller does
        not change `batch` afterwards."""
        if self._thread is None:
            self._write(*batch)
            return
        self._pending.append(self._thread.submit(self._written, batch))
        while len(self._pending) > self._depth + 1:  # the one being written (or done), and those waiting
            self._pending.popleft().result()

    def finish(self) -> None:
        """Wait until every batch is written; raise the error of the first one that failed."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Drop the batches not yet begun, wait for the one being written, and end the thread (no error raised
        but a Ctrl-C pressed meanwhile, after the wait)."""
        self._failed = True  # first; and before reading `_busy`: `_written` sets `_busy` before reading `_failed`
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        self._pending.clear()
        thread.shutdown(wait=False, cancel_futures=True)  # the waiting ones: not begun, and never will be
        pressed: KeyboardInterrupt | None = None
        while True:  # polled: a lock or a join interrupted by Ctrl-C can be left held, or think itself done
            try:
                while self._busy:
                    time.sleep(0.005)
                break
            except KeyboardInterrupt as again:
                pressed = again
        try:
            thread.shutdown(wait=True)  # no batch is begun any more: the thread only ends
        except KeyboardInterrupt as again:
            pressed = again
        if pressed is not None:
            raise pressed

    def _written(self, batch: tuple[Any, ...]) -> None:
        self._busy = True
        try:
            if self._failed:
                return
            self._write(*batch)
        except BaseException:
            self._failed = True
            raise
        finally:
            self._busy = False
