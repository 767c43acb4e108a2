"""The workflow engine: instances of a package's workflows on a virtual clock, pure and deterministic.

An instance runs one workflow over a snapshot of its record's data, pinned to the package version that started
it. Inputs are `start`, `fire` (a user takes a transition), `decide` (an approval or a task's outcome), `change`
(a field of the record) and `advance` (the clock moves); each returns the new instance and the effects, every
effect stamped with the moment it happened. The clock only moves forward: every input first processes what fell
due before it (timers, SLA warnings, breaches, escalations — earliest first; ties: timers, warnings, escalations,
breaches, then by id), so the same inputs always give the same timeline.

- Transitions leave one of their `from` states; a user needs one of the transition's `roles` (if any); the
  transition's `guard` and every workflow-scoped guard rule targeting it must hold. A transition with an
  approval chain opens it instead of moving: sequential approvers one after the other, parallel ones at once
  (`quorum` of them, all by default), then the field-named approver; one rejection ends the request.
- Taking a transition stops the state's SLA (its success actions run, late or not), clears its timers and
  task, runs the transition's actions (`set` fields with CEL values, `emit` events, `notify` roles), emits its
  events, and enters the next state: its SLA starts (or waits for its `start` condition), its timers are set
  (`after` in calendar time, or `at` a CEL timestamp), its task opens. A final state completes the instance.
- SLA clocks count the time of their calendar (`runtime.calendar`), stand still while `pause` holds, restart
  on `reset` and stop on `stop`; `warnAfter`, `breachAfter` and each escalation fall due in counted time.

Refusals that are outcomes (a guard that does not hold, a user without the role) are effects; inputs that make
no sense (an unknown transition or instance, a decision by someone who is not an assignee, time moving
backwards, a guard that fails to evaluate) raise `WorkflowError` and change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crmctl.runtime._workflow_flow import _assigned, _describe, _Flow, _forward, _system, _writable
from crmctl.runtime.workflow_model import (
    Actor,
    Step,
    WorkflowError,
    WorkflowModel,
    format_moment,
    parse_moment,
)

__all__ = ["INPUTS", "Actor", "Step", "WorkflowEngine", "WorkflowError", "WorkflowModel", "apply_input", "parse_moment"]


class WorkflowEngine(_Flow):
    """The state machine of one workflow model. Instances are JSON-like dicts (stored and logged as they are)."""

    # --- inputs ----------------------------------------------------------------------------------------------

    def start(self, instance_id: str, data: Mapping[str, Any], at: datetime, actor: Actor | None = None) -> Step:
        if self.flow.initial not in self.flow.states:
            raise WorkflowError(f"workflow {self.flow.id}: initial state {self.flow.initial!r} is not a state")
        instance: dict[str, Any] = {
            "id": instance_id,
            "workflow": self.flow.id,
            "entity": self.model.entity,
            "digest": self.model.digest,
            "package": {
                "name": self.model.package.name,
                "version": self.model.package.manifest.version if self.model.package.manifest else "?",
            },
            "state": None,
            "enteredAt": None,
            "clock": format_moment(at),
            "status": "running",
            "data": self._checked(data, at),
            "sla": None,
            "timers": {},
            "task": None,
            "approval": None,
        }
        step = Step(instance)
        self._emit(step, at, "started", workflow=self.flow.id, by=(actor or _system()).to_json())
        self._enter(step, self.flow.initial, at)
        return step

    def fire(self, instance: Mapping[str, Any], transition_id: str, actor: Actor, at: datetime) -> Step:
        step = self._begin(instance, at)
        transition = self.model.transitions.get(transition_id)
        if transition is None:
            raise WorkflowError(
                f"workflow {self.flow.id} has no transition {transition_id!r}; it has "
                f"{', '.join(self.model.transitions)}"
            )
        inst = step.instance
        if inst["status"] != "running":
            raise WorkflowError(f"instance {inst['id']} is {inst['status']}; it takes no transition")
        if inst["state"] not in transition.sources():
            self._emit(step, at, "refused", transition=transition_id, reason=f"not from state {inst['state']}")
            return step
        if transition.roles and actor.role not in transition.roles:
            self._emit(step, at, "refused", transition=transition_id, reason=f"role {actor.role} may not take it")
            return step
        if inst["approval"] is not None:
            self._emit(step, at, "refused", transition=transition_id, reason="an approval is pending")
            return step
        if not self._guards_hold(step, transition, actor, at):
            return step
        if transition.approval is not None:
            self._request_approval(step, transition, actor, at)
            return step
        self._take(step, transition, actor, at)
        return step

    def decide(
        self, instance: Mapping[str, Any], decision: str, actor: Actor, at: datetime, comment: str | None = None
    ) -> Step:
        step = self._begin(instance, at)
        inst = step.instance
        approval = inst["approval"]
        if approval is not None:
            self._decide_approval(step, approval, decision, actor, at, comment)
            return step
        task = inst["task"]
        if task is None:
            raise WorkflowError(f"instance {inst['id']} has no open approval or task to decide")
        if not _assigned(task["assignee"], actor):
            raise WorkflowError(
                f"{actor.user} ({actor.role}) is not an assignee of task {task['id']} "
                f"(assigned to {_describe(task['assignee'])})"
            )
        outcomes: dict[str, str] = task["outcomes"]
        if decision not in outcomes:
            raise WorkflowError(f"task {task['id']}: no outcome {decision!r}; outcomes are {', '.join(outcomes)}")
        self._emit(step, at, "decided", task=task["id"], decision=decision, by=actor.to_json(), comment=comment)
        transition = self.model.transitions[outcomes[decision]]
        if self._guards_hold(step, transition, actor, at):
            if transition.approval is not None:  # the decision asks for the approval the transition needs
                self._request_approval(step, transition, actor, at)
            else:
                self._take(step, transition, actor, at)
        return step

    def claim(self, instance: Mapping[str, Any], actor: Actor, at: datetime) -> Step:
        """A user of the role a task (or an approval step) is assigned to takes it: from now on it is theirs."""
        step = self._begin(instance, at)
        inst = step.instance
        claimed = False
        task = inst["task"]
        if task is not None and task["assignee"].get("role") == actor.role:
            task["assignee"] = {"user": actor.user}
            self._emit(step, at, "claimed", task=task["id"], by=actor.to_json())
            claimed = True
        approval = inst["approval"]
        if approval is not None:
            for index in approval["open"]:
                if approval["chain"][index].get("role") == actor.role:
                    approval["chain"][index] = {"user": actor.user}
                    self._emit(step, at, "claimed", task=f"approve:{approval['transition']}", by=actor.to_json())
                    claimed = True
                    break
        if not claimed:
            raise WorkflowError(f"instance {inst['id']}: nothing open is assigned to role {actor.role} to claim")
        return step

    def change(self, instance: Mapping[str, Any], path: str, value: Any, at: datetime) -> Step:
        step = self._begin(instance, at)
        self._write(step, path, value, at, "changed")
        self._sla_conditions(step, at)
        return step

    def advance(self, instance: Mapping[str, Any], to: datetime) -> Step:
        due = self._due_cached(instance)
        if due and due[0][0] <= to:
            return self._begin(instance, to)
        # Nothing falls due: only the clock moves, so the new instance shares every part with the old one
        # (instances are values; the engine copies a part before it changes it).
        _forward(instance, to)
        return Step({**instance, "clock": format_moment(to)})

    def adopt(self, instance: Mapping[str, Any], mapping: Mapping[str, str], at: datetime) -> Step:
        """Move a running instance of another version of this workflow onto this engine's version.

        Its state goes to `mapping[state]` (default: the state of the same name), which must exist here. Refused
        while a task that this version changed or removed is open, or an approval of a transition that this
        version changed or removed is pending. The SLA clock carries over when the new state keeps an SLA of
        the same id (else the new state's SLA starts now), timers carry over when the new state keeps them.
        What fell due before `at` is the old version's to process: advance the instance on its engine first.
        """
        _forward(instance, at)
        step = Step(_writable(instance))
        step.instance["clock"] = format_moment(at)
        inst = step.instance
        if inst["status"] != "running":
            raise WorkflowError(f"instance {inst['id']} is {inst['status']}; only running instances migrate")
        if inst["workflow"] != self.flow.id:
            raise WorkflowError(f"instance {inst['id']} runs workflow {inst['workflow']}, not {self.flow.id}")
        if inst["digest"] == self.model.digest:
            raise WorkflowError(f"instance {inst['id']} runs on this version already")
        old_state = inst["state"]
        new_state = mapping.get(old_state, old_state)
        if new_state not in self.flow.states:
            raise WorkflowError(
                f"instance {inst['id']} is in state {old_state!r}, which this version lacks: map it "
                f"to one of {', '.join(self.flow.states)}"
            )
        target = self.flow.states[new_state]
        task = inst["task"]
        if task is not None:
            kept = target.task
            if kept is None or kept.id != task["id"] or dict(kept.outcomes) != task["outcomes"]:
                verb = "removed" if kept is None or kept.id != task["id"] else "changed"
                raise WorkflowError(f"instance {inst['id']}: task {task['id']} has started and this version {verb} it")
        approval = inst["approval"]
        if approval is not None:
            old_transition = approval["transition"]
            transition = self.model.transitions.get(old_transition)
            if transition is None or transition.approval is None:
                raise WorkflowError(
                    f"instance {inst['id']}: the approval of {old_transition} is pending and this "
                    "version changed that transition"
                )
        kept_timers = {t.id for t in self.flow.timers if t.state == new_state}
        inst["timers"] = {k: v for k, v in inst["timers"].items() if k in kept_timers}
        sla_state, sla = inst["sla"], target.sla
        if sla is None:
            inst["sla"] = None
        elif sla_state is None or sla_state["id"] != sla.id:
            inst["sla"] = {
                "id": sla.id,
                "started": False,
                "running": False,
                "paused": False,
                "elapsed": 0.0,
                "since": format_moment(at),
                "warned": False,
                "breached": False,
                "escalated": 0,
            }
        source = {"digest": inst["digest"], **inst["package"]}
        inst["digest"] = self.model.digest
        manifest = self.model.package.manifest
        inst["package"] = {"name": self.model.package.name, "version": manifest.version if manifest else "?"}
        inst["state"] = new_state
        self._emit(
            step,
            at,
            "migrated",
            source=source,
            target={"digest": inst["digest"], **inst["package"]},
            state=new_state,
            mapped_from=old_state,
        )
        if (
            inst["sla"] is not None
            and not inst["sla"]["started"]
            and (sla is not None and (sla.start is None or self._condition(f"sla:{new_state}/start", inst, at)))
        ):
            self._sla_start(step, at)
        return step


INPUTS = ("start", "fire", "decide", "claim", "change", "advance", "migrate")


def apply_input(
    engine: WorkflowEngine, instance: Mapping[str, Any] | None, given: Mapping[str, Any], at: datetime
) -> Step:
    """One logged input (`{"type": "fire", "instance": ..., "transition": ..., "as": {...}}` and so on) applied:
    the function `workflow simulate` runs and `replay` runs again."""
    kind = given.get("type")
    if kind not in INPUTS:
        raise WorkflowError(f"unknown workflow input {kind!r}; inputs are {', '.join(INPUTS)}")
    if kind == "start":
        if instance is not None:
            raise WorkflowError(f"instance {given.get('instance')} is started already")
        data = given.get("data") or {}
        if not isinstance(data, Mapping):
            raise WorkflowError("start: data must be an object of field values")
        return engine.start(str(given["instance"]), data, at, _actor(given.get("as")))
    if instance is None:
        raise WorkflowError(f"no instance {given.get('instance')!r}; start it first")
    if kind == "fire":
        return engine.fire(instance, str(given.get("transition")), _actor(given.get("as")) or _system(), at)
    if kind == "decide":
        actor = _actor(given.get("as"))
        if actor is None:
            raise WorkflowError("decide: say who decides (as: user/role)")
        comment = given.get("comment")
        return engine.decide(instance, str(given.get("decision")), actor, at, None if comment is None else str(comment))
    if kind == "change":
        return engine.change(instance, str(given.get("field")), given.get("value"), at)
    if kind == "claim":
        claimer = _actor(given.get("as"))
        if claimer is None:
            raise WorkflowError("claim: say who claims (as: user/role)")
        return engine.claim(instance, claimer, at)
    if kind == "migrate":
        mapping = given.get("map") or {}
        return engine.adopt(instance, {str(k): str(v) for k, v in mapping.items()}, at)
    return engine.advance(instance, at)


def _actor(given: Any) -> Actor | None:
    if given is None:
        return None
    if isinstance(given, Mapping) and isinstance(given.get("user"), str) and isinstance(given.get("role"), str):
        return Actor(given["user"], given["role"])
    if isinstance(given, str) and given.count("/") == 1:
        user, role = given.split("/")
        return Actor(user, role)
    raise WorkflowError(f"as: {given!r} is not user/role (e.g. bob/salesManager)")
