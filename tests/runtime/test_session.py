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

from crmctl.model.package import Package, load_package
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest
from crmctl.runtime.form import FormModel
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
    assert {(q.provider, q.value) for q in asked} == set(RECORDED_ANSWERS)
    first = next(o for o in outcomes if o.answers)
    policy = [a for a in first.answers_json() if a["request"]["validation"] == "policyActive"]
    assert policy == [{
        "request": {"validation": "policyActive", "provider": "policyService",
                    "params": {"check": "active", "onDate": "incidentDate", "timeoutMs": 2000}, "value": "XX-12"},
        "answer": {"ok": False, "detail": "no such policy"},
    }]  # fmt: skip
    submits = effects_of(outcomes, "submit")
    assert [s["ok"] for s in submits] == [False, True]
    assert [f["code"] for f in submits[0]["report"]] == ["policyValid"]
    assert [(f["code"], f["severity"]) for f in submits[1]["report"]] == [("duplicateClaim", "warning")]
    labels = [e["label"] for e in effects_of(outcomes, "show") if "field" in e]
    assert "رقم الوثيقة" in labels
    assert {"effect": "hide", "step": "assessment"} in outcomes[0].effects
    assert all(e.get("step") != "assessment" for e in effects_of(outcomes, "step"))


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


def test_unknown_role_is_refused() -> None:
    with pytest.raises(EventError, match="unknown role 'intern'"):
        session(LEADS_V1, "en", "intern")
