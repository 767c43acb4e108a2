"""The form preview's endpoints over HTTP: sessions of the same runtime and store as `crmctl simulate`, drafts saved
after every event and resumable, the runtime's refusals as problems."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.web.server import LEAD_V1, Running, running_app


def _open(client: httpx.Client, **choices: str) -> dict[str, Any]:
    response = client.post("/_sandbox/forms", json={"package": "LeadLifecycle", **choices})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _send(client: httpx.Client, session: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(f"/_sandbox/forms/{session}/events", json=event)
    assert response.status_code == 200, response.text
    return list(response.json()["effects"])


def _effects(effects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in effects if e["effect"] == kind]


def test_a_session_opens_with_the_engines_effects_and_the_packages_switches(lead_server: Running) -> None:
    with lead_server.client() as client:
        opened = _open(client, locale="de")
    assert opened["entity"] == "Lead" and opened["role"] == "salesRep" and opened["locale"] == "de"
    assert opened["roles"] == ["salesRep", "salesManager", "marketing"] and opened["locales"] == ["en", "de"]
    assert opened["fields"]["companySize"] == {"type": "number", "integer": True}
    assert opened["effects"][0] == {"effect": "locale", "locale": "de", "direction": "ltr"}
    followup = next(e for e in _effects(opened["effects"], "set") if e["field"] == "nextFollowUp")
    assert followup["display"] == "05.11.2026"  # the locale's format, from the engine


def test_every_event_is_saved_and_a_resume_presents_the_same_view(lead_server: Running) -> None:
    with lead_server.client() as client:
        sid = _open(client)["session"]
        typed = _send(client, sid, {"type": "change", "field": "lastName", "value": "Lovelace"})
        assert typed[0] == {"effect": "input", "field": "lastName", "value": "Lovelace", "display": "Lovelace"}
        _send(client, sid, {"type": "change", "field": "email", "value": "ada@example.org"})
        assert _effects(_send(client, sid, {"type": "next"}), "step")[0]["step"] == "company"
        drafts = client.get("/_sandbox/drafts", params={"package": "LeadLifecycle"}).json()["drafts"]
        assert [(d["draftId"], d["lastStep"]) for d in drafts] == [(sid, "company")]
        assert client.get("/_sandbox/drafts", params={"package": "Other"}).json()["drafts"] == []
        resumed = client.get(f"/_sandbox/forms/{sid}").json()
    present = {(e["effect"], e.get("field")): e for e in resumed["effects"]}
    assert present[("step", None)]["step"] == "company"
    assert present[("set", "lastName")]["value"] == "Lovelace"


def test_a_soft_warning_while_typing_and_one_report_at_submit(lead_server: Running) -> None:
    with lead_server.client() as client:
        sid = _open(client)["session"]
        _send(client, sid, {"type": "change", "field": "email", "value": "not-an-address"})
        _send(client, sid, {"type": "next"})
        _send(client, sid, {"type": "change", "field": "company", "value": "ACME"})
        warned = _send(client, sid, {"type": "change", "field": "annualRevenue", "value": 2e11})
        assert [(m["code"], m["severity"]) for m in _effects(warned, "message")] == [
            ("annualRevenuePlausible", "warning")
        ]
        _send(client, sid, {"type": "change", "field": "annualRevenue", "value": 1000.0})
        submitted = _send(client, sid, {"type": "submit"})
    report = _effects(submitted, "submit")[0]
    assert report["ok"] is False
    assert {(r["field"], r["severity"]) for r in report["report"]} >= {("email", "error"), ("firstName", "error")}


def test_a_valid_submit_stores_the_record_and_ends_the_draft(lead_server: Running) -> None:
    with lead_server.client() as client:
        sid = _open(client)["session"]
        for name, value in (("firstName", "Ada"), ("lastName", "Lovelace"), ("email", "ada@example.org")):
            _send(client, sid, {"type": "change", "field": name, "value": value})
        assert _effects(_send(client, sid, {"type": "submit"}), "submit")[0]["ok"] is True
        assert client.get(f"/_sandbox/forms/{sid}").status_code == 404
    assert lead_server.sandbox is not None
    with lead_server.store() as store:
        assert store.list_drafts("default") == []


def test_reopen_switches_role_and_locale_carrying_the_values(lead_server: Running) -> None:
    with lead_server.client() as client:
        sid = _open(client)["session"]
        _send(client, sid, {"type": "change", "field": "firstName", "value": "Ada"})
        _send(client, sid, {"type": "change", "field": "email", "value": "ada@example.org"})
        _send(client, sid, {"type": "next"})
        _send(client, sid, {"type": "change", "field": "company", "value": "ACME"})
        _send(client, sid, {"type": "change", "field": "annualRevenue", "value": 1000.0})
        switched = client.post(f"/_sandbox/forms/{sid}/reopen", json={"role": "marketing", "locale": "de"})
        assert switched.status_code == 201, switched.text
        again = switched.json()
        assert client.get(f"/_sandbox/forms/{sid}").status_code == 404  # the old draft was discarded
    assert (again["role"], again["locale"]) == ("marketing", "de") and again["session"] != sid
    values = {e["field"]: e["value"] for e in _effects(again["effects"], "set")}
    assert values["firstName"] == "Ada" and values["company"] == "ACME"
    assert "annualRevenue" not in values and "annualRevenue" not in again["fields"]  # hidden from marketing


@pytest.mark.parametrize(
    ("event", "status", "kind"),
    [
        ({"type": "change", "field": "noSuchField", "value": 1}, 422, "event-refused"),
        ({"type": "change", "field": "companySize", "value": "many"}, 422, "event-refused"),
        ({"type": "change", "field": "createdAt", "value": "2026-01-01T00:00:00Z"}, 422, "event-refused"),
        ({"type": "goto", "step": "nowhere"}, 422, "event-refused"),
        ({"type": "load"}, 422, "event-refused"),
        ({"type": "explode"}, 422, "event-refused"),
        ({"field": "firstName"}, 400, "malformed-body"),
        (["next"], 400, "malformed-body"),
    ],
)
def test_an_event_the_form_cannot_take_is_a_problem_and_changes_nothing(
    lead_server: Running, event: Any, status: int, kind: str
) -> None:
    with lead_server.client() as client:
        sid = _open(client)["session"]
        before = client.get(f"/_sandbox/forms/{sid}").json()
        response = client.post(f"/_sandbox/forms/{sid}/events", json=event)
        after = client.get(f"/_sandbox/forms/{sid}").json()
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + kind)
    assert "Traceback" not in response.text
    assert before == after


def test_an_unknown_session_is_a_404_problem_everywhere(lead_server: Running) -> None:
    with lead_server.client() as client:
        answers = [
            client.get("/_sandbox/forms/nope"),
            client.post("/_sandbox/forms/nope/events", json={"type": "next"}),
            client.post("/_sandbox/forms/nope/reopen", json={}),
            client.delete("/_sandbox/forms/nope"),
        ]
    assert [a.status_code for a in answers] == [404] * 4
    assert all(a.json()["type"].endswith("/unknown-session") for a in answers)


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"package": "Nope"}, 404, "unknown-package"),
        ({"package": "LeadLifecycle", "role": "intruder"}, 422, "event-refused"),
        ({"package": "LeadLifecycle", "locale": "xx"}, 422, "event-refused"),
        ({"package": "LeadLifecycle", "entity": "Nothing"}, 422, "event-refused"),
        ({"package": "LeadLifecycle", "role": 7}, 400, "malformed-body"),
        ("LeadLifecycle", 400, "malformed-body"),
    ],
)
def test_opening_a_session_refuses_what_the_package_does_not_have(
    lead_server: Running, body: Any, status: int, kind: str
) -> None:
    with lead_server.client() as client:
        response = client.post("/_sandbox/forms", json=body)
        assert client.get("/_sandbox/drafts").json()["drafts"] == []
    assert response.status_code == status, response.text
    assert response.json()["type"].endswith("/" + kind)


def test_discard_deletes_the_draft_and_logs_it(lead_server: Running) -> None:
    with lead_server.client() as client:
        sid = _open(client)["session"]
        gone = client.delete(f"/_sandbox/forms/{sid}")
        assert gone.status_code == 200 and gone.json()["discarded"]["draftId"] == sid
        assert client.get("/_sandbox/drafts").json()["drafts"] == []
    assert lead_server.sandbox is not None
    with lead_server.store() as store:
        logged = list(store.events("default", session=sid))
    assert [e["event"]["type"] for e in logged] == ["load", "discard"]


def test_a_reopen_on_a_package_that_no_longer_lints_keeps_the_session(tmp_path: Path) -> None:
    copy = tmp_path / "LeadLifecycle"
    shutil.copytree(LEAD_V1, copy)
    with running_app([copy], tmp_path / "sandbox.duckdb") as running, running.client() as client:
        sid = _open(client)["session"]
        _send(client, sid, {"type": "change", "field": "firstName", "value": "Ada"})
        schema = copy / "schema.yaml"
        schema.write_text(schema.read_text().replace("type: text", "type: texte", 1), encoding="utf-8")
        assert running.sandbox is not None and running.sandbox.reload() == ["LeadLifecycle"]
        refused = client.post(f"/_sandbox/forms/{sid}/reopen", json={})
        assert refused.status_code == 409 and refused.json()["type"].endswith("/package-does-not-lint")
        kept = client.get(f"/_sandbox/forms/{sid}")
    assert kept.status_code == 200  # the draft is still there, on the version it was started with
    assert {e.get("field"): e.get("value") for e in _effects(kept.json()["effects"], "set")}["firstName"] == "Ada"
