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

The module reads top-down: `WorkflowEngine`'s inputs, then what happens inside an instance (the clock and what
falls due — dispatched by kind through one table —, states and SLA clocks, transitions, approvals and tasks,
expressions), then `apply_input`, which turns a logged input into a call of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmctl.runtime.calendar import ALWAYS
from crmctl.runtime.cel import Context, EvaluationError, MissingValueError
from crmctl.runtime.form import field_at, set_field
from crmctl.runtime.workflow_model import (
    SYSTEM,
    Actor,
    Step,
    WorkflowError,
    WorkflowModel,
    format_moment,
    parse_moment,
    read_moment,
)

if TYPE_CHECKING:
    from crmctl.model.artifacts import Action, Sla, Transition

__all__ = ["INPUTS", "Actor", "Step", "WorkflowEngine", "WorkflowError", "WorkflowModel", "apply_input", "parse_moment"]

_RANK = {"timer": 0, "warn": 1, "escalation": 2, "breach": 3}
_DUE_CACHE_SIZE = 100_000


class WorkflowEngine:
    """The state machine of one workflow model. Instances are JSON-like dicts (stored and logged as they are)."""

    def __init__(self, model: WorkflowModel) -> None:
        self.model = model
        self.flow = model.workflow
        self._due_cache: dict[tuple[Any, ...], list[tuple[datetime, int, str, str]]] = {}
        # What falls due, by kind (the kinds of `_RANK`): each handler takes (step, key, moment).
        self._fall_due: dict[str, Callable[[Step, str, datetime], None]] = {
            "timer": self._due_timer,
            "warn": self._due_warn,
            "escalation": self._due_escalation,
            "breach": self._due_breach,
        }

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
            inst["sla"] = _fresh_sla(sla.id, at)
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

    # --- the clock -------------------------------------------------------------------------------------------

    def _begin(self, instance: Mapping[str, Any], at: datetime) -> Step:
        _forward(instance, at)
        step = Step(_writable(instance))
        self._run_due(step, at)
        step.instance["clock"] = format_moment(at)
        return step

    def due(self, instance: Mapping[str, Any]) -> list[tuple[datetime, int, str, str]]:
        """What falls due next: (moment, rank, kind, id), earliest first."""
        # Most inputs (advances of the clock) change nothing that decides what is due, so the answer is kept
        # per content of the parts it depends on: an SLA's deadlines cost calendar arithmetic to compute.
        return list(self._due_cached(instance))

    def _due_cached(self, instance: Mapping[str, Any]) -> list[tuple[datetime, int, str, str]]:
        if instance["status"] != "running":
            return []
        sla_state = instance["sla"]
        key = (
            instance["state"],
            tuple(instance["timers"].items()),
            None if sla_state is None else tuple(sla_state.items()),
        )
        cache = self._due_cache
        found = cache.get(key)
        if found is None:
            if len(cache) >= _DUE_CACHE_SIZE:
                cache.clear()
            found = cache[key] = self._due(instance)
        return found

    def _due(self, instance: Mapping[str, Any]) -> list[tuple[datetime, int, str, str]]:
        out: list[tuple[datetime, int, str, str]] = []
        if instance["status"] != "running":
            return out
        for timer_id, moment in instance["timers"].items():
            out.append((read_moment(moment), _RANK["timer"], "timer", timer_id))
        sla_state = instance["sla"]
        sla = self._sla_of(instance)
        if sla is not None and sla_state is not None and sla_state["running"] and not sla_state["paused"]:
            calendar = self.model.calendars[instance["state"]]
            since = read_moment(sla_state["since"])

            def when(threshold: str) -> datetime:
                return calendar.add(since, calendar.seconds(threshold) - sla_state["elapsed"])

            if sla.warnAfter and not sla_state["warned"]:
                out.append((when(sla.warnAfter), _RANK["warn"], "warn", sla.id))
            for i, esc in enumerate(sla.escalations):
                if i >= sla_state["escalated"]:
                    out.append((when(esc.after), _RANK["escalation"], "escalation", str(i)))
                    break
            if not sla_state["breached"]:
                out.append((when(sla.breachAfter), _RANK["breach"], "breach", sla.id))
        return sorted(out)

    def _run_due(self, step: Step, until: datetime) -> None:
        for _ in range(10_000):  # every firing changes what is due; a bound against definition loops
            due = self._due_cached(step.instance)  # earliest first: only the first can be pending
            if not due or due[0][0] > until:
                return
            moment, _rank, kind, key = due[0]
            self._fall_due[kind](step, key, moment)
        raise WorkflowError(f"workflow {self.flow.id}: more than 10,000 timed firings before {format_moment(until)}")

    def _due_timer(self, step: Step, timer_id: str, at: datetime) -> None:
        inst = step.instance
        del inst["timers"][timer_id]
        timer = next(t for t in self.flow.timers if t.id == timer_id)
        self._emit(step, at, "timer", timer=timer_id)
        self._auto(step, timer.transition, at)

    def _due_warn(self, step: Step, sla_id: str, at: datetime) -> None:
        step.instance["sla"]["warned"] = True
        self._emit(step, at, "sla-warning", sla=sla_id, state=step.instance["state"])

    def _due_breach(self, step: Step, sla_id: str, at: datetime) -> None:
        inst = step.instance
        inst["sla"]["breached"] = True
        sla = self._sla_of(inst)
        assert sla is not None
        self._emit(step, at, "sla-breach", sla=sla_id, state=inst["state"])
        if sla.escalateTo:
            self._reassign(step, sla.escalateTo, at, reason=f"SLA {sla_id} breached")
        if sla.onBreach:
            self._auto(step, sla.onBreach, at)

    def _due_escalation(self, step: Step, index: str, at: datetime) -> None:
        inst = step.instance
        sla = self._sla_of(inst)
        assert sla is not None
        esc = sla.escalations[int(index)]
        inst["sla"]["escalated"] = int(index) + 1
        self._emit(step, at, "escalation", sla=sla.id, level=int(index) + 1)
        if esc.notify:
            self._emit(step, at, "notify", role=esc.notify, reason=f"SLA {sla.id} escalation {int(index) + 1}")
        if esc.reassignTo:
            self._reassign(step, esc.reassignTo, at, reason=f"SLA {sla.id} escalation {int(index) + 1}")
        if esc.transition:
            self._auto(step, esc.transition, at)

    # --- states, transitions, SLAs ---------------------------------------------------------------------------

    def _enter(self, step: Step, state: str, at: datetime) -> None:
        inst = step.instance
        inst["state"], inst["enteredAt"] = state, format_moment(at)
        definition = self.flow.states[state]
        self._emit(step, at, "entered", state=state)
        inst["sla"] = None
        if definition.sla is not None:
            inst["sla"] = _fresh_sla(definition.sla.id, at)
            if definition.sla.start is None or self._condition(f"sla:{state}/start", inst, at):
                self._sla_start(step, at)
        for timer in self.flow.timers:
            if timer.state == state:
                moment = self._timer_due(timer.id, timer.after, inst, at)
                if moment is not None:
                    inst["timers"][timer.id] = format_moment(moment)
                    self._emit(step, at, "timer-set", timer=timer.id, due=format_moment(moment))
        if definition.task is not None:
            task = definition.task
            assignee = (
                {"role": task.assign.role}
                if task.assign.role
                else {"user": str(field_at(inst["data"], task.assign.field or "") or "")}
            )
            inst["task"] = {"id": task.id, "assignee": assignee, "outcomes": dict(task.outcomes)}
            self._emit(step, at, "task", task=task.id, assignee=assignee)
        if definition.final:
            inst["status"] = "completed"
            self._emit(step, at, "completed", state=state)

    def _timer_due(self, timer_id: str, after: str | None, inst: Mapping[str, Any], at: datetime) -> datetime | None:
        if after is not None:
            return ALWAYS.add(at, ALWAYS.seconds(after))
        value = self._value(f"timer:{timer_id}/at", inst, at)
        return None if value is None else parse_moment(str(value).replace("Z", "+00:00"))

    def _leave(self, step: Step, at: datetime) -> None:
        inst = step.instance
        sla_state = inst["sla"]
        if sla_state is not None and sla_state["running"]:
            self._sla_stop(step, at)
        inst["sla"] = None
        for timer_id in sorted(inst["timers"]):
            self._emit(step, at, "timer-cleared", timer=timer_id)
        inst["timers"] = {}
        if inst["task"] is not None:
            self._emit(step, at, "task-closed", task=inst["task"]["id"])
            inst["task"] = None

    def _sla_start(self, step: Step, at: datetime) -> None:
        sla_state = step.instance["sla"]
        sla_state.update(started=True, running=True, since=format_moment(at), elapsed=0.0)
        self._emit(step, at, "sla-started", sla=sla_state["id"], state=step.instance["state"])
        if self._condition_of("pause", step.instance, at):
            self._sla_pause(step, at)

    def _sla_pause(self, step: Step, at: datetime) -> None:
        sla_state = step.instance["sla"]
        calendar = self.model.calendars[step.instance["state"]]
        sla_state["elapsed"] += calendar.counted(read_moment(sla_state["since"]), at)
        sla_state.update(paused=True, since=format_moment(at))
        self._emit(step, at, "sla-paused", sla=sla_state["id"])

    def _sla_stop(self, step: Step, at: datetime) -> None:
        inst = step.instance
        sla_state = inst["sla"]
        definition = self.flow.states[inst["state"]].sla
        assert definition is not None
        if not sla_state["paused"]:
            calendar = self.model.calendars[inst["state"]]
            sla_state["elapsed"] += calendar.counted(read_moment(sla_state["since"]), at)
        sla_state.update(running=False, since=format_moment(at))
        self._emit(
            step, at, "sla-met", sla=sla_state["id"], late=sla_state["breached"], counted=round(sla_state["elapsed"], 3)
        )
        self._actions(step, definition.onSuccess, f"sla:{inst['state']}", _system(), at)

    def _sla_conditions(self, step: Step, at: datetime) -> None:
        """After a field changed: the SLA's reset, start, pause/resume and stop conditions, in that order."""
        inst = step.instance
        sla_state = inst["sla"]
        if sla_state is None:
            return
        if sla_state["started"] and self._condition_of("reset", inst, at):
            sla_state.update(elapsed=0.0, since=format_moment(at), warned=False, breached=False, escalated=0)
            self._emit(step, at, "sla-reset", sla=sla_state["id"])
        if not sla_state["started"]:
            if self._condition_of("start", inst, at):
                self._sla_start(step, at)
            return
        if not sla_state["running"]:
            return
        paused = self._condition_of("pause", inst, at)
        if paused and not sla_state["paused"]:
            self._sla_pause(step, at)
        elif not paused and sla_state["paused"]:
            sla_state.update(paused=False, since=format_moment(at))
            self._emit(step, at, "sla-resumed", sla=sla_state["id"])
        if self._condition_of("stop", inst, at):
            self._sla_stop(step, at)

    def _sla_of(self, inst: Mapping[str, Any]) -> Sla | None:
        state = inst["state"]
        return None if state is None else self.flow.states[state].sla

    def _condition_of(self, key: str, inst: Mapping[str, Any], at: datetime) -> bool:
        expr_id = f"sla:{inst['state']}/{key}"
        return expr_id in self.model.program.sources and self._condition(expr_id, inst, at)

    # --- transitions, approvals, tasks ------------------------------------------------------------------------

    def _guards_hold(self, step: Step, transition: Transition, actor: Actor, at: datetime) -> bool:
        ids = [f"guard:{transition.id}"] if transition.guard else []
        ids.extend(self.model.rule_guards.get(transition.id, ()))
        for expr_id in ids:
            held = self._condition(expr_id, step.instance, at, actor)
            self._emit(step, at, "guard", transition=transition.id, guard=expr_id, result=held)
            if not held:
                self._emit(step, at, "refused", transition=transition.id, reason=f"{expr_id} does not hold")
                return False
        return True

    def _auto(self, step: Step, transition_id: str, at: datetime) -> None:
        transition = self.model.transitions.get(transition_id)
        inst = step.instance
        if transition is None or inst["status"] != "running" or inst["state"] not in transition.sources():
            self._emit(step, at, "refused", transition=transition_id, reason=f"not from state {inst['state']}")
            return
        if self._guards_hold(step, transition, _system(), at):
            self._take(step, transition, _system(), at)

    def _take(self, step: Step, transition: Transition, actor: Actor, at: datetime) -> None:
        inst = step.instance
        source = inst["state"]
        self._leave(step, at)
        self._emit(
            step, at, "transition", transition=transition.id, source=source, target=transition.to, by=actor.to_json()
        )
        self._actions(step, transition.actions, f"transition:{transition.id}", actor, at)
        for event in transition.emits:
            self._event(step, event, at)
        self._enter(step, transition.to, at)

    def _actions(self, step: Step, actions: list[Action], prefix: str, actor: Actor, at: datetime) -> None:
        inst = step.instance
        for i, action in enumerate(actions):
            for path in action.set:
                self._write(step, path, self._value(f"{prefix}/{i}/{path}", inst, at, actor), at, "set")
            if action.emit:
                self._event(step, action.emit, at)
            if action.notify:
                self._emit(step, at, "notify", role=action.notify, reason=prefix)
            if action.task:
                self._emit(step, at, "task-requested", task=action.task)

    def _event(self, step: Step, name: str, at: datetime) -> None:
        events = self.model.package.events.events if self.model.package.events else {}
        definition = events.get(name)
        payload = {p: field_at(step.instance["data"], p) for p in (definition.payload if definition else [])}
        self._emit(step, at, "event", event=name, payload=payload)

    def _request_approval(self, step: Step, transition: Transition, actor: Actor, at: datetime) -> None:
        approval = transition.approval
        assert approval is not None
        chain: list[dict[str, str]] = [{"role": role} for role in approval.approvers]
        if approval.approverField:
            chain.append({"user": str(field_at(step.instance["data"], approval.approverField) or "")})
        if not chain:
            raise WorkflowError(f"transition {transition.id}: the approval names no approver")
        sequential = approval.mode == "sequential"
        needed = len(chain) if sequential or approval.quorum is None else min(approval.quorum, len(chain))
        step.instance["approval"] = {
            "transition": transition.id,
            "requestedBy": actor.to_json(),
            "mode": approval.mode,
            "chain": chain,
            "open": [0] if sequential else list(range(len(chain))),
            "approved": [],
            "needed": needed,
        }
        self._emit(
            step,
            at,
            "approval-requested",
            transition=transition.id,
            by=actor.to_json(),
            mode=approval.mode,
            needed=needed,
        )
        for index in step.instance["approval"]["open"]:
            self._emit(step, at, "task", task=f"approve:{transition.id}", assignee=chain[index])

    def _decide_approval(
        self, step: Step, approval: dict[str, Any], decision: str, actor: Actor, at: datetime, comment: str | None
    ) -> None:
        chain = approval["chain"]
        mine = [i for i in approval["open"] if _assigned(chain[i], actor)]
        if not mine:
            assigned = ", ".join(_describe(chain[i]) for i in approval["open"])
            raise WorkflowError(
                f"{actor.user} ({actor.role}) is not an assignee of the approval of "
                f"{approval['transition']} (open: {assigned})"
            )
        if decision not in ("approve", "reject"):
            raise WorkflowError(f"an approval is decided with approve or reject, not {decision!r}")
        index = mine[0]
        approval["open"].remove(index)
        self._emit(
            step,
            at,
            "decided",
            task=f"approve:{approval['transition']}",
            decision=decision,
            by=actor.to_json(),
            comment=comment,
        )
        transition = self.model.transitions[approval["transition"]]
        if decision == "reject":
            step.instance["approval"] = None
            self._emit(step, at, "approval-rejected", transition=transition.id, by=actor.to_json())
            return
        approval["approved"].append(index)
        if len(approval["approved"]) >= approval["needed"]:
            step.instance["approval"] = None
            self._emit(step, at, "approval-granted", transition=transition.id)
            requester = Actor(**approval["requestedBy"])
            if self._guards_hold(step, transition, requester, at):
                self._take(step, transition, requester, at)
            return
        if approval["mode"] == "sequential":
            approval["open"] = [index + 1]
            self._emit(step, at, "task", task=f"approve:{transition.id}", assignee=chain[index + 1])

    def _reassign(self, step: Step, role: str, at: datetime, *, reason: str) -> None:
        inst = step.instance
        if inst["task"] is not None:
            inst["task"]["assignee"] = {"role": role}
            self._emit(step, at, "reassigned", task=inst["task"]["id"], assignee={"role": role}, reason=reason)
        approval = inst["approval"]
        if approval is not None:
            for index in approval["open"]:
                approval["chain"][index] = {"role": role}
                self._emit(
                    step,
                    at,
                    "reassigned",
                    task=f"approve:{approval['transition']}",
                    assignee={"role": role},
                    reason=reason,
                )
        if inst["task"] is None and approval is None:
            self._emit(step, at, "reassigned", task=None, assignee={"role": role}, reason=reason)

    def _checked(self, data: Mapping[str, Any], at: datetime) -> dict[str, Any]:
        """A record's data as the record engine accepts it (types, calculated fields, hard validations)."""
        records = self.model.records()
        result = records.check(records.strip_calculated(data), at)  # a stored record's calculated values are redone
        if not result.ok:
            problems = "; ".join(f"{e['field'] or '-'}: {e['message']}" for e in result.errors)
            raise WorkflowError(f"the record is refused: {problems}")
        return result.data

    def _write(self, step: Step, path: str, value: Any, at: datetime, kind: str) -> None:
        """Set a field of the instance's record through the record engine: types checked, calculated fields
        recomputed, hard validations enforced (a change the record would refuse is refused here too)."""
        inst = step.instance
        records = self.model.records()
        patched = set_field(records.strip_calculated(inst["data"]), path, value)
        result = records.check(patched, at)
        if not result.ok:
            problems = "; ".join(f"{e['field'] or '-'}: {e['message']}" for e in result.errors)
            raise WorkflowError(f"instance {inst['id']}: {path} = {value!r} is refused: {problems}")
        before = inst["data"]
        inst["data"] = result.data
        self._emit(step, at, kind, field=path, value=value)
        for name in sorted(records.calculated_names):
            if before.get(name) != result.data.get(name):
                self._emit(step, at, "calculated", field=name, value=result.data.get(name))

    # --- expressions -------------------------------------------------------------------------------------------

    def _bound(self, inst: Mapping[str, Any], at: datetime, actor: Actor | None) -> dict[str, Any]:
        context = Context(str(inst["state"] or ""), (actor or _system()).role, at, self.model.locale)
        return self.model.program.bind(inst["data"], context, zero_absent=True)

    def _value(self, expr_id: str, inst: Mapping[str, Any], at: datetime, actor: Actor | None = None) -> Any:
        try:
            return self.model.program.evaluate_bound(expr_id, self._bound(inst, at, actor))
        except MissingValueError:
            return None
        except EvaluationError as exc:
            raise WorkflowError(f"workflow {self.flow.id}: {exc}") from None

    def _condition(self, expr_id: str, inst: Mapping[str, Any], at: datetime, actor: Actor | None = None) -> bool:
        return self._value(expr_id, inst, at, actor) is True

    @staticmethod
    def _emit(step: Step, at: datetime, kind: str, **details: Any) -> None:
        step.effects.append({"at": format_moment(at), "effect": kind, **details})


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


def _writable(instance: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an instance that the engine may change without touching the original: the instance and the
    containers the engine changes in place (timers, the SLA clock, the task, the approval and its lists) are
    copied; everything else (data, package, the values inside) is only ever replaced, so it is shared."""
    inst = dict(instance)
    inst["timers"] = dict(inst["timers"])
    if inst["sla"] is not None:
        inst["sla"] = dict(inst["sla"])
    if inst["task"] is not None:
        inst["task"] = dict(inst["task"])
    approval = inst["approval"]
    if approval is not None:
        inst["approval"] = {
            **approval,
            "chain": list(approval["chain"]),
            "open": list(approval["open"]),
            "approved": list(approval["approved"]),
        }
    return inst


def _forward(instance: Mapping[str, Any], at: datetime) -> None:
    """Refuse an input dated before the instance's clock: the clock only moves forward."""
    if at < read_moment(instance["clock"]):
        raise WorkflowError(
            f"instance {instance['id']}: time cannot move backwards from {instance['clock']} to {format_moment(at)}"
        )


def _system() -> Actor:
    return Actor(SYSTEM, SYSTEM)


def _assigned(assignee: Mapping[str, str], actor: Actor) -> bool:
    if "role" in assignee:
        return assignee["role"] == actor.role
    return bool(assignee.get("user")) and assignee.get("user") == actor.user


def _describe(assignee: Mapping[str, str]) -> str:
    return f"role {assignee['role']}" if "role" in assignee else f"user {assignee.get('user') or '(nobody)'}"


def _fresh_sla(sla_id: str, at: datetime) -> dict[str, Any]:
    """The state of an SLA a state has just given its instance: not started, nothing elapsed, nothing reported."""
    return {
        "id": sla_id,
        "started": False,
        "running": False,
        "paused": False,
        "elapsed": 0.0,
        "since": format_moment(at),
        "warned": False,
        "breached": False,
        "escalated": 0,
    }
