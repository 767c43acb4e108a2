"""Every runtime command against damaged, truncated, foreign and altered stores: a located message and exit 2,
or exit 3 with an environment error — never a traceback, never an internal error (issue 9 §3).

One good store (a draft, imported records, a workflow instance, their log) is built once; each case copies it and
damages the copy one way, then runs one command on it in process.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crmctl.cli.main import run
from crmctl.errors import EnvironmentFailure
from crmctl.runtime.storage.duckdb_backend import DuckConnection, connect_duckdb
from crmctl.runtime.storage.schema import FORMAT, MIGRATIONS, TABLES, Schema, layouts
from crmctl.runtime.store import Store, StoreFormatError, StoreIntegrityError
from tests.conftest import REPO

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
SCENARIO = str(REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml")
DEMO = REPO / "scripts" / "demo"


@pytest.fixture(scope="session")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "runtime.duckdb"
    store = ["--store", str(path)]
    assert run(["simulate", V1, "--script", str(DEMO / "lead-monday.yaml"), "--session", "lead-ada", *store]) == 0
    assert (
        run(
            [
                "records",
                "import",
                V1,
                str(DEMO / "leads.csv"),
                "--entity",
                "Lead",
                "--now",
                "2026-11-24T11:00:00Z",
                *store,
            ]
        )
        == 0
    )
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, *store]) == 0
    return path


def _sql(path: Path, *statements: str) -> None:
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement).fetchall()


def _garbage_inside(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start : start + 20_000] = random.Random(9).randbytes(20_000)
    path.write_bytes(bytes(data))


Damage = Callable[[Path], None]

# Damage found when the store is opened: every command refuses it the same way.
AT_OPEN: dict[str, Damage] = {
    "garbage": lambda p: p.write_bytes(random.Random(1).randbytes(5000)),
    "zero-length": lambda p: p.write_bytes(b""),
    "truncated-to-4k": lambda p: p.write_bytes(p.read_bytes()[:4096]),
    "a-directory": lambda p: (p.unlink(), p.mkdir()),
    "foreign-duckdb": lambda p: (p.unlink(), _sql(p, "CREATE TABLE foo (a INTEGER)")),
    "no-meta-table": lambda p: _sql(p, "DROP TABLE meta"),
    "meta-columns-renamed": lambda p: _sql(p, "ALTER TABLE meta RENAME COLUMN value TO v"),
    "no-format-stamp": lambda p: _sql(p, "DELETE FROM meta WHERE key = 'format'"),
    **{
        f"format-{value!r}": (lambda v: lambda p: _sql(p, f"UPDATE meta SET value = '{v}' WHERE key = 'format'"))(value)
        for value in ("0", "-1", "abc", "2.0", " 2", "+2", "٢", "02", "1_0", "1")
    },
    **{f"no-{table}": (lambda t: lambda p: _sql(p, f"DROP TABLE {t}"))(table) for table in TABLES if table != "meta"},
    "records-column-dropped": lambda p: _sql(p, "ALTER TABLE records DROP COLUMN revision"),
    "events-column-retyped": lambda p: _sql(p, "ALTER TABLE events ALTER hash TYPE BLOB"),
    "records-a-view": lambda p: _sql(p, "ALTER TABLE records RENAME TO r2", "CREATE VIEW records AS SELECT * FROM r2"),
}

# Damage found while a command reads: only the commands that read the damaged part notice it.
WHILE_READING: dict[str, Damage] = {
    "truncated-to-half": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "garbage-inside": _garbage_inside,
    "record-data-not-json": lambda p: _sql(p, "UPDATE records SET data = '{not json'"),
    "record-data-a-list": lambda p: _sql(p, "UPDATE records SET data = '[1, 2]'"),
    "record-data-null": lambda p: _sql(p, "UPDATE records SET data = 'null'"),
    "draft-not-json": lambda p: _sql(p, "UPDATE drafts SET data = 'nope', state = 'nope'"),
    "event-not-json": lambda p: _sql(p, "UPDATE events SET entry = 'nope'"),
    "event-a-list": lambda p: _sql(p, "UPDATE events SET entry = '[]'"),
    "instance-not-json": lambda p: _sql(p, "UPDATE workflow_instances SET state = 'nope'"),
}

NOW = ["--now", "2026-11-25T00:00:00Z"]
COMMANDS: dict[str, list[str]] = {
    "store info": ["store", "info"],
    "store migrate": ["store", "migrate"],
    "records list": ["records", "list"],
    "records get": ["records", "get", "lead-001", "-e", "Lead"],
    "records create": [
        "records",
        "create",
        V1,
        "-e",
        "Lead",
        "--no-async",
        *NOW,
        "--data",
        '{"firstName": "A", "lastName": "B", "email": "a@b.example"}',
    ],
    "records update": [
        "records",
        "update",
        "lead-001",
        "-e",
        "Lead",
        "--data",
        '{"firstName": "Z"}',
        "--no-async",
        *NOW,
    ],
    "records import": [
        "records",
        "import",
        V1,
        str(DEMO / "leads.csv"),
        "-e",
        "Lead",
        "--no-async",
        *NOW,
        "--tenant",
        "other",
    ],
    "draft list": ["draft", "list"],
    "draft show": ["draft", "show", "lead-ada"],
    "draft resume": ["draft", "resume", "lead-ada", "--script", str(DEMO / "lead-tuesday.yaml")],
    "simulate": ["simulate", V1, "--script", str(DEMO / "lead-monday.yaml"), "--session", "again", *NOW],
    "log verify": ["log", "verify"],
    "log export": ["log", "export", "-o", "{tmp}/events.parquet"],
    "replay": ["replay", "--format", "json"],
    "events list": ["events", "list"],
    "events tail": ["events", "tail"],
    "events dlq list": ["events", "dlq", "list"],
    "events dlq retry": ["events", "dlq", "retry", "--all"],
    "export": ["export", "records", "--out", "{tmp}/export"],
    "workflow simulate": ["workflow", "simulate", V2, "--script", "{tmp}/again.yaml"],
    "workflow migrate": ["workflow", "migrate", V2, "--all"],
    "diff --records": ["diff", V1, V2, "--records", "{store}"],
}


# A second scenario on the good store: its own instance id (SCENARIO's lead-ada exists there for good).
AGAIN = "events:\n  - start: {instance: lead-bob, data: {firstName: Bob, lastName: Smith}}\n  - advance: 1d\n"


def _run(name: str, store: Path, tmp_path: Path) -> list[str]:
    (tmp_path / "again.yaml").write_text(AGAIN, encoding="utf-8")
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{store}", str(store)) for a in COMMANDS[name]]
    return argv if "--records" in argv else [*argv, "--store", str(store)]


def _damaged(good: Path, tmp_path: Path, damage: Damage) -> Path:
    path = tmp_path / "runtime.duckdb"
    shutil.copyfile(good, path)
    damage(path)
    return path


def _no_traceback(code: int, err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 1, 2, 3), err
    if code == 3:
        assert err.startswith("crmctl: environment error: "), err


# Every command opens its store through `Store.open`: each kind of damage against every command, every damage
# against commands that open the store in each of its modes (read-only, writable, for migration, for diff).
OPENERS = ("store info", "store migrate", "records import", "replay", "diff --records")
PAIRS = sorted(
    {(damage, command) for damage in ("garbage", "foreign-duckdb", "format-'0'", "no-records") for command in COMMANDS}
    | {(damage, command) for damage in AT_OPEN for command in OPENERS}
)


@pytest.mark.parametrize(("damage", "command"), PAIRS)
def test_a_store_damaged_at_open_is_refused_by_every_command(
    good_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, command: str
) -> None:
    path = _damaged(good_store, tmp_path, AT_OPEN[damage])
    code = run(_run(command, path, tmp_path))
    err = capsys.readouterr().err
    _no_traceback(code, err)
    assert code == 2 and str(path) in err, err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("damage", WHILE_READING)
def test_a_store_damaged_inside_never_gives_a_traceback(
    good_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, command: str
) -> None:
    path = _damaged(good_store, tmp_path, WHILE_READING[damage])
    code = run(_run(command, path, tmp_path))
    err = capsys.readouterr().err
    _no_traceback(code, err)
    if code in (2, 3):
        assert str(path) in err or "the store could not be read for the export" in err, err


@pytest.mark.parametrize(
    ("damage", "command", "message"),
    [
        ("record-data-not-json", "records get", "the stored record default/Lead/lead-001 is not JSON"),
        ("record-data-a-list", "records list", "the stored record default/Lead/lead-001 is a JSON list, not an object"),
        # export said "the store could not be read for the export: Invalid Input Error: Malformed JSON ..." without
        # naming the row, and exported a row that is no JSON object as empty values.
        ("record-data-not-json", "export", "the stored record default/Lead/lead-001 is not JSON"),
        ("record-data-a-list", "export", "the stored record default/Lead/lead-001 is a JSON list, not an object"),
        ("record-data-null", "export", "the stored record default/Lead/lead-001 is a JSON null, not an object"),
        ("draft-not-json", "draft show", "the stored draft default/lead-ada is not JSON"),
        ("event-not-json", "events list", "the stored event default/1 is not JSON"),
        ("event-a-list", "replay", "the stored event default/1 is a JSON list, not an object"),
        ("truncated-to-half", "store info", "the runtime store is damaged and cannot be read (IO Error"),
    ],
)
def test_damaged_rows_are_named(
    good_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, command: str, message: str
) -> None:
    path = _damaged(good_store, tmp_path, WHILE_READING[damage])
    code = run(_run(command, path, tmp_path))
    err = capsys.readouterr().err
    assert code in (2, 3) and message in err, err


def test_a_damaged_workflow_instance_is_named(good_store: Path, tmp_path: Path) -> None:
    path = _damaged(good_store, tmp_path, WHILE_READING["instance-not-json"])
    with Store.open(path) as store, pytest.raises(StoreIntegrityError, match="stored workflow instance default/"):
        store.list_instances("default")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "states store format '0', which no crmctl writes"),
        ("-1", "states store format '-1'"),
        ("x", "states store format 'x'"),
        ("1", "table workflow_instances of a later format exists"),
    ],
)
def test_migrate_refuses_a_store_stamped_with_an_impossible_format(
    good_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    """`store migrate` used to run the migrations from the stamp on: format 0 re-created the tables (a DuckDB
    catalog error), a negative stamp was a KeyError, a stamp of 1 on a format-2 store failed half-way."""
    path = _damaged(good_store, tmp_path, lambda p: _sql(p, f"UPDATE meta SET value = '{value}' WHERE key = 'format'"))
    before = path.read_bytes()
    assert run(["store", "migrate", "--store", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert path.read_bytes() == before


def test_the_layouts_are_what_the_migrations_create() -> None:
    """`layouts()` (what a store is checked against when opened) cannot drift from the tables the migrations
    create; DuckDB's spelling is the one stores of every earlier crmctl were checked against."""
    con = connect_duckdb(Path(":memory:"), read_only=False, create=True)
    expected = layouts(con)
    for number in range(FORMAT):
        for name in MIGRATIONS[number]:
            con.create_table(TABLES[name])
        assert Schema(con).layout() == expected[number + 1]
    assert expected[1]["events"] == (
        "tenant VARCHAR, seq BIGINT, session VARCHAR, at TIMESTAMP WITH TIME ZONE, entry VARCHAR, hash VARCHAR"
    )
    con.close()


def test_a_full_disk_is_an_environment_failure(tmp_path: Path) -> None:
    """DuckDB's IOException for a write that found no space: exit 3 naming the store, not a traceback; the
    failed connection refusing the rollback too must not hide it."""
    path = tmp_path / "runtime.duckdb"
    Store.open(path).close()
    real = duckdb.connect(str(path))

    class Full:
        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith(("INSERT", "ROLLBACK")):
                raise duckdb.IOException(f'IO Error: Could not write file "{path}.wal": No space left on device')
            return real.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    full: Any = Full()
    with (
        Store(DuckConnection(full, path, read_only=False)) as store,
        pytest.raises(EnvironmentFailure, match=r"cannot write the runtime store .*No space left on device"),
    ):
        store.append_events("t", [{"session": "s", "at": "2026-11-26T10:00:00Z"}])


def test_a_duckdb_error_that_is_a_bug_keeps_its_traceback(tmp_path: Path) -> None:
    with Store.open(tmp_path / "runtime.duckdb") as store, pytest.raises(duckdb.ParserException):
        store.connection.all("SELEC 1")


def test_a_table_altered_after_opening_is_no_damage_claim(tmp_path: Path) -> None:
    with Store.open(tmp_path / "runtime.duckdb") as store:
        store.connection.all("DROP TABLE drafts")
        with pytest.raises(duckdb.CatalogException):
            store.list_drafts("t")
    with pytest.raises(StoreFormatError, match="table drafts is missing"):
        Store.open(tmp_path / "runtime.duckdb")


def test_a_store_path_under_a_file_is_a_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    path = tmp_path / "afile" / "runtime.duckdb"
    assert run(["simulate", V1, "--script", str(DEMO / "lead-monday.yaml"), "--store", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"crmctl: error: {path}: cannot create its directory: ")


def test_a_full_disk_when_opening_is_an_environment_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(path: str, read_only: bool = False) -> Any:
        raise duckdb.IOException(f'IO Error: Could not write file "{path}": No space left on device')

    Store.open(tmp_path / "runtime.duckdb").close()
    monkeypatch.setattr(duckdb, "connect", full)
    assert run(["records", "list", "--store", str(tmp_path / "runtime.duckdb")]) == 3
    assert "environment error: cannot open the runtime store" in capsys.readouterr().err
