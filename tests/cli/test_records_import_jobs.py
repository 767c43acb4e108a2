"""`crmctl records import --jobs N`: byte for byte what `--jobs 1` does (stores, logs, reports), and no process left.

The pool starts from `row_checks.POOL_MIN_ROWS` rows; the tests lower it (and `CHUNK_ROWS`) in this process, the
only one that reads them, so a few hundred rows already go through several chunks in worker processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import run
from crmctl.runtime import row_checks
from crmctl.runtime.store import Store
from tests.conftest import REPO, ctrl_c_as_in_a_terminal

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
CLAIMS = str(REPO / "packages" / "ClaimsIntake")
NOW = ["--now", "2026-11-26T09:00:00Z"]
ROWS = 240
BAD = {7: {"companySize": 0}, 120: {"email": "not an address"}, 233: {"industry": "mining"}}  # row -> what breaks it


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(row_checks, "POOL_MIN_ROWS", 50)
    monkeypatch.setattr(row_checks, "CHUNK_ROWS", 32)


def _lead(i: int) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "firstName": "Ada",
        "lastName": f"L{i}",
        "email": f"ada{i}@example.com",
        "companySize": 10 + i,
        "annualRevenue": 2e11 if i % 9 == 0 else i * 1000.5,  # every ninth: a soft warning
        "industry": "software",
        "nextFollowUp": f"2026-12-{i % 28 + 1:02d}",
    }
    if i % 3 == 0:
        lead["phone"] = f"+49 30 {1000000 + i}"
    return lead


def _rows(bad: bool) -> list[tuple[str | None, dict[str, Any]]]:
    """(id or None: generated, values) per row; every fourth row names its id."""
    out = []
    for i in range(1, ROWS + 1):
        values = {**_lead(i), **(BAD.get(i, {}) if bad else {})}
        out.append((f"given-{i}" if i % 4 == 0 else None, values))
    return out


def _write(tmp_path: Path, kind: str, bad: bool) -> str:
    rows = _rows(bad)
    path = tmp_path / f"leads.{kind}"
    if kind == "jsonl":
        lines = [json.dumps({**({"id": rid} if rid else {}), **values}) for rid, values in rows]
        lines.insert(50, "")  # a blank line does not count as a row
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)
    columns = sorted({key for _, values in rows for key in values})
    text = [",".join(["id", *columns])]
    for rid, values in rows:
        cells = [str(values.get(c, "")) for c in columns]
        text.append(",".join([rid or "", *cells]))
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return str(path)


def _contents(path: str) -> dict[str, Any]:
    """Everything an import leaves in a store: records, log entries (with their hashes) and the head."""
    with Store.open(Path(path), read_only=True) as store:
        return {
            "records": [dataclasses.asdict(r) for r in store.list_records("default")],
            "events": list(store.events("default")),
            "head": store.head("default"),
            "problems": store.verify_log("default"),
        }


def _import(
    tmp_path: Path, source: str, jobs: int, output: str, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str, dict[str, Any]]:
    store = str(tmp_path / f"{Path(source).suffix[1:]}-{jobs}-{output}-{len(extra)}.duckdb")
    args = ["records", "import", V1, source, "-e", "Lead", "--store", store, "--jobs", str(jobs), "-f", output]
    code = run([*args, *NOW, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err, _contents(store)


@pytest.mark.usefixtures("small_pool")
@pytest.mark.parametrize(
    ("kind", "bad", "skip"),
    [("csv", True, False), ("csv", True, True), ("jsonl", True, True), ("jsonl", False, False)],
)
def test_jobs_2_is_byte_for_byte_jobs_1(
    tmp_path: Path, kind: str, bad: bool, skip: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path, kind, bad)
    extra = ["--skip-invalid"] if skip else []
    runs = {}
    for output in ("json", "text"):
        runs[output] = one = _import(tmp_path, source, 1, output, extra, capsys)
        assert _import(tmp_path, source, 2, output, extra, capsys) == one
    code, out, _, stored = runs["json"]
    report = json.loads(out)["result"]
    if bad:  # what the comparison covered: rejected rows in file order, generated and given ids, warnings
        assert code == 1 and [r["row"] for r in report["rejected"]] == sorted(BAD)
    assert report["rowsWithWarnings"] > 0 or (bad and not skip)  # an import that writes nothing counts none
    assert len(stored["records"]) == (0 if bad and not skip else ROWS - len(BAD) * bad)
    if stored["records"]:
        ids = {r["id"] for r in stored["records"]}
        assert {"Lead-1", "given-4"} <= ids and stored["head"][0] == len(stored["events"])


@pytest.mark.usefixtures("small_pool")
def test_workers_validate_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not asked in this process with --jobs 2 (so the comparison above compares the pool with one process)."""
    from crmctl.runtime.records import RecordEngine

    source = _write(tmp_path, "csv", bad=False)

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("checked in the parent")

    monkeypatch.setattr(RecordEngine, "check", refuse)
    code, _, _, stored = _import(tmp_path, source, 2, "json", [], capsys)
    assert code == 0 and len(stored["records"]) == ROWS


@pytest.mark.usefixtures("small_pool")
@pytest.mark.parametrize(
    ("kind", "bad", "said"),
    [
        ("jsonl", '{"firstName": "Ada",', "JSON syntax"),  # parsed in a worker
        ("jsonl", '{"firstName": "Ada", "id": 5}', "id must be a string"),  # converted in a worker
        ("csv", "Ada,L,a@b.c,12,1.0,software,2026-12-01,extra", "has 8 cells"),  # split in the parent
    ],
)
def test_a_bad_line_is_reported_as_in_one_process(
    tmp_path: Path, kind: str, bad: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wherever the line is read, the same error at the same line, and nothing written."""
    path = tmp_path / f"leads.{kind}"
    if kind == "jsonl":
        lines = [json.dumps(_lead(i)) for i in range(1, ROWS + 1)]
    else:
        columns = list(_lead(1))
        lines = [",".join(columns)] + [",".join(str(_lead(i)[c]) for c in columns) for i in range(1, ROWS + 1)]
    lines[150] = bad
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = _import(tmp_path, str(path), 1, "json", [], capsys)
    two = _import(tmp_path, str(path), 2, "json", [], capsys)
    assert two == one
    problem = json.dumps(json.loads(one[1])["problems"][0])
    assert one[0] == 2 and f"leads.{kind}" in problem and "151" in problem and said in problem
    assert one[3]["records"] == [] and one[3]["events"] == []


@pytest.mark.usefixtures("small_pool")
def test_async_validations_stay_in_this_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Providers are asked from one process: --jobs 2 says so and behaves as --jobs 1; --no-async takes the pool."""
    claim = {
        "policyNumber": "AB-1234567",
        "incidentDate": "2026-11-20",
        "reportedAt": "2026-11-21T10:00:00Z",
        "consentDataProcessing": True,
    }
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps({**claim, "claimNumber": f"C-{i}"}) + "\n" for i in range(100)), "utf-8")
    outcomes = []
    for jobs in ("1", "2"):
        store = str(tmp_path / f"claims-{jobs}.duckdb")
        assert run(["records", "import", CLAIMS, str(path), "-e", "Claim", "--store", store, "-j", jobs, *NOW]) == 2
        outcomes.append(capsys.readouterr().err)
    assert "no provider 'duplicateDetector'" in outcomes[0]
    note, rest = outcomes[1].split("\n", 1)
    assert rest == outcomes[0]
    assert note.startswith("crmctl: Claim has async validations (duplicateClaim, policyActive) asking providers")
    reports = []
    for jobs in ("1", "2"):
        store = str(tmp_path / f"claims-no-async-{jobs}.duckdb")
        args = ["records", "import", CLAIMS, str(path), "-e", "Claim", "--store", store, "-j", jobs, "--no-async"]
        assert run([*args, *NOW, "-f", "json"]) == 0
        reports.append((capsys.readouterr(), _contents(store)))
    assert reports[1] == reports[0] and len(reports[0][1]["records"]) == 100


def test_jobs_must_be_a_positive_whole_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _write(tmp_path, "csv", bad=False)
    for jobs in ("0", "-1", "two", "1.5"):
        assert run(["records", "import", V1, source, "-e", "Lead", "--jobs", jobs]) == 2
        assert "--jobs" in capsys.readouterr().err


def _group(pgid: int) -> list[int]:
    """The processes of process group `pgid` (Linux: /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize(
    "how",
    [
        pytest.param(signal.SIGINT, id="ctrl-c"),
        pytest.param(signal.SIGKILL, id="kill-9"),
    ],
)
def test_interrupted_import_leaves_no_process_and_no_rows(tmp_path: Path, how: signal.Signals) -> None:
    """Ctrl-C reaches the whole foreground group (as a terminal sends it): exit 130; kill -9 of the parent alone:
    its workers follow. Either way nothing is written, no worker is left, and neither is the spool of results (the
    parent removes it, or after kill -9 its workers do)."""
    path = tmp_path / "leads.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(100_000):
            handle.write(json.dumps(_lead(i)) + "\n")
    store = tmp_path / "rt.duckdb"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    args = ["records", "import", V1, str(path), "-e", "Lead", "--store", str(store), "--jobs", "2"]
    child = subprocess.Popen(
        [sys.executable, "-c", "from crmctl.cli.main import run; run()", *args],
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), "TMPDIR": str(temporary)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=ctrl_c_as_in_a_terminal,  # a foreground job in a terminal, also when the suite runs in background
    )
    try:
        deadline = time.monotonic() + 120
        while len(_group(child.pid)) < 3:  # the parent and its two workers
            assert child.poll() is None and time.monotonic() < deadline, "the workers never started"
            time.sleep(0.1)
        [spool] = temporary.iterdir()
        assert spool.name.startswith(f"crmctl-import-{child.pid}-")
        while not any(spool.iterdir()):  # the workers started, and spool their results
            assert child.poll() is None and time.monotonic() < deadline, "no result was spooled"
            time.sleep(0.01)
        if how == signal.SIGINT:
            os.killpg(child.pid, signal.SIGINT)
        else:
            child.send_signal(signal.SIGKILL)
        code = child.wait(timeout=60)
        assert code == (130 if how == signal.SIGINT else -signal.SIGKILL)
        assert child.stderr is not None
        said = child.stderr.read().decode()
        assert "Traceback" not in said and (how != signal.SIGINT or "interrupted" in said)
        while _group(child.pid):
            assert time.monotonic() < deadline + 60, f"workers left behind: {_group(child.pid)}"
            time.sleep(0.1)
        assert list(temporary.iterdir()) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stderr is not None
        child.stderr.close()
    with Store.open(store) as opened:
        assert opened.count_records("default") == 0
        assert list(opened.events("default")) == []


def test_the_help_names_the_threshold() -> None:
    from crmctl.cli.main_runtime import records_import

    assert f"from {row_checks.POOL_MIN_ROWS:,} rows" in (records_import.__doc__ or "")


def test_a_huge_jobs_is_capped_not_a_fork_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--jobs 100000` on both commands starts at most `MAX_JOBS_PER_CORE` processes a core (review of issue 14)."""
    from crmctl.cli import options
    from crmctl.cli.commands import runtime

    monkeypatch.setattr(options, "available_cores", lambda: 2)
    assert options.jobs("100000") == 2 * options.MAX_JOBS_PER_CORE
    assert options.jobs("3") == 3
    seen: dict[str, Any] = {}

    def record(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(runtime, "run_replay", record)
    assert run(["replay", "--jobs", "100000"]) == 0
    assert seen["jobs"] == 2 * options.MAX_JOBS_PER_CORE
    seen.clear()
    assert run(["replay"]) == 0
    assert seen["jobs"] == 2  # the default is the cores this process may use, as for records import
