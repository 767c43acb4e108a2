"""Workflow coverage: scenarios played in memory, items covered, shortest skeletons for what is not."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from crmctl.cli.commands.workflow import load_scenario
from crmctl.cli.main import run
from crmctl.model.package import load_package
from crmctl.runtime.coverage import SKELETON_NOW, coverage, items_of, play, skeletons
from crmctl.runtime.scenario import PlayError
from crmctl.runtime.workflow import WorkflowEngine, WorkflowModel
from tests.conftest import REPO

LEAD = REPO / "packages" / "LeadLifecycle" / "v2"
SCENARIOS = REPO / "packages" / "LeadLifecycle" / "scenarios"


@pytest.fixture(scope="module")
def engine() -> WorkflowEngine:
    return WorkflowEngine(WorkflowModel.build(load_package(LEAD)))


def played(engine: WorkflowEngine, path: Path) -> list[dict[str, object]]:
    scenario = load_scenario(path)
    return play(engine, [s for _, s in scenario.steps], scenario.now or SKELETON_NOW)


def test_items_of_the_lead_workflow(engine: WorkflowEngine) -> None:
    ids = [i.id for i in items_of(engine.model)]
    assert ids[:7] == [
        "state.new",
        "state.contacted",
        "state.qualified",
        "state.disqualified",
        "transition.contact",
        "transition.qualify",
        "transition.disqualify",
    ]
    assert {
        "guard.qualify.holds",
        "guard.qualify.fails",
        "guard.qualify.qualifyNeedsScore.fails",
        "sla.firstContact.met",
        "sla.firstContact.warning",
        "sla.firstContact.breach",
        "sla.firstContact.met-late",
        "timer.staleLead",
        "task.qualificationDecision.qualify",
        "task.qualificationDecision.disqualify",
        "approval.qualify.granted",
        "approval.qualify.rejected",
    } <= set(ids)
    assert len(ids) == len(set(ids)) == 20


def test_the_approval_scenario_covers_the_happy_path(engine: WorkflowEngine) -> None:
    report = coverage(engine.model, {"approval": played(engine, SCENARIOS / "approval.yaml")})
    hit = {i.id for i in report.items} - {i.id for i in report.uncovered}
    assert {
        "state.new",
        "state.contacted",
        "state.qualified",
        "transition.contact",
        "transition.qualify",
        "guard.qualify.holds",
        "guard.qualify.qualifyNeedsScore.holds",
        "sla.firstContact.warning",
        "sla.firstContact.breach",
        "sla.firstContact.met-late",
        "task.qualificationDecision.qualify",
        "approval.qualify.granted",
    } == hit
    assert [i.id for i in report.uncovered] == [
        "state.disqualified",
        "transition.disqualify",
        "guard.qualify.fails",
        "guard.qualify.qualifyNeedsScore.fails",
        "sla.firstContact.met",
        "timer.staleLead",
        "task.qualificationDecision.disqualify",
        "approval.qualify.rejected",
    ]
    assert (report.covered, len(report.items), report.percent) == (12, 20, 60.0)
    assert report.by_kind()["state"] == {"covered": 3, "total": 4}


def test_play_stops_at_a_refused_step(engine: WorkflowEngine) -> None:
    steps = [{"type": "fire", "instance": "nobody", "transition": "contact"}]
    with pytest.raises(PlayError, match="start it first") as caught:
        play(engine, steps, SKELETON_NOW)
    assert caught.value.index == 0


def test_the_disqualify_skeleton_is_the_shortest(engine: WorkflowEngine, tmp_path: Path) -> None:
    items = {i.id: i for i in items_of(engine.model)}
    (skeleton,) = skeletons(engine, [items["transition.disqualify"]])
    assert [s["type"] for s in skeleton.steps] == ["start", "fire"]
    assert skeleton.steps[1]["transition"] == "disqualify"
    assert skeleton.reaches
    path = tmp_path / "s.yaml"
    path.write_text(skeleton.text, encoding="utf-8")
    assert [s["type"] for _, s in load_scenario(path).steps] == ["start", "fire"]


def test_skeletons_parse_and_reach_their_items_when_no_guard_is_in_the_way(
    engine: WorkflowEngine, tmp_path: Path
) -> None:
    all_items = items_of(engine.model)
    found = skeletons(engine, all_items)
    assert [s.item for s in found] == all_items
    for skeleton in found:
        path = tmp_path / f"{skeleton.item.id}.yaml"
        path.write_text(skeleton.text, encoding="utf-8")
        try:
            effects = played(engine, path)  # the YAML as written, through load_scenario
        except PlayError:
            effects = []  # the guards refused a transition, so a later step makes no sense yet
        reached = coverage(engine.model, {"s": effects}).hits[skeleton.item.id] > 0
        guarded = "fill in values that make the guards hold" in skeleton.text or "TODO" in skeleton.text
        assert reached == skeleton.reaches
        assert reached or guarded, skeleton.text
    reaching = {s.item.id for s in found if s.reaches}
    assert {
        "state.disqualified",
        "transition.disqualify",
        "timer.staleLead",
        "sla.firstContact.met",
        "sla.firstContact.warning",
        "sla.firstContact.breach",
        "sla.firstContact.met-late",
        "task.qualificationDecision.disqualify",
        "guard.qualify.fails",
    } <= reaching
    qualified = next(s for s in found if s.item.id == "state.qualified")
    assert "# fill in values that make the guards hold: score >= 50.0 && email != ''" in qualified.text
    assert [s.get("as") for s in qualified.steps[-2:]] == ["user/salesManager", "user/salesDirector"]


def test_sla_skeletons_advance_in_the_sla_calendar(engine: WorkflowEngine) -> None:
    items = {i.id: i for i in items_of(engine.model)}
    warning, breach = skeletons(engine, [items["sla.firstContact.warning"], items["sla.firstContact.breach"]])
    # Two business days in Berlin from Monday 09:00 end on Tuesday 17:00 Berlin: 32 hours of wall time.
    assert warning.steps[-1] == {"type": "advance", "by": timedelta(hours=32)}
    assert "  - advance: 32h" in warning.text
    assert breach.steps[-1] == {"type": "advance", "by": timedelta(hours=56)}
    timer = skeletons(engine, [items["timer.staleLead"]])[0]
    assert "  - advance: 30d" in timer.text


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["workflow", "coverage", *args])  # through the error boundary, as the console script runs it
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_text_json_skeletons_and_fail_under(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(capsys, str(LEAD), "--scenarios", str(SCENARIOS))
    assert code == 0
    assert out.startswith("leadLifecycle (LeadLifecycle 1.1.0): 12/20 items covered (60.0%) by 1 scenario(s)")
    assert "  transition.disqualify" in out
    code, out, _ = invoke(
        capsys,
        str(LEAD),
        "--scenarios",
        str(SCENARIOS),
        "--format",
        "json",
        "--skeletons",
        str(tmp_path / "sk"),
        "--fail-under",
        "75",
    )
    assert code == 1
    data = json.loads(out)["result"]
    assert set(data) == {
        "workflow",
        "package",
        "scenarios",
        "covered",
        "total",
        "percent",
        "byKind",
        "items",
        "uncovered",
        "failUnder",
        "skeletons",
    }
    assert (data["workflow"], data["covered"], data["total"], data["percent"]) == ("leadLifecycle", 12, 20, 60.0)
    assert data["items"][0] == {"id": "state.new", "kind": "state", "what": "state new entered", "hits": 1}
    assert "approval.qualify.rejected" in data["uncovered"]
    assert len(data["skeletons"]) == 8
    written = sorted(p.name for p in (tmp_path / "sk").iterdir())
    assert "leadLifecycle-transition.disqualify.yaml" in written and len(written) == 8
    for name in written:
        load_scenario(tmp_path / "sk" / name)
    assert invoke(capsys, str(LEAD), "--scenarios", str(SCENARIOS), "--fail-under", "60")[0] == 0


def test_cli_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke(capsys, str(LEAD), "--scenarios", str(tmp_path))
    assert code == 2 and "no scenario files" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "events:\n  - start: {instance: a, data: {firstName: A, lastName: B}}\n"
        "  - fire: {instance: b, transition: contact}\n",
        encoding="utf-8",
    )
    code, _, err = invoke(capsys, str(LEAD), "--scenarios", str(bad))
    assert code == 2 and "bad.yaml:3" in err and "start it first" in err


def test_skeleton_yaml_quotes_a_value_that_ends_in_a_newline() -> None:
    """Its plain-scalar pattern ended in `$`, which also matches before a final newline: `abc\n` was written plain."""
    from crmctl.runtime.coverage import _yaml

    assert _yaml("abc") == "abc"
    assert _yaml("abc\n") == '"abc\\n"'
    assert _yaml({"k\n": "v"}) == '{"k\\n": v}'
