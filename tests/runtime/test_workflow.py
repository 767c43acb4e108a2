"""The workflow engine on a virtual clock: SLAs in business time, escalations, approvals, tasks, timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.model.artifacts import Calendar
from crmctl.model.package import Package, load_package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.calendar import ALWAYS, BUSINESS, CalendarError, WorkCalendar
from crmctl.runtime.workflow import Actor, WorkflowEngine, WorkflowError, WorkflowModel
from tests.conftest import REPO

MONDAY = datetime(2026, 11, 23, 9, tzinfo=UTC)
REP, MANAGER, DIRECTOR = Actor("alice", "salesRep"), Actor("bob", "salesManager"), Actor("carol", "director")
LEAD = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "company": "ACME",
    "companySize": 300,
    "annualRevenue": 2_000_000.0,
    "source": "referral",
    "score": 90.0,
}


def kinds(effects: list[dict[str, Any]]) -> list[str]:
    return [e["effect"] for e in effects]


# --- calendars ---------------------------------------------------------------------------------------------------


def test_business_time_skips_nights_and_weekends() -> None:
    friday_4pm = datetime(2026, 11, 27, 16, tzinfo=UTC)
    assert BUSINESS.seconds("1bd") == 8 * 3600
    assert BUSINESS.add(MONDAY, BUSINESS.seconds("2bd")) == datetime(2026, 11, 24, 17, tzinfo=UTC)
    assert BUSINESS.add(friday_4pm, 2 * 3600) == datetime(2026, 11, 30, 10, tzinfo=UTC)  # over the weekend
    assert BUSINESS.counted(friday_4pm, datetime(2026, 11, 30, 10, tzinfo=UTC)) == 2 * 3600
    assert ALWAYS.add(MONDAY, 86400) == MONDAY + timedelta(days=1)
    assert ALWAYS.seconds("1bd") == 86400


def test_calendars_with_zones_holidays_and_policy() -> None:
    berlin = Calendar(timezone="Europe/Berlin", hours={"mon": ["09:00-12:00", "13:00-17:00"]}, holidays=["2026-11-30"])
    cal = WorkCalendar.from_model("berlin", berlin)
    # Monday 23 Nov 09:00 Berlin is 08:00 UTC; seven working hours end at 17:00 Berlin (16:00 UTC)
    assert cal.add(datetime(2026, 11, 23, 8, tzinfo=UTC), 7 * 3600) == datetime(2026, 11, 23, 16, tzinfo=UTC)
    # the next Monday is a holiday: paused, so the eighth hour falls on 7 December
    assert cal.add(datetime(2026, 11, 23, 8, tzinfo=UTC), 8 * 3600).date().isoformat() == "2026-12-07"
    counting = WorkCalendar.from_model("b", berlin.model_copy(update={"onHolidays": "count"}))
    assert counting.add(datetime(2026, 11, 23, 8, tzinfo=UTC), 8 * 3600).date().isoformat() == "2026-11-30"
    with pytest.raises(CalendarError, match="unknown time zone"):
        WorkCalendar.from_model("x", Calendar(timezone="Mars/Olympus", hours={"mon": ["09:00-17:00"]}))
    with pytest.raises(CalendarError, match="no working hours"):
        WorkCalendar.from_model("x", Calendar())


@given(st.integers(0, 400 * 3600), st.integers(0, 7 * 24 * 60))
@settings(max_examples=200, deadline=None)
def test_add_and_counted_agree(seconds: int, offset_minutes: int) -> None:
    start = MONDAY + timedelta(minutes=offset_minutes)
    end = BUSINESS.add(start, seconds)
    assert abs(BUSINESS.counted(start, end) - seconds) < 1e-6
    assert end >= start


# --- the engine -------------------------------------------------------------------------------------------------


def engine(package: Package | None = None) -> WorkflowEngine:
    return WorkflowEngine(WorkflowModel.build(package or load_package(REPO / "packages" / "LeadLifecycle" / "v1")))


def test_sla_warns_breaches_escalates_and_is_met_late() -> None:
    eng = engine()
    inst = eng.start("w1", LEAD, MONDAY).instance
    step = eng.advance(inst, MONDAY + timedelta(days=3))
    assert [(e["effect"], e["at"]) for e in step.effects] == [
        ("sla-warning", "2026-11-23T17:00:00Z"),  # 1 business day
        ("sla-breach", "2026-11-24T17:00:00Z"),  # 2 business days
        ("reassigned", "2026-11-24T17:00:00Z"),  # escalateTo: salesManager
    ]
    done = eng.fire(step.instance, "contact", REP, MONDAY + timedelta(days=3, hours=1))
    met = next(e for e in done.effects if e["effect"] == "sla-met")
    assert met["late"] is True and met["counted"] == 25 * 3600  # Mon, Tue, Wed (8 h each) and an hour of Thursday
    assert done.instance["state"] == "contacted"
    assert "event" in kinds(done.effects)


def test_approval_by_assignees_only_then_the_transition() -> None:
    eng = engine()
    inst = eng.fire(eng.start("w1", LEAD, MONDAY).instance, "contact", REP, MONDAY).instance
    asked = eng.fire(inst, "qualify", REP, MONDAY + timedelta(hours=1))
    assert kinds(asked.effects)[-2:] == ["approval-requested", "task"]
    with pytest.raises(WorkflowError, match=r"alice \(salesRep\) is not an assignee"):
        eng.decide(asked.instance, "approve", REP, MONDAY + timedelta(hours=2))
    granted = eng.decide(asked.instance, "approve", MANAGER, MONDAY + timedelta(hours=2), comment="fine")
    assert granted.instance["state"] == "qualified" and granted.instance["status"] == "completed"
    transition = next(e for e in granted.effects if e["effect"] == "transition")
    assert transition["by"] == REP.to_json()  # taken on behalf of the requester
    rejected = eng.decide(asked.instance, "reject", MANAGER, MONDAY + timedelta(hours=2))
    assert rejected.instance["state"] == "contacted" and rejected.instance["approval"] is None


def test_refusals_are_effects_and_nonsense_is_an_error() -> None:
    eng = engine()
    inst = eng.start("w1", {**LEAD, "companySize": 5, "annualRevenue": 1000.0, "source": "web"}, MONDAY).instance
    assert inst["data"]["score"] == 0.0  # calculated by the record engine, whatever the snapshot said
    assert kinds(eng.fire(inst, "qualify", REP, MONDAY).effects) == ["refused"]  # not from state new
    contacted = eng.fire(inst, "contact", REP, MONDAY).instance
    low = eng.fire(contacted, "qualify", REP, MONDAY)
    assert [e["result"] for e in low.effects if e["effect"] == "guard"] == [False]
    assert kinds(eng.fire(inst, "contact", Actor("m", "marketing"), MONDAY).effects) == ["refused"]  # role
    with pytest.raises(WorkflowError, match="no transition 'fly'"):
        eng.fire(inst, "fly", REP, MONDAY)
    with pytest.raises(WorkflowError, match="time cannot move backwards"):
        eng.advance(inst, MONDAY - timedelta(seconds=1))
    with pytest.raises(WorkflowError, match="no open approval or task"):
        eng.decide(inst, "approve", MANAGER, MONDAY)


def test_timers_fire_on_the_virtual_clock() -> None:
    eng = engine()
    contacted = eng.fire(eng.start("w1", LEAD, MONDAY).instance, "contact", REP, MONDAY).instance
    late = eng.advance(contacted, MONDAY + timedelta(days=31))
    assert ("timer", "2026-12-23T09:00:00Z") in [(e["effect"], e["at"]) for e in late.effects]
    assert late.instance["state"] == "disqualified"


FLOW = """\
workflows:
  - id: claim
    entity: C
    initial: triage
    calendars:
      support: {timezone: UTC, hours: {mon: ['09:00-17:00'], tue: ['09:00-17:00'], wed: ['09:00-17:00'],
                thu: ['09:00-17:00'], fri: ['09:00-17:00']}}
    states:
      triage:
        sla:
          id: triageSla
          warnAfter: 4h
          breachAfter: 1bd
          calendar: support
          pause: waiting
          onSuccess: [{set: {note: "'triaged'"}}]
          escalations:
            - {after: 6h, notify: lead}
            - {after: 2bd, reassignTo: lead, transition: escalate}
        task:
          id: review
          assign: {field: handler}
          outcomes: {accept: accept, decline: decline}
      accepted: {final: true}
      declined: {final: true}
      escalated: {}
    transitions:
      - {id: accept, from: triage, to: accepted, approval: {mode: parallel, approvers: [a, b, c], quorum: 2}}
      - {id: decline, from: triage, to: declined}
      - {id: escalate, from: triage, to: escalated}
"""
SCHEMA = """\
entities:
  C:
    fields:
      handler: {type: text}
      waiting: {type: boolean}
      note: {type: text}
"""


def claim_engine() -> WorkflowEngine:
    files = {
        "package.yaml": "name: C\nversion: 1.0.0\nscope: global\ndescription: C.\nlocales: [en]\n"
        "roles: [a, b, c, lead]\n",
        "localization/en.yaml": "labels: {}\n",
        "schema.yaml": SCHEMA,
        "workflow.yaml": FLOW,
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "C"))
    assert package.valid, package.diagnostics
    return engine(package)


def test_task_by_field_pause_escalation_ladder_and_success_actions() -> None:
    eng = claim_engine()
    start = eng.start("c1", {"handler": "dana"}, MONDAY)
    assert start.effects[-1] == {
        "at": "2026-11-23T09:00:00Z",
        "effect": "task",
        "task": "review",
        "assignee": {"user": "dana"},
    }
    paused = eng.change(start.instance, "waiting", True, MONDAY + timedelta(hours=2))
    assert kinds(paused.effects) == ["changed", "sla-paused"]
    resumed = eng.change(paused.instance, "waiting", False, MONDAY + timedelta(days=1, hours=2))  # Tue 11:00
    assert kinds(resumed.effects) == ["changed", "sla-resumed"]
    # 2 h counted before the pause; the warning (4 h) falls at Tue 13:00, the first escalation (6 h) at 15:00
    ladder = eng.advance(resumed.instance, MONDAY + timedelta(days=1, hours=7))
    assert [(e["effect"], e["at"][11:16]) for e in ladder.effects] == [
        ("sla-warning", "13:00"),
        ("escalation", "15:00"),
        ("notify", "15:00"),
    ]
    with pytest.raises(WorkflowError, match=r"erin \(a\) is not an assignee of task review \(assigned to user dana"):
        eng.decide(ladder.instance, "accept", Actor("erin", "a"), MONDAY + timedelta(days=1, hours=7))
    # decided at 16:30, before the breach at 17:00 (8 h counted): met in time
    declined = eng.decide(ladder.instance, "decline", Actor("dana", "x"), MONDAY + timedelta(days=1, hours=7.5))
    assert declined.instance["state"] == "declined" and declined.instance["data"]["note"] == "triaged"
    assert next(e for e in declined.effects if e["effect"] == "sla-met")["late"] is False


def test_parallel_quorum_and_escalation_transition() -> None:
    eng = claim_engine()
    inst = eng.start("c1", {"handler": "dana"}, MONDAY).instance
    asked = eng.fire(inst, "accept", Actor("dana", "x"), MONDAY)
    assert kinds(asked.effects).count("task") == 3
    one = eng.decide(asked.instance, "approve", Actor("u1", "a"), MONDAY)
    assert one.instance["state"] == "triage"
    two = eng.decide(one.instance, "approve", Actor("u2", "c"), MONDAY)
    assert two.instance["state"] == "accepted"  # quorum 2 of 3
    # left alone: breach after 1bd, the second escalation after 2bd moves it to `escalated`
    alone = eng.advance(inst, MONDAY + timedelta(days=3))
    assert alone.instance["state"] == "escalated"
    assert [
        k for k in kinds(alone.effects) if k in ("sla-warning", "escalation", "notify", "sla-breach", "reassigned")
    ][:6] == ["sla-warning", "escalation", "notify", "sla-breach", "escalation", "reassigned"]


def test_deterministic_timeline() -> None:
    def run() -> list[dict[str, Any]]:
        eng = claim_engine()
        inst = eng.start("c1", {"handler": "dana"}, MONDAY).instance
        return eng.advance(inst, MONDAY + timedelta(days=5)).effects

    assert run() == run()


def test_changes_go_through_the_record_engine() -> None:
    eng = engine()
    inst = eng.start("w1", LEAD, MONDAY).instance
    step = eng.change(inst, "source", "web", MONDAY + timedelta(hours=1))
    assert [(e["effect"], e.get("field"), e.get("value")) for e in step.effects] == [
        ("changed", "source", "web"),
        ("calculated", "score", 70.0),
    ]
    with pytest.raises(WorkflowError, match=r"companySize = -5 is refused: companySize: The number of employees"):
        eng.change(inst, "companySize", -5, MONDAY + timedelta(hours=1))
    with pytest.raises(WorkflowError, match="Lead has no field planet"):
        eng.change(inst, "planet", "Mars", MONDAY + timedelta(hours=1))


FLOW2 = """\
workflows:
  - id: ticket
    entity: C
    initial: open
    states:
      open:
        sla:
          id: answer
          breachAfter: 2h
          start: handler != ''
          stop: note == 'answered'
          reset: note == 'reopened'
          onSuccess: [{notify: lead, emit: Answered}]
      closed: {final: true}
    transitions:
      - id: close
        from: open
        to: closed
        guard: 10 / size(handler) > 1
        actions: [{set: {note: "'closed by ' + role"}, emit: Closed, notify: lead, task: review}]
    timers:
      - {id: remind, state: open, at: due, transition: close}
"""
SCHEMA2 = SCHEMA.replace("      note: {type: text}\n", "      note: {type: text}\n      due: {type: datetime}\n")
EVENTS2 = "events:\n  Closed: {entity: C, payload: [note]}\n  Answered: {entity: C, payload: [handler]}\n"


def ticket_engine() -> WorkflowEngine:
    files = {
        "package.yaml": "name: T\nversion: 1.0.0\nscope: global\ndescription: T.\nlocales: [en]\nroles: [lead]\n",
        "localization/en.yaml": "labels: {}\n",
        "schema.yaml": SCHEMA2,
        "workflow.yaml": FLOW2,
        "events.yaml": EVENTS2,
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "T"))
    assert package.valid, package.diagnostics
    return engine(package)


def test_sla_conditions_actions_absolute_timers_and_guard_errors() -> None:
    eng = ticket_engine()
    inst = eng.start("t1", {"due": "2026-11-23T12:00:00Z"}, MONDAY).instance
    assert inst["sla"]["started"] is False  # waits for its `start` condition
    assert inst["timers"] == {"remind": "2026-11-23T12:00:00Z"}
    started = eng.change(inst, "handler", "dana", MONDAY + timedelta(minutes=30))
    assert kinds(started.effects)[-1] == "sla-started"
    reset = eng.change(started.instance, "note", "reopened", MONDAY + timedelta(hours=1))
    assert "sla-reset" in kinds(reset.effects)
    answered = eng.change(reset.instance, "note", "answered", MONDAY + timedelta(hours=2))
    assert kinds(answered.effects)[-3:] == ["sla-met", "event", "notify"]
    assert answered.effects[-2]["payload"] == {"handler": "dana"}
    closed = eng.advance(answered.instance, MONDAY + timedelta(hours=4))  # the absolute timer at 12:00
    assert closed.instance["data"]["note"] == "closed by system"
    assert [k for k in kinds(closed.effects) if k in ("set", "event", "notify", "task-requested")] == [
        "set",
        "event",
        "notify",
        "task-requested",
    ]
    nameless = eng.start("t2", {"handler": ""}, MONDAY).instance
    with pytest.raises(WorkflowError, match=r"guard:close: divide by zero"):
        eng.fire(nameless, "close", Actor("u", "lead"), MONDAY)


def test_inputs_and_migrations_that_make_no_sense() -> None:
    from crmctl.runtime.workflow import apply_input

    eng = ticket_engine()
    inst = eng.start("t1", {"handler": "ab"}, MONDAY).instance
    with pytest.raises(WorkflowError, match="unknown workflow input 'jump'"):
        apply_input(eng, inst, {"type": "jump"}, MONDAY)
    with pytest.raises(WorkflowError, match="started already"):
        apply_input(eng, inst, {"type": "start", "instance": "t1"}, MONDAY)
    with pytest.raises(WorkflowError, match="data must be an object"):
        apply_input(eng, None, {"type": "start", "instance": "t9", "data": [1]}, MONDAY)
    with pytest.raises(WorkflowError, match="say who decides"):
        apply_input(eng, inst, {"type": "decide", "instance": "t1", "decision": "x"}, MONDAY)
    with pytest.raises(WorkflowError, match="is not user/role"):
        apply_input(eng, inst, {"type": "fire", "instance": "t1", "transition": "close", "as": "nobody"}, MONDAY)
    assert apply_input(
        eng,
        inst,
        {"type": "fire", "instance": "t1", "transition": "close", "as": {"user": "u", "role": "lead"}},
        MONDAY,
    ).effects
    with pytest.raises(WorkflowError, match="runs on this version already"):
        eng.adopt(inst, {}, MONDAY)
    other = {**inst, "digest": "sha256:" + "0" * 64}
    with pytest.raises(WorkflowError, match="which this version lacks"):
        eng.adopt({**other, "state": "gone"}, {}, MONDAY)
    with pytest.raises(WorkflowError, match="runs workflow leadLifecycle"):
        eng.adopt({**other, "workflow": "leadLifecycle"}, {}, MONDAY)
    with pytest.raises(WorkflowError, match="only running instances migrate"):
        eng.adopt({**other, "status": "completed"}, {}, MONDAY)
    pending = {
        **other,
        "approval": {
            "transition": "vanished",
            "open": [0],
            "chain": [{"role": "lead"}],
            "approved": [],
            "needed": 1,
            "mode": "sequential",
            "requestedBy": {"user": "u", "role": "lead"},
        },
    }
    with pytest.raises(WorkflowError, match="approval of vanished is pending"):
        eng.adopt(pending, {}, MONDAY)
    moved = eng.adopt(other, {"open": "open"}, MONDAY)
    assert moved.instance["digest"] == eng.model.digest and kinds(moved.effects) == ["migrated"]


def test_claiming_a_role_task_makes_it_the_users() -> None:
    from crmctl.runtime.workflow import apply_input

    eng = engine(load_package(REPO / "packages" / "LeadLifecycle" / "v2"))
    inst = eng.start("w1", LEAD, MONDAY).instance
    inst = eng.fire(inst, "contact", REP, MONDAY).instance
    # the owner field is unset, so the qualification task goes to nobody; the approval steps go to roles
    requested = eng.fire(inst, "qualify", REP, MONDAY).instance
    claimed = apply_input(eng, requested, {"type": "claim", "instance": "w1", "as": "bob/salesManager"}, MONDAY)
    assert claimed.effects[-1]["effect"] == "claimed"
    with pytest.raises(WorkflowError, match=r"bob2 \(salesManager\) is not an assignee"):
        eng.decide(claimed.instance, "approve", Actor("bob2", "salesManager"), MONDAY)  # claimed by bob
    assert eng.decide(claimed.instance, "approve", MANAGER, MONDAY).instance["approval"]["open"] == [1]
    with pytest.raises(WorkflowError, match="nothing open is assigned to role marketing"):
        eng.claim(requested, Actor("m", "marketing"), MONDAY)
    with pytest.raises(WorkflowError, match="say who claims"):
        apply_input(eng, requested, {"type": "claim", "instance": "w1"}, MONDAY)


def test_a_moment_that_is_not_one_is_a_workflow_error() -> None:
    from crmctl.runtime.workflow_model import parse_moment

    with pytest.raises(WorkflowError, match="not an ISO 8601 moment"):
        parse_moment("next tuesday")  # e.g. a timer's `at` expression gave a string; no ValueError escapes
    with pytest.raises(WorkflowError, match="needs a time zone"):
        parse_moment("2026-11-26T09:00:00")
