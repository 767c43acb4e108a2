"""Replay cut into shards: `replay --shard I/N`, `replay merge`, and `replay --jobs N` on a process pool.

A shard report is the `--format json` output of `replay --shard I/N` with one more member, `shard`: its place
(index, count), the log it replayed (tenant, number of entries, hash of the last: shards of another log are
refused), the version replayed against (with its digest), the `--fail-on` given, and the log position of every
divergence and of every differing session's first entry, so `replay merge` gives exactly what one replay of the
whole log gives. A shard report keeps every divergence, whatever `--limit`: the limit applies at the merge.

`--jobs N` replays shard 1 of N of the log in this process and shards 2..N in N - 1 worker processes (crmctl's one
pool, `runtime.pool.Workers`: spawned, no fork under threads), and merges their reports. Each worker opens the log
itself from a `ReplayLocator` (`open_replay_source`, the one place a replay opens its source) and parses only its
shard's entries. A worker costs about as much to start as replaying ten thousand events, so a log gets one job per
`ENTRIES_PER_JOB` entries at most, and a smaller log replays in process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable

    from crmctl.model.package import Package
    from crmctl.runtime.replay import Buckets, ReplayReport, Shard
    from crmctl.runtime.storage.events import SparseEntry
    from crmctl.runtime.store import Store

__all__ = [
    "ENTRIES_PER_JOB",
    "ReplayLocator",
    "load_against",
    "merge_shard_reports",
    "open_replay_source",
    "parse_fail_on",
    "parse_shard",
    "pool_plan",
    "pool_size",
    "replay_in_pool",
    "replay_log",
    "shard_json",
    "shares",
]

ENTRIES_PER_JOB = 20_000  # a spawned worker starts in about the time of replaying 10,000 events


@dataclass(frozen=True)
class ReplayLocator:
    """Where a replay reads its log, picklable: what a worker process needs to open the source itself."""

    store: str | None  # as given, a file or a URL (None: the store the project configures)
    export: Path | None
    tenant: str
    against: str | None  # the --against source, loaded again by each worker


@dataclass
class LogIdentity:
    """The log a replay read: its tenant, number of entries and the hash of the last one."""

    tenant: str
    entries: int = 0
    head: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "entries": self.entries, "head": self.head}


def load_against(spec: str) -> Any:
    """A package to replay against: a directory, an archive, `git:REV[:path]` or `registry:NAME@VERSION`."""
    from crmctl.compat.sources import open_source
    from crmctl.model.package import load_tree
    from crmctl.registry import open_registry_ref

    package = load_tree(open_source(spec, schemes={"registry": lambda ref: open_registry_ref(ref, None)}))
    if not package.valid:
        first = package.diagnostics[0]
        raise InputError(f"{spec}: {first.location}: {first.message} (run crmctl lint)")
    return package


def parse_fail_on(text: str | None) -> frozenset[str]:
    """`--fail-on` of replay: the divergence classes that exit 1; `behavioral` is always included, and is the
    default (see `run_replay` for presentation differences against the pinned versions)."""
    from crmctl.runtime.replay import CLASSES

    classes = {"behavioral"}
    for part in (p.strip() for p in (text or "").split(",")):
        if part and part not in CLASSES:
            raise UsageError(f"--fail-on: unknown divergence class {part!r}; choose from {', '.join(CLASSES)}")
        if part:
            classes.add(part)
    return frozenset(classes)


def parse_shard(text: str) -> Shard:
    """`--shard I/N`: shard I (from 1) of N."""
    from crmctl.runtime.replay import Shard

    index, slash, count = text.partition("/")
    if not slash or not index.isascii() or not count.isascii() or not index.isdigit() or not count.isdigit():
        raise UsageError(f"--shard {text!r}: give I/N, shard I of N (e.g. 1/4)")
    if not 1 <= int(index) <= int(count):
        raise UsageError(f"--shard {text!r}: I runs from 1 to N (shard 1/{count} is the first)")
    return Shard(int(index), int(count))


@contextmanager
def open_replay_source(locator: ReplayLocator) -> Iterator[tuple[Store, dict[str, bytes]]]:
    """The store replay reads package copies from, and the copies an export carries. An export that carries its
    copies needs no store at all; one written before exports carried them needs the store it came from."""
    from crmctl.cli.inputs import open_store, resolve_store
    from crmctl.runtime.store import Store, read_export_packages

    export = locator.export
    carried = read_export_packages(export) if export is not None else None
    if carried is None:
        local = resolve_store(None)
        if export is not None and locator.store is None and isinstance(local, Path) and not local.exists():
            raise InputError(
                f"{export} carries no package copies (it was exported before exports carried them): "
                "replay it with --store pointing at the store it was exported from, or export the log "
                "again"
            )
        with open_store(locator.store, read_only=True) as store:
            yield store, {}
        return
    with Store.in_memory() as scratch:
        yield scratch, {digest: blob for digest, (_, _, blob) in carried.items()}


def replay_log(
    locator: ReplayLocator, target: Package | None, sessions: Container[str] | None, session: str | None = None
) -> tuple[ReplayReport, LogIdentity]:
    """Replay the log `locator` names (only `session`'s entries when given), and say which log it was. Entries no
    session of `sessions` needs (`shard_key`) are read but not parsed."""
    from crmctl.runtime.replay import replay, session_entries
    from crmctl.runtime.service import Runtime

    identity = LogIdentity(locator.tenant)
    keep = _parsed(sessions, session)
    with open_replay_source(locator) as (store, copies):
        runtime = Runtime(store, locator.tenant, copies)
        entries: Iterable[Mapping[str, Any] | None]
        if locator.export is not None:
            from crmctl.runtime.storage.events import read_sparse_export

            entries = _tallied(read_sparse_export(locator.export, locator.tenant, keep), identity)
        elif session is None:
            entries = _tallied(store.log.sparse_entries(locator.tenant, keep), identity)
        else:
            entries = session_entries(store, locator.tenant, session)
        report = replay(runtime, entries, against=target, sessions=sessions)
    return report, identity


def _parsed(sessions: Container[str] | None, session: str | None) -> Callable[[str], bool]:
    """Whose entries a replay of `sessions` (a `Shard`), or of `session`, parses: those of its shard keys."""
    from crmctl.runtime.replay import Buckets, Shard, shard_key

    if isinstance(sessions, (Shard, Buckets)):
        return sessions.__contains__
    key = shard_key(session) if session is not None else None

    def wanted(other: str) -> bool:
        return key is None or shard_key(other) == key

    return wanted


def _tallied(entries: Iterable[SparseEntry], identity: LogIdentity) -> Iterator[dict[str, Any] | None]:
    from crmctl.interrupts import check

    for hash_, entry in entries:
        check()  # a Ctrl-C the store's read swallowed ends the replay here
        identity.entries += 1
        identity.head = hash_
        yield entry


def shard_json(
    shard: Shard, report: ReplayReport, identity: LogIdentity, target: Package | None, fail_on: str | None
) -> dict[str, Any]:
    """The `shard` member of a shard report: what `replay merge` needs beyond replay's own result."""
    differing = {d.session for d in report.divergences}
    return {
        "index": shard.index,
        "count": shard.count,
        "log": identity.to_json(),
        "againstDigest": _digest(target),
        "failOnGiven": None if fail_on is None else sorted(parse_fail_on(fail_on)),
        "opened": {sid: position for sid, position in report.opened.items() if sid in differing},
        "positions": [d.position for d in report.divergences],
    }


def _digest(target: Package | None) -> str | None:
    from crmctl.runtime.packages import make_copy

    return make_copy(target)[0].digest if target is not None else None


# --- replay merge --------------------------------------------------------------------------------------------------


@dataclass
class MergedShards:
    report: ReplayReport
    fail_on: str | None  # the --fail-on the shards were given, as a command line would give it
    chain: list[Any] | None  # the log's chain problems, when a shard checked them
    against_pinned: bool


def merge_shard_reports(paths: list[Path]) -> MergedShards:
    """The shard reports in `paths`, checked to be every shard of one replay of one log, merged."""
    from crmctl.runtime.replay import merge_reports

    documents = [(path, _shard_report(path)) for path in paths]
    first_path, first = documents[0]
    count = first["shard"]["count"]
    seen: dict[int, Path] = {}
    for path, result in documents:
        shard = result["shard"]
        for key, what in (("count", "a shard count"), ("log", "a log"), ("againstDigest", "an --against version")):
            if shard[key] != first["shard"][key]:
                raise InputError(
                    f"{path}: shard.{key}: {what} other than {first_path}'s ({shard[key]!r}, not "
                    f"{first['shard'][key]!r}): the shards are not of one replay"
                )
        if shard["failOnGiven"] != first["shard"]["failOnGiven"]:
            raise InputError(f"{path}: shard.failOnGiven: replayed with another --fail-on than {first_path}")
        if shard["index"] in seen:
            raise InputError(f"{path}: shard {shard['index']}/{count} again (also {seen[shard['index']]})")
        seen[shard["index"]] = path
    if len(seen) < count:  # the first few missing: a count can be far too large to list (1/99999999999999999999)
        missing = [f"{i}/{count}" for i in range(1, len(seen) + 4) if i not in seen and i <= count]
        more = " and more" if count - len(seen) > len(missing) else ""
        raise InputError(f"shard {', '.join(missing)}{more} missing: merge takes every shard of the replay")
    report = merge_reports([_report(path, result) for path, result in documents])
    chain = next((r["chain"]["problems"] for _, r in documents if r["chain"] is not None), None)
    given = first["shard"]["failOnGiven"]
    return MergedShards(
        report,
        None if given is None else ",".join(given),
        None if chain is None else [_problem(p) for p in chain],
        first["against"] is None,
    )


def _shard_report(path: Path) -> dict[str, Any]:
    """The result of a shard report file, checked against replay's schema; refused with its location."""
    from crmctl.cli.contract import validation_errors

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("command") != "replay":
        raise InputError(f"{path}: not the JSON output of crmctl replay (replay --shard I/N --format json)")
    errors = validation_errors(document)
    if errors:
        raise InputError(f"{path}: {errors[0]}")
    result: dict[str, Any] = document["result"]
    shard = result.get("shard")
    if shard is None:
        raise InputError(f"{path}: result.shard: missing: a replay without --shard I/N, not a shard report")
    if not 1 <= shard["index"] <= shard["count"]:
        raise InputError(f"{path}: result.shard.index: {shard['index']} is not from 1 to {shard['count']}")
    if len(shard["positions"]) != len(result["divergences"]) or result["divergencesOmitted"]:
        raise InputError(f"{path}: result.shard.positions: not one position for each of the divergences")
    if set(shard["opened"]) != {row["session"] for row in result["differing"]}:
        raise InputError(f"{path}: result.shard.opened: not the first position of each differing session")
    from crmctl.runtime.replay import shard_of

    for row in (*result["differing"], *result["divergences"]):  # a session in two shards would be merged silently
        if shard_of(row["session"], shard["count"]) != shard["index"]:
            raise InputError(
                f"{path}: session {row['session']!r} is not in shard {shard['index']}/{shard['count']} "
                "(replay --shard puts each session in the shard its id hashes to)"
            )
    return result


def _report(path: Path, result: Mapping[str, Any]) -> ReplayReport:
    """A shard's report again, as far as the merged report needs it: the differing sessions and divergences."""
    from crmctl.runtime.replay import CATEGORIES, Divergence, ReplayReport

    shard = result["shard"]
    report = ReplayReport(result["against"], result["sessions"], result["events"])
    for row in result["differing"]:
        report.per_session[row["session"]] = {category: row[category] for category in CATEGORIES}
        report.opened[row["session"]] = shard["opened"][row["session"]]
    for item, position in zip(result["divergences"], shard["positions"], strict=True):
        report.divergences.append(
            Divergence(
                item["session"],
                item["seq"],
                item["index"],
                item["event"],
                tuple(item["categories"]),
                item["missing"],
                item["extra"],
                item["error"],
                item["kind"],
                item["class"],
                position,
            )
        )
    return report


def _problem(item: Mapping[str, Any]) -> Any:
    from crmctl.runtime.eventlog import ChainProblem

    return ChainProblem(item["seq"], item["position"], item["code"], item["message"])


# --- replay --jobs N -----------------------------------------------------------------------------------------------


def pool_size(locator: ReplayLocator, jobs: int) -> int:
    """How many processes a replay of the whole log gets: `jobs`, fewer for a log too small to pay for them (one
    per ENTRIES_PER_JOB entries), 1 (in process) when the size cannot be told cheaply."""
    return pool_plan(locator, jobs)[0]


def pool_plan(locator: ReplayLocator, jobs: int) -> tuple[int, int]:
    """`pool_size`, and the log's size (entries, an upper bound; 0 when not told) that `shares` weighs by."""
    if jobs <= 1:
        return 1, 0
    try:
        size = _log_size(locator)
    except Exception:
        return 1, 0
    return max(1, min(jobs, size // ENTRIES_PER_JOB)), size


# What balances the shares (measured on this project's machine, docs/benchmarks.md#replay-on-every-core): a worker
# starts (spawn, imports, reading the packages, compiling them) in about WORKER_START seconds, while this process
# is replaying already; an entry costs about ENTRY_SECONDS. They only move sessions between processes: the report
# is the same whatever they are.
WORKER_START = 0.7
ENTRY_SECONDS = 57e-6
BUCKETS = 64


def shares(jobs: int, entries: int) -> list[Buckets]:
    """The sessions of each of `jobs` processes, this one's first, as buckets of at least BUCKETS shards (4 a
    process beyond 16 processes): this process gets the larger share that lets the workers' start-up pass (its
    share f of a replay taking T seconds ends when a worker's does: f·T = (1 - f)·T / (jobs - 1) + WORKER_START),
    the workers equal shares of the rest."""
    from crmctl.runtime.replay import Buckets

    count = max(BUCKETS, 4 * jobs)
    total = entries * ENTRY_SECONDS
    share = 1 / jobs + (WORKER_START * (jobs - 1) / (jobs * total) if total > 0 else 0.0)
    own = min(count - (jobs - 1), max(1, round(min(share, 1.0) * count)))
    rest = list(range(own + 1, count + 1))
    parts = [frozenset(range(1, own + 1))] + [frozenset(rest[i :: jobs - 1]) for i in range(jobs - 1)]
    return [Buckets(part, count) for part in parts]


def _log_size(locator: ReplayLocator) -> int:
    if locator.export is not None:
        import pyarrow.parquet as pq

        from crmctl.model.files import check_regular

        check_regular(locator.export, str(locator.export))  # a FIFO would be waited on here, before any check
        with pq.ParquetFile(locator.export) as parquet:
            return int(parquet.metadata.num_rows)  # of every tenant: an upper bound
    from crmctl.cli.inputs import open_store

    with open_store(locator.store, read_only=True) as store:
        head = store.head(locator.tenant)
    return head[0] if head else 0


def replay_in_pool(
    locator: ReplayLocator,
    target: Package | None,
    jobs: int,
    *,
    entries: int = 0,
    worker: Callable[..., ReplayReport] | None = None,
) -> ReplayReport:
    """Replay the whole log in `jobs - 1` worker processes (`runtime.pool.Workers`; `worker`, a module-level
    function of a locator and a set of sessions) and this one, which replays the larger share while they start
    (`shares`, weighed by the log's `entries`), and merge the reports. A worker's error is raised here as it is
    (the error one process would raise); a worker that dies, or Ctrl-C, ends every worker before returning."""
    from crmctl.interrupts import watched
    from crmctl.runtime.pool import Workers
    from crmctl.runtime.replay import merge_reports

    with watched():  # a Ctrl-C during this process's own DuckDB reads stays one
        workers = Workers(jobs - 1, hint="replay with --jobs 1 to see why")
        try:
            own, *theirs = shares(jobs, entries)
            futures = [workers.submit(worker or _replay_shard, locator, part) for part in theirs]
            reports = [replay_log(locator, target, own)[0]]
            reports += [workers.result(future) for future in futures]
        except BaseException:
            workers.close(terminate=True)
            raise
        workers.close()
    return merge_reports(reports)


def _replay_shard(locator: ReplayLocator, shard: Buckets) -> ReplayReport:
    target = load_against(locator.against) if locator.against is not None else None
    return replay_log(locator, target, shard)[0]
