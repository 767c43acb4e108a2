"""Checking and encoding import rows: in this process, or in a pool of worker processes (`records import --jobs N`).

Checking a row is pure (`RecordEngine.check` with the clock injected) and rows are independent, so they can be
checked anywhere, and so can everything the store writes for a row except the hash chain: its record's data as
canonical JSON and its log entry's body encoded (`storage.events.encode_body`). `encoded_rows` yields those
(`Encoded` tuples of strings) in file order either way, and the import chains and writes them in the parent, in
one transaction. From a `RowFile` the workers also convert the raw rows (JSON parsing, CSV cells): the parent
only splits the file. A worker builds its engine once,
from the canonical bytes of the pinned package version (the copy every record of the import is pinned to, and
that replay re-executes), in the import's locale.

The pool is used only when it pays: with at least `POOL_MIN_ROWS` rows (fewer are checked in process while the
workers would still be starting; a file's rows are estimated from its size and its first rows, so for a big file
the workers start at once), and when no async validation would ask a provider. A provider is the shell's
call to a service, injected as a `Resolver` (a closure over the registered providers and their state); moving
those calls to other processes would change how often, in which order and from where the service is asked, so
an entity with async validations is checked in process unless `--no-async` skips them (`pool_refusal`).

A worker hands a chunk's result (about 1.3 kB a row) back through a file in a private temporary directory, the
spool, and only the file's name through the pool's result pipe (`_spooled`, `_unspooled`). Through the pipe, one
shared by every worker, a worker waited 12-14 ms a chunk for this process to drain its result, and the cores
went idle meanwhile (docs/benchmarks.md#parallel-import). A result that cannot be written there (a full disk)
goes through the pipe as before. The spool is removed when the import ends, after the workers have stopped; when
this process is killed outright, by its workers as they exit, or, if they had not started yet, by the same
user's next pooled import with the same temporary directory (POSIX: `_spool`, `_sweep`). The spool is a
directory only this user can enter (`tempfile`): its files are unpickled as trusted as the pipe's messages.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from itertools import chain, count, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import EnvironmentFailure, InputError
from crmctl.runtime import eventlog
from crmctl.runtime.record_files import RawRow, Row, RowFile, RowPlan, row_converter
from crmctl.runtime.records import record_body
from crmctl.runtime.storage.events import EncodedBody, encode_body

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from crmctl.runtime.checks import Resolver
    from crmctl.runtime.records import RecordEngine

__all__ = ["CHUNK_ROWS", "POOL_MIN_ROWS", "Encoded", "Row", "RowWriting", "encoded_rows", "pool_refusal"]

Encoded = tuple[int, list[dict[str, Any]] | None, str, bool, str, EncodedBody | None]
"""A checked row as the import writes it: (row number, the findings rejecting it or None; for an accepted row:
its record id, whether it has warnings, its data's canonical JSON, its log entry's body encoded: `encode_body`)."""

# Below this many rows the workers' start-up (spawn, imports, package load and compile: 0.7-2 s for two) costs more
# than validating in parallel saves (about 12 us a row with two processes): docs/runtime.md#parallel-import.
POOL_MIN_ROWS = 50_000
# A file's rows are estimated from its first SAMPLE_ROWS (`_estimated_rows`): a pool for a big file starts at once,
# its workers importing and compiling while this process reads on, rather than after POOL_MIN_ROWS rows are read.
SAMPLE_ROWS = 1_000
CHUNK_ROWS = 2_000  # rows per task: large enough that pickling and scheduling stay a small part of it
# Rows in flight (read, and not yet handed to the import's write batch): enough that the workers go on while the
# import writes a batch, or DuckDB a full row group (1-2 s each 122,880 rows). At most AHEAD_ROWS, and for a file
# at most AHEAD_BYTES of it (rows of the sample's size): about 100 MB of raw rows and results for a leads import
# (300 bytes a row), no more for wider rows; never fewer than 2 chunks a worker.
AHEAD_ROWS = 40_000
AHEAD_BYTES = 12_000_000


@dataclass(frozen=True)
class RowWriting:
    """What an accepted row is written with: the tenant, the pinned version (name, version, digest) and the instant."""

    tenant: str
    package: Mapping[str, str]
    at: datetime
    stamp: str  # `at` in the store's ISO form


# A worker's engine, how it writes rows and converts raw ones, and its spool: set once by `_setup` (module state of
# a worker only).
_worker: tuple[RecordEngine, RowWriting, Callable[[RawRow], Row] | None, str | None] | None = None
_spooled_chunks = count()  # a worker's file names in the spool
_spool_lock = threading.Lock()  # a worker's writing a file in the spool, and removing the spool when its parent died
SPOOL_PREFIX = "crmctl-import-"

Checked = tuple[list[Encoded], tuple[str, str | None] | None]
"""A chunk's result: its rows checked and encoded, and the error (message, hint) of a row that did not convert."""


def pool_refusal(engine: RecordEngine, resolver: Resolver | None) -> str | None:
    """Why the rows of `engine` cannot be checked in worker processes with `resolver`, or None when they can."""
    if resolver is None:
        return None
    asking = sorted(v.id for v in engine.validator.by_id.values() if v.type == "async")
    if not asking:
        return None
    return (
        f"{engine.entity} has async validations ({', '.join(asking)}) asking providers, which are called from this "
        "process only: rows are checked in one process (--no-async skips them and allows --jobs)"
    )


def encoded_rows(
    engine: RecordEngine,
    rows: Iterable[Row],
    writing: RowWriting,
    resolver: Resolver | None = None,
    *,
    jobs: int = 1,
    copy: tuple[str, bytes] | None = None,
    on_pool: Callable[[], None] | None = None,
) -> Generator[Encoded, None, None]:
    """Every row checked and encoded, in order. With `jobs` > 1 (and `copy`: the digest and canonical bytes of the
    engine's package version) rows are checked in worker processes when there are at least `POOL_MIN_ROWS`: a
    `RowFile`'s raw rows (the workers convert them too), other rows as they are; `on_pool` is called then, before
    the first row goes to a worker. The caller checks `pool_refusal` first, and closes the generator when it
    leaves early (that stops the workers)."""
    if jobs <= 1 or copy is None:
        yield from (_encode(engine, writing, row, resolver) for row in rows)
        return
    if isinstance(rows, RowFile):
        with closing(rows.items()) as items:  # leaving early closes the file at once
            yield from _pooled(engine, writing, resolver, rows, items, jobs, copy, on_pool)
    else:
        yield from _pooled(engine, writing, resolver, rows, iter(rows), jobs, copy, on_pool)


def _pooled(
    engine: RecordEngine,
    writing: RowWriting,
    resolver: Resolver | None,
    rows: Iterable[Row],
    items: Iterator[Any],
    jobs: int,
    copy: tuple[str, bytes],
    on_pool: Callable[[], None] | None,
) -> Generator[Encoded, None, None]:
    """`encoded_rows` from `items` (the raw rows of `rows` when it is a `RowFile`, else `rows`) in `jobs` workers,
    once there are enough (`on_pool` is called then)."""
    head: list[Any] = []
    try:
        head.extend(islice(items, SAMPLE_ROWS))
        row_bytes = _row_bytes(rows, head)
        enough = _estimated_rows(rows, head, row_bytes) >= POOL_MIN_ROWS
        if not enough:  # read on until it is known
            head.extend(islice(items, max(0, POOL_MIN_ROWS - len(head))))
            enough = len(head) >= POOL_MIN_ROWS
    except Exception:  # the rows read before the failure come first, as in one process
        yield from _in_process(engine, writing, resolver, rows, head)
        raise
    if not enough:
        yield from _in_process(engine, writing, resolver, rows, head)
        return
    from crmctl.runtime.pool import chunked, ordered_map

    if on_pool is not None:
        on_pool()
    digest, blob = copy
    plan = rows.plan if isinstance(rows, RowFile) else None
    with _spool() as spool:  # removed after `pooled` is closed (its workers stopped)
        pooled = ordered_map(
            _encode_chunk,
            chunked(chain(head, items), CHUNK_ROWS),
            jobs=jobs,
            ahead=min(AHEAD_ROWS, AHEAD_BYTES // row_bytes if row_bytes else AHEAD_ROWS) // CHUNK_ROWS,
            setup=_setup,
            setup_args=(digest, blob, engine.entity, engine.locale, writing, plan, spool),
        )
        with closing(pooled):
            for _, result in pooled:
                encoded, failure = _unspooled(result)
                yield from encoded
                if failure is not None:
                    message, hint = failure
                    raise InputError(message, hint=hint)


def _row_bytes(rows: Iterable[Row], head: list[Any]) -> int:
    """The mean size in bytes of the raw rows in `head` as the file holds them (UTF-8, with the line break; a CSV
    record read into cells: its cells and separators, without quotes), at least 1; 0 when `rows` is not a
    `RowFile`."""
    if not isinstance(rows, RowFile) or not head:
        return 0
    ending = int(rows.kind == "csv")  # a CSV line without quotes is kept without its line break, a JSONL line with
    total = 0
    for _, _, text in head:
        total += len(text.encode()) + ending if isinstance(text, str) else sum(len(cell.encode()) + 1 for cell in text)
    return max(total // len(head), 1)


def _estimated_rows(rows: Iterable[Row], head: list[Any], row_bytes: int) -> int:
    """How many rows there are, from the first ones read (`head`, of `row_bytes` bytes each): for a `RowFile` with
    more rows than the sample, its size over `row_bytes`; otherwise those read."""
    if not isinstance(rows, RowFile) or len(head) < SAMPLE_ROWS:
        return len(head)
    try:
        size = rows.path.stat().st_size
    except OSError:  # reading it goes on, and says what is wrong when it is
        return len(head)
    return size // row_bytes


def _in_process(
    engine: RecordEngine, writing: RowWriting, resolver: Resolver | None, rows: Iterable[Row], head: list[Any]
) -> Iterable[Encoded]:
    """`head` (raw rows of `rows` when it is a `RowFile`) checked and encoded here."""
    converted: Iterable[Row] = head
    if isinstance(rows, RowFile) and head:
        convert = row_converter(rows.plan, engine)
        converted = (convert(item) for item in head)
    return (_encode(engine, writing, row, resolver) for row in converted)


def _encode(engine: RecordEngine, writing: RowWriting, row: Row, resolver: Resolver | None) -> Encoded:
    number, given_id, values = row
    result = engine.check(values, writing.at, resolver)
    if not result.ok:
        return number, result.errors, "", False, "", None
    record_id = given_id or f"{engine.entity}-{number}"
    body = record_body("create", writing.package, engine, record_id, writing.stamp, values, result)
    return (
        number,
        None,
        record_id,
        bool(result.warnings),
        eventlog.dumps(result.data),
        encode_body(writing.tenant, body),
    )


def _setup(
    digest: str,
    blob: bytes,
    entity: str,
    locale: str,
    writing: RowWriting,
    plan: RowPlan | None,
    spool: str | None = None,
) -> None:
    """In a worker: load the pinned copy and build its engine, and the raw rows' conversion, once; results go
    through files in `spool` (a directory) when given."""
    from crmctl.runtime.packages import load_copy
    from crmctl.runtime.records import RecordEngine

    global _worker
    if spool is not None:  # a parent killed outright cannot remove it: its workers do, as they exit
        from functools import partial

        from crmctl.runtime.pool import on_parent_exit

        on_parent_exit(partial(_remove_spool, spool))
    engine = RecordEngine(load_copy(digest, blob), entity, locale)
    _worker = (engine, writing, None if plan is None else row_converter(plan, engine), spool)


def _encode_chunk(items: list[Any]) -> Checked | Path:
    """In a worker: a chunk of rows (raw or not) checked and encoded, as plain tuples of strings (they pickle
    faster than dataclasses); a row that does not convert ends the chunk with its error (message, hint). Returned
    as the path of the file in the spool that holds it, when there is one (`_spooled`)."""
    assert _worker is not None
    engine, writing, convert, spool = _worker
    out: list[Encoded] = []
    failure: tuple[str, str | None] | None = None
    for item in items:
        try:
            row = item if convert is None else convert(item)
        except InputError as exc:
            failure = (exc.message, exc.hint)
            break
        out.append(_encode(engine, writing, row, None))
    return (out, failure) if spool is None else _spooled((out, failure), spool)


@contextmanager
def _spool() -> Iterator[str | None]:
    """A new spool for an import's results, removed when the context ends: a private temporary directory (mode
    0700, `tempfile`) named after this process (`crmctl-import-<pid>-...`), which this process holds a lock on
    (`flock`) until then; None (results through the pipe) when no temporary directory can be made. First the
    spools of this user that no process holds are removed (`_sweep`): a parent killed outright while its workers
    were still starting left its spool to no one."""
    import tempfile

    try:
        directory = tempfile.gettempdir()
    except OSError:  # no usable temporary directory at all
        yield None
        return
    with suppress(Exception):  # tidying up never fails an import
        _sweep(directory)
    try:
        spool = tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=directory)
    except OSError:
        yield None
        return
    held = _hold(spool)
    try:
        yield spool
    finally:
        _rmtree(spool)
        if held is not None:
            os.close(held)


def _hold(spool: str, flags: int = 0) -> int | None:
    """A descriptor of the directory `spool` (opened with `flags` too) with an exclusive `flock` on it, taken now
    and released by the kernel when this process ends, even by `kill -9`; None when it is gone, another process
    holds it, or there is no `flock` here (Windows: no sweep either)."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        held = os.open(spool, os.O_RDONLY | flags)
    except OSError:
        return None
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(held)
        return None
    return held


def _sweep(directory: str) -> None:
    """Remove this user's spools in `directory` that no process holds (`_hold`): those of imports killed outright.
    Only real directories (no symlink is followed) of mode 0700 named `crmctl-import-*` are considered; a lock
    held, also by a process in another pid namespace sharing the directory, keeps a spool."""
    import stat

    if os.name != "posix":
        return
    with os.scandir(directory) as entries:
        candidates = []
        for entry in entries:
            if not entry.name.startswith(SPOOL_PREFIX):
                continue
            facts = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(facts.st_mode) and facts.st_uid == os.getuid() and stat.S_IMODE(facts.st_mode) == 0o700:
                candidates.append(entry.path)
    for path in candidates:
        held = _hold(path, os.O_DIRECTORY | os.O_NOFOLLOW)
        if held is None:  # a live import's, or gone meanwhile
            continue
        try:
            _rmtree(path)
        finally:
            os.close(held)


def _rmtree(path: str | Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _remove_spool(spool: str) -> None:
    """In a worker whose parent died: remove the spool, after the file being written now if any, and write no
    more. (Should that write take over 10 s, the spool is removed anyway, and a file created meanwhile keeps it
    for the next pooled import's sweep.)"""
    _spool_lock.acquire(timeout=10)  # held for good: `_spooled` writes no more files
    _rmtree(spool)


def _spooled(checked: Checked, spool: str) -> Checked | Path:
    """In a worker: `checked` pickled into a new file in `spool`, and that file's path; `checked` itself when the
    file cannot be written (it then goes through the pool's pipe)."""
    path = Path(spool, f"{os.getpid()}-{next(_spooled_chunks)}")
    with _spool_lock:
        try:
            handle = path.open("xb")
        except OSError:
            return checked
        try:
            with handle:
                pickle.dump(checked, handle, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError:  # a full disk: the part written is removed
            path.unlink(missing_ok=True)
            return checked
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return path


def _unspooled(result: Checked | Path) -> Checked:
    """A worker's result (`_encode_chunk`): read from its file in the spool, which is removed, when it is a path."""
    if not isinstance(result, Path):
        return result
    try:
        data = result.read_bytes()
        result.unlink()
    except OSError as exc:
        raise EnvironmentFailure(
            f"the import's workers left a result in {result}, and it cannot be read or removed ({exc.strerror}): "
            "was the temporary directory cleaned while the import ran? Nothing was written"
        ) from None
    checked: Checked = pickle.loads(data)  # written by our own worker into our private directory
    return checked
