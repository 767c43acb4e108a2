"""Validating import rows: in this process, or in a pool of worker processes (`records import --jobs N`).

Checking a row is pure (`RecordEngine.check` with the clock injected) and rows are independent, so they can be
checked anywhere: `checked_rows` yields `(row, result)` in file order either way, and the import writes them in
the parent, in one transaction, exactly as it writes rows checked in process. A worker builds its engine once,
from the canonical bytes of the pinned package version (the copy every record of the import is pinned to, and
that replay re-executes), in the import's locale.

The pool is used only when it pays: with at least `POOL_MIN_ROWS` rows (fewer are checked in process while the
workers would still be starting), and when no async validation would ask a provider. A provider is the shell's
call to a service, injected as a `Resolver` (a closure over the registered providers and their state); moving
those calls to other processes would change how often, in which order and from where the service is asked, so
an entity with async validations is checked in process unless `--no-async` skips them (`pool_refusal`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from contextlib import closing
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

from crmctl.runtime.records import RecordResult

if TYPE_CHECKING:
    from datetime import datetime

    from crmctl.runtime.checks import Resolver
    from crmctl.runtime.records import RecordEngine

__all__ = ["CHUNK_ROWS", "POOL_MIN_ROWS", "Row", "checked_rows", "pool_refusal"]

Row = tuple[int, str | None, Mapping[str, Any]]  # row number (from 1), id or None, field values

# Below this many rows the workers' start-up (spawn, imports, package load and compile: 0.7-2 s for two) costs more
# than validating in parallel saves (about 12 us a row with two processes): docs/runtime.md#parallel-import.
POOL_MIN_ROWS = 50_000
CHUNK_ROWS = 2_000  # rows per task: large enough that pickling and scheduling stay a small part of it

# A worker's engine and clock, set once by `_setup` (module state of the worker process only).
_worker: tuple[RecordEngine, datetime] | None = None

_Checked = tuple[bool, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]  # ok, data, warnings, errors


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


def checked_rows(
    engine: RecordEngine,
    rows: Iterable[Row],
    at: datetime,
    resolver: Resolver | None = None,
    *,
    jobs: int = 1,
    copy: tuple[str, bytes] | None = None,
) -> Generator[tuple[Row, RecordResult], None, None]:
    """Every row with its result, in order. With `jobs` > 1 (and `copy`: the digest and canonical bytes of the
    engine's package version) rows are checked in worker processes when there are at least `POOL_MIN_ROWS`; the
    caller checks `pool_refusal` first, and closes the generator when it leaves early (that stops the workers)."""
    if jobs <= 1 or copy is None:
        yield from ((row, engine.check(row[2], at, resolver)) for row in rows)
        return
    source = iter(rows)
    head: list[Row] = []
    try:
        head.extend(islice(source, POOL_MIN_ROWS))
    except Exception:  # the rows read before the failure are checked first, as in one process
        yield from checked_rows(engine, head, at, resolver)
        raise
    if len(head) < POOL_MIN_ROWS:
        yield from checked_rows(engine, head, at, resolver)
        return
    from crmctl.runtime.pool import chunked, ordered_map

    digest, blob = copy
    pooled = ordered_map(
        _check_chunk,
        chunked(chain(head, source), CHUNK_ROWS),
        jobs=jobs,
        setup=_setup,
        setup_args=(digest, blob, engine.entity, engine.locale, at),
    )
    with closing(pooled):
        for chunk, results in pooled:
            for row, (ok, data, warnings, errors) in zip(chunk, results, strict=True):
                yield row, RecordResult(ok, data, warnings, errors)


def _setup(digest: str, blob: bytes, entity: str, locale: str, at: datetime) -> None:
    """In a worker: load the pinned copy and build its engine, once."""
    from crmctl.runtime.packages import load_copy
    from crmctl.runtime.records import RecordEngine

    global _worker
    _worker = (RecordEngine(load_copy(digest, blob), entity, locale), at)


def _check_chunk(rows: list[Row]) -> list[_Checked]:
    """In a worker: the results of a chunk of rows, as plain tuples (they pickle faster than the dataclass)."""
    assert _worker is not None
    engine, at = _worker
    out: list[_Checked] = []
    for _, _, values in rows:
        result = engine.check(values, at)
        out.append((result.ok, result.data, result.warnings, result.errors))
    return out
