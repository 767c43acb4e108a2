"""Replay recorded logs on a Dask cluster: one task per shard, the shard reports merged into one replay's report.

    python examples/dask_replay.py log.parquet --shards 8 --against v2/                  # a local cluster
    python examples/dask_replay.py acme=acme.parquet globex=globex.parquet --shards 64 \\
        --against registry:LeadLifecycle@2.0.0 --scheduler tcp://scheduler:8786           # a running cluster

Each task runs `crmctl replay --from-export LOG --shard I/N --format json` in a subprocess on a worker (a process
of its own: crmctl's state and output never mix with the worker's threads) and returns the report's text; the
client writes the reports down and runs `crmctl replay merge`, whose output and exit code are this script's. An
export is read by every worker: give a path they all see (a shared file system) or copy it to each. Several
exports (one per tenant or store, `TENANT=PATH` when the tenant is not `--tenant`) are replayed at once and
reported in turn, text under a line `== PATH (tenant T) ==`, JSON as one envelope after the other.

A shard's answer is deterministic, so a task is retried (`--retries`) when its crmctl dies (exit 3 or a signal)
or its worker is lost; a shard that still fails ends the run with exit 3, naming the shard and its error. Exit 2
from a shard (bad input: the same on every worker) is not retried. See docs/scaling.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ShardFailed", "Slice", "main", "replay_slice"]


@dataclass(frozen=True)
class Slice:
    """One task: shard `index` of `count` of the log in `export` (a path every worker can read)."""

    export: str
    tenant: str
    index: int
    count: int

    def task(self) -> tuple[str, str, str]:
        """The task's arguments: export, tenant, shard as `I/N`."""
        return self.export, self.tenant, f"{self.index}/{self.count}"

    def __str__(self) -> str:
        return f"shard {self.index}/{self.count} of {self.export}"


class ShardFailed(Exception):
    """A shard that failed on every try (crmctl ended with exit 3 or by a signal, or its worker was lost)."""


def replay_slice(
    export: str, tenant: str, shard: str, options: list[str], crmctl: list[str] | None
) -> tuple[int, str, str]:
    """Run on a worker: replay shard `shard` ("I/N") of `export` in a crmctl subprocess; (exit code, JSON report,
    stderr) for exits 0, 1 and 2, ChildProcessError (which Dask retries) for anything else. Arguments and results
    are plain values: a worker unpickles them without this file."""
    command = crmctl or [sys.executable, "-m", "crmctl"]  # the worker's own Python, found on the worker
    argv = [*command, "replay", "--from-export", export, "--tenant", tenant, *options]
    argv += ["--shard", shard, "--format", "json", "--color", "never"]
    done = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", check=False)
    if done.returncode in (0, 1, 2):
        return done.returncode, done.stdout, done.stderr
    raise ChildProcessError(f"crmctl ended with exit {done.returncode}: {_tail(done.stderr)}")


def _tail(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    return " / ".join(lines[-3:]) if lines else "(nothing on stderr)"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dask_replay.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("exports", nargs="+", metavar="[TENANT=]EXPORT", help="Parquet log exports (crmctl log export)")
    parser.add_argument("--shards", type=int, required=True, metavar="N", help="shards per export (tasks)")
    parser.add_argument("--against", metavar="SOURCE", help="replay on this version (as crmctl replay --against)")
    parser.add_argument("--tenant", default="default", help="tenant of an EXPORT given without one")
    parser.add_argument("--fail-on", metavar="CLASSES", help="as crmctl replay --fail-on")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="differing events shown (default 20)")
    parser.add_argument("-f", "--format", choices=["text", "json"], default="text")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="workers of the local cluster")
    parser.add_argument("--retries", type=int, default=2, metavar="N", help="tries again of a failed shard")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the shard reports here (default: a temp dir)")
    parser.add_argument("--crmctl", metavar="COMMAND", help="crmctl on the workers (default: python -m crmctl)")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error("--shards: give 1 or more")
    return args


def _exports(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(tenant, path) of each export: `TENANT=PATH`, or a PATH (an existing path is never split at `=`)."""
    found = []
    for spec in args.exports:
        tenant, equals, path = spec.partition("=")
        found.append((tenant, path) if equals and not Path(spec).exists() else (args.tenant, spec))
    return found


@contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """A Dask client: of the scheduler given, or of a local cluster of worker processes, closed with it."""
    from distributed import Client, LocalCluster

    if args.scheduler:
        with Client(args.scheduler) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,  # type: ignore[no-untyped-call]
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def main(argv: list[str] | None = None) -> int:
    """Replay every shard of every export on the cluster, merge each export's shards; the worst exit code."""
    args = _parse(argv)
    options = ["--against", args.against] if args.against else []
    options += ["--fail-on", args.fail_on] if args.fail_on else []
    crmctl = args.crmctl.split() if args.crmctl else None
    exports = _exports(args)
    slices = [Slice(path, tenant, i, args.shards) for tenant, path in exports for i in range(1, args.shards + 1)]
    try:
        with _client(args) as client:
            if __name__ != "__main__":  # imported (by a test): the workers import replay_slice from this file
                client.upload_file(__file__)
            futures = [
                client.submit(replay_slice, *s.task(), options, crmctl, retries=args.retries, pure=False)
                for s in slices
            ]
            answers = dict(zip(slices, _gather(futures, slices), strict=True))
    except ShardFailed as exc:
        print(f"dask_replay: {exc} (tried {args.retries + 1} times)", file=sys.stderr)
        return 3
    with tempfile.TemporaryDirectory(prefix="dask-replay-") as scratch:
        return max(
            _merge(args, (position, tenant, path), answers, args.keep or Path(scratch), len(exports) > 1)
            for position, (tenant, path) in enumerate(exports, 1)
        )


def _gather(futures: list[Any], slices: list[Slice]) -> list[tuple[int, str, str]]:
    """Every task's answer; a task that still fails after its retries is ShardFailed naming its shard."""
    answers = []
    for slice_, future in zip(slices, futures, strict=True):
        try:
            answers.append(future.result())
        except ChildProcessError as exc:
            raise ShardFailed(f"{slice_}: {exc}") from None
        except Exception as exc:  # a lost worker (KilledWorker), crmctl not found on a worker, ...
            raise ShardFailed(f"{slice_}: {type(exc).__name__}: {exc}") from None
    return answers


def _merge(
    args: argparse.Namespace,
    which: tuple[int, str, str],
    answers: dict[Slice, tuple[int, str, str]],
    folder: Path,
    heading: bool,
) -> int:
    """Write one export's shard reports to `folder`, merge them with `crmctl replay merge`, print its output.
    `which`: the export's position among those given (its reports' names start with it: two exports may share a
    file name), its tenant and its path."""
    position, tenant, export = which
    ours = [(s, answer) for s, answer in answers.items() if s.export == export and s.tenant == tenant]
    if heading and args.format == "text":
        print(f"== {export} (tenant {tenant}) ==", flush=True)
    refused = [(s, stderr) for s, (code, _, stderr) in ours if code == 2]
    if refused:  # bad input: every shard of this export says the same, one is enough
        print(f"dask_replay: {refused[0][0]}: {refused[0][1].strip()}", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s, (_, report, _) in ours:
        path = folder / f"{position}.{Path(export).stem}.{tenant}.shard-{s.index}-of-{s.count}.json"
        path.write_text(report, encoding="utf-8")
        paths.append(str(path))
    argv = [sys.executable, "-m", "crmctl", "replay", "merge", *paths, "--limit", str(args.limit)]
    done = subprocess.run(
        [*argv, "--format", args.format, "--color", "never"], capture_output=True, text=True, check=False
    )
    sys.stdout.write(done.stdout)
    sys.stdout.flush()
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
