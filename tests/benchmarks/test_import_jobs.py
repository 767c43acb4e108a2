"""benchmarks/import_jobs.py: the machine's idle and steal shares it reports beside each jobs-2 import."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def import_jobs() -> ModuleType:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("import_jobs", REPO / "benchmarks" / "import_jobs.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_shares_are_the_idle_and_stolen_parts_of_the_ticks_between_two_readings(import_jobs: ModuleType) -> None:
    assert import_jobs.shares_between((100, 10, 1_000), (150, 30, 1_200)) == "idle 25%, steal 10%"
    assert import_jobs.shares_between(None, (1, 1, 1)) == "idle -, steal -"
    assert import_jobs.shares_between((1, 1, 5), (1, 1, 5)) == "idle -, steal -"  # no tick between them


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="/proc/stat is Linux's")
def test_the_machines_ticks_are_read_from_proc_stat(import_jobs: ModuleType) -> None:
    first = import_jobs.cpu_shares()
    second = first
    for _ in range(200):  # until a tick (10 ms of some core) goes by
        time.sleep(0.01)
        second = import_jobs.cpu_shares()
        if second != first:
            break
    assert first is not None and second is not None
    assert all(b >= a for a, b in zip(first, second, strict=True))
    idle, steal, total = second
    assert total > first[2] and idle <= total and steal <= total
