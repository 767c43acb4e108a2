"""`crmctl store copy SRC DST`: every table of every tenant moved between DuckDB files and PostgreSQL schemas, in
one transaction on DST, verified by each tenant's log head; refusals leave DST as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from crmctl.cli import contract
from crmctl.cli.main import run
from crmctl.runtime.store import Store, locate
from crmctl.runtime.store_copy import COPIED
from tests.cli.contract.schema_rules import naming_violations
from tests.conftest import REPO

COVERED = {"store copy"}

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
DEMO = REPO / "scripts" / "demo"
APPROVAL = str(REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml")
AT = pa.scalar(1_764_151_200_123_456, pa.timestamp("us", "UTC"))


def build(store: str) -> None:
    """Sessions, a draft, imported records in two tenants (`d-z` sorts before `default` in byte order, after it in
    most languages), a workflow, and webhook rows written as the outbox writes them."""
    where = ["--store", store]
    monday, tuesday = str(DEMO / "lead-monday.yaml"), str(DEMO / "lead-tuesday.yaml")
    leads = str(DEMO / "leads.csv")
    assert run(["simulate", V1, "--script", monday, *where, "--session", "lead-ada"]) == 0
    assert run(["draft", "resume", "lead-ada", "--script", tuesday, *where]) == 0
    assert run(["records", "import", V1, leads, "-e", "Lead", *where, "--now", "2026-11-24T11:00:00Z"]) == 0
    assert (
        run(["records", "import", V2, leads, "-e", "Lead", *where, "--tenant", "d-z", "--now", "2026-11-24T11:00:01Z"])
        == 0
    )
    assert run(["workflow", "simulate", V2, "--script", APPROVAL, *where]) == 0
    with Store.open(locate(store)) as opened:
        db = opened.connection
        with db.transaction(), db.tenant(None):
            db.insert(
                "webhook_cursors",
                ["tenant", "webhook", "seq"],
                pa.table({"tenant": ["d-z"], "webhook": ["w"], "seq": pa.array([3], pa.int64())}),
            )
            db.insert(
                "webhook_attempts",
                ["tenant", "webhook", "event_id", "attempt", "at", "status_code", "error", "duration_ms"],
                pa.table(
                    {
                        "tenant": ["d-z", "d-z"],
                        "webhook": ["w", "w"],
                        "event_id": ["e1", "e1"],
                        "attempt": pa.array([1, 2], pa.int32()),
                        "at": pa.array([AT, AT], pa.timestamp("us", "UTC")),
                        "status_code": pa.array([None, 200], pa.int32()),
                        "error": ["timed out", None],
                        "duration_ms": [12.5, 3.25],
                    }
                ),
            )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("copy-store") / "rt.duckdb"
    build(str(store))
    return store


def _envelope(capsys: pytest.CaptureFixture[str], argv: list[str], exit_code: int = 0) -> dict[str, Any]:
    capsys.readouterr()
    assert run([*argv, "--format", "json"]) == exit_code, capsys.readouterr()
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert contract.validation_errors(document) == []
    assert document["command"] in COVERED
    return document


def _content(store: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every copied table's rows (JSON parsed, so JSONB's spelling does not count) and meta's created_by."""
    from crmctl.runtime.storage.table_rows import table_rows

    found: dict[str, list[tuple[Any, ...]]] = {}
    with Store.open(locate(store), read_only=True) as opened:
        for table in COPIED:
            with table_rows(opened.connection, table) as batches:
                found[table] = [tuple(row.values()) for b in batches for row in b.to_pylist()]
        found["created_by"] = [(opened.schema.meta()["created_by"],)]
    return found


def test_the_schema_follows_the_naming_rules() -> None:
    assert list(naming_violations(contract.command_schema("store copy"))) == []


def test_duckdb_to_duckdb_copies_everything(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "new" / "copy.duckdb"
    result = _envelope(capsys, ["store", "copy", str(built), str(target)])["result"]
    assert result["verified"] and (result["sourceEngine"], result["targetEngine"]) == ("duckdb", "duckdb")
    assert [t["tenant"] for t in result["tenants"]] == ["d-z", "default"]
    assert result["rows"]["webhook_attempts"] == 2 and result["packages"] == {"source": 2, "target": 2}
    assert all(t["sourceHead"] == t["targetHead"] and t["targetHead"] for t in result["tenants"])
    assert _content(str(target)) == _content(str(built))


def test_text_report(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["store", "copy", str(built), str(tmp_path / "c.duckdb")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"copied {built} (duckdb) to {tmp_path / 'c.duckdb'} (duckdb)"
    assert any(line.startswith("  tenant d-z: head ") and line.endswith("rows equal, chain intact") for line in lines)
    assert lines[-1] == "verified"


def test_a_non_empty_target_is_refused_untouched(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "t.duckdb"
    assert run(["store", "copy", str(built), str(target)]) == 0
    before = target.read_bytes()
    problem = _envelope(capsys, ["store", "copy", str(built), str(target)], 2)["problems"][0]
    assert "is not empty" in problem["message"] and target.read_bytes() == before


def test_the_same_store_is_refused(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relative = Path(built.parent.name) / built.name
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(built.parent.parent)
        problem = _envelope(capsys, ["store", "copy", str(built), str(relative)], 2)["problems"][0]
    assert "both SRC and DST" in problem["message"]


def test_an_old_format_source_gets_the_migrate_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import duckdb

    old = tmp_path / "old.duckdb"
    Store.open(old).close()
    with duckdb.connect(str(old)) as con:  # as crmctl wrote it before format 2
        for table in ("workflow_instances", "webhook_cursors", "webhook_outbox", "webhook_attempts"):
            con.execute(f"DROP TABLE {table}")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'format'")
    problem = _envelope(capsys, ["store", "copy", str(old), str(tmp_path / "new.duckdb")], 2)["problems"][0]
    assert not (tmp_path / "new.duckdb").exists()
    assert "format 1" in problem["message"] and "crmctl store migrate" in problem["hint"]


def test_a_missing_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _envelope(capsys, ["store", "copy", str(tmp_path / "none.duckdb"), str(tmp_path / "new.duckdb")], 2)
    assert not (tmp_path / "new.duckdb").exists()


def test_a_failure_midway_leaves_no_file(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmctl.runtime.storage.duckdb_backend import DuckConnection

    real, calls = DuckConnection.insert, []

    def failing(self: DuckConnection, target: str, *args: Any, **kwargs: Any) -> None:
        calls.append(target)
        if target == "events":
            raise OSError("disk full")
        real(self, target, *args, **kwargs)

    monkeypatch.setattr(DuckConnection, "insert", failing)
    with pytest.raises(OSError, match="disk full"):
        from crmctl.runtime.store_copy import copy_store

        copy_store(built, tmp_path / "half.duckdb")
    assert "records" in calls and not (tmp_path / "half.duckdb").exists()


# --- PostgreSQL ----------------------------------------------------------------------------------------------------


def test_duckdb_to_postgresql_and_back(
    built: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    there = _envelope(capsys, ["store", "copy", str(built), pg_url])["result"]
    assert there["verified"] and there["targetEngine"] == "postgresql"
    assert _content(pg_url) == _content(str(built))
    back = tmp_path / "back.duckdb"
    again = _envelope(capsys, ["store", "copy", pg_url, str(back)])["result"]
    assert again["verified"] and [t["targetHead"] for t in again["tenants"]] == [
        t["sourceHead"] for t in there["tenants"]
    ]
    assert _content(str(back)) == _content(str(built))
    assert run(["log", "verify", "--store", pg_url, "--tenant", "d-z"]) == 0


def test_postgresql_to_postgresql(built: Path, postgres_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = postgres_server.fresh_url(), postgres_server.fresh_url()
    assert run(["store", "copy", str(built), first]) == 0
    result = _envelope(capsys, ["store", "copy", first, second])["result"]
    assert result["verified"] and _content(second) == _content(first)
    problem = _envelope(capsys, ["store", "copy", str(built), second], 2)["problems"][0]
    assert "is not empty" in problem["message"]


def test_a_postgresql_failure_midway_writes_nothing(built: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmctl.runtime.storage.postgresql_backend import PgConnection
    from crmctl.runtime.store_copy import copy_store

    real = PgConnection.insert

    def failing(self: PgConnection, target: str, *args: Any, **kwargs: Any) -> None:
        if target == "workflow_instances":
            raise OSError("connection lost")
        real(self, target, *args, **kwargs)

    monkeypatch.setattr(PgConnection, "insert", failing)
    with pytest.raises(OSError, match="connection lost"):
        copy_store(built, locate(pg_url))
    monkeypatch.undo()
    with Store.open(locate(pg_url), read_only=True) as opened:
        assert opened.tenants() == [] and opened.package_digests() == []
    assert copy_store(built, locate(pg_url)).verified  # the empty store left behind takes a new copy
