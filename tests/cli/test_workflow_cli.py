"""`crmctl workflow simulate` through the command line: the issue's story, logging, replay, located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.cli.main import run
from tests.conftest import REPO

V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
SCENARIO = str(REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml")
START = "- start: {instance: a, data: {firstName: A, lastName: B}}\n"


def test_the_approval_story(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "rt.duckdb")
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, "--store", store, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    kinds = [e["effect"] for e in doc["timeline"]]
    for expected in ("sla-warning", "sla-breach", "reassigned", "task", "approval-requested", "approval-granted",
                     "completed"):  # fmt: skip
        assert expected in kinds
    warning = next(e for e in doc["timeline"] if e["effect"] == "sla-warning")
    assert warning["at"] == "2026-11-24T16:00:00Z"  # two business days in Berlin: Tuesday 17:00 local
    tasks = [e["assignee"] for e in doc["timeline"] if e["effect"] == "task"]
    assert tasks == [{"user": "alice"}, {"role": "salesManager"}, {"role": "salesDirector"}]
    assert doc["summary"]["transitions"] == {"contact": 1, "qualify": 1}
    assert doc["summary"]["hoursInState"] == {"contacted": 3.0, "new": 72.0}
    # every input is in the log: verified, and replayed to the same effects
    assert run(["log", "verify", "--store", store]) == 0
    assert run(["replay", "--store", store, "--format", "json"]) == 0
    capsys.readouterr()
    assert run(["replay", "--store", store, "--against", str(REPO / "packages" / "LeadLifecycle" / "v1")]) == 1
    assert "workflow:lead-ada" in capsys.readouterr().out


def test_text_timeline_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, "--store", str(tmp_path / "s.duckdb")]) == 0
    text = capsys.readouterr().out
    assert "2026-11-25 16:00  lead-ada     reassigned the work to role salesManager (SLA firstContact breached)" in text
    assert "approve on approve:qualify by carol (salesDirector): “Go”" in text
    assert "leadLifecycle: 1 instance(s), 1 completed" in text


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("- fire: {instance: x, transition: contact}\n", "no instance 'x'"),
        (START + "- fire: {instance: a, transition: fly, as: u/salesRep}\n", "no transition 'fly'"),
        (START + "- decide: {instance: a, decision: approve, as: u/salesRep}\n", "no open approval or task"),
        ("- start: {instance: a, data: {companySize: many}}\n", "record is refused"),
        ("- advance-to: 2020-01-01T00:00:00Z\n", "time cannot move backwards"),
        ("- jump: {}\n", "unknown step 'jump'"),
        ("- fire: {transition: contact}\n", "at least an instance"),
        ("- start: {instance: a, record: nobody}\n", "no record 'nobody'"),
        ("- advance: soon\n", "advance takes a duration"),
    ],
)  # fmt: skip
def test_scenario_mistakes_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str], events: str,
                                       message: str) -> None:  # fmt: skip
    script = tmp_path / "s.yaml"
    script.write_text(
        "now: 2026-11-23T08:00:00Z\nevents:\n" + "".join("  " + line + "\n" for line in events.splitlines())
    )
    assert run(["workflow", "simulate", V2, "--script", str(script), "--store", str(tmp_path / "s.duckdb")]) == 2
    err = capsys.readouterr().err
    assert message in err and "s.yaml:" in err


def test_without_a_terminal_a_script_is_needed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["workflow", "simulate", V2, "--store", str(tmp_path / "s.duckdb")]) == 2
    assert "--script" in capsys.readouterr().err


def test_workflow_instances_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    store = str(tmp_path / "rt.duckdb")
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, "--store", store]) == 0
    assert run(["export", "workflows", "--out", str(tmp_path / "out"), "--store", store]) == 0
    table = pq.read_table(tmp_path / "out" / "workflows" / "workflows.parquet")
    assert str(table.schema.field("started_at").type) == "timestamp[us, tz=UTC]"
    (row,) = table.to_pylist()
    assert (row["instance"], row["entity"], row["state"], row["status"]) == ("lead-ada", "Lead", "qualified",
                                                                              "completed")  # fmt: skip
    assert (row["transitions"], row["sla_warnings"], row["sla_breaches"], row["package_version"]) == (2, 1, 1, "1.1.0")
    assert run(["export", "workflows", "--out", str(tmp_path / "o2"), "--store", store, "--entity", "Lead"]) == 2


V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
FIRST_WEEK = """\
now: 2026-11-23T08:00:00Z
records:
  ada: {firstName: Ada, lastName: Lovelace, email: ada@example.com, company: ACME, companySize: 320,
        annualRevenue: 2500000, source: referral, owner: alice}
events:
  - start: {instance: lead-1, record: ada}
  - start: {instance: lead-2, record: ada}
  - fire: {instance: lead-1, transition: contact, as: bob/salesManager}
  - fire: {instance: lead-2, transition: contact, as: bob/salesManager}
  - fire: {instance: lead-2, transition: qualify, as: alice/salesRep}
"""
NEXT_WEEK = """\
now: 2026-11-30T08:00:00Z
events:
  - fire: {instance: lead-1, transition: qualify, as: alice/salesRep}
"""


def test_instances_persist_stay_pinned_and_migrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "rt.duckdb")
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(FIRST_WEEK)
    second.write_text(NEXT_WEEK)
    assert run(["workflow", "simulate", V1, "--script", str(first), "--store", store]) == 0
    capsys.readouterr()
    # a week later, with 1.1.0 in hand: the stored instance goes on under 1.0.0 (one approver, no task)
    assert run(["workflow", "simulate", V2, "--script", str(second), "--store", store, "--format", "json"]) == 0
    asked = next(e for e in json.loads(capsys.readouterr().out)["timeline"] if e["effect"] == "approval-requested")
    assert asked["needed"] == 1
    # lead-2 waits on a 1.0.0 approval of qualify; 1.1.0 changed that chain's approvers but kept an approval,
    # lead-1 too: both move; a state 1.1.0 lacks needs a mapping
    assert run(["workflow", "migrate", V2, "--all", "--store", store, "--now", "2026-11-30T09:00:00Z"]) == 0
    text = capsys.readouterr().out
    assert "migrated lead-1 from 1.0.0 to 1.1.0 (state contacted)" in text
    assert run(["workflow", "migrate", V2, "--all", "--store", store, "--now", "2026-11-30T09:00:00Z"]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    assert run(["log", "verify", "--store", store]) == 0
    assert run(["replay", "--store", store]) == 0  # migrations replay too


def test_migrate_moves_an_instance_named_twice_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "rt.duckdb")
    first = tmp_path / "first.yaml"
    first.write_text(FIRST_WEEK)
    assert run(["workflow", "simulate", V1, "--script", str(first), "--store", store]) == 0
    capsys.readouterr()
    assert run(["workflow", "migrate", V2, "--instance", "lead-1", "--instance", "lead-1", "--store", store,
                "--now", "2026-11-30T09:00:00Z"]) == 0  # fmt: skip
    assert capsys.readouterr().out.count("migrated lead-1") == 1
    assert run(["replay", "--store", store]) == 0


def test_migrate_refuses_a_started_task_the_new_version_removed(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    store = str(tmp_path / "rt.duckdb")
    script = tmp_path / "s.yaml"
    script.write_text(FIRST_WEEK.replace("  - fire: {instance: lead-2, transition: qualify, as: alice/salesRep}\n", ""))
    assert run(["workflow", "simulate", V2, "--script", str(script), "--store", store]) == 0  # tasks open on 1.1.0
    capsys.readouterr()
    assert run(["workflow", "migrate", V1, "--instance", "lead-1", "--store", store, "--now",
                "2026-11-24T09:00:00Z"]) == 1  # fmt: skip
    text = capsys.readouterr().out
    assert "task qualificationDecision has started and this version removed it" in text
    assert "nothing was migrated" in text
    assert run(["workflow", "migrate", V1, "--store", store]) == 2  # neither --instance nor --all
    assert run(["workflow", "migrate", V1, "--all", "--map", "nonsense", "--store", store]) == 2


def test_interactive_lists_open_work_and_acts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from crmctl.cli.commands.workflow import Player
    from crmctl.cli.workflow_interactive import interact, open_work
    from crmctl.model.package import load_package
    from crmctl.runtime.store import Store
    from crmctl.runtime.workflow import parse_moment

    record = json.dumps({"firstName": "Ada", "lastName": "L", "email": "a@b.co", "companySize": 300,
                         "annualRevenue": 2e6, "source": "referral", "owner": "alice"})  # fmt: skip
    answers = iter(["s", "lead-1", record,                      # start
                    "f", "lead-1", "bob/salesManager", "contact",  # fire
                    "d", "lead-1", "fly", "alice/salesRep", "",  # a decision that is not an outcome: shown, not fatal
                    "a", "2h",                                   # advance
                    "d", "lead-1", "qualify", "alice/salesRep", "ok",
                    "q"])  # fmt: skip
    monkeypatch.setattr("rich.prompt.Prompt.ask", lambda *a, **k: next(answers))
    with Store.open(tmp_path / "rt.duckdb") as store:
        player = Player(store, "default", load_package(Path(V2)), None, parse_moment("2026-11-23T08:00:00+00:00"))
        assert interact(player) == 0
        instance = store.get_instance("default", "lead-1")
        assert instance is not None and instance["approval"] is not None
        assert open_work(instance) == ["task qualificationDecision for alice: disqualify | qualify",
                                       "approve qualify: salesManager (approve | reject)"]  # fmt: skip
    out = capsys.readouterr().out
    assert "no outcome 'fly'" in out and "approval of qualify requested" in out


def test_on_a_terminal_the_timeline_is_a_table(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from crmctl.cli.commands import workflow as command

    monkeypatch.setattr("crmctl.cli.console.use_color", lambda fmt: True)
    at = "2026-11-24T16:00:00Z"
    command.print_timeline([{"at": at, "instance": "i", "effect": "sla-warning", "sla": "s"},
                            {"at": at, "instance": "i", "effect": "guard", "result": True}])  # fmt: skip
    text = capsys.readouterr().out
    assert "SLA s warning" in text and "guard" not in text and "time (UTC)" in text


def test_migrate_refuses_an_instance_whose_record_the_new_version_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    store = str(tmp_path / "rt.duckdb")
    first = tmp_path / "first.yaml"
    first.write_text(FIRST_WEEK)
    assert run(["workflow", "simulate", V1, "--script", str(first), "--store", store]) == 0
    usd = tmp_path / "usd"
    shutil.copytree(V1, usd)
    for name, old, new in (("schema.yaml", "currency: EUR", "currency: USD"),
                           ("package.yaml", "version: 1.0.0", "version: 2.0.0")):  # fmt: skip
        (usd / name).write_text((usd / name).read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    capsys.readouterr()
    assert run(["workflow", "migrate", str(usd), "--instance", "lead-1", "--store", store, "--now",
                "2026-11-30T09:00:00Z"]) == 1  # fmt: skip
    text = capsys.readouterr().out
    assert "refused lead-1: CMP134 currency-changed Lead.annualRevenue" in text
    assert "nothing was migrated" in text
