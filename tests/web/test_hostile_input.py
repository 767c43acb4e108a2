"""Hostile input that parses but that no engine or store can take: it is a 4xx problem, never a 500, and nothing
is written. (Found by the security review: each of these answered 500 `internal-error`.)"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.web.server import Running

RECORDS = "api/LeadLifecycle/records/Lead"
CLOCK = "_sandbox/packages/LeadLifecycle/workflow/clock"
LEAD = '{"firstName": "Ada", "lastName": "L", "email": "a@b.com", '


def _problem(answer: Any, status: int, kind: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/" + kind)


def _stored(running: Running) -> int:
    with running.store():
        assert running.sandbox is not None
        return len(running.sandbox.records.list("Lead"))


@pytest.mark.parametrize(
    ("member", "detail"),
    [
        ('"annualRevenue": ' + "9" * 5000, "a number has too many digits"),
        ('"annualRevenue": 1e999', "too large a number"),
        ('"annualRevenue": -1e999', "too large a number"),
        ('"annualRevenue": NaN', "NaN is not a JSON number"),
        ('"annualRevenue": Infinity', "Infinity is not a JSON number"),
        ('"company": "\\ud800"', "not valid Unicode"),
    ],
)
def test_a_body_no_engine_can_take_is_a_malformed_body(lead_server: Running, member: str, detail: str) -> None:
    with lead_server.client() as client:
        answer = client.post(RECORDS, content=LEAD + member + "}", headers={"content-type": "application/json"})
        _problem(answer, 400, "malformed-body")
        assert detail in answer.json()["detail"]
        form = client.post("_sandbox/forms", json={"package": "LeadLifecycle"}).json()["session"]
        event = '{"type": "change", "field": "lastName", "value": ' + member.split(": ", 1)[1] + "}"
        json_type = {"content-type": "application/json"}
        answer = client.post(f"_sandbox/forms/{form}/events", content=event, headers=json_type)
        _problem(answer, 400, "malformed-body")
    assert _stored(lead_server) == 0


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "last"),
    [("firstName", {"a": 1}), ("firstName", [1]), ("firstName", 5), ("-createdAt", True), ("score", "x"), (None, 1)],
)
def test_a_forged_cursor_never_reaches_the_store(lead_server: Running, sort: str | None, last: Any) -> None:
    params = {"cursor": _cursor([[], sort, last, "id-1"])} | ({"sort": sort} if sort else {})
    with lead_server.client() as client:
        client.post(RECORDS, json={"firstName": "Ada", "lastName": "L", "email": "a@b.com"})
        _problem(client.get(RECORDS, params=params), 400, "bad-request")


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": base64.urlsafe_b64encode(b"[" * 30000).decode()},
        {"limit": "9" * 5000},
        {"limit": "\u00b2"},  # a digit to str.isdigit, not to int()
    ],
)
def test_query_values_that_break_parsers_are_bad_requests(lead_server: Running, params: dict[str, str]) -> None:
    with lead_server.client() as client:
        _problem(client.get(RECORDS, params=params), 400, "bad-request")


@pytest.mark.parametrize("body", [{"by": "5200w"}, {"to": "9999-12-31T23:59:59Z"}, {"to": "9000-01-01T00:00:00Z"}])
def test_the_clock_is_not_moved_past_the_calendar(lead_server: Running, body: dict[str, str]) -> None:
    with lead_server.client() as client:
        if "by" in body:
            assert client.post(CLOCK, json={"to": "8999-06-01T00:00:00Z"}).status_code == 200
        refused = client.post(CLOCK, json=body)
        _problem(refused, 422, "invalid-workflow-input")
        assert "the clock stays before 9000" in refused.json()["detail"]
        started = client.post(
            "_sandbox/packages/LeadLifecycle/workflow/instances",
            json={"data": {"firstName": "Ada", "lastName": "L", "email": "a@b.com"}},
        )
        assert started.status_code == 201, started.text
