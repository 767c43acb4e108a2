"""Fixtures of the sandbox server tests (see `server.py` for the servers themselves)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.server import LEAD_V1, Running, running_app


@pytest.fixture
def lead_server(tmp_path: Path) -> Iterator[Running]:
    """LeadLifecycle v1 served from a fresh sandbox store, on a real uvicorn."""
    with running_app([LEAD_V1], tmp_path / "sandbox.duckdb") as running:
        yield running
