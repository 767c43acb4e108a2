"""One atomic write (`crmctl.model.files`): whole files, and the mode a user's file gets, for every writer."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import crmctl
from crmctl.cli.main import run
from crmctl.model.files import AtomicFile, write_atomic
from tests.cli.test_export_cli import store  # noqa: F401 - the fixture
from tests.conftest import MINIMAL, write_package


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield int(request.param)
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.rglob(".*.tmp")]


def test_a_new_file_gets_0666_minus_the_umask(tmp_path: Path, umask: int) -> None:
    write_atomic(tmp_path / "a.json", "{}\n")
    assert _mode(tmp_path / "a.json") == 0o666 & ~umask
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == "{}\n" and _leftovers(tmp_path) == []


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) == 0o640


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), AtomicFile(target) as file:
        file.temp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old" and _leftovers(tmp_path) == []


def test_parents_only_on_request(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no" / "a.txt", "x")
    write_atomic(tmp_path / "no" / "a.txt", "x", parents=True)
    assert (tmp_path / "no" / "a.txt").read_text(encoding="utf-8") == "x"


def test_log_export_export_baseline_and_scaffold_write_the_same_mode(
    store: str,  # noqa: F811 - the fixture
    tmp_path: Path,
    umask: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `log export` wrote 0600 (mkstemp's mode), `export` 0666 minus the umask, scaffolding 0644 whatever the umask.
    assert run(["log", "export", "--store", store, "-o", str(tmp_path / "events.parquet")]) == 0
    assert run(["export", "records", "--store", store, "--out", str(tmp_path / "out")]) == 0
    package = write_package(tmp_path / "pkg", MINIMAL)
    assert run(["lint", str(package), "--write-baseline", str(tmp_path / "baseline.json")]) in (0, 1)
    (package / "schema.yaml").chmod(0o640)
    assert run(["new", "field", "Lead.nickname", "--type", "text", "-p", str(package)]) == 0
    assert (
        run(
            [
                "new",
                "rule",
                "showNick",
                "--entity",
                "Lead",
                "--target",
                "firstName",
                "--when",
                "true",
                "-p",
                str(package),
            ]
        )
        == 0
    )
    capsys.readouterr()
    written = [
        tmp_path / "events.parquet",
        tmp_path / "baseline.json",
        package / "rules.yaml",
        *sorted((tmp_path / "out").rglob("*.*")),
    ]
    assert len(written) > 3
    assert {p.name: _mode(p) for p in written} == {p.name: 0o666 & ~umask for p in written}
    assert _mode(package / "schema.yaml") == 0o640 and "nickname" in (package / "schema.yaml").read_text("utf-8")
    assert _leftovers(tmp_path) == []


def test_one_atomic_write_in_the_tree() -> None:
    source = Path(crmctl.__file__).parent
    offenders = [
        str(path.relative_to(source))
        for path in sorted(source.rglob("*.py"))
        if path.relative_to(source) != Path("model/files.py")
        if re.search(r"mkstemp|\.tmp\"\)|os\.replace\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
