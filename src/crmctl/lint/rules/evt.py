"""Events rules (EVT55x): events.yaml's structure, payload fields, events that nothing emits."""

from __future__ import annotations

from collections.abc import Iterator

from crmctl.lint.base import LintRule
from crmctl.lint.context import LintContext
from crmctl.lint.structure import StructuralRule
from crmctl.lint.walk import iter_actions, workflows
from crmctl.model.diagnostics import Diagnostic, Severity

__all__ = ["RULES"]


class EVT550(StructuralRule):
    code = "EVT550"
    name = "events-structure"
    summary = "events.yaml does not match the events JSON Schema."
    bad = "events: {LeadWon: [amount]}"
    good = "events: {LeadWon: {payload: [amount]}}"


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
        emitted = {e for _, flow in workflows(ctx) for tr in flow.transitions for e in tr.emits}
        emitted.update(a.emit for w, flow in workflows(ctx) for a, _, _ in iter_actions(flow, w) if a.emit is not None)
        for name in ctx.package.events.events:
            if name not in emitted:
                yield ctx.finding(
                    self, f"event {name} is never emitted", "events", ("events", name), f"event:{name}", key=True
                )


RULES: list[type[LintRule]] = [EVT550, EVT551, EVT552]
