"""The process pool for pure work: `Workers`, and `ordered_map` on it (chunks of independent items, results in
input order).

`ordered_map(work, chunks, jobs=N, setup=..., setup_args=...)` runs `work(chunk)` in N worker processes and yields
each chunk with its result in the order of the chunks, so a caller that consumes them sees exactly what one
process would have produced. `records import --jobs N` validates its rows with it (docs/runtime.md#parallel-import);
`replay --jobs N` hands its shards to `Workers` directly (one task each, while the parent replays one itself).

- Workers are started with the 'spawn' method (a fork of a parent holding threads — DuckDB's, the progress
  bar's — is unsafe), and each runs `setup(*setup_args)` once: e.g. load a package version from its canonical
  bytes and compile its engine. `work` and `setup` must be module-level functions, their arguments picklable.
- At most `ahead` chunks (default `2 × jobs`) are in flight, submitted or done and not yet consumed: reading the
  input stays ahead of the workers, and they keep working while the consumer is busy with a result (an import
  writing a batch), without all of the input in memory.
- An exception raised by `work` is raised again in the parent at its place in the order; an exception raised
  while reading `chunks` is raised after the results of the chunks read before it. A worker that dies (killed,
  out of memory) is an `InternalError`, never a hang.
- Workers never see Ctrl-C (born with SIGINT blocked, then ignoring it): the parent alone handles it, and
  leaving (by an exception, Ctrl-C or the consumer closing the generator) cancels the chunks not started and
  waits for the running ones (one chunk each; `Workers.close(terminate=True)` ends long tasks at once). A worker
  whose parent dies, even by `kill -9`, exits on its own: no process is left behind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from crmctl.errors import InternalError

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["Workers", "chunked", "exit_with_parent", "on_parent_exit", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

_parent_exit: list[Callable[[], None]] = []  # a worker's cleanups when its parent dies (`on_parent_exit`)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter). When reading `items` fails, the items read before the
    failure still come out, as a last shorter list, before the exception."""
    chunk: list[T] = []
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


class Workers:
    """`jobs` spawned worker processes, each started with `_start` and `setup(*setup_args)`. `hint` ends the
    message of the `InternalError` a dead worker is (what the user can do about it)."""

    def __init__(
        self, jobs: int, *, setup: Callable[..., None] | None = None, setup_args: tuple[Any, ...] = (), hint: str
    ) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._executor = ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(setup, setup_args)
        )
        self._hint = hint

    def submit(self, work: Callable[..., R], *args: Any) -> Future[R]:
        with _sigint_blocked():  # a worker started here is born deaf to Ctrl-C
            return self._executor.submit(work, *args)

    def result(self, future: Future[R]) -> R:
        """The task's result; its exception raised here as it is; a dead worker an `InternalError`. A Ctrl-C that a
        library swallowed before (`crmctl.interrupts`) is raised here rather than waited past."""
        from concurrent.futures.process import BrokenProcessPool

        from crmctl.interrupts import check

        check()
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise InternalError(f"a worker process stopped unexpectedly ({exc}); {self._hint}") from None

    def close(self, *, terminate: bool = False) -> None:
        """Cancel the tasks not started; wait for the running ones, or end them now when `terminate` (Python 3.14
        has `terminate_workers` for this)."""
        processes = list((getattr(self._executor, "_processes", None) or {}).values()) if terminate else []
        manager = getattr(self._executor, "_executor_manager_thread", None)
        self._executor.shutdown(wait=not terminate, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
        if manager is not None:  # after a worker died it may still be ending (and reaping) the others
            manager.join()


def ordered_map(
    work: Callable[[list[T]], R],
    chunks: Iterable[list[T]],
    *,
    jobs: int,
    setup: Callable[..., None],
    setup_args: tuple[Any, ...] = (),
    ahead: int = 0,
) -> Generator[tuple[list[T], R], None, None]:
    """Every chunk with `work(chunk)`, computed in `jobs` worker processes, in the order of `chunks`; at most
    `ahead` (at least `2 × jobs`) chunks in flight."""
    ahead = max(ahead, 2 * jobs)
    workers = Workers(jobs, setup=setup, setup_args=setup_args, hint="nothing was written")
    pending: deque[tuple[list[T], Future[R]]] = deque()
    source = iter(chunks)
    failure: Exception | None = None
    try:
        while True:
            while failure is None and len(pending) < ahead:
                try:
                    chunk = next(source)
                except StopIteration:
                    break
                except Exception as exc:  # the chunks read before it come first, as in one process
                    failure = exc
                    break
                pending.append((chunk, workers.submit(work, chunk)))
            if not pending:
                break
            chunk, future = pending.popleft()
            yield chunk, workers.result(future)
        if failure is not None:
            raise failure
    finally:
        workers.close()


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT held back in this thread (POSIX, main thread), and delivered when the block ends. The executor starts
    its workers inside `submit`, and a child inherits the blocked mask: a Ctrl-C while a worker is still importing
    (before `_start` ignores it) would otherwise print a KeyboardInterrupt traceback from that worker."""
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _start(setup: Callable[..., None] | None, setup_args: tuple[Any, ...]) -> None:
    """A worker's first steps: leave Ctrl-C to the parent, exit with it, collect no garbage cycles (as `crmctl`
    itself runs a command: the work builds many acyclic dicts), then the caller's setup."""
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    gc.disable()
    if setup is not None:
        setup(*setup_args)


def on_parent_exit(cleanup: Callable[[], None]) -> None:
    """In a worker process: run `cleanup` (its errors ignored) when the parent dies without cleaning up itself
    (`kill -9`), before the worker exits (`exit_with_parent`)."""
    _parent_exit.append(cleanup)


def exit_with_parent() -> None:
    """In a worker process: watch the parent's sentinel (readable when it ends) in a daemon thread; exit when it
    fires, after the cleanups `on_parent_exit` registered (the replay pool's workers call it too)."""
    import multiprocessing
    import os
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - only ever called in a worker
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        for cleanup in _parent_exit:
            with suppress(Exception):  # the worker exits now, whatever is left
                cleanup()
        os._exit(1)

    threading.Thread(target=watch, name="crmctl-parent-watch", daemon=True).start()
