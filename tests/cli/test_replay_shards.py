"""Sharded replay: `replay --shard I/N`, `replay merge` and `replay --jobs N` give, byte for byte, what one replay
of the whole log gives (issue 14); shards are disjoint and cover every session; merge refuses what is not every
shard of one replay of one log."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmctl.cli.commands import replay_shards
from crmctl.cli.main import run
from crmctl.errors import InternalError, UsageError, UserError
from crmctl.runtime.replay import Shard, shard_key, shard_of
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
V2 = REPO / "packages" / "LeadLifecycle" / "v2"
DEMO = REPO / "scripts" / "demo"
SCENARIO = REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's traffic (a form session over two days, an import, a workflow scenario): the store, its export,
    and an export with an entry edited (its effects relabelled and their hash dropped: the chain is broken)."""
    root = tmp_path_factory.mktemp("shards")
    store = root / "rt.duckdb"
    quiet = pytest.MonkeyPatch()
    steps = [
        ["simulate", str(V1), "--script", str(DEMO / "lead-monday.yaml"), "--session", "lead-ada"],
        ["draft", "resume", "lead-ada", "--script", str(DEMO / "lead-tuesday.yaml")],
        ["log", "export", "--out", str(root / "short.parquet")],  # the same log, before the import
        ["records", "import", str(V1), str(DEMO / "leads.csv"), "--entity", "Lead", "--now", "2026-11-24T11:00:00Z"],
        ["workflow", "simulate", str(V2), "--script", str(SCENARIO)],
        ["log", "export", "--out", str(root / "log.parquet")],
    ]
    with quiet.context():
        for argv in steps:
            assert run([*argv, "--store", str(store), "--format", "json"]) == 0
    tampered = root / "tampered.parquet"
    _tamper(root / "log.parquet", tampered)
    return {
        "store": store,
        "export": root / "log.parquet",
        "short": root / "short.parquet",
        "tampered": tampered,
        "root": root,
    }


def _tamper(source: Path, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    texts = table.column("entry").to_pylist()
    edited = 0
    for row, text in enumerate(texts):
        if "First name" in text:
            entry = json.loads(text)
            entry.pop("effectsHash", None)
            texts[row] = json.dumps(entry).replace("First name", "Given name")
            edited += 1
    assert edited
    index = table.schema.get_field_index("entry")
    pq.write_table(table.set_column(index, "entry", pa.array(texts, table.schema.field(index).type)), target)


def _output(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = run(argv)
    return code, capsys.readouterr().out


def _result(text: str) -> str:
    """The result of an envelope, as the bytes it prints (the envelope names its own command)."""
    return json.dumps(json.loads(text)["result"], ensure_ascii=False, sort_keys=False)


SOURCES = {
    "against v2": ["--against", str(V2)],
    "pinned": [],
    "pinned, limit 1": ["--limit", "1"],
    "presentation failing": ["--against", str(V2), "--fail-on", "presentation", "--limit", "3"],
}


# --- shards --------------------------------------------------------------------------------------------------------


@given(st.lists(st.text(min_size=1), min_size=1, max_size=30), st.integers(min_value=1, max_value=17))
def test_shards_are_disjoint_and_cover_every_session(ids: list[str], count: int) -> None:
    for sid in ids:
        holding = [index for index in range(1, count + 1) if sid in Shard(index, count)]
        assert holding == [shard_of(sid, count)]


def test_the_shard_of_a_session_is_a_stable_hash() -> None:
    # the same on every machine and Python version: never hash(), which is salted per process
    digest = hashlib.sha256(b"lead-ada").digest()
    assert shard_of("lead-ada", 7) == int.from_bytes(digest[:8], "big") % 7 + 1
    assert shard_of("lead-ada", 1) == 1


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "3", "a/b", "1/-2", "١/٢", "", "1/3/5"])
def test_a_bad_shard_is_refused_with_exit_2(
    spec: str, log: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["replay", "--store", str(log["store"]), "--shard", spec]) == 2
    assert f"--shard {spec!r}" in capsys.readouterr().err


def test_a_shard_and_a_session_are_refused_together(log: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["replay", "--store", str(log["store"]), "--shard", "1/2", "--session", "lead-ada"]) == 2
    assert "--session ID or --shard I/N, not both" in capsys.readouterr().err


# --- replay merge is one replay ------------------------------------------------------------------------------------


def _shards(
    capsys: pytest.CaptureFixture[str], where: list[str], options: list[str], count: int, root: Path
) -> list[str]:
    paths = []
    root.mkdir(exist_ok=True)
    for index in range(1, count + 1):
        code, text = _output(capsys, ["replay", *where, *options, "--shard", f"{index}/{count}", "-f", "json"])
        assert code in (0, 1), text
        path = root / f"shard-{index}-of-{count}.json"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("source", ["store", "export", "tampered"])
@pytest.mark.parametrize("case", SOURCES)
@pytest.mark.parametrize("count", [1, 3, 5])
def test_merged_shards_are_one_replay_byte_for_byte(
    source: str, case: str, count: int, log: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    where = ["--store", str(log["store"])] if source == "store" else ["--from-export", str(log[source])]
    options = SOURCES[case]
    limit = options[options.index("--limit") :] if "--limit" in options else []
    paths = _shards(capsys, where, [o for o in options if o not in limit], count, tmp_path)
    one_code, one = _output(capsys, ["replay", *where, *options, "-f", "json"])
    code, merged = _output(capsys, ["replay", "merge", *paths, *limit, "-f", "json"])
    assert (code, _result(merged)) == (one_code, _result(one))
    assert json.loads(merged)["command"] == "replay merge"
    one_code, one = _output(capsys, ["replay", *where, *options])
    code, merged = _output(capsys, ["replay", "merge", *reversed(paths), *limit])
    assert (code, merged) == (one_code, one)


def test_the_cases_have_divergences_of_each_kind(log: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """What the byte-for-byte cases compare is not empty: behavioral divergences, and a broken chain."""
    argv = ["replay", "--from-export", str(log["export"]), "--against", str(V2), "--limit", "1", "-f", "json"]
    code, text = _output(capsys, argv)
    result = json.loads(text)["result"]
    assert code == 1 and result["differingSessions"] > 1 and result["divergencesOmitted"] > 0
    assert any(row["session"].startswith("record:") for row in result["differing"])
    code, text = _output(capsys, ["replay", "--from-export", str(log["tampered"]), "-f", "json"])
    result = json.loads(text)["result"]
    assert code == 1 and result["classes"]["presentation"] > 0 and result["chain"]["ok"] is False


def test_a_shard_report_keeps_every_divergence(log: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", str(log["store"]), "--against", str(V2), "--limit", "1", "-f", "json"]
    _, text = _output(capsys, ["replay", *where, "--shard", "1/1"])
    result = json.loads(text)["result"]
    assert result["divergencesOmitted"] == 0 and len(result["divergences"]) == result["differingEvents"] > 1
    assert result["shard"]["positions"] == sorted(result["shard"]["positions"])


@pytest.fixture(scope="module")
def updated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Records created by form submits (five sessions) and by an import, updated later, and a workflow: the
    record sessions depend on the form sessions' submits, and the sessions fall in several shards."""
    root = tmp_path_factory.mktemp("updated")
    store = root / "rt.duckdb"
    steps: list[list[str]] = []
    for sid in FORM_SESSIONS:
        steps += [
            ["simulate", str(V1), "--script", str(DEMO / "lead-monday.yaml"), "--session", sid],
            ["draft", "resume", sid, "--script", str(DEMO / "lead-tuesday.yaml")],
        ]
    steps += [
        ["records", "import", str(V1), str(DEMO / "leads.csv"), "--entity", "Lead", "--now", "2026-11-24T11:00:00Z"],
        ["workflow", "simulate", str(V2), "--script", str(SCENARIO)],
    ]
    steps += [
        ["records", "update", sid, "-e", "Lead", "--data", f'{{"companySize": {size}}}', "--now", "2026-11-25T09:00Z"]
        for size, sid in enumerate(FORM_SESSIONS, 400)
    ]
    steps.append(["log", "export", "--out", str(root / "log.parquet")])
    with pytest.MonkeyPatch().context():
        for argv in steps:
            assert run([*argv, "--store", str(store), "--format", "json"]) == 0, argv
    return {"store": store, "export": root / "log.parquet"}


FORM_SESSIONS = ["lead-1", "lead-2", "lead-3", "lead-4", "lead-5"]


def test_a_record_session_is_in_the_shard_of_the_form_session_that_created_it() -> None:
    for count in (2, 3, 4):
        assert len({shard_of(sid, count) for sid in FORM_SESSIONS}) > 1  # the cases below spread over shards
        for sid in FORM_SESSIONS:
            assert shard_of(f"record:Lead:{sid}", count) == shard_of(sid, count)
    assert shard_key("record:Lead:record:Account:x") == shard_key("record:Account:x") == "x"
    assert shard_key("record:Lead") == "record:Lead" and shard_key("workflow:w-1") == "workflow:w-1"


@pytest.mark.parametrize("source", ["store", "export"])
@pytest.mark.parametrize("options", [[], ["--against", str(V2)]], ids=["pinned", "against v2"])
@pytest.mark.parametrize("count", [2, 3, 4])
def test_updates_of_records_forms_created_merge_to_one_replay(
    source: str,
    options: list[str],
    count: int,
    updated: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    where = ["--store", str(updated["store"])] if source == "store" else ["--from-export", str(updated["export"])]
    paths = _shards(capsys, where, options, count, tmp_path)
    one_code, one = _output(capsys, ["replay", *where, *options, "-f", "json"])
    code, merged = _output(capsys, ["replay", "merge", *paths, "-f", "json"])
    assert (code, _result(merged)) == (one_code, _result(one))
    if not options:  # every update found the record its form's submit logged, in whatever shard it is
        assert (one_code, json.loads(one)["result"]["differingEvents"]) == (0, 0)


@pytest.mark.parametrize("source", ["store", "export"])
def test_one_record_session_replays_from_its_forms_submit(
    source: str, updated: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--store", str(updated["store"])] if source == "store" else ["--from-export", str(updated["export"])]
    code, text = _output(capsys, ["replay", *where, "--session", "record:Lead:lead-2", "-f", "json"])
    result = json.loads(text)["result"]
    assert (code, result["sessions"], result["events"], result["differingEvents"]) == (0, 1, 1, 0)


def test_a_shard_never_parses_another_shards_entries(
    updated: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An entry of a session of shard 2 made unreadable: shard 1 replays without reading it, shard 2 names it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    victim = next(sid for sid in FORM_SESSIONS if shard_of(sid, 2) == 2)
    table = pq.read_table(updated["export"])
    sessions = table.column("session").to_pylist()
    texts = [
        "{not json" if s == f"record:Lead:{victim}" else t
        for s, t in zip(sessions, table.column("entry").to_pylist(), strict=True)
    ]
    damaged = tmp_path / "damaged.parquet"
    index = table.schema.get_field_index("entry")
    pq.write_table(table.set_column(index, "entry", pa.array(texts, pa.string())), damaged)
    assert run(["replay", "--from-export", str(damaged), "--shard", "1/2", "-f", "json"]) == 0
    capsys.readouterr()
    assert run(["replay", "--from-export", str(damaged), "--shard", "2/2", "-f", "json"]) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_a_sparse_read_keeps_every_place_and_hash(updated: dict[str, Path]) -> None:
    from crmctl.runtime.storage.events import read_event_export, read_sparse_export
    from crmctl.runtime.store import Store

    whole = list(read_event_export(updated["export"]))
    shard = Shard(1, 3)
    sparse = list(read_sparse_export(updated["export"], "default", shard.__contains__))
    assert [h for h, _ in sparse] == [e["hash"] for e in whole]
    assert [e for _, e in sparse] == [e if e["session"] in shard else None for e in whole]
    assert list(read_sparse_export(updated["export"], "other", lambda _: True)) == []
    with Store.open(updated["store"], read_only=True) as store:
        assert list(store.log.sparse_entries("default", shard.__contains__)) == sparse


# --- replay merge refuses ------------------------------------------------------------------------------------------


@pytest.fixture
def two(log: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> list[str]:
    return _shards(capsys, ["--from-export", str(log["export"])], ["--against", str(V2)], 2, tmp_path)


def _refused(capsys: pytest.CaptureFixture[str], paths: list[str], *words: str) -> None:
    assert run(["replay", "merge", *paths]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(word in err for word in words), err


def test_merge_refuses_a_missing_or_duplicated_shard(two: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, [two[0]], "shard 2/2 missing")
    _refused(capsys, [two[0], two[1], two[0]], two[0], "shard 1/2 again")


def test_merge_refuses_shards_of_another_replay(
    two: list[str], log: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    three = _shards(capsys, ["--from-export", str(log["export"])], ["--against", str(V2)], 3, tmp_path / "x")
    _refused(capsys, [two[0], three[1], three[2]], three[1], "shard.count")
    pinned = _shards(capsys, ["--from-export", str(log["export"])], [], 2, tmp_path / "y")
    _refused(capsys, [two[0], pinned[1]], pinned[1], "shard.againstDigest")
    other = _shards(capsys, ["--from-export", str(log["short"])], ["--against", str(V2)], 2, tmp_path / "z")
    _refused(capsys, [two[0], other[1]], other[1], "shard.log", "not of one replay")
    failing = _shards(
        capsys,
        ["--from-export", str(log["export"])],
        ["--against", str(V2), "--fail-on", "presentation"],
        2,
        tmp_path / "w",
    )
    _refused(capsys, [two[0], failing[1]], failing[1], "--fail-on")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{", ["not JSON"]),
        ('{"command": "lint", "result": {}}', ["not the JSON output of crmctl replay"]),
        ('{"command": "replay", "result": {"ok": true}}', ["is a required property"]),
        (None, ["result.shard: missing"]),
        ("\udcff", ["not JSON"]),
    ],
)
def test_merge_refuses_a_malformed_report(
    content: str | None, words: list[str], log: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    if content is None:  # a replay's report without --shard
        _, text = _output(capsys, ["replay", "--store", str(log["store"]), "-f", "json"])
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(content.encode("utf-8", "surrogateescape"))
    _refused(capsys, [str(path)], str(path), *words)
    _refused(capsys, [str(tmp_path / "absent.json")], "absent.json", "cannot read it")


def test_merge_refuses_edited_positions(two: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(Path(two[0]).read_text(encoding="utf-8"))
    document["result"]["shard"]["positions"].append(1)
    Path(two[0]).write_text(json.dumps(document), encoding="utf-8")
    _refused(capsys, two, two[0], "result.shard.positions")


# --- replay --jobs N -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["store", "export", "tampered"])
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_jobs_give_the_output_of_one_process(
    source: str, fmt: str, log: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_shards, "ENTRIES_PER_JOB", 1)  # the demo's log is far too small to be worth a pool
    pooled: list[int] = []
    monkeypatch.setattr(replay_shards, "replay_in_pool", _counting(replay_shards.replay_in_pool, pooled))
    where = ["--store", str(log["store"])] if source == "store" else ["--from-export", str(log[source])]
    argv = ["replay", *where, "--against", str(V2), "--limit", "4", "-f", fmt]
    assert _output(capsys, [*argv, "--jobs", "2"]) == _output(capsys, [*argv, "--jobs", "1"])
    assert pooled == [2]
    argv = ["replay", *where, "-f", fmt]  # against the pinned versions (the tampered log: its chain is checked)
    assert _output(capsys, [*argv, "--jobs", "3"]) == _output(capsys, [*argv, "--jobs", "1"])


def _counting(function: Any, calls: list[int]) -> Any:
    def counted(locator: Any, target: Any, jobs: int, **options: Any) -> Any:
        calls.append(jobs)
        return function(locator, target, jobs, **options)

    return counted


def test_a_small_log_replays_in_process(log: dict[str, Path]) -> None:
    locator = replay_shards.ReplayLocator(log["store"], None, "default", None)
    assert replay_shards.pool_size(locator, 8) == 1  # 40-odd entries: a worker would cost more than it saves
    assert replay_shards.pool_size(locator, 1) == 1
    broken = replay_shards.ReplayLocator(None, log["root"] / "absent.parquet", "default", None)
    assert replay_shards.pool_size(broken, 8) == 1  # the replay in process reports what is wrong


def test_a_workers_error_is_the_error_of_one_process(log: dict[str, Path], tmp_path: Path) -> None:
    # this process replays shard 1 without --against; the worker of shard 2 loads the version and cannot
    absent = str(tmp_path / "no-such-package")
    locator = replay_shards.ReplayLocator(log["store"], None, "default", absent)
    with pytest.raises(UserError) as single:
        replay_shards.load_against(absent)
    with pytest.raises(UserError) as pooled:
        replay_shards.replay_in_pool(locator, None, 2)
    assert str(pooled.value) == str(single.value) and "no-such-package" in str(pooled.value)


def _die(locator: Any, shard: Any) -> Any:
    import os

    os._exit(9)  # as a worker killed by the OOM killer


def _hang(locator: Any, shard: Any) -> Any:
    import time

    time.sleep(120)


def test_a_worker_that_dies_is_an_internal_error_and_leaves_no_process(log: dict[str, Path]) -> None:
    import multiprocessing

    locator = replay_shards.ReplayLocator(log["store"], None, "default", None)
    with pytest.raises(InternalError, match=r"a worker process stopped unexpectedly.*replay with --jobs 1"):
        replay_shards.replay_in_pool(locator, None, 3, worker=_die)
    assert multiprocessing.active_children() == []


@pytest.mark.usefixtures("terminal_ctrl_c")
def test_ctrl_c_stops_every_worker(log: dict[str, Path]) -> None:
    import multiprocessing
    import os
    import signal
    import threading

    locator = replay_shards.ReplayLocator(log["store"], None, "default", None)
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            replay_shards.replay_in_pool(locator, None, 3, worker=_hang)
    finally:
        timer.cancel()
    assert multiprocessing.active_children() == []  # ended, not left to sleep out their two minutes


def test_jobs_0_is_refused(log: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["replay", "--store", str(log["store"]), "--jobs", "0"]) == 2
    assert "'--jobs'" in (err := capsys.readouterr().err) and "at least 1" in err
    with pytest.raises(UsageError):
        replay_shards.parse_shard("2/1")


# --- review: forged shard reports ------------------------------------------------------------------------------------


def test_merge_of_a_shard_of_a_huge_count_says_what_is_missing_without_hanging(
    log: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    where = ["--from-export", str(log["export"])]
    code, text = _output(capsys, ["replay", *where, "--shard", "1/99999999999999999999", "-f", "json"])
    assert code in (0, 1), text
    path = tmp_path / "huge.json"
    path.write_text(text, encoding="utf-8")
    _refused(capsys, [str(path)], "2/99999999999999999999", "missing")


def test_merge_refuses_a_session_in_a_shard_it_does_not_hash_to(
    two: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = (json.loads(Path(p).read_text(encoding="utf-8")) for p in two)
    theirs = second["result"]
    assert theirs["differing"], "shard 2 of 2 should have a differing session"
    theirs["shard"]["index"], first["result"]["shard"]["index"] = 1, 2  # the sessions stay: each in the wrong shard
    Path(two[0]).write_text(json.dumps(first), encoding="utf-8")
    Path(two[1]).write_text(json.dumps(second), encoding="utf-8")
    _refused(capsys, two, "is not in shard")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_kill_9_of_the_parent_leaves_no_replay_worker(log: dict[str, Path]) -> None:
    """The import's workers follow a parent killed by kill -9; a replay's were left to run their whole shard."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.cli.test_records_import_jobs import _group

    code = (
        "from pathlib import Path; from crmctl.cli.commands import replay_shards as r; "
        "from tests.cli.test_replay_shards import _hang; "
        f"r.replay_in_pool(r.ReplayLocator({str(log['store'])!r}, None, 'default', None), None, 3, worker=_hang)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_group(child.pid)) < 3:  # the parent and its two workers
            assert child.poll() is None and time.monotonic() < deadline, "the workers never started"
            time.sleep(0.1)
        time.sleep(1)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        deadline = time.monotonic() + 30  # well before _hang's two minutes are out
        while _group(child.pid):
            assert time.monotonic() < deadline, f"workers left behind: {_group(child.pid)}"
            time.sleep(0.1)
    finally:
        for pid in _group(child.pid):
            os.kill(pid, signal.SIGKILL)
        if child.poll() is None:
            child.kill()
            child.wait()


def test_shares_cover_every_session_once_and_give_this_process_more_while_workers_start() -> None:
    import random

    rng = random.Random(4)
    sessions = [f"s{rng.getrandbits(40)}" for _ in range(3000)] + ["record:Lead:x", "x"]
    for jobs, entries in (
        (2, 0),
        (2, 50_000),
        (3, 50_000),
        (2, 10_000_000),
        (8, 20_000),
        (4, 1),
        (65, 10**7),
        (128, 1),
    ):
        parts = replay_shards.shares(jobs, entries)
        assert len(parts) == jobs and all(part.indexes for part in parts)
        for session in sessions:
            assert sum(session in part for part in parts) == 1, (jobs, entries, session)
        assert ("record:Lead:x" in parts[0]) == ("x" in parts[0])  # a record's session goes with its form session
    sizes = [len(replay_shards.shares(2, n)[0].indexes) for n in (20_000, 50_000, 200_000, 10_000_000)]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == replay_shards.BUCKETS // 2
    assert sizes[0] > replay_shards.BUCKETS // 2  # a small log: this process takes more while the worker starts
