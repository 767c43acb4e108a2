"""The command line on a PostgreSQL store: found through --store, CRMCTL_STORE and [tool.crmctl] store; bad URLs
refused with exit 2 and the URL shown without its password, which no output ever shows; a database that is no
crmctl store refused; read-only commands create nothing; `store info` says whether tenants are isolated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crmctl.cli.main import run
from tests.conftest import REPO
from tests.postgres import PostgresServer

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
SCRIPT = "now: 2026-11-26T09:00:00Z\nevents:\n  - change: {field: firstName, value: Ada}\n  - quit: {}\n"


def _simulate(tmp_path: Path, store: str | None, session: str = "s1") -> int:
    script = tmp_path / "s.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    extra = ["--store", store] if store is not None else []
    return run(["simulate", V1, "--script", str(script), "--session", session, *extra])


def test_the_store_url_comes_from_the_environment_or_the_project(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRMCTL_STORE", pg_url)
    assert _simulate(tmp_path, None) == 0
    assert not (tmp_path / ".crm").exists()
    monkeypatch.delenv("CRMCTL_STORE")
    (tmp_path / "pyproject.toml").write_text(f"[tool.crmctl]\nstore = {json.dumps(pg_url)}\n", encoding="utf-8")
    capsys.readouterr()
    assert run(["draft", "list", "--format", "json"]) == 0
    assert [d["draftId"] for d in json.loads(capsys.readouterr().out)["result"]["drafts"]] == ["s1"]
    assert run(["store", "info", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)["result"]
    assert info["engine"] == "postgresql" and info["isolation"] == "enforced" and info["path"] == pg_url
    assert run(["store", "info"]) == 0
    assert "enforced" in capsys.readouterr().out


def test_a_superuser_is_reported_as_bypassing_the_isolation(
    postgres_server: PostgresServer, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _simulate(tmp_path, pg_url) == 0
    schema = re.search(r"search_path%3D(\w+)", pg_url)
    assert schema is not None
    superuser = postgres_server.url(user=postgres_server.superuser, schema=schema[1])
    capsys.readouterr()
    assert run(["store", "info", "--store", superuser]) == 0
    assert "bypassed: role" in capsys.readouterr().out
    assert run(["store", "info", "--store", superuser, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["isolation"].startswith("bypassed: role")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://u:s3cr3t-pw@localhost/db", "mysql:// stores are not supported"),
        ("postgresql://u:s3cr3t-pw@localhost:notaport/db", "u:***@localhost"),
        ("postgresql://u:s3cr3t-pw@/db?host=/nonexistent/socket", "cannot connect to the runtime store"),
        ("postgresql://u:s3cr3t-pw@127.0.0.1:1/db?connect_timeout=2", "cannot connect to the runtime store"),
        ("postgresql://u@/db?host=/nonexistent&password=s3cr3t-pw", "password=***"),
        # libpq quotes the token it cannot decode: a password with a stray % must not come back in its message
        ("postgresql://u:s3cr3t-pw%zz@/db?host=/nonexistent", "invalid percent-encoded token"),
        ("postgresql://u@/db?host=/nonexistent&password=s3cr3t-pw%zz", "invalid percent-encoded token"),
        ("postgresql://u:s3cr3t-pw@[::1/db", "Invalid IPv6 URL"),  # urlsplit itself refuses it
    ],
)
@pytest.mark.parametrize("output", ["text", "json"])
def test_bad_urls_exit_2_and_never_show_the_password(
    url: str, said: str, output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["store", "info"], ["draft", "list"], ["records", "list", "-e", "Lead"]):
        assert run([*command, "--store", url, "--format", output]) == 2
        captured = capsys.readouterr()
        assert "s3cr3t-pw" not in captured.out + captured.err
        assert said in captured.out + captured.err
    assert _simulate(tmp_path, url) == 2
    captured = capsys.readouterr()
    assert "s3cr3t-pw" not in captured.out + captured.err


def test_a_wrong_database_or_password_is_exit_2_without_the_password(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    socket = postgres_server.url().split("?", 1)[1]
    for url in (
        f"postgresql://crmctl:pw-XYZ@/no_such_db?{socket}",
        f"postgresql://nobody_here:pw-XYZ@/crmctl?{socket}",
    ):
        assert run(["store", "info", "--store", url, "--format", "json"]) == 2
        captured = capsys.readouterr()
        assert "pw-XYZ" not in captured.out + captured.err
        assert ":***@" in captured.err


def test_a_database_that_is_no_crmctl_store_is_refused(
    postgres_server: PostgresServer, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("CREATE TABLE customers (id int)")
    assert _simulate(tmp_path, pg_url) == 2
    assert "not a crmctl runtime store" in capsys.readouterr().err
    with psycopg.connect(pg_url, autocommit=True) as con:
        assert con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone() == (1,)


def test_read_only_commands_never_create_tables(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg

    for command in (["store", "info"], ["draft", "list"], ["log", "verify"], ["records", "list", "-e", "Lead"]):
        assert run([*command, "--store", pg_url]) == 2, command
        assert "no runtime store in this database" in capsys.readouterr().err
    with psycopg.connect(pg_url, autocommit=True) as con:
        tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        assert con.execute(tables).fetchone() == (0,)
    assert run(["store", "migrate", "--store", pg_url]) == 2  # nothing to migrate: no store yet
    capsys.readouterr()


def test_draft_show_discard_and_list(pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _simulate(tmp_path, pg_url, "d1") == 0
    assert _simulate(tmp_path, pg_url, "d2") == 0
    capsys.readouterr()
    assert run(["draft", "show", "d1", "--store", pg_url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["data"]["firstName"] == "Ada"
    assert run(["draft", "discard", "d1", "--store", pg_url]) == 0
    capsys.readouterr()
    assert run(["draft", "list", "--store", pg_url, "--format", "json"]) == 0
    assert [d["draftId"] for d in json.loads(capsys.readouterr().out)["result"]["drafts"]] == ["d2"]
    assert run(["draft", "show", "d1", "--store", pg_url]) == 2
    assert run(["log", "verify", "--store", pg_url]) == 0


def test_store_migrate_on_postgresql(pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg

    assert _simulate(tmp_path, pg_url) == 0
    with psycopg.connect(pg_url, autocommit=True) as con:  # as crmctl wrote it in format 2
        con.execute("DROP TABLE webhook_cursors, webhook_outbox, webhook_attempts")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    capsys.readouterr()
    assert run(["draft", "list", "--store", pg_url]) == 2
    assert "crmctl store migrate" in capsys.readouterr().err
    assert run(["store", "migrate", "--store", pg_url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"] == {"path": pg_url, "migratedFrom": [2], "format": 3}
    assert run(["store", "info", "--store", pg_url, "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)["result"]
    assert info["format"] == 3 and info["isolation"] == "enforced"
    with psycopg.connect(pg_url, autocommit=True) as con:  # the migrated tables are isolated too
        forced = "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'webhook_outbox'"
        forced += " AND relnamespace = current_schema()::regnamespace"
        assert con.execute(forced).fetchone() == (True,)


def test_a_password_in_a_working_url_appears_in_no_output(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_url.replace("postgresql://crmctl@", "postgresql://crmctl:pw-S3CRET@", 1)  # the socket trusts it
    assert _simulate(tmp_path, url) == 0
    export = str(tmp_path / "x.parquet")
    for command in (
        ["store", "info"],
        ["draft", "list", "-v"],
        ["log", "verify"],
        ["log", "export", "--out", export],
        ["replay"],
        ["records", "list", "-e", "Lead"],
    ):
        for output in ("text", "json"):
            assert run([*command, "--store", url, "--format", output]) == 0, command
            captured = capsys.readouterr()
            assert "pw-S3CRET" not in captured.out + captured.err, command
    assert run(["store", "info", "--store", url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["path"].startswith("postgresql://crmctl:***@/crmctl?")
