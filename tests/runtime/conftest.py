"""Runtime fixtures shared by the test modules of this directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmctl.runtime.storage.locator import StoreURL
from crmctl.runtime.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh runtime store, open for the test (a module may define its own `store` instead)."""
    with Store.open(tmp_path / "rt.duckdb") as opened:
        yield opened


@pytest.fixture(params=["duckdb", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | StoreURL:
    """Where a fresh store of each backend is (the contract suite runs on both): a DuckDB file that does not exist
    yet, or an empty schema of its own on the test's PostgreSQL server (skipped without PostgreSQL binaries)."""
    if request.param == "duckdb":
        return tmp_path / ".crm" / "runtime.duckdb"
    return StoreURL(request.getfixturevalue("pg_url"))


@pytest.fixture
def any_store(store_target: Path | StoreURL) -> Iterator[Store]:
    """A fresh store of each backend, open for the test; `Store.open(store_target, ...)` opens it again as another
    process would."""
    with Store.open(store_target) as opened:
        yield opened
