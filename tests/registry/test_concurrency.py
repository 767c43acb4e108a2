"""Two engineers publishing into the same remote at the same moment, as two real processes with their own caches.

Each client is `python -m crmctl publish` with its own CRMCTL_CACHE_DIR and CRMCTL_STATE_DIR. The processes import
everything first, say they are ready, and wait on a start barrier (a file), so their fetches and pushes really
overlap instead of being serialized by interpreter start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crmctl.registry.query import log_entries
from crmctl.registry.verify import verify_registry
from crmctl.signing import SigningKey
from tests.registry.conftest import demo

ROUNDS = 5

# `python -m crmctl ARGS...`, after importing what publish needs and waiting for the barrier file to exist.
RUNNER = """
import runpy, sys, time
from pathlib import Path
ready, barrier, args = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
import crmctl.cli.main, crmctl.cli.commands.registry, crmctl.registry.publish, crmctl.lint, crmctl.compat.classify
import crmctl.model.package, crmctl.registry.verify
ready.touch()
deadline = time.monotonic() + 30
while not barrier.exists() and time.monotonic() < deadline:
    time.sleep(0.0005)
sys.argv = ["crmctl", *args]
runpy.run_module("crmctl", run_name="__main__", alter_sys=True)
"""


@dataclass
class Client:
    """One engineer: a cache and a remembered head of their own, the shared registry and a signing key."""

    name: str
    home: Path
    registry: str
    key: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CRMCTL_CACHE_DIR": str(self.home / "cache"),
            "CRMCTL_STATE_DIR": str(self.home / "state"),
            "CRMCTL_REGISTRY": self.registry,
            "CRMCTL_KEY": str(self.key),
        }

    def start(self, barrier: Path, *args: str) -> subprocess.Popen[str]:
        ready = self.home / f"ready-{barrier.name}"
        self.home.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(ready), str(barrier), *args],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def clients(tmp_path: Path, registry: str, alice: SigningKey) -> tuple[Client, Client]:
    assert alice.path is not None
    return Client("ann", tmp_path / "ann", registry, alice.path), Client("ben", tmp_path / "ben", registry, alice.path)


def race(tmp_path: Path, round_: int, jobs: list[tuple[Client, list[str]]]) -> list[tuple[int, str, str]]:
    """Start every job, wait until all are ready, release them together; (exit code, stdout, stderr) each."""
    barrier = tmp_path / f"go-{round_}"
    procs = [(client, client.start(barrier, *args)) for client, args in jobs]
    deadline = time.monotonic() + 20
    while not all((client.home / f"ready-{barrier.name}").exists() for client, _ in procs):
        assert time.monotonic() < deadline, "a client never became ready"
        assert all(proc.poll() is None for _, proc in procs), [proc.communicate() for _, proc in procs]
        time.sleep(0.005)
    barrier.touch()
    results = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    return results


def assert_log_is_whole(registry: str, expected_publishes: int) -> list[dict[str, Any]]:
    entries = log_entries(registry)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    publishes = [(e["body"]["name"], e["body"]["version"]) for e in entries if e["type"] == "publish"]
    assert len(publishes) == len(set(publishes)) == expected_publishes
    result = verify_registry(registry, datetime.now(UTC))  # the CLI dated the entries by the wall clock
    assert result.ok, result.problems
    assert result.versions == expected_publishes
    return entries


def test_two_engineers_publish_different_packages_at_once(tmp_path: Path, registry: str, alice: SigningKey) -> None:
    """Both publishes land every round: the loser of the push race re-fetches, re-checks its gates and retries."""
    ann, ben = clients(tmp_path, registry, alice)
    for round_ in range(ROUNDS):
        version = f"1.{round_}.0"
        packages = [demo(tmp_path / "src" / f"{c.name}-{round_}", version, name=c.name.title()) for c in (ann, ben)]
        results = race(
            tmp_path,
            round_,
            [(ann, ["publish", str(packages[0]), "-f", "json"]), (ben, ["publish", str(packages[1]), "-f", "json"])],
        )
        for code, out, err in results:
            assert code == 0, (out, err)
            assert json.loads(out)["result"]["status"] == "written"
    entries = assert_log_is_whole(registry, 2 * ROUNDS)
    assert len(entries) == 1 + 2 * ROUNDS
    for name in ("Ann", "Ben"):
        versions = [e["body"]["version"] for e in entries if e["body"].get("name") == name]
        assert versions == [f"1.{r}.0" for r in range(ROUNDS)]


def test_two_engineers_publish_the_same_version_with_different_content(
    tmp_path: Path, registry: str, alice: SigningKey
) -> None:
    """Exactly one wins each round; the other is refused (exit 1) because a published version never changes."""
    ann, ben = clients(tmp_path, registry, alice)
    winners = []
    for round_ in range(ROUNDS):
        name = f"Race{round_}"
        packages = [
            demo(
                tmp_path / "src" / f"{c.name}-{round_}",
                "1.0.0",
                name=name,
                labels=f"labels:\n  Lead.firstName: First name ({c.name})\n",
            )
            for c in (ann, ben)
        ]
        results = race(
            tmp_path,
            round_,
            [(ann, ["publish", str(packages[0]), "-f", "json"]), (ben, ["publish", str(packages[1]), "-f", "json"])],
        )
        codes = [code for code, _, _ in results]
        assert sorted(codes) == [0, 1], results
        winner = codes.index(0)
        won, lost = json.loads(results[winner][1])["result"], json.loads(results[1 - winner][1])["result"]
        assert won["status"] == "written"
        assert lost["status"] == "refused"
        assert "already published with a different digest" in lost["message"]
        assert "publish a new version" in lost["message"]
        winners.append((name, won["seq"]))
    entries = assert_log_is_whole(registry, ROUNDS)
    assert [(e["body"]["name"], e["seq"]) for e in entries if e["type"] == "publish"] == winners
