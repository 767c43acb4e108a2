"""`crmctl export ...` through the real command line: exit codes, the report, files on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from crmctl.cli.main import run
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Store, StoredRecord
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
AT = "2026-11-26T10:00:00Z"


@pytest.fixture
def store(tmp_path: Path) -> str:
    from crmctl.model.package import load_package

    path = tmp_path / "rt.duckdb"
    with Store.open(path) as opened:
        ref = Runtime(opened, "t1").pin(load_package(V1))
        for tenant, ids in (("t1", ["a", "b"]), ("t2", ["c"])):
            opened.put_records(
                [
                    StoredRecord(
                        tenant,
                        "Lead",
                        i,
                        ref.name,
                        ref.version,
                        ref.digest,
                        {"firstName": i, "lastName": "L", "companySize": 3},
                        1,
                        AT,
                        AT,
                    )
                    for i in ids
                ]
            )
    return str(path)


def test_json_report_lists_files_and_rows(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run(["export", "records", "--out", str(out), "--store", store, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["result"]
    assert report["rows"] == 3 and report["fileFormat"] == "parquet"
    assert report["datasets"][0]["files"] == [str(out / "records" / "Lead" / "part-0.parquet")]
    assert pq.read_table(report["datasets"][0]["files"][0]).num_rows == 3


def test_text_report_with_tenant_and_partitions(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert (
        run(
            [
                "export",
                "records",
                "--out",
                str(out),
                "--store",
                store,
                "--tenant",
                "t1",
                "--entity",
                "Lead",
                "--partition-by",
                "tenant,package_version",
                "--file-format",
                "csv",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == f"exported 2 rows in 1 dataset to {out}"
    assert captured.err == ""  # no progress bar off a terminal
    assert (out / "records" / "Lead" / "tenant=t1" / "package_version=1.0.0" / "part-0.csv").exists()


def test_drafts_and_events(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["export", "drafts", "--out", str(tmp_path / "o"), "--store", store]) == 0
    assert run(["export", "events", "--out", str(tmp_path / "o"), "--store", store]) == 0
    assert (tmp_path / "o" / "drafts" / "drafts.parquet").exists()
    assert (tmp_path / "o" / "events" / "events.parquet").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory_exits_2(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert run(["export", "records", "--out", str(locked), "--store", store]) == 2
    assert str(locked) in capsys.readouterr().err


def test_unwritable_directory_exits_2(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert run(["export", "records", "--out", str(blocker / "out"), "--store", store]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the export to {blocker / 'out'}" in err


def test_bad_options_exit_2(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o")
    assert run(["export", "records", "--out", out, "--store", store, "--partition-by", "tenant,,x"]) == 2
    assert "--partition-by" in capsys.readouterr().err
    assert run(["export", "records", "--out", out, "--store", store, "--partition-by", "nope"]) == 2
    assert "not a column" in capsys.readouterr().err
    assert run(["export", "records", "--out", out, "--store", str(tmp_path / "missing.duckdb")]) == 2


@pytest.mark.parametrize(("total", "label"), [(100, "exporting records"), (None, "importing")])
def test_progress_bar_shows_after_a_second_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, total: int | None, label: str
) -> None:
    # One progress display (crmctl.cli.console.progress) for export (a bar: the total is known) and import.
    import itertools

    from rich.progress import Progress

    from crmctl.cli import console

    clock = itertools.count(0.0, 0.6)  # the bar (rich) reads the same clock
    monkeypatch.setattr(console.time, "monotonic", lambda: next(clock))
    shown: list[list[str]] = []
    monkeypatch.setattr(Progress, "start", lambda bar: shown.append([type(c).__name__ for c in bar.columns]))
    monkeypatch.setattr(Progress, "stop", lambda bar: shown.append(["stopped"]))
    with console.progress(label, enabled=True) as update:
        update(10, total)  # half a second in: nothing shown yet
        assert shown == []
        update(50, total)
        update(100, total)
    bar = ["TextColumn", "BarColumn", "TextColumn", "TimeRemainingColumn"]
    spinner = ["SpinnerColumn", "TextColumn", "TimeElapsedColumn"]
    assert shown == [bar if total else spinner, ["stopped"]]
    with console.progress(label, enabled=False) as update:  # not a terminal: never shown
        update(1, total)
        update(2, total)
    assert len(shown) == 2


@pytest.mark.parametrize("text", ["a,,b", "a,a"])
def test_partition_columns_must_be_distinct_names(text: str) -> None:
    from crmctl.cli.commands import export as command
    from crmctl.errors import UsageError

    with pytest.raises(UsageError, match="distinct column names"):
        command._partitions(text)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_the_old_format_option_says_to_use_file_format(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], file_format: str
) -> None:
    """Issue 12: `--format` is the report's format like every command's; the file format is --file-format."""
    out = tmp_path / "out"
    assert run(["export", "records", "--out", str(out), "--store", store, "--format", file_format]) == 2
    err = capsys.readouterr().err
    assert f"use --file-format {file_format}" in err
    assert not out.exists()


def test_the_old_report_option_is_gone(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["export", "records", "--out", str(tmp_path / "o"), "--store", store, "--report", "json"]) == 2
    assert "--report" in capsys.readouterr().err


def test_counts_agree_with_their_number(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12: "1 rows", "1 dataset(s)": counted nouns agree with their number."""
    out = tmp_path / "o"
    args = ["--out", str(out), "--store", store, "--tenant", "t2", "--entity", "Lead"]
    assert run(["export", "records", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"exported 1 row in 1 dataset to {out}"
    assert lines[0].startswith("records/Lead: 1 row -> ")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_exporting_again_replaces_the_dataset_no_stale_files(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dataset's directory holds what this export wrote: the files of an earlier export into the same --out
    (other partitions, the other file format) used to stay beside the new ones, so a reader of
    `records/Lead/**/*.parquet` counted rows twice or read rows the store no longer has."""
    out = tmp_path / "out"
    base = ["export", "records", "--out", str(out), "--store", store]
    assert run([*base, "--partition-by", "tenant"]) == 0
    assert _files(out) == ["records/Lead/tenant=t1/part-0.parquet", "records/Lead/tenant=t2/part-0.parquet"]
    (out / "README.txt").write_text("mine", encoding="utf-8")
    (out / "records" / "Lead" / "notes.txt").write_text("mine too", encoding="utf-8")
    assert run(base) == 0
    assert _files(out) == ["README.txt", "records/Lead/notes.txt", "records/Lead/part-0.parquet"]
    assert pq.read_table(out / "records" / "Lead" / "part-0.parquet").num_rows == 3
    assert run([*base, "--file-format", "csv", "--partition-by", "tenant", "--tenant", "t2"]) == 0
    assert run([*base, "--file-format", "csv", "--partition-by", "tenant", "--tenant", "t1"]) == 0
    assert _files(out) == [  # the other format's files are another export: kept
        "README.txt",
        "records/Lead/notes.txt",
        "records/Lead/part-0.parquet",
        "records/Lead/tenant=t1/part-0.csv",
    ]
    capsys.readouterr()
