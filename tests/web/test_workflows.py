"""The workflow view's endpoints on LeadLifecycle v1: instances, timelines, tasks and approvals, the virtual clock;
every refusal a problem carrying the engine's message; what the browser did verifies and replays from the log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from crmctl.cli.main import app as cli
from tests.web.server import LEAD_V1, START, Running, running_app

BASE = "/_sandbox/packages/LeadLifecycle/workflow"
ADA = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@analytical-engines.example",
    "company": "Analytical Engines Ltd",
    "companySize": 320,
    "annualRevenue": 2500000,
    "source": "referral",
    "owner": "alice",
}


def kinds(answer: dict[str, Any]) -> list[str]:
    return [e["effect"] for e in answer["effects"]]


def start(client: httpx.Client, instance: str = "lead-ada", **body: Any) -> dict[str, Any]:
    response = client.post(f"{BASE}/instances", json={"instance": instance, "data": ADA, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def fire(client: httpx.Client, transition: str, actor: str, instance: str = "lead-ada") -> httpx.Response:
    return client.post(f"{BASE}/instances/{instance}/fire", json={"transition": transition, "as": actor})


def refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


def test_the_overview_describes_the_workflow_and_the_clock_starts_at_the_sandbox_clock(lead_server: Running) -> None:
    with lead_server.client() as client:
        first = client.get(BASE).json()
        second = client.get(BASE).json()
    assert first["workflow"] == "leadLifecycle" and first["workflows"] == ["leadLifecycle"]
    assert first["entity"] == "Lead" and first["instances"] == [] and first["records"] == []
    assert {t["id"]: t["approval"] for t in first["transitions"]} == {
        "contact": False,
        "qualify": True,
        "disqualify": False,
    }
    assert first["clock"].startswith(START.date().isoformat())
    assert second["clock"] == first["clock"]  # it moves only when advanced


def test_an_approval_from_start_to_decision(lead_server: Running) -> None:
    with lead_server.client() as client:
        started = start(client)
        assert kinds(started)[:2] == ["started", "entered"] and started["instance"]["state"] == "new"
        assert client.get(BASE).json()["instances"][0]["id"] == "lead-ada"
        contacted = client.post(
            f"{BASE}/instances/lead-ada/fire", json={"transition": "contact", "as": "alice/salesRep"}
        )
        assert contacted.status_code == 200 and contacted.json()["instance"]["state"] == "contacted"
        asked = fire(client, "qualify", "alice/salesRep")
        assert "approval-requested" in kinds(asked.json())
        waiting = asked.json()["instance"]["waiting"]
        assert waiting == [
            {
                "kind": "approval",
                "id": "approve:qualify",
                "transition": "qualify",
                "assignee": {"role": "salesManager"},
                "decisions": ["approve", "reject"],
            }
        ]
        claimed = client.post(f"{BASE}/instances/lead-ada/claim", json={"as": "bob/salesManager"})
        assert kinds(claimed.json()) == ["claimed"]
        assert claimed.json()["instance"]["waiting"][0]["assignee"] == {"user": "bob"}
        decided = client.post(
            f"{BASE}/instances/lead-ada/decide", json={"decision": "approve", "as": "bob/salesManager", "comment": "Go"}
        )
        assert "approval-granted" in kinds(decided.json())
        assert decided.json()["instance"]["status"] == "completed"
        assert decided.json()["instance"]["state"] == "qualified"
        timeline = client.get(f"{BASE}/instances/lead-ada").json()["timeline"]
    assert [e["effect"] for e in timeline][:2] == ["started", "entered"]
    assert any(e["effect"] == "decided" and "“Go”" in e["text"] for e in timeline)
    assert timeline[-1]["effect"] == "completed" and timeline[-1]["text"] == "completed in qualified"


def test_advancing_the_clock_brings_the_sla_due(lead_server: Running) -> None:
    with lead_server.client() as client:
        start(client)
        before = client.get(BASE).json()["clock"]
        moved = client.post(f"{BASE}/clock", json={"by": "7d"}).json()
        assert {"sla-warning", "sla-breach", "reassigned"} <= set(kinds(moved))
        assert moved["clock"] > before
        assert client.get(BASE).json()["clock"] == moved["clock"]
        timeline = client.get(f"{BASE}/instances/lead-ada").json()["timeline"]
        assert any(e["text"] == "SLA firstContact breached" for e in timeline)
        later = client.post(f"{BASE}/clock", json={"to": "2030-01-01T00:00:00Z"}).json()
    assert later["clock"] == "2030-01-01T00:00:00Z" and later["effects"] == []


def test_the_clock_moves_without_instances_and_a_new_instance_starts_there(lead_server: Running) -> None:
    with lead_server.client() as client:
        moved = client.post(f"{BASE}/clock", json={"to": "2027-03-01T09:00:00+01:00"}).json()
        assert moved["clock"] == "2027-03-01T08:00:00Z"
        started = start(client)
    assert started["clock"] == "2027-03-01T08:00:00Z" and started["effects"][0]["at"] == "2027-03-01T08:00:00Z"


def test_an_instance_starts_from_a_stored_record(tmp_path: Path) -> None:
    with running_app([LEAD_V1], tmp_path / "sandbox.duckdb") as running:
        sandbox = running.sandbox
        assert sandbox is not None
        with sandbox.lock:
            outcome = sandbox.records.create(sandbox.package("LeadLifecycle"), "Lead", "ada", ADA, START)
        assert outcome.ok
        with running.client() as client:
            assert client.get(BASE).json()["records"] == [{"id": "ada", "version": "1.0.0"}]
            response = client.post(f"{BASE}/instances", json={"record": "ada"})
            assert response.status_code == 201
            created = response.json()["instance"]["id"]
            assert response.headers["location"] == f"{BASE}/instances/{created}"
            data = client.get(f"{BASE}/instances/{created}").json()["data"]
    assert data["email"] == ADA["email"]


def test_a_refusal_that_is_an_outcome_is_an_effect(lead_server: Running) -> None:
    with lead_server.client() as client:
        start(client)
        answer = fire(client, "contact", "mo/marketing")
    assert answer.status_code == 200
    assert answer.json()["effects"][0]["effect"] == "refused"
    assert "may not take it" in answer.json()["effects"][0]["text"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/instances", {"instance": "lead-ada", "data": ADA}, 409, "exists already"),
        ("/instances", {"instance": "x", "record": "nobody"}, 422, "no Lead record 'nobody'"),
        ("/instances", {"instance": "x", "record": "a", "data": {"email": "a@b.example"}}, 422, "not both"),
        ("/instances", {"instance": "x", "data": []}, 422, "data: an object"),
        ("/instances", {"instance": "x", "data": {"companySize": "many"}}, 422, "companySize"),
        ("/instances/lead-ada/fire", {"transition": "fly", "as": "alice/salesRep"}, 409, "no transition 'fly'"),
        ("/instances/lead-ada/fire", {"transition": "contact"}, 422, "as: a non-empty string"),
        ("/instances/lead-ada/fire", {"transition": "contact", "as": "alice"}, 422, "is not user/role"),
        ("/instances/lead-ada/claim", {"as": "bob/salesManager"}, 409, "nothing open is assigned"),
        ("/instances/lead-ada/decide", {"decision": "approve", "as": "bob/salesManager"}, 409, "no open approval"),
        ("/instances/nobody/fire", {"transition": "contact", "as": "alice/salesRep"}, 404, "no instance 'nobody'"),
        ("/clock", {"by": "soon"}, 422, "advance takes a duration"),
        ("/clock", {"to": "tomorrow"}, 422, "not an ISO 8601 time"),
        ("/clock", {"by": "1d", "to": "2030-01-01T00:00:00Z"}, 422, "say how far"),
        ("/clock", {"to": "2020-01-01T00:00:00Z"}, 409, "time cannot move backwards"),
        ("/clock", [], 422, "send a JSON object"),
    ],
)
def test_refusals_are_problems_with_the_engines_message(
    lead_server: Running, path: str, body: Any, status: int, words: str
) -> None:
    with lead_server.client() as client:
        start(client)
        before = client.get(BASE).json()
        refused(client.post(BASE + path, json=body), status, words)
        assert client.get(BASE).json() == before  # nothing changed


def test_input_to_a_completed_instance_is_a_conflict(lead_server: Running) -> None:
    with lead_server.client() as client:
        start(client)
        fire(client, "disqualify", "alice/salesRep")
        again = fire(client, "contact", "alice/salesRep")
    refused(again, 409, "completed")


def test_unknown_packages_workflows_and_bodies(lead_server: Running) -> None:
    with lead_server.client() as client:
        assert client.get("/_sandbox/packages/Nope/workflow").status_code == 404
        refused(client.get(BASE, params={"workflow": "other"}), 404, "no workflow 'other'; it has leadLifecycle")
        refused(client.get(f"{BASE}/instances/ghost"), 404, "no instance 'ghost'")
        not_json = client.post(f"{BASE}/clock", content=b"{", headers={"content-type": "application/json"})
        assert not_json.status_code == 400
        assert client.post(f"{BASE}/clock", content=b"by=1d").status_code == 415


def test_what_the_browser_did_verifies_and_replays(tmp_path: Path) -> None:
    store = tmp_path / "sandbox.duckdb"
    with running_app([LEAD_V1], store) as running, running.client() as client:
        start(client)
        client.post(f"{BASE}/clock", json={"by": "3d"})
        fire(client, "contact", "bob/salesManager")
        fire(client, "qualify", "alice/salesRep")
        client.post(f"{BASE}/instances/lead-ada/decide", json={"decision": "reject", "as": "bob/salesManager"})
        start(client, "lead-two")
        client.post(f"{BASE}/clock", json={"by": "1d"})
    runner = CliRunner()
    verified = runner.invoke(cli, ["log", "verify", "--store", str(store), "-f", "json"])
    assert verified.exit_code == 0, verified.output
    replayed = runner.invoke(cli, ["replay", "--store", str(store), "-f", "json"])
    assert replayed.exit_code == 0, replayed.output
    result = json.loads(replayed.stdout)["result"]
    assert result["ok"] and result["sessions"] == 2 and result["matchedSessions"] == 2
    assert result["events"] >= 7 and result["differingEvents"] == 0


def test_a_task_is_claimed_and_decided(tmp_path: Path) -> None:
    package = tmp_path / "LeadLifecycle"
    shutil.copytree(LEAD_V1, package)
    workflow = package / "workflow.yaml"
    text = workflow.read_text(encoding="utf-8")
    task = "        task: {id: callBack, assign: {role: salesRep}, outcomes: {drop: disqualify}}\n"
    workflow.write_text(text.replace("      contacted:\n", "      contacted:\n" + task, 1), encoding="utf-8")
    with running_app([package], tmp_path / "sandbox.duckdb") as running, running.client() as client:
        started = start(client, **{"as": "alice/salesRep"})
        assert started["effects"][0]["by"] == {"user": "alice", "role": "salesRep"}
        opened = fire(client, "contact", "alice/salesRep").json()["instance"]["waiting"]
        assert opened == [{"kind": "task", "id": "callBack", "assignee": {"role": "salesRep"}, "decisions": ["drop"]}]
        claimed = client.post(f"{BASE}/instances/lead-ada/claim", json={"as": "alice/salesRep"}).json()
        assert claimed["instance"]["waiting"][0]["assignee"] == {"user": "alice"}
        not_hers = client.post(f"{BASE}/instances/lead-ada/decide", json={"decision": "drop", "as": "bob/salesRep"})
        refused(not_hers, 409, "not an assignee of task callBack")
        dropped = client.post(f"{BASE}/instances/lead-ada/decide", json={"decision": "drop", "as": "alice/salesRep"})
    assert dropped.json()["instance"]["state"] == "disqualified"
