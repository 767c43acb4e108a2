"""Runtime fixtures shared by the test modules of this directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmctl.runtime.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh runtime store, open for the test (a module may define its own `store` instead)."""
    with Store.open(tmp_path / "rt.duckdb") as opened:
        yield opened
