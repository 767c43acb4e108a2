"""Workflow rules (WF5xx), in code order: structure, guards, states and transitions, timers, SLAs and calendars,
approvals, tasks, roles, fields and the workflow's other CEL expressions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from crmctl.lint.base import LintRule
from crmctl.lint.cel_checks import (
    ConditionNotBoolRule,
    CostlyExpressionRule,
    InvalidExpressionRule,
    invalid_findings,
    type_findings,
)
from crmctl.lint.context import Expr, LintContext
from crmctl.lint.structure import StructuralRule
from crmctl.lint.walk import iter_actions, workflow_semantic, workflows
from crmctl.model.artifacts import BUILTIN_CALENDARS, Workflow
from crmctl.model.cel import TIMESTAMP, cel_type_of
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.durations import BUSINESS_DAY, UNIT_SECONDS, parse_duration
from crmctl.model.source import JsonPath

__all__ = ["RULES"]


# WF500-WF502: the structure and the guards of transitions.


class WF500(StructuralRule):
    code = "WF500"
    name = "workflow-structure"
    summary = "workflow.yaml does not match the workflow JSON Schema."
    bad = "transitions: [{id: t1, to: won}]      # no from"
    good = "transitions: [{id: t1, from: open, to: won}]"


class WF501(InvalidExpressionRule):
    code = "WF501"
    name = "guard-expression-invalid"
    bad = "guard: amount > 1000"
    good = "guard: amount > 1000.0"


class WF502(ConditionNotBoolRule):
    code = "WF502"
    name = "guard-not-bool"
    bad = "guard: amount"
    good = "guard: amount > 0.0"


# WF503-WF511: states, transitions, ids, events and the entity; WF510 is the guards' cost.


class WF503(LintRule):
    code = "WF503"
    name = "unknown-state"
    summary = "The initial state, a transition's from/to, or a timer's state is not declared in `states`."
    why = "Records could enter a state the platform does not know; the workflow cannot be installed."
    bad = "initial: nwe"
    good = "initial: new"
    fix = "Declare the state under `states` or correct the name."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            base: JsonPath = ("workflows", w)
            refs: list[tuple[str, JsonPath, str]] = [(flow.initial, (*base, "initial"), "initial")]
            for t, tr in enumerate(flow.transitions):
                sources = tr.sources()
                for k, src in enumerate(sources):
                    where = (*base, "transitions", t, "from") + ((k,) if isinstance(tr.source, list) else ())
                    refs.append((src, where, f"transition:{tr.id}"))
                refs.append((tr.to, (*base, "transitions", t, "to"), f"transition:{tr.id}"))
            for m, timer in enumerate(flow.timers):
                refs.append((timer.state, (*base, "timers", m, "state"), f"timer:{timer.id}"))
            for state, where, what in refs:
                if state not in flow.states:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: {what.split(':')[0]} names unknown state {state!r}",
                        "workflow",
                        where,
                        workflow_semantic(flow, what),
                    )


class WF504(LintRule):
    code = "WF504"
    name = "unknown-transition"
    summary = "A timer, an SLA `onBreach` or escalation, or a task outcome names a transition the workflow lacks."
    why = (
        "When the timer fires, the SLA breaches or escalates, or the task is decided, nothing happens; the record "
        "is stuck."
    )
    bad = "timers: [{id: remind, state: open, after: 3d, transition: escalte}]"
    good = "timers: [{id: remind, state: open, after: 3d, transition: escalate}]"
    fix = "Name a transition id of the same workflow."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            ids = {t.id for t in flow.transitions}
            for m, timer in enumerate(flow.timers):
                if timer.transition not in ids:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: timer {timer.id} takes unknown transition {timer.transition!r}",
                        "workflow",
                        ("workflows", w, "timers", m, "transition"),
                        workflow_semantic(flow, f"timer:{timer.id}"),
                    )
            for state, sdef in flow.states.items():
                base: JsonPath = ("workflows", w, "states", state)
                refs: list[tuple[str, JsonPath, str]] = []
                if sdef.sla is not None:
                    if sdef.sla.onBreach is not None:
                        refs.append((sdef.sla.onBreach, (*base, "sla", "onBreach"), f"SLA of {state}"))
                    for e, esc in enumerate(sdef.sla.escalations):
                        if esc.transition is not None:
                            where = (*base, "sla", "escalations", e, "transition")
                            refs.append((esc.transition, where, f"escalation {e + 1} of the SLA of {state}"))
                if sdef.task is not None:
                    for decision, tid in sdef.task.outcomes.items():
                        where = (*base, "task", "outcomes", decision)
                        refs.append((tid, where, f"outcome {decision} of task {sdef.task.id}"))
                for tid, where, what in refs:
                    if tid not in ids:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: {what} takes unknown transition {tid!r}",
                            "workflow",
                            where,
                            workflow_semantic(flow, f"state:{state}"),
                        )


class WF505(LintRule):
    code = "WF505"
    name = "unreachable-state"
    summary = "A state cannot be reached from the initial state by any transition."
    why = "No record will ever be in it; usually a missing transition or a typo in `to`."
    bad = "states: {new, open, won}; transitions: [new -> won]"
    good = "transitions: [new -> open, open -> won]"
    fix = "Add a transition into the state or remove it."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            if flow.initial not in flow.states:
                continue
            edges: dict[str, set[str]] = {}
            for tr in flow.transitions:
                for src in tr.sources():
                    edges.setdefault(src, set()).add(tr.to)
            seen = {flow.initial}
            todo = [flow.initial]
            while todo:
                for nxt in edges.get(todo.pop(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            for state in flow.states:
                if state not in seen:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: state {state!r} is unreachable from {flow.initial!r}",
                        "workflow",
                        ("workflows", w, "states", state),
                        workflow_semantic(flow, f"state:{state}"),
                        key=True,
                    )


class WF506(LintRule):
    code = "WF506"
    name = "dead-end-state"
    summary = "A non-final state has no outgoing transition."
    why = "Records that reach it are stuck forever; either a transition is missing or the state is final."
    bad = "states: {open: {}, won: {}}   # won has no way out and is not final"
    good = "states: {open: {}, won: {final: true}}"
    fix = "Add an outgoing transition or mark the state `final: true`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            leaving = {src for tr in flow.transitions for src in tr.sources()}
            for state, sdef in flow.states.items():
                if not sdef.final and state not in leaving:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: state {state!r} is not final and has no outgoing transition",
                        "workflow",
                        ("workflows", w, "states", state),
                        workflow_semantic(flow, f"state:{state}"),
                        key=True,
                    )


class WF507(LintRule):
    code = "WF507"
    name = "final-state-has-transitions"
    summary = "A final state has outgoing transitions."
    why = "Final means the record's lifecycle is over; transitions out of it contradict that."
    bad = "won: {final: true}; transitions: [{from: won, to: open}]"
    good = "won: {}   # not final, or drop the transition"
    fix = "Remove the transition or unmark `final`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for t, tr in enumerate(flow.transitions):
                for src in tr.sources():
                    sdef = flow.states.get(src)
                    if sdef is not None and sdef.final:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: transition {tr.id} leaves final state {src!r}",
                            "workflow",
                            ("workflows", w, "transitions", t, "from"),
                            workflow_semantic(flow, f"transition:{tr.id}"),
                        )


class WF508(LintRule):
    code = "WF508"
    name = "duplicate-workflow-id"
    summary = "Two workflows, or two transitions, timers or tasks of one workflow, share an id."
    why = "Rules, timers, SLAs and `task` actions address them by id; a duplicate makes them ambiguous."
    bad = "transitions: [{id: win, ...}, {id: win, ...}]"
    good = "transitions: [{id: win, ...}, {id: lose, ...}]"
    fix = "Give each workflow, and each transition, timer and task within a workflow, a distinct id."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        flows: set[str] = set()
        for w, flow in workflows(ctx):
            if flow.id in flows:
                yield ctx.finding(
                    self,
                    f"workflow id {flow.id!r} is used twice",
                    "workflow",
                    ("workflows", w, "id"),
                    workflow_semantic(flow),
                )
            flows.add(flow.id)
            named: tuple[tuple[str, list[tuple[str, JsonPath]]], ...] = (
                ("transition", [(t.id, ("transitions", i, "id")) for i, t in enumerate(flow.transitions)]),
                ("timer", [(m.id, ("timers", i, "id")) for i, m in enumerate(flow.timers)]),
                ("task", [(s.task.id, ("states", n, "task", "id")) for n, s in flow.states.items() if s.task]),
            )
            for what, ids in named:
                seen: set[str] = set()
                for item_id, where in ids:
                    if item_id in seen:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: {what} id {item_id!r} is used twice",
                            "workflow",
                            ("workflows", w, *where),
                            workflow_semantic(flow, f"{what}:{item_id}"),
                        )
                    seen.add(item_id)


class WF509(LintRule):
    code = "WF509"
    name = "unknown-event"
    summary = "A transition, or an `emit` action, emits an event that events.yaml does not declare."
    why = "Subscribers cannot rely on an undeclared event; its payload is unknown."
    bad = "emits: [LeadWonn]"
    good = "emits: [LeadWon]"
    fix = "Declare the event in events.yaml or correct the name."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        events = ctx.package.events.events if ctx.package.events else {}
        for w, flow in workflows(ctx):
            for t, tr in enumerate(flow.transitions):
                for e, event in enumerate(tr.emits):
                    if event not in events:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: transition {tr.id} emits undeclared event {event!r}",
                            "workflow",
                            ("workflows", w, "transitions", t, "emits", e),
                            workflow_semantic(flow, f"transition:{tr.id}"),
                        )
            for action, where, sem in iter_actions(flow, w):
                if action.emit is not None and action.emit not in events:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: action emits undeclared event {action.emit!r}",
                        "workflow",
                        (*where, "emit"),
                        sem,
                    )


class WF510(CostlyExpressionRule):
    code = "WF510"
    name = "guard-expression-too-costly"


class WF511(LintRule):
    code = "WF511"
    name = "workflow-unknown-entity"
    summary = "A workflow names an entity the schema does not define, or omits it while the schema has several."
    why = "The workflow cannot be attached to records, and its guards cannot be type-checked."
    bad = "entity: Laed"
    good = "entity: Lead"
    fix = "Set `entity` to an entity of schema.yaml (it may be omitted only with a single entity)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            problem = ctx.entity_problem(flow.entity)
            if problem:
                where = ("workflows", w, "entity" if flow.entity is not None else "id")
                yield ctx.finding(self, f"workflow {flow.id}: {problem}", "workflow", where, workflow_semantic(flow))


# WF512-WF516: SLA calendars, transitions taken by timers, SLAs and tasks, task actions, roles, fields.


class WF512(LintRule):
    code = "WF512"
    name = "unknown-calendar"
    summary = "An SLA names a calendar that is neither `calendar`, `business` nor one of the workflow's `calendars`."
    why = "The SLA clock cannot run without working time; its deadlines cannot be computed."
    bad = "sla: {id: s, breachAfter: 2bd, calendar: buisness}"
    good = "sla: {id: s, breachAfter: 2bd, calendar: business}"
    fix = "Name `calendar`, `business` or a calendar defined under the workflow's `calendars`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for state, sdef in flow.states.items():
                sla = sdef.sla
                if sla is not None and sla.calendar not in BUILTIN_CALENDARS and sla.calendar not in flow.calendars:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: SLA of {state} names unknown calendar {sla.calendar!r}",
                        "workflow",
                        ("workflows", w, "states", state, "sla", "calendar"),
                        workflow_semantic(flow, f"state:{state}"),
                    )


def _leaving(flow: Workflow) -> Iterator[tuple[str, str, JsonPath, str, str]]:
    """(transition id, state it must leave, where, semantic, what) for every automatic or task transition."""
    for m, timer in enumerate(flow.timers):
        yield timer.transition, timer.state, ("timers", m, "transition"), f"timer:{timer.id}", f"timer {timer.id}"
    for state, sdef in flow.states.items():
        sem = f"state:{state}"
        if sdef.sla is not None:
            if sdef.sla.onBreach is not None:
                yield sdef.sla.onBreach, state, ("states", state, "sla", "onBreach"), sem, f"SLA of {state}"
            for e, esc in enumerate(sdef.sla.escalations):
                if esc.transition is not None:
                    path: JsonPath = ("states", state, "sla", "escalations", e, "transition")
                    yield esc.transition, state, path, sem, f"escalation {e + 1} of the SLA of {state}"
        if sdef.task is not None:
            what = f"task {sdef.task.id}"
            for decision, tid in sdef.task.outcomes.items():
                yield tid, state, ("states", state, "task", "outcomes", decision), sem, f"outcome {decision} of {what}"


class WF513(LintRule):
    code = "WF513"
    name = "transition-does-not-leave-state"
    summary = "A timer, SLA breach or escalation, or task outcome takes a transition that does not leave its state."
    why = "The transition cannot be taken from that state, so the timer, the SLA or the task's decision does nothing."
    bad = "states: {open: {task: {id: t, assign: {role: sales}, outcomes: {accept: win}}}}\n# win: {from: new, to: won}"
    good = "# win: {from: open, to: won}"
    fix = "Name a transition whose `from` includes the state, or add the state to the transition's `from`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            sources = {t.id: set(t.sources()) for t in flow.transitions}
            for tid, state, where, sem, what in _leaving(flow):
                if tid in sources and state not in sources[tid]:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: {what} takes transition {tid!r}, which does not leave {state!r}",
                        "workflow",
                        ("workflows", w, *where),
                        workflow_semantic(flow, sem),
                    )


class WF514(LintRule):
    code = "WF514"
    name = "unknown-task"
    summary = "A `task` action names a task that no state of the workflow defines."
    why = "The action cannot open a task the workflow does not describe (assignee, outcomes)."
    bad = "actions: [{task: reviw}]"
    good = "actions: [{task: review}]   # states: {open: {task: {id: review, ...}}}"
    fix = "Name the id of a state's `task` in the same workflow."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            tasks = {s.task.id for s in flow.states.values() if s.task is not None}
            for action, where, sem in iter_actions(flow, w):
                if action.task is not None and action.task not in tasks:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: action opens unknown task {action.task!r}",
                        "workflow",
                        (*where, "task"),
                        sem,
                    )


def _new_role_uses(flow: Workflow, w: int) -> Iterator[tuple[str, JsonPath, str]]:
    for action, where, sem in iter_actions(flow, w):
        if action.notify is not None:
            yield action.notify, (*where, "notify"), sem
    for state, sdef in flow.states.items():
        sem = workflow_semantic(flow, f"state:{state}")
        if sdef.sla is not None:
            for e, esc in enumerate(sdef.sla.escalations):
                for attr in ("reassignTo", "notify"):
                    role = getattr(esc, attr)
                    if role is not None:
                        yield role, ("workflows", w, "states", state, "sla", "escalations", e, attr), sem
        if sdef.task is not None and sdef.task.assign.role is not None:
            yield sdef.task.assign.role, ("workflows", w, "states", state, "task", "assign", "role"), sem


class WF515(LintRule):
    code = "WF515"
    name = "workflow-undeclared-role"
    summary = "A role notified, reassigned to by an escalation, or assigned a task is not declared in package.yaml."
    why = "Undeclared roles are not provisioned: the notification reaches nobody and the work is assigned to nobody."
    bad = "roles: [sales]   # package.yaml\nescalations: [{after: 1d, notify: salesManger}]"
    good = "roles: [sales, salesManager]\nescalations: [{after: 1d, notify: salesManager}]"
    fix = "Declare the role in package.yaml `roles` or correct its name (approvers and escalateTo: see PKG101)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.manifest is None:
            return
        declared = set(ctx.package.manifest.roles)
        for w, flow in workflows(ctx):
            for role, where, sem in _new_role_uses(flow, w):
                if role not in declared:
                    yield ctx.finding(self, f"role {role!r} is not declared in package.yaml", "workflow", where, sem)


def _field_uses(flow: Workflow, w: int) -> Iterator[tuple[str, JsonPath, str, bool]]:
    """(field path, where, semantic, is-key) for every field a workflow writes or reads a user from."""
    for action, where, sem in iter_actions(flow, w):
        for fpath in action.set:
            yield fpath, (*where, "set", fpath), sem, True
    for t, tr in enumerate(flow.transitions):
        if tr.approval is not None and tr.approval.approverField is not None:
            where = ("workflows", w, "transitions", t, "approval", "approverField")
            yield tr.approval.approverField, where, workflow_semantic(flow, f"transition:{tr.id}"), False
    for state, sdef in flow.states.items():
        if sdef.task is not None and sdef.task.assign.field is not None:
            where = ("workflows", w, "states", state, "task", "assign", "field")
            yield sdef.task.assign.field, where, workflow_semantic(flow, f"state:{state}"), False


class WF516(LintRule):
    code = "WF516"
    name = "workflow-unknown-field"
    summary = "A `set` action, an approval's `approverField` or a task's `assign.field` names no field of the entity."
    why = "The runtime cannot write the value or find the user; the action or the approval fails when it runs."
    bad = "actions: [{set: {amout: '0.0'}}]"
    good = "actions: [{set: {amount: '0.0'}}]"
    fix = "Name a field of the workflow's entity (dotted paths reach into object fields)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            entity = ctx.resolve_entity(flow.entity)
            if entity is None:
                continue
            for fpath, where, sem, key in _field_uses(flow, w):
                if ctx.field_def(entity, fpath) is None:
                    yield ctx.finding(
                        self, f"workflow {flow.id}: {entity} has no field {fpath!r}", "workflow", where, sem, key=key
                    )


# WF517-WF520: approvals, timer schedules and task assignees.


class WF517(LintRule):
    code = "WF517"
    name = "approval-without-approvers"
    summary = "An approval names neither `approvers` nor an `approverField`."
    why = "Nobody can approve, so the transition can never be taken."
    bad = "approval: {mode: sequential}"
    good = "approval: {approvers: [salesManager]}   # or approverField: owner"
    fix = "List approver roles, name a field holding the approver, or drop the approval."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for t, tr in enumerate(flow.transitions):
                if tr.approval is not None and not tr.approval.approvers and tr.approval.approverField is None:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: approval of transition {tr.id} has no approver",
                        "workflow",
                        ("workflows", w, "transitions", t, "approval"),
                        workflow_semantic(flow, f"transition:{tr.id}"),
                    )


class WF518(LintRule):
    code = "WF518"
    name = "quorum-exceeds-approvers"
    summary = "An approval's `quorum` is larger than the number of approvers (roles plus the approver field)."
    why = "The quorum can never be reached, so the transition can never be taken."
    bad = "approval: {mode: parallel, approvers: [manager, finance], quorum: 3}"
    good = "approval: {mode: parallel, approvers: [manager, finance], quorum: 2}"
    fix = "Lower the quorum or add approvers."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for t, tr in enumerate(flow.transitions):
                approval = tr.approval
                if approval is None or approval.quorum is None:
                    continue
                count = len(approval.approvers) + (approval.approverField is not None)
                if count and approval.quorum > count:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: quorum {approval.quorum} of transition {tr.id} exceeds its "
                        f"{count} approver(s)",
                        "workflow",
                        ("workflows", w, "transitions", t, "approval", "quorum"),
                        workflow_semantic(flow, f"transition:{tr.id}"),
                    )


class WF519(LintRule):
    code = "WF519"
    name = "timer-schedule-invalid"
    summary = "A timer has neither or both of `after` (relative) and `at` (absolute)."
    why = "Without either the timer never fires; with both it is unclear which one wins."
    bad = "timers: [{id: t, state: open, transition: close}]"
    good = "timers: [{id: t, state: open, after: 30d, transition: close}]"
    fix = "Give the timer exactly one of `after` or `at`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for m, timer in enumerate(flow.timers):
                if (timer.after is None) == (timer.at is None):
                    which = "neither `after` nor `at`" if timer.after is None else "both `after` and `at`"
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: timer {timer.id} has {which}",
                        "workflow",
                        ("workflows", w, "timers", m),
                        workflow_semantic(flow, f"timer:{timer.id}"),
                    )


class WF520(LintRule):
    code = "WF520"
    name = "task-assignee-invalid"
    summary = "A task's `assign` names neither or both of a `role` and a `field`."
    why = "The runtime must know whom to give the task: every user of a role, or the user a field holds."
    bad = "task: {id: review, assign: {}, outcomes: {ok: approve}}"
    good = "task: {id: review, assign: {role: manager}, outcomes: {ok: approve}}"
    fix = "Set exactly one of `assign.role` or `assign.field`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for state, sdef in flow.states.items():
                task = sdef.task
                if task is not None and (task.assign.role is None) == (task.assign.field is None):
                    which = "neither a role nor a field" if task.assign.role is None else "both a role and a field"
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: task {task.id} is assigned to {which}",
                        "workflow",
                        ("workflows", w, "states", state, "task", "assign"),
                        workflow_semantic(flow, f"state:{state}"),
                    )


# WF521-WF523: calendars and SLA escalations.


def _zone_problem(name: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        return type(exc).__name__
    return None


class WF521(LintRule):
    code = "WF521"
    name = "calendar-unknown-timezone"
    summary = "A calendar's `timezone` is not an IANA time zone."
    why = "Working hours are read in the calendar's time zone; an unknown zone makes every SLA deadline unknown."
    bad = "calendars: {emea: {timezone: Europe/Berln}}"
    good = "calendars: {emea: {timezone: Europe/Berlin}}"
    fix = "Use an IANA time zone name such as `Europe/Berlin`, `America/New_York` or `UTC`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for name, cal in flow.calendars.items():
                if _zone_problem(cal.timezone) is not None:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: calendar {name} has unknown time zone {cal.timezone!r}",
                        "workflow",
                        ("workflows", w, "calendars", name, "timezone"),
                        workflow_semantic(flow, f"calendar:{name}"),
                    )


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class WF522(LintRule):
    code = "WF522"
    name = "calendar-invalid-hours"
    summary = "A calendar has a range that ends before it starts, overlapping ranges on a day, or a holiday no date is."
    why = "The working time of the day is ambiguous or empty, so SLA deadlines are computed wrongly."
    bad = "hours: {mon: ['09:00-13:00', '12:00-17:00']}\nholidays: ['2026-02-30']"
    good = "hours: {mon: ['09:00-12:00', '13:00-17:00']}\nholidays: ['2026-12-25']"
    fix = "Write each range as start-end with start before end, keep a day's ranges apart, and use real dates."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for name, cal in flow.calendars.items():
                base: JsonPath = ("workflows", w, "calendars", name)
                sem = workflow_semantic(flow, f"calendar:{name}")
                for day, ranges in cal.hours.items():
                    spans: list[tuple[int, int, int]] = []
                    for r, text in enumerate(ranges):
                        start, end = (_minutes(part) for part in text.split("-"))
                        if start >= end:
                            yield ctx.finding(
                                self,
                                f"workflow {flow.id}: calendar {name}, {day}: range {text} does not end after "
                                "it starts",
                                "workflow",
                                (*base, "hours", day, r),
                                sem,
                            )
                        else:
                            spans.append((start, end, r))
                    reached = -1
                    for start, end, r in sorted(spans):
                        if start < reached:
                            yield ctx.finding(
                                self,
                                f"workflow {flow.id}: calendar {name}, {day}: range {ranges[r]} overlaps another",
                                "workflow",
                                (*base, "hours", day, r),
                                sem,
                            )
                        reached = max(reached, end)
                for h, holiday in enumerate(cal.holidays):
                    try:
                        date.fromisoformat(holiday)
                    except ValueError:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: calendar {name}: holiday {holiday} is not a date",
                            "workflow",
                            (*base, "holidays", h),
                            sem,
                        )


def _duration(text: str) -> tuple[bool, float]:
    """(in business days, amount in minutes or business days)."""
    try:
        amount, unit = parse_duration(text)
    except ValueError:  # pragma: no cover - the schema already enforces the pattern
        return False, 0.0
    return (True, amount) if unit == BUSINESS_DAY else (False, amount * UNIT_SECONDS[unit] / 60)


class WF523(LintRule):
    code = "WF523"
    name = "escalations-not-increasing"
    severity = Severity.WARNING
    summary = "An SLA's escalation steps are not in increasing order of `after`."
    why = "Escalations fire by time elapsed; a later step listed with an earlier time hides a mistake in the ladder."
    bad = "escalations: [{after: 2d, notify: manager}, {after: 1d, notify: director}]"
    good = "escalations: [{after: 1d, notify: manager}, {after: 2d, notify: director}]"
    fix = "List the steps by increasing `after` (business days and clock units are compared only among themselves)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in workflows(ctx):
            for state, sdef in flow.states.items():
                if sdef.sla is None:
                    continue
                last: dict[bool, float] = {}
                for e, esc in enumerate(sdef.sla.escalations):
                    business, amount = _duration(esc.after)
                    if business in last and amount <= last[business]:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: escalation {e + 1} of the SLA of {state} ({esc.after}) does "
                            "not come after the one before",
                            "workflow",
                            ("workflows", w, "states", state, "sla", "escalations", e, "after"),
                            workflow_semantic(flow, f"state:{state}"),
                        )
                    last[business] = max(amount, last.get(business, amount))


# WF524-WF525: SLA conditions, timer moments and `set` values (CEL).


def _expressions(ctx: LintContext) -> Iterator[tuple[Expr, str, str]]:
    """(expression, what it is, the CEL type it must have or '' when unknown) for the workflow's newer expressions."""
    for w, flow in workflows(ctx):
        entity = ctx.resolve_entity(flow.entity)
        for state, sdef in flow.states.items():
            if sdef.sla is None:
                continue
            for attr in ("start", "pause", "stop", "reset"):
                text = getattr(sdef.sla, attr)
                if text is not None:
                    sla_path: JsonPath = ("workflows", w, "states", state, "sla", attr)
                    expr = Expr(
                        "WF", "workflow", sla_path, workflow_semantic(flow, f"state:{state}"), entity, text, "when"
                    )
                    yield expr, f"SLA {attr} condition", "bool"
        for m, timer in enumerate(flow.timers):
            if timer.at is not None:
                expr = Expr(
                    "WF",
                    "workflow",
                    ("workflows", w, "timers", m, "at"),
                    workflow_semantic(flow, f"timer:{timer.id}"),
                    entity,
                    timer.at,
                    "expression",
                )
                yield expr, f"`at` of timer {timer.id}", TIMESTAMP
        for action, where, sem in iter_actions(flow, w):
            for fpath, text in action.set.items():
                target = ctx.field_def(entity, fpath)
                wanted = cel_type_of(target) if target is not None else ""
                yield (
                    Expr("WF", "workflow", (*where, "set", fpath), sem, entity, text, "expression"),
                    f"value set into {fpath}",
                    wanted,
                )


class WF524(LintRule):
    code = "WF524"
    name = "workflow-expression-invalid"
    summary = "An SLA start/pause/stop/reset condition, a timer's `at` or a `set` value does not parse or type-check."
    why = "The runtime compiles these expressions when the package is installed; one that fails stops the install."
    bad = "sla: {id: s, breachAfter: 2d, pause: status == 1}"
    good = "sla: {id: s, breachAfter: 2d, pause: status == 'waiting'}"
    fix = "Correct the expression; fields are top-level variables, numbers compare only with the same type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        return invalid_findings(self, ctx, ((expr, what) for expr, what, _wanted in _expressions(ctx)))


class WF525(LintRule):
    code = "WF525"
    name = "workflow-expression-wrong-type"
    summary = "An SLA condition is not bool, a timer's `at` no timestamp, or a `set` value not of its field's type."
    why = "The runtime needs a bool to start or stop a clock, a moment to fire a timer and a value that fits the field."
    bad = "timers: [{id: t, state: open, at: nextCall, transition: remind}]   # nextCall is text"
    good = "timers: [{id: t, state: open, at: followUpDate, transition: remind}]   # a date"
    fix = "Convert the value, e.g. `timestamp(x)`, `double(n)` or `x != ''`, or use a field of the right type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        return type_findings(self, ctx, _typed(_expressions(ctx)))


def _typed(exprs: Iterator[tuple[Expr, str, str]]) -> Iterator[tuple[Expr, str, str, tuple[str, ...]]]:
    """The expressions whose type is known, with the types accepted for each."""
    for expr, what, wanted in exprs:
        if wanted:
            # A `set` may clear its field with null; conditions and moments need a value.
            yield expr, what, wanted, (wanted, "dyn", "null") if what.startswith("value set") else (wanted, "dyn")


RULES: list[type[LintRule]] = [
    WF500,
    WF501,
    WF502,
    WF503,
    WF504,
    WF505,
    WF506,
    WF507,
    WF508,
    WF509,
    WF510,
    WF511,
    WF512,
    WF513,
    WF514,
    WF515,
    WF516,
    WF517,
    WF518,
    WF519,
    WF520,
    WF521,
    WF522,
    WF523,
    WF524,
    WF525,
]
