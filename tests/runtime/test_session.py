"""The form session state machine: golden effect traces, event refusals, navigation, rules, resume, determinism.

Golden traces live in tests/fixtures/traces/<name>.json (a list of {"event", "effects"}); after an intended
change of the effect format or wording, regenerate with `CRMCTL_UPDATE_GOLDEN=1 pytest tests/runtime` and review
the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.package import Package, load_package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest
from crmctl.runtime.form import FormError, FormModel
from crmctl.runtime.l10n import Localizer
from crmctl.runtime.session import EventError, Outcome, Session, SessionState

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
TRACES = ROOT / "tests" / "fixtures" / "traces"
LEADS_V1 = load_package(PACKAGES / "LeadLifecycle" / "v1")
CLAIMS = load_package(PACKAGES / "ClaimsIntake")
CLOCK = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)

Event = dict[str, Any]
Resolver = Callable[[AsyncRequest], AsyncAnswer]


def session(package: Package, locale: str = "en", role: str = "salesRep") -> Session:
    return Session(FormModel.build(package), Localizer(package, locale), role)


def play(
    sess: Session,
    events: Sequence[Event],
    resolver: Resolver | None = None,
    state: SessionState | None = None,
    start: int = 0,
) -> tuple[SessionState, list[Outcome]]:
    """Apply `events` at the fixed clock (+1 s per event, counted from `start`); EventErrors propagate."""
    state = state or SessionState()
    outcomes = []
    for i, event in enumerate(events, start=start):
        outcome = sess.apply(state, event, CLOCK + timedelta(seconds=i), resolver)
        outcomes.append(outcome)
        state = outcome.state
    return state, outcomes


def trace_json(events: Sequence[Event], outcomes: Sequence[Outcome]) -> str:
    steps = [{"event": e, "effects": o.effects} for e, o in zip(events, outcomes, strict=True)]
    return json.dumps(steps, indent=2, ensure_ascii=False) + "\n"


def assert_golden(name: str, text: str) -> None:
    expected = TRACES / f"{name}.json"
    if os.environ.get("CRMCTL_UPDATE_GOLDEN"):
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8"), f"regenerate with CRMCTL_UPDATE_GOLDEN=1 ({expected})"


def change(field: str, value: Any) -> Event:
    return {"type": "change", "field": field, "value": value}


LOAD: Event = {"type": "load"}
NEXT: Event = {"type": "next"}
BACK: Event = {"type": "back"}
SUBMIT: Event = {"type": "submit"}


def effects_of(outcomes: Sequence[Outcome], kind: str) -> list[dict[str, Any]]:
    return [e for o in outcomes for e in o.effects if e["effect"] == kind]


# --- golden traces --------------------------------------------------------------------------------------------

LEAD_HAPPY_PATH: list[Event] = [
    LOAD,
    change("firstName", "Ada"),
    change("lastName", "Lovelace"),
    NEXT,  # blocked: neither e-mail nor phone
    change("email", "ada@example.com"),
    change("company", "Analytical Engines"),
    change("companySize", 120),
    change("source", "partner"),
    NEXT,  # transition partnerSkipsCompany: straight to the review
    SUBMIT,
]

LEAD_MARKETING: list[Event] = [
    LOAD,
    change("firstName", "Grace"),
    change("lastName", "Hopper"),
    change("phone", "+1 555 0100"),
    change("company", "Navy"),
    change("companySize", 5),
    change("industry", "software"),
    NEXT,
    change("source", "referral"),
    change("nextFollowUp", None),
    NEXT,
    BACK,
    NEXT,
    SUBMIT,
]

CLAIM_EVENTS: list[Event] = [
    LOAD,
    change("policyNumber", "XX-12"),
    NEXT,
    change("claimType", "motor"),
    change("incidentDate", "2026-11-20"),
    change("incidentAddress.city", "دبي"),
    NEXT,
    change("estimatedLoss", 400),  # below the suggested deductible: soft warning
    change("estimatedLoss", 6000),  # the warning clears; no evidence yet: soft composite warning
    NEXT,
    change("vehicleRegistration", "dxb 1"),  # soft regex warning while typing
    change("vehicleRegistration", "M-AB 1234"),
    change("photos", ["file-1"]),
    NEXT,  # the assessment step is hidden for claimants: straight to the declaration
    SUBMIT,  # consent guard blocks; the report shows everything at once
    change("consentDataProcessing", True),
    SUBMIT,  # hard failures, async answers from the fake resolver included
    change("policyNumber", "AB-1234567"),
    SUBMIT,
]

RECORDED_ANSWERS = {
    ("policyService", "XX-12"): AsyncAnswer(False, "no such policy"),
    ("duplicateDetector", "XX-12"): AsyncAnswer(True),
    ("policyService", "AB-1234567"): AsyncAnswer(True),
    ("duplicateDetector", "AB-1234567"): AsyncAnswer(False, "CL-2026-000042"),
}


def recorded(request: AsyncRequest) -> AsyncAnswer:
    return RECORDED_ANSWERS[(request.provider, request.value)]


TRACE_CASES: dict[str, tuple[Package, str, str, list[Event], Resolver | None]] = {
    "lead-salesRep-en": (LEADS_V1, "en", "salesRep", LEAD_HAPPY_PATH, None),
    "lead-salesRep-de": (LEADS_V1, "de", "salesRep", LEAD_HAPPY_PATH, None),
    "lead-marketing-en": (LEADS_V1, "en", "marketing", LEAD_MARKETING, None),
    "claims-claimant-ar": (CLAIMS, "ar", "claimant", CLAIM_EVENTS, recorded),
}


@pytest.mark.parametrize("name", sorted(TRACE_CASES))
def test_golden_trace(name: str) -> None:
    package, locale, role, events, resolver = TRACE_CASES[name]
    _, outcomes = play(session(package, locale, role), events, resolver)
    assert_golden(name, trace_json(events, outcomes))


def test_marketing_never_sees_revenue_or_owner() -> None:
    sess = session(LEADS_V1, "en", "marketing")
    extra = [change("companySize", 400), change("source", "partner"), {"type": "goto", "step": "personal"}]
    _, outcomes = play(sess, [*LEAD_MARKETING[:-1], *extra, NEXT, SUBMIT])
    text = json.dumps([o.effects for o in outcomes])
    assert "annualRevenue" not in text
    assert "owner" not in text
    assert effects_of(outcomes, "submit")[0]["ok"] is True
    state, _ = play(sess, [LOAD])
    for field in ("annualRevenue", "owner"):
        with pytest.raises(EventError, match="no field"):
            sess.apply(state, change(field, "x"), CLOCK)
        with pytest.raises(EventError, match="no field"):
            sess.apply(SessionState(), {"type": "load", "data": {field: "x"}}, CLOCK)


def test_claims_trace_answers_come_from_the_resolver() -> None:
    asked: list[AsyncRequest] = []

    def resolver(request: AsyncRequest) -> AsyncAnswer:
        asked.append(request)
        return recorded(request)

    _, outcomes = play(session(CLAIMS, "ar", "claimant"), CLAIM_EVENTS, resolver)
    answered = [(q, a) for o in outcomes for q, a in o.answers]
    assert [(q.provider, q.value) for q, _ in answered] == [(q.provider, q.value) for q in asked]
    # policyValid is all(policyNumberFormat, policyActive): with the malformed XX-12 the provider is never asked
    assert {(q.provider, q.value) for q in asked} == set(RECORDED_ANSWERS) - {("policyService", "XX-12")}
    policy = [a for o in outcomes for a in o.answers_json() if a["request"]["validation"] == "policyActive"]
    assert policy[0] == {
        "request": {
            "validation": "policyActive",
            "provider": "policyService",
            "params": {"check": "active", "onDate": "2026-11-20", "timeoutMs": 2000},
            "value": "AB-1234567",
        },
        "answer": policy[0]["answer"],
    }  # (onDate names a field: the provider gets its value)
    submits = effects_of(outcomes, "submit")
    assert [s["ok"] for s in submits] == [False, True]
    assert [f["code"] for f in submits[0]["report"]] == ["policyValid"]
    assert [(f["code"], f["severity"]) for f in submits[1]["report"]] == [("duplicateClaim", "warning")]
    labels = [e["label"] for e in effects_of(outcomes, "show") if "field" in e]
    assert "رقم الوثيقة" in labels
    # the assessment step is reserved to other roles: neither it nor its fields ever appear for a claimant
    text = json.dumps([o.effects for o in outcomes], ensure_ascii=False)
    for hidden in ("assessment", "daysToReport", "lateReport", "fraudScore", "handler", "priority"):
        assert hidden not in text
    stored = next(o.record for o in outcomes if o.record is not None)
    assert stored["priority"] in ("urgent", "high", "normal")  # set by derivePriority on save, kept in the record


def test_async_validation_without_a_resolver_is_refused() -> None:
    sess = session(CLAIMS, "en", "claimant")
    events = [e for e in CLAIM_EVENTS[:16]]
    state, _ = play(sess, events, recorded)
    before = state.to_json()
    with pytest.raises(EventError, match="no provider 'duplicateDetector'"):
        sess.apply(state, SUBMIT, CLOCK)
    assert state.to_json() == before


# --- refused events ---------------------------------------------------------------------------------------------


def loaded(role: str = "salesRep", package: Package = LEADS_V1) -> tuple[Session, SessionState]:
    sess = session(package, "en", role)
    state, _ = play(sess, [LOAD])
    return sess, state


REFUSED: dict[str, tuple[str, Event, str]] = {
    "unknown field": ("salesRep", change("nickname", "x"), "no field 'nickname'"),
    "calculated field": ("salesRep", change("score", 1.0), "calculated"),
    "read-only for role": ("salesRep", change("status", "new"), "read-only for role salesRep"),
    "hidden field": ("salesRep", change("companySize", 5), "hidden"),
    "role-hidden field": ("marketing", change("owner", "u1"), "no field 'owner'"),
    "wrong type": ("salesRep", change("firstName", 42), "firstName"),
    "wrong number type": ("salesManager", change("annualRevenue", "lots"), "annualRevenue"),
    "enum value not offered": ("salesRep", change("source", "carrierPigeon"), "not offered"),
    "oversized text": ("salesRep", change("firstName", "x" * (1024 * 1024 + 1)), "longer than"),
    "unknown step": ("salesRep", {"type": "goto", "step": "nowhere"}, "no step 'nowhere'"),
    "goto without step": ("salesRep", {"type": "goto"}, "no step None"),
    "load twice": ("salesRep", LOAD, "loaded already"),
    "unknown event type": ("salesRep", {"type": "dance"}, "unknown event 'dance'"),
    "event without type": ("salesRep", {}, "unknown event None"),
    "naive datetime value": ("marketing", change("createdAt", "2026-11-26T09:00:00"), "no offset"),
    "change without field": ("salesRep", {"type": "change", "value": 1}, "field must be"),
    "object field as a whole": ("salesRep", change("firstName.x", "a"), "no field"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_event_leaves_state_unchanged(case: str) -> None:
    role, event, message = REFUSED[case]
    sess, state = loaded(role)
    before = state.to_json()
    with pytest.raises(EventError, match=message):
        sess.apply(state, event, CLOCK)
    assert state.to_json() == before
    # The session goes on as if the event never happened.
    again = sess.apply(state, change("firstName", "Ada"), CLOCK)
    assert again.state.events == state.events + 1


def test_refused_before_load_after_submit_and_naive_clock() -> None:
    sess = session(LEADS_V1)
    fresh = SessionState()
    with pytest.raises(EventError, match="not been loaded"):
        sess.apply(fresh, change("firstName", "Ada"), CLOCK)
    assert fresh == SessionState()
    with pytest.raises(EventError, match="time zone"):
        sess.apply(fresh, LOAD, datetime(2026, 11, 26, 9))
    assert fresh == SessionState()
    done, outcomes = play(sess, LEAD_HAPPY_PATH)
    assert effects_of(outcomes, "submit")[0]["ok"] is True
    assert done.status == "submitted"
    for event in (change("firstName", "Eve"), SUBMIT, NEXT):
        with pytest.raises(EventError, match="submitted already"):
            sess.apply(done, event, CLOCK)
    assert done.to_json() == play(sess, LEAD_HAPPY_PATH)[0].to_json()


def test_object_fields_are_changed_member_by_member() -> None:
    sess, state = loaded("claimant", CLAIMS)
    with pytest.raises(EventError, match="one by one"):
        sess.apply(state, change("incidentAddress", {"city": "x"}), CLOCK)
    with pytest.raises(EventError, match="no field"):
        sess.apply(state, change("fraudScore", 0.5), CLOCK)
    out = sess.apply(state, change("incidentAddress.city", "Köln"), CLOCK)
    assert out.state.data["incidentAddress"] == {"city": "Köln"}
    cleared = sess.apply(out.state, change("incidentAddress.city", None), CLOCK)
    assert "incidentAddress" not in cleared.state.data


def test_a_prefilled_object_is_stored_as_its_members_would_be_entered() -> None:
    schema = TINY_SCHEMA.replace(
        "      note: {type: text}\n",
        "      note: {type: text}\n      place: {type: object, fields: {size: {type: number}, kind: {type: enum, "
        "values: [a, b]}}}\n",
    )
    ui = TINY_UI.replace("fields: [note]", "fields: [note, place.size, place.kind]")
    package = tiny(schema, ui=ui)
    sess = Session(FormModel.build(package), Localizer(package, "en"), "anyone")
    state, _ = play(sess, [{"type": "load", "data": {"place": {"size": 3, "kind": "a"}}}])
    assert state.data["place"] == {"size": 3.0, "kind": "a"}
    assert isinstance(state.data["place"]["size"], float)  # as change("place.size", 3) stores it
    with pytest.raises(EventError, match="not offered"):
        play(sess, [{"type": "load", "data": {"place": {"kind": "zzz"}}}])


def test_unknown_role_is_refused() -> None:
    with pytest.raises(EventError, match="unknown role 'intern'"):
        session(LEADS_V1, "en", "intern")


# --- tiny packages ----------------------------------------------------------------------------------------------

TINY_SCHEMA = """\
entities:
  Thing:
    fields:
      # Declared in reverse dependency order: b reads a, a reads x.
      b: {type: calculated, resultType: number, expression: "a * 10.0"}
      a: {type: calculated, resultType: number, expression: "x + 1.0"}
      x: {type: number}
      y: {type: number}
      ratio: {type: calculated, resultType: number, expression: "x / y"}
      kind: {type: enum, values: [small, big, huge]}
      note: {type: text}
"""
TINY_UI = """\
entity: Thing
steps:
  - id: one
    fields: [x, y, kind]
  - id: two
    fields: [note]
  - id: three
    fields: [a, b, ratio]
  - id: four
    fields: []
"""
TINY_RULES = """\
rules:
  - id: toFour
    entity: Thing
    scope: step
    target: one
    trigger: onExitStep
    capability: transition
    when: x > 0.0
    goto: four
    priority: 20
  - id: toThree
    entity: Thing
    scope: step
    target: one
    trigger: onExitStep
    capability: transition
    when: x > 0.0
    goto: three
    priority: 10
"""


def tiny(schema: str = TINY_SCHEMA, rules: str = TINY_RULES, ui: str = TINY_UI) -> Package:
    files = {
        "package.yaml": "name: Tiny\nversion: 1.0.0\nscope: global\ndescription: A tiny package.\nlocales: [en]\n",
        "schema.yaml": schema,
        "ui.yaml": ui,
        "rules.yaml": rules,
        "localization/en.yaml": "labels:\n  Thing.x: X\n",
    }
    return load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "Tiny"))


def test_calculated_fields_recompute_in_dependency_order() -> None:
    model = FormModel.build(tiny())
    assert [c.name for c in model.calculated].index("a") < [c.name for c in model.calculated].index("b")
    sess = Session(model, Localizer(model.package, "en"), "anyone")
    state, outcomes = play(sess, [LOAD, change("y", 2), change("x", 4)])
    assert state.data["a"] == 5.0
    assert state.data["b"] == 50.0
    assert state.data["ratio"] == 2.0
    sets = [(e["field"], e["value"]) for e in outcomes[2].effects if e["effect"] == "set"]
    assert sets == [("a", 5.0), ("b", 50.0), ("ratio", 2.0)]


def test_calculation_cycle_is_a_form_error() -> None:
    schema = TINY_SCHEMA.replace('expression: "x + 1.0"', 'expression: "b + 1.0"')
    with pytest.raises(FormError, match=r"cycle: (a → b → a|b → a → b)"):
        FormModel.build(tiny(schema))


def test_lower_priority_transition_wins() -> None:
    sess = Session(FormModel.build(tiny()), Localizer(tiny(), "en"), "anyone")
    _, outcomes = play(sess, [LOAD, change("x", 1), NEXT])
    assert effects_of(outcomes[2:], "step")[0]["step"] == "three"
    swapped = TINY_RULES.replace("priority: 20", "priority: 5")
    sess = Session(FormModel.build(tiny(rules=swapped)), Localizer(tiny(), "en"), "anyone")
    _, outcomes = play(sess, [LOAD, change("x", 1), NEXT])
    assert effects_of(outcomes[2:], "step")[0]["step"] == "four"
    # Without the condition no transition fires: plain next.
    _, outcomes = play(sess, [LOAD, NEXT])
    assert effects_of(outcomes[1:], "step")[0]["step"] == "two"


def test_rule_evaluation_error_is_reported_and_blocks_submit() -> None:
    sess = Session(FormModel.build(tiny()), Localizer(tiny(), "en"), "anyone")
    state, outcomes = play(sess, [LOAD, change("x", 1)])
    errors = effects_of(outcomes, "error")
    assert errors, "x / 0.0 with y unset must be reported"
    assert errors[0]["rule"] == "calc:Thing.ratio"
    assert "ratio" not in state.data
    _, (blocked,) = play(sess, [SUBMIT], state=state, start=2)
    assert effects_of([blocked], "submit")[0]["ok"] is False
    assert [(f["code"], f["severity"]) for f in effects_of([blocked], "submit")[0]["report"]] == [
        ("calc:Thing.ratio", "error")
    ]  # the reason is in the report too, not only in the separate error effect
    assert blocked.state.status == "editing"
    # Fixing the input clears the error and the form submits.
    state, outcomes = play(sess, [change("y", 4), SUBMIT], state=blocked.state, start=3)
    assert state.data["ratio"] == 0.25
    assert effects_of(outcomes, "submit")[0]["ok"] is True
    assert state.status == "submitted"


def test_a_calculation_rule_result_that_is_no_date_is_refused_for_a_date_field() -> None:
    schema = TINY_SCHEMA.replace("      note: {type: text}\n", "      note: {type: text}\n      due: {type: date}\n")
    rules = """\
rules:
  - id: setDue
    entity: Thing
    scope: global
    trigger: onChange
    capability: calculation
    target: due
    expression: note
"""
    package = tiny(schema, rules)
    sess = Session(FormModel.build(package), Localizer(package, "en"), "anyone")
    state, outcomes = play(sess, [LOAD, NEXT, change("note", "2026-12-01T10:00:00Z"), change("note", "not a date!")])
    assert state.data.get("due") == "2026-12-01"  # a timestamp's day is kept; the junk is not stored
    assert [e["rule"] for e in effects_of(outcomes[3:], "error")] == ["rule:setDue/expression"]


# --- navigation -------------------------------------------------------------------------------------------------


def blocked_reasons(outcome: Outcome) -> list[tuple[str, str | None]]:
    return [(e["action"], e["rule"]) for e in outcome.effects if e["effect"] == "blocked"]


def test_back_and_goto() -> None:
    sess, state = loaded()
    at_first = sess.apply(state, BACK, CLOCK)
    assert blocked_reasons(at_first) == [("back", None)]
    assert at_first.effects[-1]["reason"] == "This is the first step."
    assert at_first.state.step == "personal"
    state, _ = play(sess, [change("email", "a@b.cd"), NEXT], state=state, start=1)
    assert state.step == "company"
    assert state.history == ("personal",)
    # A step not reached yet is refused, a visited one is fine and cuts the history there.
    unreached = sess.apply(state, {"type": "goto", "step": "review"}, CLOCK)
    assert blocked_reasons(unreached) == [("goto", None)]
    assert unreached.effects[-1]["reason"] == "That step has not been reached yet."
    assert unreached.state.step == "company"
    state, _ = play(sess, [NEXT], state=state, start=3)
    assert (state.step, state.history) == ("review", ("personal", "company"))
    back = sess.apply(state, {"type": "goto", "step": "personal"}, CLOCK)
    assert back.state.step == "personal"
    assert back.state.history == ()
    assert effects_of([back], "step")[0]["step"] == "personal"
    # goto the current step changes nothing visible.
    same = sess.apply(back.state, {"type": "goto", "step": "personal"}, CLOCK)
    assert same.effects == []
    # back walks the history one step at a time.
    state, _ = play(sess, [NEXT, NEXT, BACK], state=back.state, start=5)
    assert (state.step, state.history) == ("company", ("personal",))
    last = play(sess, [NEXT, NEXT], state=state, start=8)[1][-1]
    assert blocked_reasons(last) == [("next", None)]
    assert last.state.step == "review"


def test_goto_a_step_hidden_for_the_role() -> None:
    sess, state = loaded("claimant", CLAIMS)
    out = sess.apply(state, {"type": "goto", "step": "assessment"}, CLOCK)
    assert out.effects[-1] == {
        "effect": "blocked",
        "action": "goto",
        "rule": None,
        "reason": "That step is not available.",
    }
    assert out.state.step == "policy"


def test_guard_blocks_next_until_it_holds() -> None:
    sess, state = loaded()
    out = sess.apply(state, NEXT, CLOCK)
    assert blocked_reasons(out) == [("next", "contactChannelRequired")]
    assert out.state.step == "personal"
    out = sess.apply(out.state, change("phone", "+49 1"), CLOCK)
    out = sess.apply(out.state, NEXT, CLOCK)
    assert blocked_reasons(out) == []
    assert out.state.step == "company"


def test_submit_guard_and_validation_report() -> None:
    sess = session(LEADS_V1, "en", "salesManager")
    events = [LOAD, change("email", "not-an-address"), change("company", "ACME"), change("companySize", 0), SUBMIT]
    state, outcomes = play(sess, events)
    submit = effects_of(outcomes, "submit")[0]
    assert submit["ok"] is False
    # Validations in declaration order, then the built-in required check: all reported at once.
    assert [(f["field"], f["code"]) for f in submit["report"]] == [
        ("lastName", "lastNameRequired"),
        ("email", "emailFormat"),
        ("companySize", "companySizeRange"),
        ("firstName", "required"),
    ]
    assert submit["report"][2]["message"] == "The number of employees must be between 1 and 5,000,000."
    assert state.submit_attempted
    assert state.status == "editing"
    # A rep cannot submit a big account: the global guard blocks before validation.
    rep = session(LEADS_V1, "en", "salesRep")
    big = [LOAD, change("company", "ACME"), change("annualRevenue", 60_000_000), SUBMIT]
    _, outcomes = play(rep, big)
    assert blocked_reasons(outcomes[-1]) == [("submit", "bigAccountsByManagers")]
    assert effects_of(outcomes, "submit") == []


# --- resume and determinism -------------------------------------------------------------------------------------

ALPHABET = st.sampled_from(
    [
        NEXT,
        BACK,
        SUBMIT,
        LOAD,
        {"type": "goto", "step": "personal"},
        {"type": "goto", "step": "company"},
        {"type": "goto", "step": "review"},
        change("firstName", "Ada"),
        change("lastName", "Byron"),
        change("lastName", None),
        change("email", "ada@example.com"),
        change("email", "nope"),
        change("phone", "+44 1"),
        change("company", "ACME"),
        change("company", ""),
        change("companySize", 5),
        change("companySize", 400),
        change("companySize", -1),
        change("annualRevenue", 2_000_000.5),
        change("annualRevenue", 60_000_000),
        change("industry", "finance"),
        change("industry", "software"),
        change("source", "partner"),
        change("source", "referral"),
        change("nextFollowUp", "2027-01-31"),
        change("nextFollowUp", None),
        change("status", "new"),
        change("score", 3),
        change("firstName", 7),
    ]
)


def run_lenient(
    sess: Session, events: Sequence[Event], state: SessionState, start: int
) -> tuple[SessionState, list[str]]:
    """Apply events, skipping refused ones; the effects of each accepted event as canonical JSON."""
    out = []
    for i, event in enumerate(events, start=start):
        try:
            outcome = sess.apply(state, event, CLOCK + timedelta(seconds=i))
        except EventError:
            continue
        out.append(json.dumps(outcome.effects, sort_keys=False))
        state = outcome.state
    return state, out


RESUME_SESSION = session(LEADS_V1, "de", "salesRep")


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=12), st.lists(ALPHABET, max_size=12))
def test_resume_from_json_gives_the_same_effects(head: list[Event], tail: list[Event]) -> None:
    sess = RESUME_SESSION
    whole_state, whole = run_lenient(sess, [LOAD, *head, *tail], SessionState(), 0)
    mid, first = run_lenient(sess, [LOAD, *head], SessionState(), 0)
    restored = SessionState.from_json(json.loads(json.dumps(mid.to_json())))
    assert restored.to_json() == mid.to_json()
    end, rest = run_lenient(sess, tail, restored, len(head) + 1)
    assert first + rest == whole
    assert end.to_json() == whole_state.to_json()


@pytest.mark.parametrize("name", sorted(TRACE_CASES))
def test_same_events_give_identical_effects(name: str) -> None:
    package, locale, role, events, resolver = TRACE_CASES[name]
    one = trace_json(events, play(session(package, locale, role), events, resolver)[1])
    two = trace_json(
        events, play(Session(FormModel.build(package), Localizer(package, locale), role), events, resolver)[1]
    )
    assert one.encode() == two.encode()


def test_soft_composite_warns_while_typing_in_its_members_fields() -> None:
    validations = """\
validations:
  - {id: isTest, type: regex, field: note, pattern: 'TE-[0-9]+', message: m.isTest}
  - {id: notTest, type: composite, mode: soft, operator: not, validations: [isTest], message: m.notTest}
"""
    files = {
        "package.yaml": "name: Tiny\nversion: 1.0.0\nscope: global\ndescription: A tiny package.\nlocales: [en]\n",
        "schema.yaml": TINY_SCHEMA,
        "ui.yaml": TINY_UI,
        "validations.yaml": validations,
        "localization/en.yaml": "labels:\n  Thing.x: X\nmessages:\n  m.notTest: No test data.\n",
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "Tiny"))
    sess = Session(FormModel.build(package), Localizer(package, "en"), "anyone")
    _, outcomes = play(sess, [LOAD, NEXT, change("note", "TE-1"), change("note", "real")])
    assert effects_of(outcomes[2:3], "message") == [
        {"effect": "message", "field": None, "code": "notTest", "severity": "warning", "message": "No test data."}
    ]
    assert effects_of(outcomes[3:], "clear") == [{"effect": "clear", "field": None, "code": "notTest"}]


def test_effects_do_not_depend_on_the_order_of_keys_in_the_files() -> None:
    """The digest ignores key order, so a pinned copy (keys sorted) and the working copy must run identically."""
    from crmctl.model.canonical import digest
    from crmctl.runtime.cel import clear_cache
    from crmctl.runtime.form import _CACHE
    from crmctl.runtime.packages import load_copy, make_copy

    def package(order: list[str]) -> Package:
        defs = {
            "x": "{type: number}",
            "zeta": '{type: calculated, resultType: number, expression: "x * 2.0"}',
            "alpha": '{type: calculated, resultType: number, expression: "zeta + x"}',
            "mid": '{type: calculated, resultType: text, expression: "string(alpha)"}',
        }
        schema = "entities:\n  T:\n    fields:\n" + "".join(f"      {n}: {defs[n]}\n" for n in order)
        files = {
            "package.yaml": "name: Tiny\nversion: 1.0.0\nscope: global\ndescription: Tiny.\nlocales: [en]\n",
            "localization/en.yaml": "labels: {}\n",
            "schema.yaml": schema,
            "ui.yaml": "entity: T\nsteps:\n  - id: s\n    fields: [x]\n",
        }
        return load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "Tiny"))

    written = package(["x", "zeta", "mid", "alpha"])
    ref, blob = make_copy(written)
    copies = [written, package(["alpha", "x", "mid", "zeta"]), load_copy(ref.digest, blob)]
    assert {digest(p) for p in copies} == {ref.digest}
    traces = []
    for copy in copies:
        clear_cache()
        _CACHE.clear()  # each copy builds its own model, as a fresh process would
        _, outcomes = play(session(copy, "en", "user"), [LOAD, change("x", 2)])
        traces.append(json.dumps([o.effects for o in outcomes]))
    assert traces[0] == traces[1] == traces[2]
    sets = [e["field"] for e in json.loads(traces[0])[1] if e["effect"] == "set"]
    assert sets == ["alpha", "mid", "zeta"]  # calculated fields off the form follow by name


def test_arrays_and_text_are_stored_as_the_record_engine_would() -> None:
    schema = """\
entities:
  T:
    fields:
      name: {type: text, maxLength: 5}
      sizes: {type: array, items: {type: number}, maxItems: 2}
      tags: {type: array, items: {type: enum, values: [a, b]}}
"""
    ui = "entity: T\nsteps:\n  - id: s\n    fields: [name, sizes, tags]\n"
    files = {
        "package.yaml": "name: T\nversion: 1.0.0\nscope: global\ndescription: T.\nlocales: [en]\n",
        "localization/en.yaml": "labels: {}\n",
        "schema.yaml": schema,
        "ui.yaml": ui,
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "T"))
    sess = session(package, "en", "user")
    state, _ = play(sess, [LOAD, change("sizes", [1, 2.5])])
    assert state.data["sizes"] == [1.0, 2.5] and type(state.data["sizes"][0]) is float
    for field, value, message in [
        ("sizes", [1, 2, 3], "3 items; at most 2"),
        ("tags", ["a", "z"], "'z' is not one"),
        ("name", "Adalbert", "8 characters; at most 5"),
    ]:
        with pytest.raises(EventError, match=message):
            sess.apply(state, change(field, value), CLOCK)
