"""`crmctl workflow simulate` through the command line: the issue's story, logging, replay, located errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from tests.conftest import REPO

V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
SCENARIO = str(REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml")
START = "- start: {instance: a, data: {firstName: A, lastName: B}}\n"


def test_the_approval_story(store_location: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = store_location
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, "--store", store, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)["result"]
    kinds = [e["effect"] for e in doc["timeline"]]
    for expected in (
        "sla-warning",
        "sla-breach",
        "reassigned",
        "task",
        "approval-requested",
        "approval-granted",
        "completed",
    ):
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
)
def test_scenario_mistakes_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], events: str, message: str
) -> None:
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
    assert (row["instance"], row["entity"], row["state"], row["status"]) == (
        "lead-ada",
        "Lead",
        "qualified",
        "completed",
    )
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
    asked = next(
        e for e in json.loads(capsys.readouterr().out)["result"]["timeline"] if e["effect"] == "approval-requested"
    )
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
    assert (
        run(
            [
                "workflow",
                "migrate",
                V2,
                "--instance",
                "lead-1",
                "--instance",
                "lead-1",
                "--store",
                store,
                "--now",
                "2026-11-30T09:00:00Z",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.count("migrated lead-1") == 1
    assert run(["replay", "--store", store]) == 0


def test_migrate_refuses_a_started_task_the_new_version_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    script = tmp_path / "s.yaml"
    script.write_text(FIRST_WEEK.replace("  - fire: {instance: lead-2, transition: qualify, as: alice/salesRep}\n", ""))
    assert run(["workflow", "simulate", V2, "--script", str(script), "--store", store]) == 0  # tasks open on 1.1.0
    capsys.readouterr()
    assert (
        run(["workflow", "migrate", V1, "--instance", "lead-1", "--store", store, "--now", "2026-11-24T09:00:00Z"]) == 1
    )
    text = capsys.readouterr().out
    assert "task qualificationDecision has started and this version removed it" in text
    assert "nothing was migrated" in text
    assert run(["workflow", "migrate", V1, "--store", store]) == 2  # neither --instance nor --all
    assert run(["workflow", "migrate", V1, "--all", "--map", "nonsense", "--store", store]) == 2


def test_interactive_lists_open_work_and_acts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crmctl.cli.workflow_interactive import interact, open_work
    from crmctl.model.package import load_package
    from crmctl.runtime.scenario import Player
    from crmctl.runtime.store import Store
    from crmctl.runtime.workflow import parse_moment

    record = json.dumps(
        {
            "firstName": "Ada",
            "lastName": "L",
            "email": "a@b.co",
            "companySize": 300,
            "annualRevenue": 2e6,
            "source": "referral",
            "owner": "alice",
        }
    )
    answers = iter(
        [
            "s",
            "lead-1",
            record,  # start
            "f",
            "lead-1",
            "bob/salesManager",
            "contact",  # fire
            "d",
            "lead-1",
            "fly",
            "alice/salesRep",
            "",  # a decision that is not an outcome: shown, not fatal
            "a",
            "2h",  # advance
            "d",
            "lead-1",
            "qualify",
            "alice/salesRep",
            "ok",
            "q",
        ]
    )
    monkeypatch.setattr("rich.prompt.Prompt.ask", lambda *a, **k: next(answers))
    with Store.open(tmp_path / "rt.duckdb") as store:
        player = Player.for_tenant(
            store, "default", load_package(Path(V2)), None, parse_moment("2026-11-23T08:00:00+00:00")
        )
        assert interact(player) == 0
        instance = store.get_instance("default", "lead-1")
        assert instance is not None and instance["approval"] is not None
        assert open_work(instance) == [
            "task qualificationDecision for alice: disqualify | qualify",
            "approve qualify: salesManager (approve | reject)",
        ]
    out = capsys.readouterr().out
    assert "no outcome 'fly'" in out and "approval of qualify requested" in out


def test_interactive_changes_take_values_of_the_fields_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crmctl.cli.workflow_interactive import interact
    from crmctl.model.package import load_package
    from crmctl.runtime.scenario import Player
    from crmctl.runtime.store import Store
    from crmctl.runtime.workflow import parse_moment

    answers = iter(
        [
            "s",
            "lead-1",
            '{"firstName": "Ada", "lastName": "L", "owner": "alice"}',
            "c",
            "lead-1",
            "companySize",
            "300",  # before: '300' refused, "expected integer, got str"
            "c",
            "lead-1",
            "consentMarketing",
            "yes",
            "c",
            "lead-1",
            "companySize",
            "many",  # shown, not fatal
            "c",
            "lead-1",
            "email",
            "ada@example.com",
            "c",
            "lead-1",
            "email",
            "",  # nothing clears it
            "q",
        ]
    )
    monkeypatch.setattr("rich.prompt.Prompt.ask", lambda *a, **k: next(answers))
    with Store.open(tmp_path / "rt.duckdb") as store:
        player = Player.for_tenant(
            store, "default", load_package(Path(V2)), None, parse_moment("2026-11-23T08:00:00+00:00")
        )
        assert interact(player) == 0
        instance = store.get_instance("default", "lead-1")
        assert instance is not None
        assert (instance["data"]["companySize"], instance["data"]["consentMarketing"]) == (300, True)
        assert "email" not in instance["data"]
    out = capsys.readouterr().out
    assert "companySize = 300" in out and "'many' is not a number" in out


def test_on_a_terminal_the_timeline_is_a_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crmctl.cli.commands import workflow as command

    monkeypatch.setattr("crmctl.cli.console.use_color", lambda fmt: True)
    at = "2026-11-24T16:00:00Z"
    command.print_timeline(
        [
            {"at": at, "instance": "i", "effect": "sla-warning", "sla": "s"},
            {"at": at, "instance": "i", "effect": "guard", "result": True},
        ]
    )
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
    for name, old, new in (
        ("schema.yaml", "currency: EUR", "currency: USD"),
        ("package.yaml", "version: 1.0.0", "version: 2.0.0"),
    ):
        (usd / name).write_text((usd / name).read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    capsys.readouterr()
    assert (
        run(
            ["workflow", "migrate", str(usd), "--instance", "lead-1", "--store", store, "--now", "2026-11-30T09:00:00Z"]
        )
        == 1
    )
    text = capsys.readouterr().out
    assert "refused lead-1: CMP134 currency-changed Lead.annualRevenue" in text
    assert "nothing was migrated" in text


# --- issue 9 §4: instance ids, the tenant's clock, time order ---------------------------------------------------

CLAIMS = str(REPO / "packages" / "ClaimsIntake")


def test_a_scenario_played_twice_does_not_restart_its_completed_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, "--store", store]) == 0
    capsys.readouterr()
    # before: the completed lead-ada started again, its state was rewritten and the log no longer replayed
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, "--store", store]) == 2
    err = capsys.readouterr().err
    assert "approval.yaml:16:5: instance lead-ada exists already in tenant default (completed, workflow " in err
    assert "an instance id is used once per tenant" in err
    instance = json.loads(_stored_instance(store, "lead-ada"))
    assert (instance["status"], instance["state"]) == ("completed", "qualified")
    assert run(["log", "verify", "--store", store]) == 0
    assert run(["replay", "--store", store]) == 0


def _stored_instance(store: str, instance_id: str) -> str:
    import duckdb

    with duckdb.connect(store, read_only=True) as con:
        row = con.execute("SELECT state FROM workflow_instances WHERE instance_id = ?", [instance_id]).fetchone()
    assert row is not None
    return str(row[0])


def test_an_instance_id_is_unique_across_the_workflows_of_a_tenant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    claim = tmp_path / "claim.yaml"
    claim.write_text(
        "now: 2026-11-23T08:00:00Z\nevents:\n  - start: {instance: x-1, data: {policyNumber: AB-1234567,"
        " claimNumber: CL-1, consentDataProcessing: true, incidentDate: '2026-11-20'}}\n"
    )
    assert run(["workflow", "simulate", CLAIMS, "--script", str(claim), "--store", store]) == 0
    lead = tmp_path / "lead.yaml"
    for step, message in (
        ("start: {instance: x-1, data: {firstName: A, lastName: B}}", "use"),
        (
            "fire: {instance: x-1, transition: contact, as: bob/salesManager}",
            "only running instances of workflow leadLifecycle take input",
        ),
    ):
        lead.write_text(f"events:\n  - {step}\n")
        capsys.readouterr()
        assert run(["workflow", "simulate", V2, "--script", str(lead), "--store", store]) == 2
        err = capsys.readouterr().err
        assert "lead.yaml:2:5: instance x-1 exists already in tenant default (running, workflow claimHandling" in err
        assert message in err
    assert json.loads(_stored_instance(store, "x-1"))["workflow"] == "claimHandling"  # not replaced
    assert run(["replay", "--store", store]) == 0
    # another tenant has ids of its own
    lead.write_text("events:\n  - start: {instance: x-1, data: {firstName: A, lastName: B}}\n")
    assert run(["workflow", "simulate", V2, "--script", str(lead), "--store", store, "--tenant", "t2"]) == 0


def test_a_follow_up_scenario_without_now_continues_on_the_tenants_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(FIRST_WEEK + "  - advance: 3d\n")  # nothing falls due in these three days: no log entry
    second.write_text(NEXT_WEEK.replace("now: 2026-11-30T08:00:00Z\n", ""))
    assert run(["workflow", "simulate", V1, "--script", str(first), "--store", store]) == 0
    capsys.readouterr()
    # before: the follow-up started at the wall clock (time moving backwards, or a jump to today)
    assert run(["workflow", "simulate", V1, "--script", str(second), "--store", store, "--format", "json"]) == 0
    timeline = json.loads(capsys.readouterr().out)["result"]["timeline"]
    assert {e["at"] for e in timeline} == {"2026-11-26T08:00:00Z"}  # where the first scenario left the clock
    # --now still decides, and so does a scenario's own now
    assert (
        run(
            [
                "workflow",
                "simulate",
                V1,
                "--script",
                str(second),
                "--store",
                store,
                "--now",
                "2026-11-27T08:00:00Z",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert {e["at"] for e in json.loads(capsys.readouterr().out)["result"]["timeline"]} == {"2026-11-27T08:00:00Z"}
    # migrate without --now happens on the tenant's clock too (before: the wall clock, refused as going back)
    assert run(["workflow", "migrate", V2, "--all", "--store", store, "--format", "json"]) == 0
    assert [m["instance"] for m in json.loads(capsys.readouterr().out)["result"]["migrated"]] == ["lead-1", "lead-2"]
    assert run(["replay", "--store", store]) == 0


def test_a_follow_up_run_counts_the_time_in_state_of_the_instances_it_goes_on_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("now: 2026-11-23T08:00:00Z\nevents:\n" + START + START.replace("a,", "b,") + "- advance: 1h\n")
    second.write_text(
        "events:\n  - advance: 2h\n  - fire: {instance: a, transition: contact, as: bob/salesManager}\n"
        "  - advance: 3h\n"
    )
    assert run(["workflow", "simulate", V1, "--script", str(first), "--store", store]) == 0
    capsys.readouterr()
    assert run(["workflow", "simulate", V1, "--script", str(second), "--store", store, "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)["result"]["summary"]
    # before: new 0.0 and 1 instance: a's two hours in `new` before its transition were not counted (it entered
    # `new` in the first run), nor was b, which waited in `new` for the whole run without an effect
    assert summary["hoursInState"] == {"contacted": 3.0, "new": 2.0 + 5.0}
    assert (summary["instances"], summary["completed"]) == (2, 0)


def test_a_completed_instance_takes_no_input_later_in_the_same_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "now: 2026-11-23T08:00:00Z\nevents:\n"
        + START
        + "- fire: {instance: a, transition: disqualify, as: alice/salesRep}\n"
        + "- change: {instance: a, field: owner, value: bob}\n"
    )
    # before: the change was applied to the completed instance (a later run refuses the same input)
    assert run(["workflow", "simulate", V1, "--script", str(scenario), "--store", store]) == 2
    err = capsys.readouterr().err
    assert "s.yaml:5:3: instance a is completed; only running instances of workflow leadLifecycle take input" in err
    assert "owner" not in json.loads(_stored_instance(store, "a"))["data"]
    assert run(["replay", "--store", store]) == 0


def test_the_clock_of_a_tenant_without_instances_is_the_wall_clock(tmp_path: Path) -> None:
    from crmctl.cli.commands.workflow import workflow_clock
    from crmctl.runtime.store import Store

    with Store.open(tmp_path / "rt.duckdb") as store:
        assert store.workflow_clock("default") is None
        before = datetime.now(UTC).replace(microsecond=0)
        assert before <= workflow_clock(store, "default", None) <= datetime.now(UTC)


TWO_LEADS = """\
now: 2026-11-23T08:00:00Z
records:
  ada: {firstName: Ada, lastName: Lovelace}
events:
  - start: {instance: b-first, record: ada}
  - advance: 1d
  - start: {instance: a-second, record: ada}
  - advance: 5d
"""


def test_the_timeline_of_several_instances_is_in_time_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "two.yaml"
    script.write_text(TWO_LEADS)
    assert (
        run(
            [
                "workflow",
                "simulate",
                V2,
                "--script",
                str(script),
                "--store",
                str(tmp_path / "a.duckdb"),
                "--format",
                "json",
            ]
        )
        == 0
    )
    timeline = json.loads(capsys.readouterr().out)["result"]["timeline"]
    moments = [e["at"] for e in timeline]
    assert moments == sorted(moments)  # before: all of a-second's effects of the advance, then all of b-first's
    warnings = [(e["at"], e["instance"]) for e in timeline if e["effect"] == "sla-warning"]
    assert warnings == [("2026-11-24T16:00:00Z", "b-first"), ("2026-11-25T16:00:00Z", "a-second")]
    for instance in ("a-second", "b-first"):  # each instance's own effects keep their order
        mine = [e["effect"] for e in timeline if e["instance"] == instance]
        assert mine[:3] == ["started", "entered", "sla-started"]
        assert mine.index("sla-warning") < mine.index("sla-breach")
    assert run(["workflow", "simulate", V2, "--script", str(script), "--store", str(tmp_path / "b.duckdb")]) == 0
    lines = [line[:16] for line in capsys.readouterr().out.splitlines()[1:] if line[:4] == "2026"]
    assert lines == sorted(lines) and len(lines) == len(timeline)


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.sampled_from(["start", "advance"]), st.integers(1, 120)), min_size=1, max_size=8),
    st.integers(0, 200),
)
def test_any_mix_of_starts_and_advances_gives_a_time_ordered_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: list[tuple[str, int]], later: int
) -> None:
    lines = ["now: 2026-11-23T08:00:00Z", "events:"]
    for number, (kind, hours) in enumerate(steps):
        if kind == "start":
            # ids sort against the order of starts: instances are advanced by id
            lines.append(f"  - start: {{instance: i{99 - number:02d}, data: {{firstName: A, lastName: B}}}}")
        else:
            lines.append(f"  - advance: {hours}h")
    script = tmp_path / "mix.yaml"
    script.write_text("\n".join(lines) + "\n")
    store = tmp_path / f"{uuid.uuid4().hex}.duckdb"
    assert run(["workflow", "simulate", V2, "--script", str(script), "--store", str(store), "--format", "json"]) == 0
    timeline = json.loads(capsys.readouterr().out)["result"]["timeline"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    # a follow-up `later` hours after the tenant's clock, whose first input goes to the instance started last:
    # it catches up first, the others at the advance (before: their effects came after the input's)
    started = [number for number, (kind, _) in enumerate(steps) if kind == "start"]
    if not started:
        return
    clock = datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(hours=sum(h for k, h in steps if k == "advance") + later)
    script.write_text(
        f"now: {clock:%Y-%m-%dT%H:%M:%SZ}\nevents:\n  - change: {{instance: i{99 - started[-1]:02d}, "
        "field: email, value: a@example.com}\n  - advance: 1h\n"
    )
    assert run(["workflow", "simulate", V2, "--script", str(script), "--store", str(store), "--format", "json"]) == 0
    timeline = json.loads(capsys.readouterr().out)["result"]["timeline"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    assert run(["replay", "--store", str(store)]) == 0
    capsys.readouterr()


def test_a_bad_now_writes_nothing_and_a_refused_step_keeps_the_steps_before_it(
    store_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run is written as a whole, up to the step that was refused (review of issue 14: the run's transaction
    must not take the earlier steps with it); a --now that is no time is refused before the store is touched."""
    from crmctl.runtime.storage.locator import locate
    from crmctl.runtime.store import Store

    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "events:\n" + START + "- advance: 1h\n- fire: {instance: a, transition: nope, as: bob/salesManager}\n"
    )
    where = ["--store", store_location]
    assert run(["workflow", "simulate", V2, "--script", str(scenario), *where, "--now", "yesterday"]) == 2
    assert "--now 'yesterday'" in capsys.readouterr().err
    if not store_location.startswith("postgresql"):
        assert not Path(store_location).exists()
    assert run(["workflow", "simulate", V2, "--script", str(scenario), *where, "--now", "2026-11-26T09:00:00Z"]) == 2
    assert f"{scenario}:4:3: workflow leadLifecycle has no transition 'nope'" in capsys.readouterr().err
    with Store.open(locate(store_location), read_only=True) as store:
        [instance] = store.list_instances("default")
        assert (instance["id"], instance["clock"]) == ("a", "2026-11-26T10:00:00Z")
        assert [e["session"] for e in store.events("default")] == ["workflow:a"]
        assert store.verify_log("default") == []


def test_a_damaged_copy_met_half_way_leaves_nothing_of_the_run(
    store_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a step's refusal keeps the steps before it: a stored package copy found damaged at the second step
    (the first step that touches an instance of that version) is no refusal of that step, and nothing of the run
    is written (second review of issue 14: it was taken for one and committed the first step)."""
    from crmctl.runtime.storage.locator import locate
    from crmctl.runtime.store import Store

    v1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
    where = ["--store", store_location, "--now", "2026-11-26T09:00:00Z"]
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("events:\n" + START.replace("a,", "old,"))
    second.write_text("events:\n" + START.replace("a,", "new,") + "- advance: 1h\n")
    assert run(["workflow", "simulate", v1, "--script", str(first), *where]) == 0
    with Store.open(locate(store_location)) as store:
        [old] = store.list_instances("default")
        store.connection.all("UPDATE packages SET canonical = ? WHERE digest = ?", [b'{"x": 1}', old["digest"]])
    capsys.readouterr()
    assert run(["workflow", "simulate", V2, "--script", str(second), *where]) == 2
    said = capsys.readouterr().err
    assert "restore the store from a backup" in said and str(second) not in said, said
    with Store.open(locate(store_location), read_only=True) as store:
        assert [i["id"] for i in store.list_instances("default")] == ["old"]
        assert [e["session"] for e in store.events("default")] == ["workflow:old"]
