"""A reader that stops reading (`crmctl diff A B | head -1`) changes nothing (issue 9 §3): the command exits with
its own status (0, 1 for findings, 2 for errors) and prints nothing more — no "Exception ignored ...
BrokenPipeError", no exit 1 from click or 120 from the interpreter's last flush.

Real processes and real pipes: the reader closes its end before the command writes anything, or after reading one
byte (the command is then usually in the middle of its output), and stdout and stderr may share the pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crmctl.cli import console
from tests.conftest import REPO

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
BREAKING = REPO / "tests" / "fixtures" / "compat" / "alias_removed"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("pipe") / "rt.duckdb"
    _crmctl(
        [
            "records",
            "import",
            V1,
            str(REPO / "scripts" / "demo" / "leads.csv"),
            "-e",
            "Lead",
            "--store",
            str(path),
            "--now",
            "2026-11-24T11:00:00Z",
        ],
        check=0,
    )
    _crmctl(
        [
            "workflow",
            "simulate",
            V2,
            "--script",
            str(REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml"),
            "--store",
            str(path),
        ],
        check=0,
    )
    return str(path)


def _command(argv: list[str]) -> list[str]:
    return [sys.executable, "-c", "from crmctl.cli.main import run; run()", *argv]


def _crmctl(argv: list[str], check: int) -> None:
    assert subprocess.run(_command(argv), capture_output=True, check=False).returncode == check


CASES = {
    "diff, compatible": (["diff", V1, V2], 0),
    "diff, breaking": (["diff", str(BREAKING / "old"), str(BREAKING / "new")], 1),
    "diff --format json": (["diff", V1, V2, "--format", "json"], 0),
    "lint": (["lint", str(REPO / "packages")], 0),
    "rules": (["rules"], 0),
    "records list": (["records", "list", "--store", "{store}"], 0),
    "events list": (["events", "list", "--store", "{store}", "--format", "json"], 0),
    "log verify": (["log", "verify", "--store", "{store}"], 0),
    "events tail --follow": (["events", "tail", "--follow", "--polls", "30", "-n", "50", "--store", "{store}"], 0),
    "an error": (["records", "get", "nope", "-e", "Lead", "--store", "{store}"], 2),
    "a usage error": (["lint", "--no-such-option"], 2),
    "--help": (["--help"], 0),
}


@pytest.mark.parametrize("mode", ["closed at once", "closed after one byte", "stderr on the same pipe"])
@pytest.mark.parametrize("case", CASES)
def test_a_closed_pipe_keeps_the_exit_status_and_prints_nothing_more(store: str, case: str, mode: str) -> None:
    argv, status = CASES[case]
    argv = [arg.replace("{store}", store) for arg in argv]
    shared = mode == "stderr on the same pipe"
    with subprocess.Popen(
        _command(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT if shared else subprocess.PIPE
    ) as child:
        assert child.stdout is not None
        if mode == "closed after one byte":
            child.stdout.read(1)
        child.stdout.close()
        err = b"" if child.stderr is None else child.stderr.read()
        assert child.wait(timeout=120) == status, err
    assert b"BrokenPipeError" not in err and b"Exception ignored" not in err and b"Traceback" not in err, err
    if status != 2 or shared:
        assert err == b""


def test_the_same_commands_still_print_everything_to_a_reader_who_stays(store: str) -> None:
    result = subprocess.run(_command(["records", "list", "--store", store]), capture_output=True, check=False)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 5 and result.stderr == b""


def test_a_follow_ends_when_its_reader_leaves(store: str) -> None:
    """Without a reader, `events tail --follow` would otherwise poll (and write to /dev/null) forever."""
    with subprocess.Popen(
        _command(["events", "tail", "--follow", "-n", "1", "--store", store]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        child.stdout.readline()
        child.stdout.close()
        assert child.wait(timeout=60) == 0
        assert child.stderr.read() == b""


def test_letting_go_of_a_stream_sends_the_rest_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    os.close(read)
    stream = os.fdopen(write, "w")
    monkeypatch.setattr(console, "_GONE", set())
    monkeypatch.setattr(sys, "stdout", stream)
    with console.reader_may_leave():
        console.out("x" * 100_000)  # more than the buffer: written (and refused) now
        assert not console.flush()
        console.out("more")
    stream.close()
