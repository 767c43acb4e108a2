"""The tests' throwaway PostgreSQL server (tests/postgres.py) leaves nothing behind, even when the test run that
started it is killed with `kill -9`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.postgres import SKIP_REASON, find_binaries

pytestmark = pytest.mark.skipif(find_binaries() is None, reason=SKIP_REASON)

_STARTS = """
import sys
from tests.postgres import PostgresServer, find_binaries
server = PostgresServer(find_binaries()).start()
print(server.root, flush=True)
sys.stdin.read()
"""


def _server_pid(root: Path) -> int | None:
    pidfile = root / "data" / "postmaster.pid"
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_server_whose_test_run_is_killed_stops_and_is_removed() -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTS],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert starter.stdout is not None
        root = Path(starter.stdout.readline().strip())
        pid = _server_pid(root)
        assert pid is not None and _alive(pid)
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        deadline = time.monotonic() + 60
        while root.exists() or _alive(pid):
            assert time.monotonic() < deadline, f"the server {pid} in {root} outlived its killed test run"
            time.sleep(0.2)
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        for stream in (starter.stdin, starter.stdout):
            if stream is not None:
                stream.close()
