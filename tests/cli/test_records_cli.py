"""`crmctl records ...` through the real command line: exit codes, output, store contents, replay, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import run
from crmctl.runtime.storage.locator import locate
from crmctl.runtime.store import Store
from tests.conftest import REPO

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
NOW = ["--now", "2026-11-26T09:00:00Z"]
ADA = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "companySize": 300,
    "annualRevenue": 2500000,
}


@pytest.fixture
def store(store_location: str) -> str:
    return store_location


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)["result"]


def _csv(tmp_path: Path, rows: int, bad: int | None = None) -> str:
    lines = ["firstName,lastName,email,companySize,annualRevenue,industry"]
    for i in range(1, rows + 1):
        size = 0 if i == bad else 10 + i
        lines.append(f"Ada,L{i},ada{i}@example.com,{size},{i * 1000},software")
    path = tmp_path / "leads.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_create_get_list_update(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            [
                "records",
                "create",
                V1,
                "--entity",
                "Lead",
                "--data",
                json.dumps(ADA),
                "--id",
                "ada",
                "--store",
                store,
                *NOW,
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "created Lead ada (revision 1, LeadLifecycle@1.0.0)\n"
    assert run(["records", "get", "ada", "--entity", "Lead", "--store", store, "--format", "json"]) == 0
    got = _json(capsys)
    assert got["data"]["score"] == 70.0 and got["revision"] == 1 and got["package"]["version"] == "1.0.0"
    assert {d["label"]: d["text"] for d in got["display"]}["Employees"] == "300"
    assert run(["records", "get", "ada", "--entity", "Lead", "--store", store, "--locale", "de"]) == 0
    shown = capsys.readouterr().out
    assert "Mitarbeitende" in shown
    labels = [line.split("  ")[1] for line in shown.splitlines()[1:] if line.startswith("  ")]
    assert labels[:2] == ["Vorname", "Nachname"]  # the form's order, not the pinned copy's sorted keys
    assert labels[-1] == "Bewertung"  # the score is off the form: after it, by name
    assert (
        run(
            [
                "records",
                "update",
                "ada",
                "--entity",
                "Lead",
                "--data",
                '{"companySize": 10, "email": null}',
                "--store",
                store,
                "--now",
                "2026-11-27T09:00:00Z",
                "--format",
                "json",
            ]
        )
        == 0
    )
    updated = _json(capsys)
    assert updated["outcome"] == "updated" and updated["record"]["revision"] == 2
    assert updated["record"]["data"]["score"] == 40.0 and "email" not in updated["record"]["data"]
    assert run(["records", "list", "--store", store, "--format", "json"]) == 0
    assert [(r["entity"], r["id"]) for r in _json(capsys)["records"]] == [("Lead", "ada")]
    assert run(["replay", "--all", "--store", store]) == 0


def test_user_records_and_generated_ids(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = '{"displayName": "Bob", "email": "bob@example.com"}'
    assert run(["records", "create", V1, "--entity", "User", "--data", data, "--store", store, "-f", "json"]) == 0
    created = _json(capsys)
    assert created["outcome"] == "created" and len(created["id"]) == 36  # a uuid4


def test_rejected_create_exits_1_and_writes_nothing(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "lead.json"
    record.write_text(json.dumps({**ADA, "lastName": "", "colour": "red"}), encoding="utf-8")
    assert run(["records", "create", V1, "--entity", "Lead", "--file", str(record), "--store", store, *NOW]) == 1
    out = capsys.readouterr().out
    assert "rejected Lead" in out and "error: colour: unknownField: Lead has no field colour." in out
    with Store.open(locate(store), read_only=True) as opened:
        assert opened.count_records("default") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{"], "--data:1:2: JSON syntax"),
        (["--data", "[]"], "expected a JSON object"),
        (["--data", '{"firstName": "Ada", "firstName": "Grace"}'], "--data:1:22: duplicate key 'firstName'"),
        (["--data", '{"lastName": "L",\n "address": {"a": 1, "a": 2}}'], "--data:2:22: duplicate key 'a'"),
        ([], "give the record as --data JSON or --file PATH"),
        (["--data", "{}", "--now", "yesterday"], "not an ISO 8601 time"),
    ],
)
def test_bad_input_exits_2(store: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["records", "create", V1, "--entity", "Lead", "--store", store, *args]) == 2
    assert message in capsys.readouterr().err


def test_unknown_record_and_foreign_package(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["records", "create", V1, "-e", "Lead", "--data", json.dumps(ADA), "--id", "a", "--store", store]) == 0
    assert run(["records", "get", "nope", "--entity", "Lead", "--store", store]) == 2
    assert "no Lead record 'nope'" in capsys.readouterr().err
    claims = str(REPO / "packages" / "ClaimsIntake")
    assert run(["records", "update", "a", "-e", "Lead", "--data", "{}", "--package", claims, "--store", store]) == 2
    assert "only moves between versions of its own package" in capsys.readouterr().err


def test_update_moves_to_another_version(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["records", "create", V1, "-e", "Lead", "--data", json.dumps(ADA), "--id", "a", "--store", store]) == 0
    capsys.readouterr()
    code = run(
        ["records", "update", "a", "-e", "Lead", "--data", "{}", "--package", V2, "--store", store, "-f", "json"]
    )
    moved = _json(capsys)
    if code == 0:
        assert moved["record"]["package"]["version"] != "1.0.0"
    else:
        assert code == 1 and moved["outcome"] == "rejected"


def test_import_all_or_nothing_then_skip_invalid(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path, 1000, bad=500)
    assert run(["records", "import", V1, path, "--entity", "Lead", "--store", store, *NOW]) == 1
    out = capsys.readouterr().out
    assert "row 500: companySize: companySizeRange: " in out
    assert "rejected 1 of 1,000 rows; nothing was written" in out
    with Store.open(locate(store), read_only=True) as opened:
        assert opened.count_records("default") == 0 and list(opened.events("default")) == []
    assert run(["records", "import", V1, path, "-e", "Lead", "--store", store, "--skip-invalid", "-f", "json"]) == 1
    report = _json(capsys)
    assert report["outcome"] == "partial" and report["written"] == 999
    assert [r["row"] for r in report["rejected"]] == [500]
    assert run(["records", "list", "--entity", "Lead", "--limit", "2", "--store", store]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("Lead\tLead-1\tLeadLifecycle@1.0.0\trevision 1")
    assert run(["replay", "--all", "--store", store]) == 0


def test_import_bad_files_exit_2(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("firstName,colour\nAda,red\n", encoding="utf-8")
    assert run(["records", "import", V1, str(path), "-e", "Lead", "--store", store]) == 2
    assert "leads.csv:1:2: column 'colour' is unknown" in capsys.readouterr().err
    assert run(["records", "import", V1, str(tmp_path / "none.jsonl"), "-e", "Lead", "--store", store]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_kill_9_mid_import_leaves_no_rows(tmp_path: Path) -> None:
    store = str(tmp_path / "killed.duckdb")  # waits for the file to appear (PostgreSQL: the concurrency tests)
    path = tmp_path / "leads.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(200_000):
            handle.write(json.dumps({**ADA, "lastName": f"L{i}"}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from crmctl.cli.main import run; run()",
            "records",
            "import",
            V1,
            str(path),
            "-e",
            "Lead",
            "--store",
            store,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Path(store).exists():
        time.sleep(0.05)
    time.sleep(1.5)  # well into the import: several batches written inside the open transaction
    assert child.poll() is None, "the import finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    with Store.open(locate(store)) as opened:
        assert opened.count_records("default") == 0
        assert list(opened.events("default")) == []


def _usd_version(tmp_path: Path) -> str:
    """LeadLifecycle 1.0.0 with its revenue in USD instead of EUR: a breaking currency change, as 2.0.0."""
    import shutil

    target = tmp_path / "usd"
    shutil.copytree(V1, target)
    schema = target / "schema.yaml"
    schema.write_text(schema.read_text(encoding="utf-8").replace("currency: EUR", "currency: USD"), encoding="utf-8")
    manifest = target / "package.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 2.0.0"), encoding="utf-8"
    )
    return str(target)


def test_a_move_that_would_reinterpret_a_stored_amount_is_refused(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usd = _usd_version(tmp_path)
    assert run(["records", "create", V1, "-e", "Lead", "--data", json.dumps(ADA), "--id", "a", "--store", store]) == 0
    no_revenue = {k: v for k, v in ADA.items() if k != "annualRevenue"}
    assert (
        run(["records", "create", V1, "-e", "Lead", "--data", json.dumps(no_revenue), "--id", "b", "--store", store])
        == 0
    )
    capsys.readouterr()
    code = run(
        ["records", "update", "a", "-e", "Lead", "--data", "{}", "--package", usd, "--store", store, "-f", "json", *NOW]
    )
    refused = _json(capsys)
    assert code == 1 and refused["outcome"] == "rejected"
    (error,) = refused["errors"]
    assert (error["field"], error["code"]) == ("annualRevenue", "CMP134")
    assert "currency of Lead.annualRevenue changed from EUR to USD" in error["message"]
    with Store.open(locate(store), read_only=True) as opened:
        kept = opened.get_record("default", "Lead", "a")
        assert kept is not None and (kept.package_version, kept.revision) == ("1.0.0", 1)  # nothing written
    # without a stored amount nothing is reinterpreted; an amount given with the move is the new currency's
    assert run(["records", "update", "b", "-e", "Lead", "--data", "{}", "--package", usd, "--store", store]) == 0
    assert (
        run(
            [
                "records",
                "update",
                "a",
                "-e",
                "Lead",
                "--data",
                '{"annualRevenue": 2700000}',
                "--package",
                usd,
                "--store",
                store,
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run(["replay", "--store", store]) == 0
