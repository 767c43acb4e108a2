"""The JSON contract of the runtime's data commands: records, drafts, the event log, the store, events, export.

Every case runs the real command with `--format json`; the suite's contract check (CRMCTL_CONTRACT_CHECK=1)
validates each envelope against its schema, and the assertions here read the answer itself. One store is built
once per module (a submitted session, an open draft, imported records, a workflow's business events) and copied
for each case that writes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli import contract
from crmctl.cli.main import run
from tests.cli.contract.schema_rules import naming_violations
from tests.conftest import REPO

COVERED = {
    "records create",
    "records get",
    "records list",
    "records update",
    "records import",
    "draft list",
    "draft show",
    "draft discard",
    "log verify",
    "log export",
    "store info",
    "store migrate",
    "events list",
    "events tail",
    "export",
}

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
DEMO = REPO / "scripts" / "demo"
APPROVAL = str(REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml")
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NOW = ["--now", "2026-11-25T09:00:00Z"]
ADA = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "company": "ACME",
    "companySize": 300,
    "annualRevenue": 2500000,
    "source": "referral",
}
OPEN = """\
now: 2026-11-24T08:00:00Z
events:
  - change: {field: firstName, value: Grace}
  - change: {field: lastName, value: Hopper}
  - quit: {}
"""


def _envelope(capsys: pytest.CaptureFixture[str], argv: list[str], exit_code: int = 0) -> dict[str, Any]:
    assert run([*argv, "--format", "json"]) == exit_code, capsys.readouterr()
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert contract.validation_errors(document) == []
    assert (document["exitCode"], document["status"]) == (exit_code, {0: "ok", 1: "failed", 2: "error"}[exit_code])
    assert document["command"] in COVERED
    return document


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with session lead-ada submitted (record Lead lead-ada), draft g1 open, four imported leads and the
    business events of the approval scenario."""
    folder = tmp_path_factory.mktemp("data-store")
    store = folder / "rt.duckdb"
    where = ["--store", str(store)]
    script = folder / "open.yaml"
    script.write_text(OPEN, encoding="utf-8")
    monday, tuesday = str(DEMO / "lead-monday.yaml"), str(DEMO / "lead-tuesday.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRMCTL_CONTRACT_CHECK", "1")
        assert run(["simulate", V1, "--script", monday, *where, "--session", "lead-ada"]) == 0
        assert run(["draft", "resume", "lead-ada", "--script", tuesday, *where]) == 0
        assert run(["simulate", V1, "--script", str(script), *where, "--session", "g1"]) == 0
        leads = str(DEMO / "leads.csv")
        assert run(["records", "import", V1, leads, "-e", "Lead", *where, "--now", "2026-11-24T11:00:00Z"]) == 0
        assert run(["workflow", "simulate", V2, "--script", APPROVAL, *where]) == 0
    return store


@pytest.fixture
def store(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    copy = tmp_path / "rt.duckdb"
    shutil.copyfile(built, copy)
    capsys.readouterr()
    return str(copy)


def test_every_schema_of_this_area_follows_the_naming_rules() -> None:
    for command in sorted(COVERED):
        assert list(naming_violations(contract.command_schema(command))) == [], command


# --- records -------------------------------------------------------------------------------------------------------


def test_records_create_ok_rejected_and_error(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store, *NOW]
    base = ["records", "create", V1, "-e", "Lead", *where]
    result = _envelope(capsys, [*base, "--data", json.dumps(ADA), "--id", "r1"])["result"]
    assert (result["outcome"], result["entity"], result["id"], result["errors"]) == ("created", "Lead", "r1", [])
    record = result["record"]
    assert (record["revision"], record["data"]["firstName"], record["package"]["version"]) == (1, "Ada", "1.0.0")
    assert record["createdAt"] == record["updatedAt"] == "2026-11-25T09:00:00Z"
    assert record["package"]["digest"].startswith("jcs-sha256:")

    bad = {**ADA, "companySize": "lots"}
    document = _envelope(capsys, [*base, "--data", json.dumps(bad), "--id", "r2"], 1)
    result = document["result"]
    assert (result["outcome"], result["record"]) == ("rejected", None)
    [error] = [e for e in result["errors"] if e["code"] == "type"]
    assert error["field"] == "companySize" and error["severity"] == "error"
    assert error["message"].startswith("expected integer")  # said once: the finding names the field

    document = _envelope(capsys, [*base, "--data", "[1]", "--id", "r3"], 2)
    assert document["result"] is None and document["problems"][0]["code"] == "input-error"


def test_records_get_list_and_update(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    got = _envelope(capsys, ["records", "get", "lead-004", "-e", "Lead", *where])["result"]
    assert (got["id"], got["data"]["lastName"], got["revision"]) == ("lead-004", "Liskov", 1)
    display = {d["field"]: (d["label"], d["text"]) for d in got["display"]}
    assert display["lastName"] == ("Last name", "Liskov")
    assert INSTANT.match(got["createdAt"]) and INSTANT.match(got["updatedAt"])

    listed = _envelope(capsys, ["records", "list", *where, "-e", "Lead", "--limit", "2"])["result"]
    assert (listed["tenant"], listed["entity"], listed["total"]) == ("default", "Lead", 6)
    assert [r["id"] for r in listed["records"]] == ["lead-001", "lead-002"]
    assert set(listed["records"][0]) == set(got) - {"display"}  # list and get name a record alike

    updated = _envelope(
        capsys, ["records", "update", "lead-004", "-e", "Lead", "--data", '{"company": "CSAIL"}', *where, *NOW]
    )["result"]
    assert (updated["outcome"], updated["record"]["revision"], updated["record"]["data"]["company"]) == (
        "updated",
        2,
        "CSAIL",
    )
    refused = _envelope(
        capsys, ["records", "update", "lead-004", "-e", "Lead", "--data", '{"companySize": -1}', *where, *NOW], 1
    )["result"]
    assert refused["outcome"] == "rejected" and [e["field"] for e in refused["errors"]] == ["companySize"]
    missing = _envelope(capsys, ["records", "get", "nobody", "-e", "Lead", *where], 2)
    assert "nobody" in missing["problems"][0]["message"]


def test_records_import_ok_rejected_and_partial(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store, *NOW]
    bad = str(DEMO / "leads-bad.csv")
    result = _envelope(capsys, ["records", "import", V1, bad, "-e", "Lead", *where], 1)["result"]
    assert (result["outcome"], result["entity"], result["written"]) == ("rejected", "Lead", 0)
    assert result["rejectedRows"] == len(result["rejected"]) >= 1
    first = result["rejected"][0]
    assert first["row"] >= 1 and first["findings"][0]["severity"] == "error"
    partial = _envelope(capsys, ["records", "import", V1, bad, "-e", "Lead", *where, "--skip-invalid"], 1)["result"]
    assert partial["outcome"] == "partial" and partial["written"] == partial["rows"] - partial["rejectedRows"]


def test_records_import_lists_a_bounded_number_of_rejected_rows(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmctl.cli.commands import records

    monkeypatch.setattr(records, "REJECTED_SHOWN", 2)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"id": f"x{i}", "companySize": "n"}) + "\n" for i in range(5)), "utf-8")
    result = _envelope(capsys, ["records", "import", V1, str(rows), "-e", "Lead", "--store", store, *NOW], 1)
    assert (result["result"]["rejectedRows"], len(result["result"]["rejected"])) == (5, 2)


# --- drafts --------------------------------------------------------------------------------------------------------


def test_draft_list_and_show_name_a_draft_alike(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    listed = _envelope(capsys, ["draft", "list", *where])["result"]
    assert (listed["tenant"], listed["entity"]) == ("default", None)
    [summary] = listed["drafts"]  # lead-ada was submitted: no draft any more
    assert (summary["draftId"], summary["entity"], summary["lastStep"]) == ("g1", "Lead", "personal")
    assert summary["updatedAt"] == "2026-11-24T08:00:02Z"  # its last event
    shown = _envelope(capsys, ["draft", "show", "g1", *where])["result"]
    assert {k: shown[k] for k in summary} == summary
    assert (shown["status"], shown["record"]) == ("open", None)
    assert {k: shown["data"][k] for k in ("firstName", "lastName")} == {"firstName": "Grace", "lastName": "Hopper"}
    assert _envelope(capsys, ["draft", "list", *where, "--entity", "Contact"])["result"]["drafts"] == []


def test_draft_show_of_a_submitted_draft_points_at_its_record(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    shown = _envelope(capsys, ["draft", "show", "lead-ada", *where])["result"]
    assert (shown["status"], shown["record"], shown["lastStep"]) == (
        "submitted",
        {"entity": "Lead", "id": "lead-ada"},
        None,
    )
    assert shown["data"]["email"] == "ada@analytical-engines.example"
    record = _envelope(capsys, ["records", "get", "lead-ada", "-e", "Lead", *where])["result"]
    assert record["data"]["email"] == shown["data"]["email"] and record["package"] == shown["package"]
    assert run(["draft", "show", "lead-ada", *where]) == 0
    text = capsys.readouterr().out
    assert "was submitted" in text and f"see: crmctl records get lead-ada --entity Lead --store {store}\n" in text


def test_draft_discard(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    result = _envelope(capsys, ["draft", "discard", "g1", *where, *NOW])["result"]
    assert (result["draftId"], result["tenant"], result["discardedAt"]) == ("g1", "default", "2026-11-25T09:00:00Z")
    assert _envelope(capsys, ["draft", "list", *where])["result"]["drafts"] == []
    again = _envelope(capsys, ["draft", "discard", "g1", *where], 2)
    said = "draft 'g1' was discarded at 2026-11-25T09:00:00Z in tenant 'default'"
    assert again["problems"][0]["code"] == "input-error" and again["problems"][0]["message"] == said
    assert _envelope(capsys, ["draft", "show", "g1", *where], 2)["problems"][0]["message"] == said
    never = _envelope(capsys, ["draft", "show", "g2-never", *where], 2)["problems"][0]["message"]
    assert never == "no draft 'g2-never' in tenant 'default'"
    submitted = _envelope(capsys, ["draft", "discard", "lead-ada", *where], 2)
    [problem] = submitted["problems"]
    assert "was submitted" in problem["message"]
    assert problem["hint"] == f"crmctl records get lead-ada --entity Lead --store {store}"
    # the discard is logged, the chain stays intact, and replay takes no input from it
    assert _envelope(capsys, ["log", "verify", *where])["result"]["ok"] is True
    assert run(["replay", *where]) == 0


@pytest.mark.parametrize("given", ["flag", "env"])
def test_the_record_command_of_a_submitted_draft_finds_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    """`draft show`/`draft discard` of a submitted draft name the command that shows its record; it left out the
    --tenant and --store the draft was found with (and did not quote), so pasting it said "no record" or read
    the default store."""
    import shlex

    store = tmp_path / "my store's dir" / "rt.duckdb"
    store.parent.mkdir()
    where = ["--store", str(store)] if given == "flag" else []
    if given == "env":
        monkeypatch.setenv("CRMCTL_STORE", str(store))
    script = str(REPO / "packages" / "LeadLifecycle" / "v1" / "scripts" / "capture-lead.yaml")
    assert run(["simulate", V1, "--script", script, *where, "--tenant", "acme", "--session", "s 1"]) == 0
    capsys.readouterr()
    assert run(["draft", "show", "s 1", *where, "--tenant", "acme"]) == 0
    see = capsys.readouterr().out.splitlines()[-1].removeprefix("  see: ")
    hint = _envelope(capsys, ["draft", "discard", "s 1", *where, "--tenant", "acme"], 2)["problems"][0]["hint"]
    assert see == hint
    argv = shlex.split(see)
    assert argv[:4] == ["crmctl", "records", "get", "s 1"] and ("--store" in argv) == (given == "flag")
    monkeypatch.chdir(tmp_path)
    record = _envelope(capsys, argv[1:])["result"]
    assert (record["id"], record["entity"]) == ("s 1", "Lead")


def test_draft_discard_text_and_missing_store(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["draft", "discard", "g1", "--store", store]) == 0
    assert capsys.readouterr().out.startswith("discarded draft g1 (Lead on LeadLifecycle@1.0.0, step personal)")
    nowhere = tmp_path / "none.duckdb"
    assert run(["draft", "discard", "g1", "--store", str(nowhere)]) == 2
    assert not nowhere.exists()  # never creates a store to discard nothing from


# --- log, store ----------------------------------------------------------------------------------------------------


def test_log_verify_ok_broken_and_export(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    result = _envelope(capsys, ["log", "verify", *where])["result"]
    assert (result["source"], result["path"], result["ok"], result["problems"]) == ("store", store, True, [])
    assert result["entries"] > 10 and result["head"]
    export = tmp_path / "log.parquet"
    exported = _envelope(capsys, ["log", "export", *where, "--out", str(export)])["result"]
    assert exported == {"path": str(export), "events": result["entries"], "tenant": None}
    from_export = _envelope(capsys, ["log", "verify", "--export", str(export)])["result"]
    assert (from_export["source"], from_export["entries"], from_export["head"]) == (
        "export",
        result["entries"],
        result["head"],
    )
    import duckdb

    with duckdb.connect(store) as con:
        con.execute("UPDATE events SET entry = replace(entry, 'Ada', 'Eve') WHERE seq = 2")
    broken = _envelope(capsys, ["log", "verify", *where], 1)["result"]
    assert broken["ok"] is False and broken["problems"][0]["seq"] == 2
    assert broken["problems"][0]["code"].startswith("LOG")
    gone = _envelope(capsys, ["log", "verify", "--store", str(tmp_path / "none.duckdb")], 2)
    assert "no runtime store here" in gone["problems"][0]["message"]


def test_store_info_and_migrate(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    info = _envelope(capsys, ["store", "info", *where])["result"]
    assert (info["path"], info["format"], info["packages"]) == (store, 3, 2)
    [tenant] = info["tenants"]
    assert tenant == {
        "tenant": "default",
        "drafts": 1,
        "records": 6,
        "events": tenant["events"],
        "workflowInstances": 1,
        "webhookDeliveries": 0,
    }
    assert info["createdBy"] and info["writtenBy"] and info["duckdb"]
    migrated = _envelope(capsys, ["store", "migrate", *where])["result"]
    assert migrated == {"path": store, "migratedFrom": [], "format": 3}
    assert _envelope(capsys, ["store", "migrate", "--store", store + ".none"], 2)["result"] is None


def test_store_info_text_is_words_not_a_dict(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12: `store info` printed a Python dict (`counts: {'drafts': {'default': 1}, ...}`)."""
    assert run(["store", "info", "--store", store]) == 0
    text = capsys.readouterr().out
    assert "{" not in text and "'" not in text
    lines = text.splitlines()
    assert lines[0] == f"store {store}"
    assert "  2 package versions" in lines
    assert any(line.startswith("  tenant default: 6 records, 1 draft, ") for line in lines)
    assert lines[-1].endswith(", 1 workflow instance, 0 webhook deliveries")


# --- events, export ------------------------------------------------------------------------------------------------


def test_events_list_and_tail(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    listed = _envelope(capsys, ["events", "list", *where])["result"]
    assert (listed["tenant"], listed["total"]) == ("default", 2)
    assert [e["event"] for e in listed["events"]] == ["LeadContacted", "LeadQualified"]
    limited = _envelope(capsys, ["events", "list", *where, "--limit", "1"])["result"]
    assert (limited["total"], len(limited["events"])) == (2, 1)
    tail = _envelope(capsys, ["events", "tail", *where, "-n", "1"])["result"]
    assert (tail["total"], [e["event"] for e in tail["events"]]) == (2, ["LeadQualified"])
    assert tail["events"][0] == listed["events"][1]
    bad = _envelope(capsys, ["events", "list", *where, "--since", "yesterday"], 2)
    assert bad["problems"][0]["code"] == "usage-error"


def test_events_tail_follow_streams_json_lines_not_an_envelope(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", store]
    assert run(["events", "tail", *where, "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in lines] == ["LeadContacted", "LeadQualified"]
    refused = _envelope(capsys, ["events", "tail", *where, "--follow"], 2)
    [problem] = refused["problems"]
    assert problem["code"] == "usage-error" and "--format jsonl" in (problem["hint"] or "")


def test_export_json_report(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    report = _envelope(capsys, ["export", "records", "--out", str(out), "--store", store, "--file-format", "csv"])
    result = report["result"]
    assert (result["kind"], result["fileFormat"], result["out"], result["rows"]) == ("records", "csv", str(out), 6)
    [dataset] = result["datasets"]
    assert (dataset["name"], dataset["rows"]) == ("Lead", 6)
    assert dataset["files"] == [str(out / "records" / "Lead" / "part-0.csv")]
    assert all(d.startswith("jcs-sha256:") for d in dataset["packageDigests"])
    flows = _envelope(capsys, ["export", "workflows", "--out", str(tmp_path / "w"), "--store", store])["result"]
    assert (flows["kind"], flows["rows"]) == ("workflows", 1)
    assert flows["datasets"][0]["files"] == [str(tmp_path / "w" / "workflows" / "workflows.parquet")]
    refused = _envelope(capsys, ["export", "records", "--out", str(out), "--store", store, "--partition-by", "nope"], 2)
    assert "nope" in refused["problems"][0]["message"]
