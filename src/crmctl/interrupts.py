"""Ctrl-C that no library can swallow.

Python turns SIGINT into `KeyboardInterrupt` wherever the main thread is. Inside a DuckDB query that is DuckDB's
to handle: it interrupts the query and raises its own `RuntimeError: Query interrupted` (after a delay), or, when
the query ends first, drops the interrupt altogether, and the command runs on to the end. `watched()` keeps the
user's Ctrl-C whatever a library makes of it:

- while it is active, SIGINT sets a flag before raising `KeyboardInterrupt` as usual;
- an exception leaving it after a Ctrl-C (DuckDB's, or the error a store made of it) leaves as `KeyboardInterrupt`,
  and so does the outermost block when it ends any other way after one: the first Ctrl-C always ends the
  command with exit 130;
- the stores' transactions refuse to commit after a Ctrl-C (`pressed()`, rolled back), so nothing is committed
  after it; long loops call `check()` at their safe points (between chunks, per replayed entry) to stop early;
- a query that swallowed it would still run to its end (a `COPY` of a whole store, a scan of a billion rows):
  every connection passed to `interruptible` is told to stop (its `interrupt()`: DuckDB's, or a cancel of the
  PostgreSQL statement running, whichever thread runs it), from a thread of its own, every 0.2 s from the Ctrl-C
  until the block ends. The block's end stops that thread and waits for it: a thread still inside DuckDB when the
  interpreter shuts down is torn down through DuckDB's C++ frames, and the process aborts ("FATAL: exception not
  rethrown", exit -6 instead of 130).

Only the main thread installs the handler, and only over Python's default one: a process started with Ctrl-C
ignored (`nohup`, a background job) keeps ignoring it, and a server's own handler stays in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from weakref import WeakSet

T = TypeVar("T")

__all__ = ["check", "interruptible", "pressed", "watched"]

_pressed = False
_depth = 0
_interrupter: tuple[Any, Any] | None = None  # the thread interrupting queries after a Ctrl-C, and its stop (an Event)
_stoppable: WeakSet[Any] = WeakSet()
_REPEAT = 0.2  # seconds between two `interrupt()` calls: a query started after one is stopped by the next


def interruptible(connection: T) -> T:
    """`connection` (an object with `interrupt()`, e.g. a DuckDB connection or cursor), stopped on Ctrl-C; it is
    held weakly, so closing and dropping it is all the caller does."""
    _stoppable.add(connection)
    return connection


def pressed() -> bool:
    """Whether Ctrl-C came since the outermost `watched()` now active began."""
    return _pressed


def check() -> None:
    """Raise `KeyboardInterrupt` when Ctrl-C came (and a library swallowed it)."""
    if _pressed:
        raise KeyboardInterrupt


def _on_sigint(signum: int, frame: Any) -> None:
    global _pressed, _interrupter
    if not _pressed:
        _pressed = True
        import threading

        stop = threading.Event()
        thread = threading.Thread(target=_stop_queries, args=(stop,), name="crmctl-interrupt", daemon=True)
        _interrupter = (thread, stop)
        thread.start()
    raise KeyboardInterrupt


def _stop_queries(stop: Any) -> None:
    """Interrupt every interruptible connection, every `_REPEAT` seconds until `stop` (an Event) is set."""
    from contextlib import suppress

    while not stop.is_set():
        for connection in list(_stoppable):
            if stop.is_set():  # the block ended: no call after it (a PostgreSQL cancel may take seconds)
                return
            with suppress(Exception):  # closed meanwhile: nothing to stop
                connection.interrupt()
        stop.wait(_REPEAT)


def _stop_interrupter() -> None:
    """End the interrupting thread, if a Ctrl-C started one, and wait for it (it is between two `interrupt()`
    calls at most one call away; the wait is bounded all the same)."""
    global _interrupter
    if _interrupter is not None:
        thread, stop = _interrupter
        _interrupter = None
        stop.set()
        thread.join(timeout=5)


@contextmanager
def watched() -> Iterator[None]:
    """Ctrl-C recorded while the block runs (see the module); nested blocks share the outermost one's record. The
    outermost block ends with `KeyboardInterrupt` after a Ctrl-C however the command ended (an error, `SystemExit`,
    or normally after a library swallowed it): its commits were refused from the Ctrl-C on."""
    import signal
    import threading

    global _depth, _pressed
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outermost = _depth == 0
    previous: Any = None
    _depth += 1
    try:
        if outermost:
            _pressed = False
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                previous = signal.signal(signal.SIGINT, _on_sigint)
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if _pressed and not isinstance(exc, GeneratorExit):
            raise KeyboardInterrupt from exc
        raise
    else:
        if outermost and _pressed:
            raise KeyboardInterrupt
    finally:
        _depth -= 1
        if outermost:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)  # first: a Ctrl-C from here on is Python's own again
            _pressed = False
            _stop_interrupter()
