"""The one scenario player (`runtime.scenario`): in memory (coverage) and over a tenant's store (simulate) it plays
the same steps to the same timeline and refuses the same steps with the same words."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.package import load_package
from crmctl.runtime.coverage import SKELETON_NOW, play
from crmctl.runtime.packages import PackageRef
from crmctl.runtime.scenario import Player, PlayError, summarize, workflow_entry
from crmctl.runtime.store import Store
from crmctl.runtime.workflow import WorkflowEngine, WorkflowError, WorkflowModel
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
DATA = {"firstName": "A", "lastName": "B", "owner": "alice"}


@pytest.fixture(scope="module")
def engine() -> WorkflowEngine:
    return WorkflowEngine(WorkflowModel.build(load_package(V1)))


def start(instance: str = "a") -> dict[str, Any]:
    return {"type": "start", "instance": instance, "data": DATA}


def test_coverage_refuses_input_to_a_completed_instance_as_simulate_does(engine: WorkflowEngine) -> None:
    steps = [
        start(),
        {"type": "fire", "instance": "a", "transition": "disqualify", "as": "alice/salesRep"},
        {"type": "change", "instance": "a", "field": "owner", "value": "bob"},
    ]
    # before: coverage's own loop applied the change to the completed instance; simulate refused it
    with pytest.raises(PlayError, match="instance a is completed; only running instances of workflow") as caught:
        play(engine, steps, SKELETON_NOW)
    assert caught.value.index == 2


def test_time_moving_backwards_reads_the_same_in_coverage_and_simulate(engine: WorkflowEngine) -> None:
    steps = [start(), {"type": "advance-to", "to": SKELETON_NOW - timedelta(hours=1)}]
    # before: coverage said `(2026-01-05T07:00:00+00:00 < 2026-01-05T08:00:00+00:00)`
    with pytest.raises(PlayError) as caught:
        play(engine, steps, SKELETON_NOW)
    assert (caught.value.index, caught.value.message) == (
        1,
        "time cannot move backwards (2026-01-05T07:00:00Z is before 2026-01-05T08:00:00Z)",
    )


def test_a_player_without_the_version_an_instance_runs_on_says_so(engine: WorkflowEngine) -> None:
    player = Player.in_memory(engine, SKELETON_NOW)
    player.play(start())
    stray = {**player.instances["a"], "digest": "sha256:" + "0" * 64}
    other = Player(engine, player.ref, SKELETON_NOW, instances={"a": stray})
    with pytest.raises(WorkflowError, match="no package version sha256:0000"):
        other.play({"type": "advance", "by": timedelta(days=40)})


def test_the_in_memory_player_runs_on_the_engines_version(engine: WorkflowEngine) -> None:
    player = Player.in_memory(engine, SKELETON_NOW)
    assert player.ref == PackageRef("LeadLifecycle", "1.0.0", engine.model.digest)
    effects = player.play(start())
    assert [e["effect"] for e in effects][:2] == ["started", "entered"]
    assert player.instances["a"]["digest"] == engine.model.digest
    assert player.log is None and summarize(player.timeline, "leadLifecycle", SKELETON_NOW)["instances"] == 1


def test_a_workflow_entry_is_pinned_to_the_instances_version(engine: WorkflowEngine) -> None:
    player = Player.in_memory(engine, SKELETON_NOW)
    player.play(start())
    instance = player.instances["a"]
    entry = workflow_entry(instance, "leadLifecycle", "Lead", "2026-01-05T08:00:00Z", start(), [])
    assert entry["session"] == "workflow:a" and entry["kind"] == "workflow"
    assert entry["package"] == {"name": "LeadLifecycle", "version": "1.0.0", "digest": engine.model.digest}
    assert entry["input"] == start() and entry["effectsHash"].startswith("sha256:")


ACTORS = ("alice/salesRep", "bob/salesManager", "carol/salesDirector")
STEP = st.one_of(
    st.builds(start, st.sampled_from("ab")),
    st.builds(
        lambda i, t, a: {"type": "fire", "instance": i, "transition": t, "as": a},
        st.sampled_from("abz"),
        st.sampled_from(("contact", "qualify", "disqualify")),
        st.sampled_from(ACTORS),
    ),
    st.builds(
        lambda i, d, a: {"type": "decide", "instance": i, "decision": d, "as": a},
        st.sampled_from("ab"),
        st.sampled_from(("qualify", "disqualify", "approve", "reject")),
        st.sampled_from(ACTORS),
    ),
    st.builds(
        lambda i, v: {"type": "change", "instance": i, "field": "owner", "value": v},
        st.sampled_from("ab"),
        st.sampled_from(("bob", "dan")),
    ),
    st.builds(lambda h: {"type": "advance", "by": timedelta(hours=h)}, st.integers(0, 80)),
)
_TENANTS = itertools.count()


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, max_size=8))
def test_memory_and_store_play_the_same_timeline(
    engine: WorkflowEngine, tmp_path_factory: pytest.TempPathFactory, steps: list[dict[str, Any]]
) -> None:
    def outcome(player: Player) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
        try:
            player.play_all(steps)
        except PlayError as exc:
            return player.timeline, (exc.index, exc.message)
        return player.timeline, None

    in_memory = outcome(Player.in_memory(engine, SKELETON_NOW))
    path = tmp_path_factory.getbasetemp() / "players.duckdb"
    with Store.open(path) as store:
        tenant = f"t{next(_TENANTS)}"
        stored = outcome(Player.for_tenant(store, tenant, engine.model.package, None, SKELETON_NOW))
        logged = store.list_instances(tenant)
    assert stored == in_memory
    assert {i["id"] for i in logged} <= {"a", "b"}


def test_the_tenant_player_goes_on_with_the_tenants_running_instances(tmp_path: Path) -> None:
    package = load_package(V1)
    with Store.open(tmp_path / "rt.duckdb") as store:
        first = Player.for_tenant(store, "default", package, None, SKELETON_NOW)
        first.play_all([start("a"), start("b"), {"type": "fire", "instance": "b", "transition": "disqualify"}])
        again = Player.for_tenant(store, "default", package, None, SKELETON_NOW + timedelta(hours=1))
        assert sorted(again.instances) == sorted(again.initial) == ["a"]  # b completed: it takes no input
        with pytest.raises(WorkflowError, match="instance b exists already in tenant default"):
            again.play(start("b"))


@pytest.mark.parametrize("held", [False, True])
def test_a_step_the_log_refuses_leaves_the_player_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: bool
) -> None:
    """The interactive mode and the sandbox go on after a refused step: its instances and clock must not have
    moved in the player when nothing of it was written (second review of issue 14: they had, and the next step
    wrote the refused one's changes without its log entry, which replay could not reproduce)."""
    from crmctl.runtime.storage.errors import StoreConflictError

    package = load_package(V1)
    with Store.open(tmp_path / "rt.duckdb") as store:
        player = Player.for_tenant(store, "default", package, None, SKELETON_NOW, held=held)
        player.play(start("a"))
        before = (dict(player.instances), player.clock, len(player.timeline))
        assert player.log is not None

        def refuse(*args: Any) -> None:
            raise StoreConflictError("refused by the test")

        monkeypatch.setattr(player.log, "write", refuse)
        for step in ({"type": "advance", "by": timedelta(days=3)}, start("b")):
            with pytest.raises(StoreConflictError):
                player.play(step)
            assert (dict(player.instances), player.clock, len(player.timeline)) == before, step
