"""Shared fixtures: a pinned environment so tests never depend on the machine they run on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_PINNED = {
    "GIT_AUTHOR_NAME": "crmctl test",
    "GIT_AUTHOR_EMAIL": "test@crmctl.invalid",
    "GIT_COMMITTER_NAME": "crmctl test",
    "GIT_COMMITTER_EMAIL": "test@crmctl.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1",
    "NO_COLOR": "1",
    "TZ": "UTC",
    "CRMCTL_CONTRACT_CHECK": "1",  # every JSON envelope printed in a test is checked against its schema
}


@pytest.fixture(autouse=True)
def pinned_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for key, value in _PINNED.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CRMCTL_REGISTRY", raising=False)
    monkeypatch.delenv("CRMCTL_STORE", raising=False)
    yield


@pytest.fixture
def terminal_ctrl_c() -> Iterator[None]:
    """Ctrl-C handled as in a terminal (Python's own handler) for the test: a suite started in the background
    (`cmd &`, nohup) inherits SIGINT ignored, which crmctl then rightly leaves ignored."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c_as_in_a_terminal() -> None:
    """`preexec_fn` of a child that must see Ctrl-C (see `terminal_ctrl_c`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def repo_root() -> Path:
    return REPO


def write_package(root: Path, files: dict[str, str]) -> Path:
    """Write a package from {relative path: text}; returns its directory."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


MINIMAL = {
    "package.yaml": "name: Demo\nversion: 1.0.0\nscope: global\ndescription: A demo package.\nlocales: [en]\n",
    "schema.yaml": "entities:\n  Lead:\n    fields:\n      firstName: {type: text, required: true}\n",
    "localization/en.yaml": "labels:\n  Lead.firstName: First name\n",
}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A throwaway PostgreSQL server for this test process (see tests/postgres.py); skipped without binaries."""
    from tests.postgres import SKIP_REASON, PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        pytest.skip(SKIP_REASON)
    server = PostgresServer(binaries).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: object) -> str:
    """A URL to an empty schema of its own on the test server, for the role `crmctl` (no superuser, no BYPASSRLS)."""
    from tests.postgres import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    return postgres_server.fresh_url()


@pytest.fixture(params=["duckdb", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """`--store` for a fresh store of each backend (the CLI's runtime tests run on both): a DuckDB file that does
    not exist yet, or a URL to an empty schema on the test's PostgreSQL server (skipped without its binaries)."""
    if request.param == "duckdb":
        return str(tmp_path / "rt.duckdb")
    return str(request.getfixturevalue("pg_url"))
