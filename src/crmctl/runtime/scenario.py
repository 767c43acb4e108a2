"""Workflow scenarios played: the one player of their steps, the log entries it writes and the summary of a run.

A scenario's steps (`{"type": "start", "instance": ..., "data": {...}}`, `{"type": "advance", "by": timedelta}`,
`{"type": "advance-to", "to": datetime}`, and the other inputs of `runtime.workflow.apply_input`) are played on a
virtual clock by a `Player`. The same player runs them in memory (`Player.in_memory`: `workflow coverage` and its
skeletons) and over a tenant's store (`Player.for_tenant`: `workflow simulate`), where every step's instances and
log entries (`workflow_entry`, kind `workflow`) are written in one transaction. `summarize` counts what a run did.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError
from crmctl.runtime.eventlog import value_hash
from crmctl.runtime.packages import PackageRef
from crmctl.runtime.service import Runtime
from crmctl.runtime.workflow import WorkflowEngine, WorkflowError, WorkflowModel, apply_input
from crmctl.runtime.workflow_model import format_moment, parse_moment

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.runtime.store import Store

__all__ = ["PlayError", "Player", "TenantLog", "summarize", "workflow_entry"]

# (the instance after the step, the input as logged, the step's effects)
Played = tuple[dict[str, Any], Mapping[str, Any], list[dict[str, Any]]]


def workflow_entry(
    instance: Mapping[str, Any],
    flow: str,
    entity: str,
    at: str,
    given: Mapping[str, Any],
    effects: list[dict[str, Any]],
) -> dict[str, Any]:
    """The body of a workflow log entry (kind `workflow`), pinned to the version `instance` runs on: what
    `crmctl replay` runs again and `crmctl log verify` checks."""
    pinned = {
        "name": instance["package"]["name"],
        "version": instance["package"]["version"],
        "digest": instance["digest"],
    }
    return {
        "session": f"workflow:{instance['id']}",
        "at": at,
        "kind": "workflow",
        "package": pinned,
        "workflow": flow,
        "entity": entity,
        "input": dict(given),
        "effects": effects,
        "effectsHash": value_hash(effects),
    }


class PlayError(WorkflowError):
    """A scenario step the engine (or the store, for a value it cannot keep) refused; `index` is the step's
    position."""

    def __init__(self, index: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.index = index


class TenantLog:
    """A tenant's side of a player: the instances it holds already, and where played steps are written.

    `held`: the caller holds the tenant for the whole run (`Store.holding`), so nothing another process writes can
    come between this run's reads and writes: no step checks its instances again, and each instance's row is
    written once, by `flush`, rather than at every step (on PostgreSQL a row rewritten many times in one
    transaction gets slower to rewrite each time). Log entries are appended step by step either way."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        running: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        held: bool = False,
    ) -> None:
        self.store, self.tenant, self.held = store, tenant, held
        self._found: dict[str, Mapping[str, Any]] = dict(running or {})  # as read, or as this run last wrote them
        self._unwritten: dict[str, Mapping[str, Any]] = {}  # held: the instances `flush` writes

    def stored(self, instance_id: str) -> dict[str, Any] | None:
        """The stored instance of that id (any workflow, any status), None when the tenant has none."""
        return self.store.get_instance(self.tenant, instance_id)

    def write(self, entries: list[dict[str, Any]], instances: list[dict[str, Any]]) -> None:
        """Append the log entries and keep the instances: all or none; an instance another process started or
        moved meanwhile is a conflict (`Store.hold_instances`). Held: the instances' values are checked (a value
        the store cannot keep refuses the step before anything of it is written) and kept for `flush`."""
        if self.held:
            try:
                self.store.check_instances(self.tenant, instances)
            except InputError as refused:  # the step's refusal, like the engine's: the steps before it are kept
                raise WorkflowError(refused.message, hint=refused.hint) from None
            self.store.append_events(self.tenant, entries)
            self._unwritten.update((str(i["id"]), i) for i in instances)
        else:
            with self.store.transaction():
                found = {str(i["id"]): self._found.get(str(i["id"])) for i in instances}
                self.store.hold_instances(self.tenant, found)
                self.store.append_events(self.tenant, entries)
                self.store.put_instances(self.tenant, instances)
        self._found.update((str(i["id"]), i) for i in instances)

    def flush(self) -> None:
        """Held: write every instance the run moved, as it stands now."""
        if self._unwritten:
            self.store.put_instances(self.tenant, list(self._unwritten.values()))
            self._unwritten.clear()


def _unknown_version(digest: str) -> Package:
    raise WorkflowError(f"no package version {digest} to run the instance on")


class Player:
    """Plays scenario steps on a workflow's instances: new ones start on the player's version, earlier ones go on
    on their own (`pinned` gives a digest's package). With a `log`, each step's log entries and instances are
    written together; `timeline` collects every effect, stamped with its instance."""

    def __init__(
        self,
        engine: WorkflowEngine,
        ref: PackageRef,
        clock: datetime,
        *,
        instances: Mapping[str, dict[str, Any]] | None = None,
        pinned: Callable[[str], Package] = _unknown_version,
        log: TenantLog | None = None,
    ) -> None:
        self.model: WorkflowModel = engine.model
        self.ref, self.clock, self.log = ref, clock, log
        self._pinned = pinned
        self.engines = {ref.digest: engine}
        self.instances: dict[str, dict[str, Any]] = dict(instances or {})
        self.initial = dict(self.instances)  # the instances running when the run started, as they were
        self.timeline: list[dict[str, Any]] = []

    @classmethod
    def in_memory(cls, engine: WorkflowEngine, clock: datetime) -> Player:
        """A player without a store: nothing is logged, every instance starts in this run."""
        manifest = engine.model.package.manifest
        ref = PackageRef(engine.model.package.name, manifest.version if manifest else "?", engine.model.digest)
        return cls(engine, ref, clock)

    @classmethod
    def for_tenant(
        cls, store: Store, tenant: str, package: Package, workflow: str | None, clock: datetime, *, held: bool = False
    ) -> Player:
        """A player over a tenant's store: `package` is pinned there, the tenant's running instances of the
        workflow go on, and every step is logged (`held`: see `TenantLog`)."""
        return cls.for_runtime(Runtime(store, tenant), package, workflow, clock, held=held)

    @classmethod
    def for_runtime(
        cls, runtime: Runtime, package: Package, workflow: str | None, clock: datetime, *, held: bool = False
    ) -> Player:
        """`for_tenant` over a runtime the caller keeps (the sandbox's, which pins a version being edited)."""
        store, tenant = runtime.store, runtime.tenant
        ref = runtime.pin(package)
        model = WorkflowModel.build(runtime.pinned(ref.digest), workflow)
        running = {i["id"]: i for i in store.list_instances(tenant, workflow=model.workflow.id, status="running")}
        return cls(
            WorkflowEngine(model),
            ref,
            clock,
            instances=running,
            pinned=runtime.pinned,
            log=TenantLog(store, tenant, running, held=held),
        )

    def engine_of(self, instance: Mapping[str, Any] | None) -> WorkflowEngine:
        """The engine of the version `instance` runs on (the player's own for a new instance)."""
        digest = self.ref.digest if instance is None else str(instance["digest"])
        if digest not in self.engines:
            self.engines[digest] = WorkflowEngine(WorkflowModel.build(self._pinned(digest), self.model.workflow.id))
        return self.engines[digest]

    def play_all(self, steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply the steps in order; PlayError, naming the step, at the first that makes no sense (the steps
        before it stay played). Returns the timeline."""
        for index, step in enumerate(steps):
            try:
                self.play(step)
            except WorkflowError as exc:
                raise PlayError(index, exc.message, hint=exc.hint) from None
        return self.timeline

    def play(self, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Apply one step; WorkflowError (from the engine, or time moving backwards) when it makes no sense.
        Returns the step's effects, earliest first. A step refused (by the engine, or by the log it is written to)
        leaves the player as it was: its instances and clock move only once the step is written."""
        before = len(self.timeline)
        if step["type"] in ("advance", "advance-to"):
            target = self.clock + step["by"] if step["type"] == "advance" else step["to"]
            if target < self.clock:
                raise WorkflowError(
                    f"time cannot move backwards ({format_moment(target)} is before {format_moment(self.clock)})"
                )
            moved: list[Played] = []
            for instance_id in sorted(self.instances):
                current = self.instances[instance_id]
                if current["status"] == "running":
                    done = self.engine_of(current).advance(current, target)
                    moved.append((done.instance, {"type": "advance", "instance": done.instance["id"]}, done.effects))
            # Every instance's clock is kept (the next run goes on from it), an entry is logged where something
            # happened; all in one transaction. Instances advance independently: the effects of all of them
            # are merged into time order (each instance's own effects are in time order already).
            self._record(moved, target)
            self.clock = target
            self.timeline[before:] = sorted(self.timeline[before:], key=lambda e: parse_moment(e["at"]))
            return self.timeline[before:]
        instance_id = str(step["instance"])
        existing = self.instances.get(instance_id)
        if existing is None:
            self._refuse_stored(instance_id, step["type"])
        elif existing["status"] != "running" and step["type"] != "start":  # it completed earlier in this run
            raise WorkflowError(
                f"instance {instance_id} is {existing['status']}; only running instances of workflow "
                f"{self.model.workflow.id} take input"
            )
        done = apply_input(self.engine_of(existing), existing, step, self.clock)
        self._record([(done.instance, step, done.effects)], self.clock)
        return self.timeline[before:]

    def _refuse_stored(self, instance_id: str, kind: str) -> None:
        """An id this run does not drive may still exist in the tenant (completed, or of another workflow): an
        instance id names one instance per tenant forever, so it is never started again nor taken over."""
        stored = None if self.log is None else self.log.stored(instance_id)
        if self.log is None or stored is None:
            return
        what = (
            f"instance {instance_id} exists already in tenant {self.log.tenant} ({stored['status']}, workflow "
            f"{stored['workflow']}, {stored['package']['name']}@{stored['package']['version']})"
        )
        if kind == "start":
            raise WorkflowError(f"{what}; an instance id is used once per tenant: start the new one under another id")
        raise WorkflowError(f"{what}; only running instances of workflow {self.model.workflow.id} take input")

    def _record(self, steps: list[Played], moment: datetime) -> None:
        """Log the steps, which happened at `moment` (an advance only where it had effects), and keep every
        instance, then add the effects to the timeline."""
        if self.log is not None:
            at = format_moment(moment)
            flow, entity = self.model.workflow.id, self.model.entity
            entries = [
                workflow_entry(instance, flow, entity, at, given, effects)
                for instance, given, effects in steps
                if effects or given["type"] != "advance"
            ]
            self.log.write(entries, [instance for instance, _, _ in steps])
        self.instances.update((str(instance["id"]), instance) for instance, _, _ in steps)
        self.timeline.extend({"instance": instance["id"], **e} for instance, _, effects in steps for e in effects)


def play_held(
    store: Store,
    tenant: str,
    package: Package,
    workflow: str | None,
    start: Callable[[], datetime],
    steps: Sequence[Mapping[str, Any]],
) -> tuple[Player, PlayError | None]:
    """A scripted run over a tenant's store, holding the tenant for its duration (`Store.holding`): it advances
    every running instance, so two runs at once would step on each other's; this way one waits for the other
    and starts from where that one left the instances (`start`, the clock, is called once the tenant is held).
    Written as a whole when it ends: to its end, or up to the step that was refused (returned as the PlayError;
    the steps before it are kept). Anything else (a store's error, Ctrl-C, a crash) leaves nothing of the run: a
    refusal is raised before anything of its step is written, any other error may come from a write the database
    aborted the transaction for."""
    runtime = Runtime(store, tenant)
    runtime.pin(package)  # before holding the tenant: another tenant's writer may be pinning it too
    with store.holding(tenant):
        player = Player.for_runtime(runtime, package, workflow, start(), held=True)  # pinned already: no I/O
        assert player.log is not None
        refused = None
        try:
            player.play_all(steps)
        except PlayError as error:
            refused = error
        player.log.flush()
    return player, refused


def summarize(
    timeline: list[dict[str, Any]], workflow: str, end: datetime, running: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Counts per workflow and per rule over one run: transitions, time in state, SLA outcomes, escalations, guard
    results. `running` are the instances that were running when the run started (a follow-up run): they count
    among its instances, and their time in state counts from where their clock stood."""
    transitions: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    guards: dict[str, Counter[str]] = defaultdict(Counter)
    in_state: dict[str, float] = defaultdict(float)
    entered = {i: (str(inst["state"]), parse_moment(str(inst["clock"]))) for i, inst in (running or {}).items()}
    completed = set()
    for effect in timeline:
        kind, instance = effect["effect"], effect["instance"]
        moment = parse_moment(effect["at"])
        if kind == "entered":
            entered[instance] = (effect["state"], moment)
        elif kind == "transition":
            transitions[effect["transition"]] += 1
            state, since = entered.get(instance, (effect["source"], moment))
            in_state[state] += (moment - since).total_seconds()
        elif kind == "guard":
            guards[effect["guard"]]["holds" if effect["result"] else "fails"] += 1
        elif kind == "completed":
            completed.add(instance)
        elif kind == "sla-met":
            outcomes["met-late" if effect["late"] else "met-in-time"] += 1
        elif kind in ("sla-warning", "sla-breach", "escalation", "refused", "approval-granted", "approval-rejected"):
            outcomes[kind] += 1
    for instance, (state, since) in entered.items():
        if instance not in completed:
            in_state[state] += max((end - since).total_seconds(), 0.0)  # a clock ahead of the run's: nothing here
    instances = {e["instance"] for e in timeline} | set(running or ())
    return {
        "workflow": workflow,
        "instances": len(instances),
        "completed": len(completed),
        "transitions": dict(sorted(transitions.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "hoursInState": {s: round(v / 3600, 2) for s, v in sorted(in_state.items())},
        "guards": {g: dict(sorted(c.items())) for g, c in sorted(guards.items())},
    }
