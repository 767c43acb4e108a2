"""What happens inside a workflow instance: the clock and what falls due, states, SLA clocks, transitions,
approvals, tasks and expressions. `runtime.workflow.WorkflowEngine` adds the inputs on top of it."""

from __future__ import annotations

from collections.abc import Mapping
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

_RANK = {"timer": 0, "warn": 1, "escalation": 2, "breach": 3}
_DUE_CACHE_SIZE = 100_000

__all__: list[str] = []


class _Flow:
    """The workflow engine's inner workings; the public inputs are `WorkflowEngine`'s."""

    def __init__(self, model: WorkflowModel) -> None:
        self.model = model
        self.flow = model.workflow
        self._due_cache: dict[tuple[Any, ...], list[tuple[datetime, int, str, str]]] = {}

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
        sla = _sla_of(self, instance)
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
            getattr(self, f"_due_{kind}")(step, key, moment)
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
        sla = _sla_of(self, inst)
        assert sla is not None
        self._emit(step, at, "sla-breach", sla=sla_id, state=inst["state"])
        if sla.escalateTo:
            self._reassign(step, sla.escalateTo, at, reason=f"SLA {sla_id} breached")
        if sla.onBreach:
            self._auto(step, sla.onBreach, at)

    def _due_escalation(self, step: Step, index: str, at: datetime) -> None:
        inst = step.instance
        sla = _sla_of(self, inst)
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
            inst["sla"] = {
                "id": definition.sla.id,
                "started": False,
                "running": False,
                "paused": False,
                "elapsed": 0.0,
                "since": format_moment(at),
                "warned": False,
                "breached": False,
                "escalated": 0,
            }
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


def _sla_of(engine: _Flow, inst: Mapping[str, Any]) -> Sla | None:
    state = inst["state"]
    return None if state is None else engine.flow.states[state].sla


def _system() -> Actor:
    return Actor(SYSTEM, SYSTEM)


def _assigned(assignee: Mapping[str, str], actor: Actor) -> bool:
    if "role" in assignee:
        return assignee["role"] == actor.role
    return bool(assignee.get("user")) and assignee.get("user") == actor.user


def _describe(assignee: Mapping[str, str]) -> str:
    return f"role {assignee['role']}" if "role" in assignee else f"user {assignee.get('user') or '(nobody)'}"
