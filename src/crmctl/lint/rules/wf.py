"""Workflow and events rules (WF5xx, EVT55x): states, transitions, timers, approvals, tasks, reachability, events."""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.context import LintContext
from crmctl.lint.rules.workflow_extras import iter_actions
from crmctl.model.artifacts import Workflow
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.source import JsonPath

__all__ = ["RULES"]


def _flows(ctx: LintContext) -> Iterator[tuple[int, Workflow]]:
    if ctx.package.workflow is not None:
        yield from enumerate(ctx.package.workflow.workflows)


def _sem(flow: Workflow, rest: str = "") -> str:
    return f"workflow:{flow.id}" + (f"/{rest}" if rest else "")


class WF503(LintRule):
    code = "WF503"
    name = "unknown-state"
    summary = "The initial state, a transition's from/to, or a timer's state is not declared in `states`."
    why = "Records could enter a state the platform does not know; the workflow cannot be installed."
    bad = "initial: nwe"
    good = "initial: new"
    fix = "Declare the state under `states` or correct the name."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in _flows(ctx):
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
                        _sem(flow, what),
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
        for w, flow in _flows(ctx):
            ids = {t.id for t in flow.transitions}
            for m, timer in enumerate(flow.timers):
                if timer.transition not in ids:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: timer {timer.id} takes unknown transition {timer.transition!r}",
                        "workflow",
                        ("workflows", w, "timers", m, "transition"),
                        _sem(flow, f"timer:{timer.id}"),
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
                            _sem(flow, f"state:{state}"),
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
        for w, flow in _flows(ctx):
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
                        _sem(flow, f"state:{state}"),
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
        for w, flow in _flows(ctx):
            leaving = {src for tr in flow.transitions for src in tr.sources()}
            for state, sdef in flow.states.items():
                if not sdef.final and state not in leaving:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: state {state!r} is not final and has no outgoing transition",
                        "workflow",
                        ("workflows", w, "states", state),
                        _sem(flow, f"state:{state}"),
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
        for w, flow in _flows(ctx):
            for t, tr in enumerate(flow.transitions):
                for src in tr.sources():
                    sdef = flow.states.get(src)
                    if sdef is not None and sdef.final:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: transition {tr.id} leaves final state {src!r}",
                            "workflow",
                            ("workflows", w, "transitions", t, "from"),
                            _sem(flow, f"transition:{tr.id}"),
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
        for w, flow in _flows(ctx):
            if flow.id in flows:
                yield ctx.finding(
                    self, f"workflow id {flow.id!r} is used twice", "workflow", ("workflows", w, "id"), _sem(flow)
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
                            _sem(flow, f"{what}:{item_id}"),
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
        for w, flow in _flows(ctx):
            for t, tr in enumerate(flow.transitions):
                for e, event in enumerate(tr.emits):
                    if event not in events:
                        yield ctx.finding(
                            self,
                            f"workflow {flow.id}: transition {tr.id} emits undeclared event {event!r}",
                            "workflow",
                            ("workflows", w, "transitions", t, "emits", e),
                            _sem(flow, f"transition:{tr.id}"),
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


class WF511(LintRule):
    code = "WF511"
    name = "workflow-unknown-entity"
    summary = "A workflow names an entity the schema does not define, or omits it while the schema has several."
    why = "The workflow cannot be attached to records, and its guards cannot be type-checked."
    bad = "entity: Laed"
    good = "entity: Lead"
    fix = "Set `entity` to an entity of schema.yaml (it may be omitted only with a single entity)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in _flows(ctx):
            problem = ctx.entity_problem(flow.entity)
            if problem:
                where = ("workflows", w, "entity" if flow.entity is not None else "id")
                yield ctx.finding(self, f"workflow {flow.id}: {problem}", "workflow", where, _sem(flow))


class WF517(LintRule):
    code = "WF517"
    name = "approval-without-approvers"
    summary = "An approval names neither `approvers` nor an `approverField`."
    why = "Nobody can approve, so the transition can never be taken."
    bad = "approval: {mode: sequential}"
    good = "approval: {approvers: [salesManager]}   # or approverField: owner"
    fix = "List approver roles, name a field holding the approver, or drop the approval."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in _flows(ctx):
            for t, tr in enumerate(flow.transitions):
                if tr.approval is not None and not tr.approval.approvers and tr.approval.approverField is None:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: approval of transition {tr.id} has no approver",
                        "workflow",
                        ("workflows", w, "transitions", t, "approval"),
                        _sem(flow, f"transition:{tr.id}"),
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
        for w, flow in _flows(ctx):
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
                        _sem(flow, f"transition:{tr.id}"),
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
        for w, flow in _flows(ctx):
            for m, timer in enumerate(flow.timers):
                if (timer.after is None) == (timer.at is None):
                    which = "neither `after` nor `at`" if timer.after is None else "both `after` and `at`"
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: timer {timer.id} has {which}",
                        "workflow",
                        ("workflows", w, "timers", m),
                        _sem(flow, f"timer:{timer.id}"),
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
        for w, flow in _flows(ctx):
            for state, sdef in flow.states.items():
                task = sdef.task
                if task is not None and (task.assign.role is None) == (task.assign.field is None):
                    which = "neither a role nor a field" if task.assign.role is None else "both a role and a field"
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: task {task.id} is assigned to {which}",
                        "workflow",
                        ("workflows", w, "states", state, "task", "assign"),
                        _sem(flow, f"state:{state}"),
                    )


class EVT551(LintRule):
    code = "EVT551"
    name = "event-unknown-payload-field"
    summary = "An event's payload lists a field its entity does not have, or the event's entity is unknown."
    why = "Subscribers would receive an empty value where they expect data."
    bad = "LeadWon: {entity: Lead, payload: [amout]}"
    good = "LeadWon: {entity: Lead, payload: [amount]}"
    fix = "List fields of the event's entity (or name the entity, required when the schema has several)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.events is None:
            return
        for name, event in ctx.package.events.events.items():
            problem = ctx.entity_problem(event.entity)
            if problem and (event.payload or event.entity is not None):
                where = ("events", name, "entity") if event.entity is not None else ("events", name)
                yield ctx.finding(self, f"event {name}: {problem}", "events", where, f"event:{name}")
                continue
            entity = ctx.resolve_entity(event.entity)
            for p, fpath in enumerate(event.payload):
                if entity is not None and ctx.field_def(entity, fpath) is None:
                    yield ctx.finding(
                        self,
                        f"event {name}: {entity} has no field {fpath!r}",
                        "events",
                        ("events", name, "payload", p),
                        f"event:{name}",
                    )


class EVT552(LintRule):
    code = "EVT552"
    name = "event-never-emitted"
    severity = Severity.INFO
    summary = "An event is declared but no workflow transition or `emit` action emits it."
    why = "Subscribers wait for an event that never comes; often a forgotten `emits`."
    bad = "events: {LeadWon: {...}}; no transition emits LeadWon"
    good = "transitions: [{id: win, ..., emits: [LeadWon]}]"
    fix = "Emit the event from a transition or remove it."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.events is None:
            return
        emitted = {e for _, flow in _flows(ctx) for tr in flow.transitions for e in tr.emits}
        emitted.update(a.emit for w, flow in _flows(ctx) for a, _, _ in iter_actions(flow, w) if a.emit is not None)
        for name in ctx.package.events.events:
            if name not in emitted:
                yield ctx.finding(
                    self, f"event {name} is never emitted", "events", ("events", name), f"event:{name}", key=True
                )


RULES: list[type[LintRule]] = [
    WF503,
    WF504,
    WF505,
    WF506,
    WF507,
    WF508,
    WF509,
    WF511,
    WF517,
    WF518,
    WF519,
    WF520,
    EVT551,
    EVT552,
]
