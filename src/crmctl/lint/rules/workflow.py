"""Workflow and events rules (WF5xx, EVT55x): states, transitions, timers, reachability, events, payloads."""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.context import LintContext
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
                        self, f"workflow {flow.id}: {what.split(':')[0]} names unknown state {state!r}",
                        "workflow", where, _sem(flow, what),
                    )  # fmt: skip


class WF504(LintRule):
    code = "WF504"
    name = "unknown-transition"
    summary = "A timer or an SLA `onBreach` names a transition that the workflow does not have."
    why = "When the timer fires or the SLA breaches, nothing can happen; the record is stuck."
    bad = "timers: [{id: remind, state: open, after: 3d, transition: escalte}]"
    good = "timers: [{id: remind, state: open, after: 3d, transition: escalate}]"
    fix = "Name a transition id of the same workflow."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in _flows(ctx):
            ids = {t.id for t in flow.transitions}
            for m, timer in enumerate(flow.timers):
                if timer.transition not in ids:
                    yield ctx.finding(
                        self, f"workflow {flow.id}: timer {timer.id} takes unknown transition {timer.transition!r}",
                        "workflow", ("workflows", w, "timers", m, "transition"), _sem(flow, f"timer:{timer.id}"),
                    )  # fmt: skip
            for state, sdef in flow.states.items():
                if sdef.sla is not None and sdef.sla.onBreach is not None and sdef.sla.onBreach not in ids:
                    yield ctx.finding(
                        self, f"workflow {flow.id}: SLA of {state} takes unknown transition {sdef.sla.onBreach!r}",
                        "workflow", ("workflows", w, "states", state, "sla", "onBreach"), _sem(flow, f"state:{state}"),
                    )  # fmt: skip


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
                        self, f"workflow {flow.id}: state {state!r} is unreachable from {flow.initial!r}",
                        "workflow", ("workflows", w, "states", state), _sem(flow, f"state:{state}"), key=True,
                    )  # fmt: skip


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
                        self, f"workflow {flow.id}: state {state!r} is not final and has no outgoing transition",
                        "workflow", ("workflows", w, "states", state), _sem(flow, f"state:{state}"), key=True,
                    )  # fmt: skip


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
                            self, f"workflow {flow.id}: transition {tr.id} leaves final state {src!r}",
                            "workflow", ("workflows", w, "transitions", t, "from"), _sem(flow, f"transition:{tr.id}"),
                        )  # fmt: skip


class WF508(LintRule):
    code = "WF508"
    name = "duplicate-workflow-id"
    summary = "Two workflows, or two transitions or timers of one workflow, share an id."
    why = "Rules, timers and SLAs address them by id; a duplicate makes them ambiguous."
    bad = "transitions: [{id: win, ...}, {id: win, ...}]"
    good = "transitions: [{id: win, ...}, {id: lose, ...}]"
    fix = "Give each workflow, and each transition and timer within a workflow, a distinct id."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        flows: set[str] = set()
        for w, flow in _flows(ctx):
            if flow.id in flows:
                yield ctx.finding(
                    self, f"workflow id {flow.id!r} is used twice", "workflow", ("workflows", w, "id"), _sem(flow)
                )
            flows.add(flow.id)
            named: tuple[tuple[str, list[str]], ...] = (
                ("transitions", [t.id for t in flow.transitions]),
                ("timers", [m.id for m in flow.timers]),
            )
            for attr, ids in named:
                seen: set[str] = set()
                for i, item_id in enumerate(ids):
                    if item_id in seen:
                        yield ctx.finding(
                            self, f"workflow {flow.id}: {attr[:-1]} id {item_id!r} is used twice",
                            "workflow", ("workflows", w, attr, i, "id"), _sem(flow, f"{attr[:-1]}:{item_id}"),
                        )  # fmt: skip
                    seen.add(item_id)


class WF509(LintRule):
    code = "WF509"
    name = "unknown-event"
    summary = "A transition emits an event that events.yaml does not declare."
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
                            self, f"workflow {flow.id}: transition {tr.id} emits undeclared event {event!r}",
                            "workflow", ("workflows", w, "transitions", t, "emits", e),
                            _sem(flow, f"transition:{tr.id}"),
                        )  # fmt: skip


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
                        self, f"event {name}: {entity} has no field {fpath!r}",
                        "events", ("events", name, "payload", p), f"event:{name}",
                    )  # fmt: skip


class EVT552(LintRule):
    code = "EVT552"
    name = "event-never-emitted"
    severity = Severity.INFO
    summary = "An event is declared but no workflow transition emits it."
    why = "Subscribers wait for an event that never comes; often a forgotten `emits`."
    bad = "events: {LeadWon: {...}}; no transition emits LeadWon"
    good = "transitions: [{id: win, ..., emits: [LeadWon]}]"
    fix = "Emit the event from a transition or remove it."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        if ctx.package.events is None:
            return
        emitted = {e for _, flow in _flows(ctx) for tr in flow.transitions for e in tr.emits}
        for name in ctx.package.events.events:
            if name not in emitted:
                yield ctx.finding(
                    self, f"event {name} is never emitted", "events", ("events", name), f"event:{name}", key=True
                )


RULES: list[type[LintRule]] = [WF503, WF504, WF505, WF506, WF507, WF508, WF509, WF511, EVT551, EVT552]
