"""Every file argument reads regular files only (issue 9 §3): a FIFO in a file's place waited forever for a writer,
and /dev/zero or /dev/urandom were read until memory ran out (a MemoryError traceback, or the machine swapping).
Each is refused at once, exit 2, saying what the path is."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crmctl.cli.main import run
from tests.conftest import REPO

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")


def _store(tmp: Path) -> list[str]:
    return ["--store", str(tmp / "rt.duckdb")]


# (suffix the argument needs, argv with the path in it)
ENTRY_POINTS: dict[str, tuple[str, Callable[[str, Path], list[str]]]] = {
    "lint --baseline": (".json", lambda p, t: ["lint", V1, "--baseline", p]),
    "records import (csv)": (".csv", lambda p, t: ["records", "import", V1, p, "-e", "Lead", *_store(t)]),
    "records import (jsonl)": (".jsonl", lambda p, t: ["records", "import", V1, p, "-e", "Lead", *_store(t)]),
    "records create --file": (".json", lambda p, t: ["records", "create", V1, "-e", "Lead", "--file", p, *_store(t)]),
    "simulate --script": (".yaml", lambda p, t: ["simulate", V1, "--script", p, *_store(t)]),
    "workflow simulate --script": (".yaml", lambda p, t: ["workflow", "simulate", V2, "--script", p, *_store(t)]),
    "draft resume --script": (".yaml", lambda p, t: ["draft", "resume", "d1", "--script", p, *_store(t)]),
    "replay --from-export": (".parquet", lambda p, t: ["replay", "--from-export", p]),
    "--store": (".duckdb", lambda p, t: ["records", "list", "--store", p]),
    "diff --records": (".duckdb", lambda p, t: ["diff", V1, V2, "--records", p]),
    "diff (archive)": (".tar.gz", lambda p, t: ["diff", V1, p]),
}


@pytest.fixture
def deadline() -> Iterator[None]:
    """A command that blocks (the defect) fails the test instead of hanging the suite."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the command blocked on a special file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("deadline")
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_fifo_or_a_device_as_a_file_argument_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    suffix, argv = ENTRY_POINTS[entry]
    fifo, zero = tmp_path / f"fifo{suffix}", tmp_path / f"zero{suffix}"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    for path, kind in ((fifo, "a FIFO"), (zero, "a character device")):
        assert run(argv(str(path), tmp_path)) == 2, capsys.readouterr().err
        err = capsys.readouterr().err
        assert f"{path}: is {kind}; only regular files are read" in err, err


@pytest.mark.usefixtures("deadline")
def test_a_directory_or_random_bytes_as_a_script_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir.yaml").mkdir()
    assert run(["simulate", V1, "--script", str(tmp_path / "dir.yaml"), *_store(tmp_path)]) == 2
    assert "dir.yaml: is a directory; only regular files are read" in capsys.readouterr().err
    urandom = tmp_path / "random.yaml"
    urandom.symlink_to("/dev/urandom")
    assert run(["simulate", V1, "--script", str(urandom), *_store(tmp_path)]) == 2
    assert "random.yaml: is a character device" in capsys.readouterr().err


def test_an_import_file_without_line_breaks_is_refused_where_the_long_line_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmctl.runtime import record_files

    monkeypatch.setattr(record_files, "MAX_FILE_BYTES", 100)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"lastName": "a"}\n' + "x" * 101, encoding="utf-8")
    assert run(["records", "import", V1, str(rows), "-e", "Lead", *_store(tmp_path)]) == 2
    assert f"{rows}:2: a line longer than 100 characters" in capsys.readouterr().err
