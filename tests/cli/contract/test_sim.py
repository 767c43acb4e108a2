"""The JSON contract of the simulation commands: simulate, replay, workflow simulate, migrate and coverage.

Every case runs the real command with `--format json`; the suite's contract check (CRMCTL_CONTRACT_CHECK=1)
validates each envelope against its schema, and the assertions here read the answer itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import click_app, run
from tests.cli.contract.schema_rules import KEBAB
from tests.conftest import REPO

COVERED = {"simulate", "replay", "replay merge", "workflow simulate", "workflow migrate", "workflow coverage"}

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
DEMO = REPO / "scripts" / "demo"
SCENARIOS = REPO / "packages" / "LeadLifecycle" / "scenarios"
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MOMENT_KEYS = {"at", "due"}  # keys whose values are instants, wherever they appear in these results
ONE_WEEK = """\
now: 2026-11-23T08:00:00Z
records:
  ada: {firstName: Ada, lastName: Lovelace, email: ada@example.com, company: ACME, companySize: 320,
        annualRevenue: 2500000, source: referral, owner: alice}
events:
  - start: {instance: lead-1, record: ada}
  - start: {instance: lead-2, record: ada}
  - fire: {instance: lead-1, transition: contact, as: bob/salesManager}
"""


def _envelope(capsys: pytest.CaptureFixture[str], argv: list[str], exit_code: int) -> dict[str, Any]:
    assert run([*argv, "--format", "json"]) == exit_code
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert document["exitCode"] == exit_code
    assert document["status"] == {0: "ok", 1: "failed", 2: "error"}[exit_code]
    assert document["command"] in COVERED
    return document


def _instants(node: Any) -> list[str]:
    """Every value under an `at`/`due` key, at any depth."""
    if isinstance(node, list):
        return [v for item in node for v in _instants(item)]
    if not isinstance(node, dict):
        return []
    found = [v for k, v in node.items() if k in MOMENT_KEYS and isinstance(v, str)]
    return found + [v for value in node.values() for v in _instants(value)]


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "rt.duckdb")


# --- simulate ------------------------------------------------------------------------------------------------------


def test_simulate_a_draft_left_half_way(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", V1, "--script", str(DEMO / "lead-monday.yaml"), "--store", store, "--session", "s1"]
    result = _envelope(capsys, argv, 0)["result"]
    assert (result["sessionId"], result["status"], result["draftId"], result["record"]) == ("s1", "draft", "s1", None)
    assert (result["entity"], result["role"], result["locale"], result["package"]["version"]) == (
        "Lead",
        "salesRep",
        "en",
        "1.0.0",
    )
    assert result["step"] == "company" and result["data"]["firstName"] == "Ada"
    assert result["validation"] is None  # the script never submits
    assert [e["event"]["type"] for e in result["events"]][:2] == ["load", "change"]
    blocked = [f for e in result["events"] for f in e["effects"] if f["effect"] == "blocked"]
    assert blocked and blocked[0]["action"] == "next"
    assert all(INSTANT.match(at) for at in _instants(result))


def test_simulate_to_a_record_and_a_refused_submit(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monday = (DEMO / "lead-monday.yaml").read_text(encoding="utf-8").replace("  - quit: {}\n", "")
    tuesday = (DEMO / "lead-tuesday.yaml").read_text(encoding="utf-8").split("events:\n", 1)[1]
    refused, submitted = tmp_path / "refused.yaml", tmp_path / "submitted.yaml"
    refused.write_text(monday + tuesday.split("  - goto")[0], encoding="utf-8")
    submitted.write_text(monday + tuesday, encoding="utf-8")
    result = _envelope(capsys, ["simulate", V1, "--script", str(refused), "--store", store, "--session", "r"], 0)[
        "result"
    ]
    assert (result["status"], result["draftId"], result["record"]) == ("draft", "r", None)
    [finding] = result["validation"]
    assert (finding["field"], finding["code"], finding["severity"]) == ("email", "emailFormat", "error")
    result = _envelope(capsys, ["simulate", V1, "--script", str(submitted), "--store", store, "--session", "ok"], 0)[
        "result"
    ]
    assert (result["status"], result["draftId"], result["record"]) == (
        "submitted",
        None,
        {"entity": "Lead", "id": "ok"},
    )
    assert result["validation"] == [] and result["data"]["email"] == "ada@analytical-engines.example"
    assert run(["records", "get", "ok", "--entity", "Lead", "--store", store]) == 0  # the record it names exists


def test_simulate_errors(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # interactive mode is for people: with --format json a script is required (not a prompt on a JSON stream)
    document = _envelope(capsys, ["simulate", V1, "--store", store], 2)
    assert document["result"] is None
    [problem] = document["problems"]
    assert problem["code"] == "usage-error" and "--script" in problem["message"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("events:\n  - change: {field: nope}\n", encoding="utf-8")
    [problem] = _envelope(capsys, ["simulate", V1, "--script", str(bad), "--store", store], 2)["problems"]
    assert problem["code"] == "input-error" and problem["file"] and problem["line"] == 2


# --- replay --------------------------------------------------------------------------------------------------------


@pytest.fixture
def traffic(store: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A form session submitted over two days and five imported records: six sessions in the log."""
    assert run(["simulate", V1, "--script", str(DEMO / "lead-monday.yaml"), "--store", store, "--session", "ada"]) == 0
    assert run(["draft", "resume", "ada", "--script", str(DEMO / "lead-tuesday.yaml"), "--store", store]) == 0
    csv = str(DEMO / "leads.csv")
    assert (
        run(["records", "import", V1, csv, "--entity", "Lead", "--store", store, "--now", "2026-11-24T11:00:00Z"]) == 0
    )
    capsys.readouterr()
    return store


def test_replay_that_reproduces_lists_no_session(traffic: str, capsys: pytest.CaptureFixture[str]) -> None:
    # before: one all-zero row per session (1,004 of them on a real log); now the counts and only what differs
    result = _envelope(capsys, ["replay", "--store", traffic], 0)["result"]
    assert (result["ok"], result["sessions"], result["matchedSessions"], result["differingSessions"]) == (
        True,
        6,
        6,
        0,
    )
    assert (result["differing"], result["divergences"], result["divergencesOmitted"]) == ([], [], 0)
    assert result["events"] > 6 and result["differingEvents"] == 0 and result["chain"] is None


def test_replay_against_another_version_fails_and_is_bounded(traffic: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = _envelope(capsys, ["replay", "--store", traffic, "--against", V2, "--limit", "2"], 1)["result"]
    assert result["ok"] is False and result["against"] == "LeadLifecycle@1.1.0"
    assert result["differingSessions"] == len(result["differing"]) > 0
    assert result["matchedSessions"] + result["differingSessions"] == result["sessions"] == 6
    assert all(row["events"] > 0 for row in result["differing"])  # only sessions that differ
    assert sum(row["events"] for row in result["differing"]) == result["differingEvents"]
    assert len(result["divergences"]) == 2
    assert result["divergencesOmitted"] == result["differingEvents"] - 2
    assert result["classes"]["behavioral"] > 0 and result["failOn"] == ["behavioral"]
    first = result["divergences"][0]
    assert first["class"] in ("behavioral", "presentation") and "error" in first


def test_replay_errors(traffic: str, capsys: pytest.CaptureFixture[str]) -> None:
    [problem] = _envelope(capsys, ["replay", "--store", traffic, "--session", "nobody"], 2)["problems"]
    assert problem["code"] == "input-error" and "nobody" in problem["message"]
    [problem] = _envelope(capsys, ["replay", "--store", traffic, "--fail-on", "cosmetic"], 2)["problems"]
    assert problem["code"] == "usage-error" and "cosmetic" in problem["message"]


# --- workflow simulate, migrate, coverage --------------------------------------------------------------------------


def test_workflow_simulate_outcomes_are_kebab_case(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["workflow", "simulate", V2, "--script", str(SCENARIOS / "approval.yaml"), "--store", store]
    result = _envelope(capsys, argv, 0)["result"]
    summary = result["summary"]
    # before: "met late" and "met in time" next to "sla-breach"
    assert summary["outcomes"] == {"approval-granted": 1, "met-late": 1, "sla-breach": 1, "sla-warning": 1}
    assert all(KEBAB.match(e["effect"]) for e in result["timeline"])
    assert all(INSTANT.match(at) for at in _instants(result))
    assert (summary["instances"], summary["completed"], result["package"]["version"]) == (1, 1, "1.1.0")
    [problem] = _envelope(capsys, ["workflow", "simulate", V2, "--store", store], 2)["problems"]
    assert problem["code"] == "usage-error" and "--script" in problem["message"]


def test_workflow_outcomes_met_in_time(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.yaml"
    script.write_text(ONE_WEEK, encoding="utf-8")
    summary = _envelope(capsys, ["workflow", "simulate", V1, "--script", str(script), "--store", store], 0)["result"][
        "summary"
    ]
    assert summary["outcomes"] == {"met-in-time": 1}
    assert run(["workflow", "simulate", V1, "--script", str(script), "--store", store]) == 2  # instances exist
    capsys.readouterr()


def test_workflow_migrate(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.yaml"
    script.write_text(ONE_WEEK, encoding="utf-8")
    assert run(["workflow", "simulate", V2, "--script", str(script), "--store", store]) == 0
    capsys.readouterr()
    # 1.0.0 has no qualification task; lead-1's has started: refused, nothing moves (exit 1)
    argv = ["workflow", "migrate", V1, "--all", "--store", store, "--now", "2026-11-24T09:00:00Z"]
    result = _envelope(capsys, argv, 1)["result"]
    assert result["migrated"] == [] and result["to"]["version"] == "1.0.0"
    assert [r["instance"] for r in result["refused"]] == ["lead-1"]
    assert "qualificationDecision" in result["refused"][0]["reason"]
    argv = ["workflow", "migrate", V1, "--instance", "lead-2", "--store", store, "--now", "2026-11-24T09:00:00Z"]
    result = _envelope(capsys, argv, 0)["result"]
    assert result["migrated"] == [{"instance": "lead-2", "from": "1.1.0", "to": "1.0.0", "state": "new"}]
    assert result["refused"] == []
    [problem] = _envelope(capsys, ["workflow", "migrate", V1, "--store", store], 2)["problems"]
    assert problem["code"] == "usage-error"


def test_workflow_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["workflow", "coverage", V2, "--scenarios", str(SCENARIOS)]
    result = _envelope(capsys, argv, 0)["result"]
    assert (result["covered"], result["total"], result["failUnder"], result["skeletons"]) == (12, 20, None, [])
    assert result["percent"] == 60.0 and "timer.staleLead" in result["uncovered"]
    assert sum(k["total"] for k in result["byKind"].values()) == result["total"] == len(result["items"])
    out = tmp_path / "skeletons"
    result = _envelope(capsys, [*argv, "--fail-under", "90", "--skeletons", str(out)], 1)["result"]
    assert result["failUnder"] == 90.0
    assert {s["item"] for s in result["skeletons"]} == set(result["uncovered"])
    assert all(Path(s["file"]).is_file() for s in result["skeletons"])
    [problem] = _envelope(capsys, ["workflow", "coverage", V2, "--scenarios", str(tmp_path / "none")], 2)["problems"]
    assert problem["code"] == "input-error"


# --- help ----------------------------------------------------------------------------------------------------------

SHARED = {"store", "output_format"}  # --store belongs to store resolution; --format shows its choices


@pytest.mark.parametrize("command", sorted(COVERED))
def test_every_option_and_argument_has_a_metavar(command: str) -> None:
    node: Any = click_app()
    for name in command.split():
        node = node.commands[name]
    for param in node.params:
        if param.name in SHARED or getattr(param, "is_flag", False) or param.name == "help":
            continue
        assert param.metavar and param.metavar == param.metavar.upper(), (command, param.name, param.metavar)


# --- every path of every workflow: the naming convention holds wherever a scenario leads ---------------------------

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
DATA_KEYS = {"payload", "data", "record", "params"}  # their keys are the package's field names, kept verbatim


def _keys(node: Any) -> list[str]:
    if isinstance(node, list):
        return [k for item in node for k in _keys(item)]
    if not isinstance(node, dict):
        return []
    return [*node, *(k for key, value in node.items() if key not in DATA_KEYS for k in _keys(value))]


@pytest.mark.parametrize("package", ["LeadLifecycle/v1", "LeadLifecycle/v2"])  # ClaimsIntake's need a policy
def test_every_path_of_a_workflow_follows_the_convention(
    package: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The coverage skeletons reach every state, transition, guard outcome, SLA path, timer, task and approval;
    each played alone: effect kinds and outcomes kebab-case, keys camelCase, instants RFC 3339 UTC."""
    path = str(REPO / "packages" / package)
    empty = tmp_path / "empty.yaml"
    empty.write_text("now: 2026-11-23T08:00:00Z\nevents: []\n", encoding="utf-8")
    skeletons = tmp_path / "skeletons"
    _envelope(capsys, ["workflow", "coverage", path, "--scenarios", str(empty), "--skeletons", str(skeletons)], 0)
    played = 0
    outcomes: set[str] = set()
    for index, scenario in enumerate(sorted(skeletons.glob("*.yaml"))):
        argv = ["workflow", "simulate", path, "--script", str(scenario), "--store", str(tmp_path / f"{index}.db")]
        code = run([*argv, "--format", "json"])
        document = json.loads(capsys.readouterr().out)
        if code != 0:  # a skeleton that needs a value filled in before it plays: an error envelope, nothing else
            assert (code, document["result"]) == (2, None)
            continue
        played += 1
        result = document["result"]
        assert all(KEBAB.match(effect["effect"]) for effect in result["timeline"])
        assert [k for k in _keys(result["timeline"]) if not CAMEL.match(k)] == []
        assert all(INSTANT.match(at) for at in _instants(result)), scenario.read_text()
        outcomes |= set(result["summary"]["outcomes"])
    assert played >= 5, played
    assert (
        all(KEBAB.match(outcome) for outcome in outcomes) and {"sla-breach", "met-in-time", "met-late"} <= outcomes
    ), outcomes
