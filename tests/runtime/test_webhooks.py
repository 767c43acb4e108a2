"""Events to webhooks, the pure part: the CloudEvents a log entry becomes (checked against the spec's rules) and the
retry policy (hypothesis: monotone up to the cap, jitter within its bounds, dead after N)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmctl.runtime.eventlog import GENESIS, link
from crmctl.runtime.webhooks import DEFAULT_POLICY, RetryPolicy, cloud_events

PINNED = {"name": "LeadLifecycle", "version": "1.0.0", "digest": "sha256:" + "1" * 64}
AT = "2026-11-02T09:00:00Z"

# CloudEvents 1.0 (spec.md, "Context Attributes" and "Type System"; json-format.md): these rules are the spec's.
_REQUIRED = ("id", "source", "specversion", "type")
_NAME = re.compile(r"[a-z0-9]{1,20}")
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_URI_REFERENCE = re.compile(r"[^\s]+")


def conformance_problems(event: dict[str, Any]) -> list[str]:
    """What makes `event` no CloudEvent 1.0 in structured JSON mode (empty: none)."""
    problems = [f"{name} is required, a non-empty string" for name in _REQUIRED if not event.get(name)]
    problems += [f"{name} is no attribute name" for name in event if name != "data" and not _NAME.fullmatch(name)]
    if event.get("specversion") != "1.0":
        problems.append("specversion must be 1.0")
    for name, value in event.items():
        if name != "data" and (not isinstance(value, str | int | bool) or isinstance(value, float)):
            problems.append(f"{name}: {type(value).__name__} is no CloudEvents type")
        if name != "data" and isinstance(value, int) and not -(2**31) <= value < 2**31:
            problems.append(f"{name}: an Integer is 32 bits")
    if not _URI_REFERENCE.fullmatch(str(event.get("source", ""))):
        problems.append("source must be a URI-reference")
    if "time" in event and not _RFC3339.fullmatch(str(event["time"])):
        problems.append("time must be an RFC 3339 timestamp")
    if "subject" in event and not event["subject"]:
        problems.append("subject, when present, is non-empty")
    if event.get("datacontenttype") not in (None, "application/json"):
        problems.append("data is JSON here")
    return problems


def entry(body: dict[str, Any], seq: int = 1, tenant: str = "acme") -> dict[str, Any]:
    return link({"tenant": tenant, "at": AT, "package": PINNED, **body}, seq, GENESIS)


WORKFLOW = {
    "session": "workflow:w1",
    "kind": "workflow",
    "effects": [
        {"effect": "transition", "at": AT},
        {"effect": "event", "event": "LeadQualified", "payload": {"score": 80}, "at": AT},
        {"effect": "event", "event": "LeadAssigned", "at": AT},
    ],
}
RECORD = {
    "session": "record:Lead:L1",
    "kind": "record",
    "op": "update",
    "entity": "Lead",
    "effects": [{"effect": "record", "id": "L1", "data": {"firstName": "Ada"}, "warnings": []}],
}
FORM = {
    "session": "s-1",
    "kind": "form",
    "entity": "Lead",
    "effects": [{"effect": "submit", "ok": True, "report": [], "record": {"firstName": "Ada"}}],
}


def test_a_workflow_entry_gives_one_event_per_event_effect_in_order() -> None:
    logged = entry(WORKFLOW, seq=7)
    first, second = cloud_events(logged)
    digest = logged["hash"].removeprefix("sha256:")
    assert first == {
        "specversion": "1.0",
        "id": f"{digest}.0",
        "source": "/crmctl/tenants/acme/packages/LeadLifecycle",
        "type": "crmctl.event.LeadQualified",
        "subject": "workflow:w1",
        "time": AT,
        "datacontenttype": "application/json",
        "crmtenant": "acme",
        "crmpackage": "LeadLifecycle",
        "crmversion": "1.0.0",
        "crmseq": 7,
        "data": {"score": 80},
    }
    assert second["id"] == f"{digest}.1" and second["data"] == {} and second["type"] == "crmctl.event.LeadAssigned"


def test_records_written_and_forms_submitted_are_events() -> None:
    [updated] = cloud_events(entry(RECORD))
    assert (updated["type"], updated["subject"]) == ("crmctl.record.updated", "Lead/L1")
    assert updated["data"] == {"entity": "Lead", "id": "L1", "record": {"firstName": "Ada"}}
    [created] = cloud_events(entry({**RECORD, "op": "create"}))
    assert created["type"] == "crmctl.record.created"
    [submitted] = cloud_events(entry(FORM))
    assert (submitted["type"], submitted["subject"]) == ("crmctl.record.created", "Lead/s-1")
    assert submitted["data"]["record"] == {"firstName": "Ada"}


def test_entries_without_deliverable_events_give_none() -> None:
    refused = {**FORM, "effects": [{"effect": "submit", "ok": False, "report": [{"code": "x"}]}]}
    draft = {"session": "s-1", "kind": "draft", "event": {"type": "discard"}, "effects": []}
    assert cloud_events(entry(refused)) == cloud_events(entry(draft)) == []
    assert cloud_events(entry({"session": "s", "kind": "form", "effects": ["not an effect"]})) == []


def test_ids_are_stable_and_unique_across_entries_and_tenants() -> None:
    same = [cloud_events(entry(WORKFLOW, seq=3)) for _ in range(2)]
    assert same[0] == same[1]
    ids = {e["id"] for seq in (1, 2) for tenant in ("a", "b") for e in cloud_events(entry(WORKFLOW, seq, tenant))}
    assert len(ids) == 8


@pytest.mark.parametrize("body", [WORKFLOW, RECORD, FORM], ids=["workflow", "record", "form"])
def test_every_event_conforms_to_cloudevents_1_0(body: dict[str, Any]) -> None:
    for event in cloud_events(entry(body)):
        assert conformance_problems(event) == []


def test_the_conformance_check_catches_what_the_spec_forbids() -> None:
    [event] = cloud_events(entry(RECORD))
    bad = {**event, "specversion": "0.3", "id": "", "Bad-Name": 1, "time": "yesterday", "crmseq": 2**40, "x": 1.5}
    assert len(conformance_problems(bad)) == 6


# -- the retry policy -------------------------------------------------------------------------------------------

policies = st.builds(
    RetryPolicy,
    base=st.integers(1, 10_000).map(lambda ms: timedelta(milliseconds=ms)),
    factor=st.floats(1, 10),
    cap=st.integers(10_000, 10_000_000).map(lambda ms: timedelta(milliseconds=ms)),
    spread=st.floats(0, 0.99),
    max_attempts=st.integers(1, 50),
)


@given(policies, st.integers(1, 10_000))
def test_backoff_grows_monotonically_up_to_the_cap(policy: RetryPolicy, attempts: int) -> None:
    assert policy.base <= policy.backoff(attempts) <= policy.cap
    assert policy.backoff(attempts) <= policy.backoff(attempts + 1)
    assert policy.backoff(1) == policy.base


@given(policies, st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_jitter_takes_at_most_spread_off(policy: RetryPolicy, attempts: int, jitter: float) -> None:
    raw = policy.backoff(attempts)
    delay = policy.delay(attempts, jitter)
    assert raw * (1 - policy.spread) - timedelta(microseconds=1) <= delay <= raw
    assert policy.delay(attempts, 0.0) == raw


@given(policies, st.floats(0, 1, exclude_max=True))
def test_a_delivery_dies_after_max_attempts(policy: RetryPolicy, jitter: float) -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    for attempts in range(1, policy.max_attempts):
        again = policy.after_failure(attempts, now, jitter)
        assert again is not None and again > now
    assert policy.after_failure(policy.max_attempts, now, jitter) is None


def test_the_default_policy_and_refused_ones() -> None:
    assert [DEFAULT_POLICY.backoff(n).total_seconds() for n in (1, 2, 3, 9, 10)] == [1, 2, 4, 256, 300]
    assert DEFAULT_POLICY.max_attempts == 8
    for wrong in (
        {"base": timedelta(0)},
        {"cap": timedelta(milliseconds=1)},
        {"factor": 0.5},
        {"spread": 1.0},
        {"max_attempts": 0},
    ):
        with pytest.raises(ValueError, match="retry policy"):
            RetryPolicy(**wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="jitter"):
        DEFAULT_POLICY.delay(1, 1.0)
