"""examples/dask_replay.py on a real Dask cluster of worker processes: the merged report is byte for byte the report
of one `crmctl replay` of the same export, with the same exit code; a shard whose crmctl dies is retried (its
answer is deterministic), one that keeps dying ends the run with exit 3 naming it; and no process outlives the
cluster."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from crmctl.cli.main import run
from tests.cli.test_replay_shards import V2, _result
from tests.cli.test_replay_shards import log as log  # the demo's traffic, exported with divergences against v2
from tests.conftest import REPO

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed: pip install crmctl[scale]")
psutil = pytest.importorskip("psutil", reason="psutil (a dependency of distributed) is not installed")


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dask_replay", REPO / "examples" / "dask_replay.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dask_replay"] = module  # cloudpickle ships it by value to the workers, by this name
    spec.loader.exec_module(module)
    return module


example = _load_example()


def _children() -> set[int]:
    """This process's live descendants, but multiprocessing's resource tracker (started once, lives as long as we
    do); a zombie (a child another test killed and its parent has not reaped yet) is no live process."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child.pid)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return found


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local cluster of two worker processes, one thread each, small memory; nothing of it is left afterwards."""
    before = _children()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit="512MiB", dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address
    assert _children() <= before


def _fake_crmctl(tmp_path: Path, body: str) -> str:
    """A `--crmctl` command: a script that logs each call's --shard to calls.txt, then does `body`."""
    script = tmp_path / "fake_crmctl.py"
    script.write_text(
        "import os, subprocess, sys\n"
        f"calls = {str(tmp_path / 'calls.txt')!r}\n"
        "shard = sys.argv[sys.argv.index('--shard') + 1]\n"
        "seen = open(calls).read().split() if os.path.exists(calls) else []\n"
        "open(calls, 'a').write(shard + '\\n')\n" + body,
        encoding="utf-8",
    )
    return f"{sys.executable} {script}"


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.txt").read_text(encoding="utf-8").split()


def _dask(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = example.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _replay(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = run(["replay", *argv])
    return code, capsys.readouterr().out


def test_the_merged_report_is_one_replay_even_when_a_shard_dies_once(
    scheduler: str, log: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # shard 2/2 is killed the first time it runs; its retry gives the answer it would have given
    dies_once = "if shard == '2/2' and shard not in seen:\n    os.kill(os.getpid(), 9)\n"
    crmctl = _fake_crmctl(
        tmp_path, dies_once + "sys.exit(subprocess.run([sys.executable, '-m', 'crmctl', *sys.argv[1:]]).returncode)\n"
    )
    options = ["--against", str(V2), "--limit", "4", "-f", "json"]
    code, out, _ = _dask(
        capsys, [str(log["export"]), "--shards", "2", "--scheduler", scheduler, "--crmctl", crmctl, *options]
    )
    one_code, one = _replay(capsys, ["--from-export", str(log["export"]), *options])
    assert (code, _result(out)) == (one_code, _result(one)) and code == 1
    assert json.loads(out)["result"]["divergencesOmitted"] > 0
    assert sorted(_calls(tmp_path)) == ["1/2", "2/2", "2/2"]


def test_several_exports_are_reported_in_turn_each_as_one_replay(
    scheduler: str, log: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    exports = [str(log["export"]), f"default={log['short']}"]
    code, out, err = _dask(capsys, [*exports, "--shards", "2", "--scheduler", scheduler])
    expected = ""
    for path in (log["export"], log["short"]):
        one_code, one = _replay(capsys, ["--from-export", str(path)])
        assert one_code == 0  # the pinned versions reproduce every event
        expected += f"== {path} (tenant default) ==\n{one}"
    assert (code, out) == (0, expected), err


def test_kept_reports_of_two_exports_with_one_file_name_stay_apart(
    scheduler: str, log: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--keep DIR` with /a/log.parquet and /b/log.parquet: each export's reports under their own names, each
    merging to that export's replay (the second export's reports once overwrote the first's)."""
    exports = []
    for folder, source in (("a", log["export"]), ("b", log["short"])):
        (tmp_path / folder).mkdir()
        exports.append(tmp_path / folder / "log.parquet")
        exports[-1].write_bytes(source.read_bytes())
    kept = tmp_path / "kept"
    code, _, err = _dask(capsys, [*map(str, exports), "--shards", "2", "--scheduler", scheduler, "--keep", str(kept)])
    assert code == 0, err
    names = sorted(p.name for p in kept.iterdir())
    assert names == [f"{i}.log.default.shard-{s}-of-2.json" for i in (1, 2) for s in (1, 2)]
    for position, export in enumerate(exports, 1):
        merged = run(["replay", "merge", *(str(kept / f"{position}.log.default.shard-{s}-of-2.json") for s in (1, 2))])
        assert (merged, capsys.readouterr().out) == _replay(capsys, ["--from-export", str(export)])


def test_a_shard_refused_as_bad_input_is_exit_2_and_not_retried(
    scheduler: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    absent = tmp_path / "absent.parquet"
    code, out, err = _dask(capsys, [str(absent), "--shards", "1", "--scheduler", scheduler])
    assert (code, out) == (2, "")
    assert "shard 1/1 of" in err and str(absent) in err and "Traceback" not in err


def test_a_shard_that_keeps_failing_is_exit_3_naming_it_and_its_cluster_is_closed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    crmctl = _fake_crmctl(
        tmp_path, "print('replay: internal error: the disk is on fire', file=sys.stderr)\nsys.exit(3)\n"
    )
    before = _children()
    code, out, err = _dask(capsys, ["log.parquet", "--shards", "2", "--retries", "1", "--crmctl", crmctl])
    assert (code, out) == (3, "")
    assert "shard 1/2 of log.parquet: crmctl ended with exit 3" in err and "the disk is on fire" in err
    assert "tried 2 times" in err and "Traceback" not in err
    assert _calls(tmp_path).count("1/2") == 2  # retried once, then given up
    assert _children() <= before  # the local cluster the example started is gone with its workers


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as exit_:
        example.main(["log.parquet", "--shards", "0"])
    assert exit_.value.code == 2
