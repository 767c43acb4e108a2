"""Workflow coverage: what a set of scenarios exercises of a workflow, and skeletons for what none does.

The items of a workflow are its states (entered), transitions (taken), each guard's two outcomes (held, did not
hold), each SLA's paths (met in time, warning, breach, met late, every escalation level), its timers (fired), the
outcomes of its tasks (decided) and its approvals (granted, rejected). `play` runs parsed scenario steps through
the scenario player (`runtime.scenario`) in memory — no store, no log — and `coverage` counts which items their
effects hit.

`skeletons` writes, for every uncovered item, the shortest scenario reaching it: a search over the workflow graph
from `initial` where a transition costs its steps (`fire`, plus a `decide approve` per approver needed), a task
outcome is a `decide`, a timer and an SLA threshold an `advance` (wall time from counted time, in the SLA's
calendar, rounded up to hours). Actors are placeholders (`user/<role>`); the record carries placeholder values for
the fields the record engine requires. Guards need real data: a skeleton whose path has guards says so.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crmctl.runtime.calendar import ALWAYS
from crmctl.runtime.scenario import Player, PlayError

if TYPE_CHECKING:
    from crmctl.model.artifacts import Transition
    from crmctl.runtime.workflow import WorkflowEngine, WorkflowModel

__all__ = [
    "SKELETON_NOW",
    "CoverageReport",
    "Item",
    "Skeleton",
    "coverage",
    "items_of",
    "play",
    "skeletons",
]

# The clock of skeletons and of scenarios without `now`: a Monday, 09:00 in Berlin.
SKELETON_NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)
INSTANCE, RECORD = "skeleton", "record"
_KINDS = ("state", "transition", "guard", "sla", "timer", "task", "approval")


@dataclass(frozen=True)
class Item:
    """One thing a scenario can exercise: `state.new`, `guard.qualify.fails`, `sla.firstContact.escalation-1`."""

    id: str
    kind: str
    what: str


def play(engine: WorkflowEngine, steps: Sequence[Mapping[str, Any]], start: datetime) -> list[dict[str, Any]]:
    """Parsed scenario steps (`{"type": "start", ...}`, `{"type": "advance", "by": timedelta}`, ...) played in
    memory by the scenario player on a virtual clock from `start`: every effect, stamped with its instance.
    PlayError at the first step that makes no sense."""
    return Player.in_memory(engine, start).play_all(steps)


def _guard_id(transition: str, expr_id: str) -> str:
    rule = expr_id.removeprefix("rule:").removesuffix("/when")
    return f"guard.{transition}" if expr_id.startswith("guard:") else f"guard.{transition}.{rule}"


def items_of(model: WorkflowModel) -> list[Item]:
    """Every coverage item of the model's workflow, in definition order."""
    flow, items = model.workflow, list[Item]()
    items += [Item(f"state.{s}", "state", f"state {s} entered") for s in flow.states]
    items += [Item(f"transition.{t.id}", "transition", f"transition {t.id} taken") for t in flow.transitions]
    for t in flow.transitions:
        exprs = ([f"guard:{t.id}"] if t.guard else []) + list(model.rule_guards.get(t.id, ()))
        for expr_id in exprs:
            gid, source = _guard_id(t.id, expr_id), model.program.sources[expr_id]
            items += [
                Item(f"{gid}.holds", "guard", f"guard of {t.id} holds: {source}"),
                Item(f"{gid}.fails", "guard", f"guard of {t.id} does not hold: {source}"),
            ]
    for name, state in flow.states.items():
        if (sla := state.sla) is not None:
            ladder = [(f"escalation-{i}", f"escalation {i}") for i in range(1, len(sla.escalations) + 1)]
            paths = [
                ("met", "met in time"),
                *([("warning", "warning")] if sla.warnAfter else []),
                ("breach", "breached"),
                ("met-late", "met late"),
                *ladder,
            ]
            items += [Item(f"sla.{sla.id}.{k}", "sla", f"SLA {sla.id} ({name}) {w}") for k, w in paths]
    items += [Item(f"timer.{t.id}", "timer", f"timer {t.id} fired") for t in flow.timers]
    for name, state in flow.states.items():
        if (task := state.task) is not None:
            items += [
                Item(f"task.{task.id}.{o}", "task", f"task {task.id} ({name}) decided {o}") for o in task.outcomes
            ]
    for t in flow.transitions:
        if t.approval is not None:
            items += [
                Item(f"approval.{t.id}.{k}", "approval", f"approval of {t.id} {k}") for k in ("granted", "rejected")
            ]
    return items


def _hits(effect: Mapping[str, Any]) -> str | None:
    kind = effect["effect"]
    sla = f"sla.{effect.get('sla')}"
    return {
        "entered": f"state.{effect.get('state')}",
        "transition": f"transition.{effect.get('transition')}",
        "guard": f"{_guard_id(str(effect.get('transition')), str(effect.get('guard')))}."
        f"{'holds' if effect.get('result') else 'fails'}",
        "sla-warning": f"{sla}.warning",
        "sla-breach": f"{sla}.breach",
        "sla-met": f"{sla}.{'met-late' if effect.get('late') else 'met'}",
        "escalation": f"{sla}.escalation-{effect.get('level')}",
        "timer": f"timer.{effect.get('timer')}",
        "decided": None
        if str(effect.get("task")).startswith("approve:")
        else f"task.{effect.get('task')}.{effect.get('decision')}",
        "approval-granted": f"approval.{effect.get('transition')}.granted",
        "approval-rejected": f"approval.{effect.get('transition')}.rejected",
    }.get(kind)


@dataclass
class CoverageReport:
    workflow: str
    package: dict[str, str]
    items: list[Item]
    hits: Counter[str]
    scenarios: list[str]

    @property
    def covered(self) -> int:
        return sum(1 for i in self.items if self.hits[i.id])

    @property
    def percent(self) -> float:
        return round(100.0 * self.covered / len(self.items), 1) if self.items else 100.0

    @property
    def uncovered(self) -> list[Item]:
        return [i for i in self.items if not self.hits[i.id]]

    def by_kind(self) -> dict[str, dict[str, int]]:
        return {
            k: {"covered": sum(1 for i in mine if self.hits[i.id]), "total": len(mine)}
            for k in _KINDS
            if (mine := [i for i in self.items if i.kind == k])
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "package": self.package,
            "scenarios": self.scenarios,
            "covered": self.covered,
            "total": len(self.items),
            "percent": self.percent,
            "byKind": self.by_kind(),
            "items": [{"id": i.id, "kind": i.kind, "what": i.what, "hits": self.hits[i.id]} for i in self.items],
            "uncovered": [i.id for i in self.uncovered],
        }


def coverage(model: WorkflowModel, timelines: Mapping[str, Sequence[Mapping[str, Any]]]) -> CoverageReport:
    """The items of the model's workflow hit by the effects of each scenario (name → effects of `play`)."""
    items = items_of(model)
    known = {i.id for i in items}
    hits: Counter[str] = Counter()
    for effects in timelines.values():
        hits.update(h for e in effects if (h := _hits(e)) is not None and h in known)
    manifest = model.package.manifest
    package = {"name": model.package.name, "version": manifest.version if manifest else "?"}
    return CoverageReport(model.workflow.id, package, items, hits, list(timelines))


# --- skeletons --------------------------------------------------------------------------------------------------


@dataclass
class _Path:
    steps: list[dict[str, Any]] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # fields the actors need (a task or approver field)
    states: list[str] = field(default_factory=list)

    def then(self, other: _Path) -> _Path:
        return _Path(
            self.steps + other.steps,
            self.guards + other.guards,
            {**self.data, **other.data},
            self.states + other.states,
        )


@dataclass(frozen=True)
class Skeleton:
    """The shortest scenario known to reach an item; `reaches` when, played as it stands, it does."""

    item: Item
    text: str
    steps: list[dict[str, Any]]
    reaches: bool


def _fire(model: WorkflowModel, t: Transition, decision: str = "approve") -> _Path:
    """Steps taking `t` from one of its sources: fire it, then the approvals it needs (or one rejection)."""
    fire: dict[str, Any] = {"type": "fire", "instance": INSTANCE, "transition": t.id}
    if t.roles:
        fire["as"] = f"user/{t.roles[0]}"
    exprs = ([f"guard:{t.id}"] if t.guard else []) + list(model.rule_guards.get(t.id, ()))
    path = _Path([fire], [model.program.sources[e] for e in exprs], {}, [t.to])
    if (approval := t.approval) is not None:
        chain = [f"user/{role}" for role in approval.approvers]
        if approval.approverField:
            chain.append("approver/approver")
            path.data[approval.approverField] = "approver"
        sequential = approval.mode == "sequential"
        needed = len(chain) if sequential or approval.quorum is None else min(approval.quorum, len(chain))
        actors = chain[:1] if decision == "reject" else chain[:needed]
        path.states = [] if decision == "reject" else path.states
        path.steps += [{"type": "decide", "instance": INSTANCE, "decision": decision, "as": a} for a in actors]
    return path


def _routes(model: WorkflowModel) -> dict[str, _Path]:
    """The cheapest path (fewest steps, then definition order) from the initial state to every reachable state."""
    flow = model.workflow
    best: dict[str, _Path] = {}
    queue: list[tuple[int, int, str, _Path]] = [(0, 0, flow.initial, _Path())]
    tick = 1
    while queue:
        cost, _, state, path = heapq.heappop(queue)
        if state in best:
            continue
        best[state] = path
        for t in flow.transitions:
            if state in t.sources() and t.to not in best and not flow.states[state].final:
                edge = _fire(model, t)
                heapq.heappush(queue, (cost + len(edge.steps), tick, t.to, path.then(edge)))
                tick += 1
    return best


def _advance(seconds: float) -> dict[str, Any]:
    hours = max(1, math.ceil(seconds / 3600 - 1e-9))
    return {"type": "advance", "by": timedelta(hours=hours)}


def _sla_advance(model: WorkflowModel, state: str, threshold: str) -> dict[str, Any]:
    calendar = model.calendars[state]
    due = calendar.add(SKELETON_NOW, calendar.seconds(threshold))  # path steps take no time: the SLA starts at now
    return _advance((due - SKELETON_NOW).total_seconds())


def _plan(model: WorkflowModel, item: Item, routes: dict[str, _Path]) -> tuple[_Path | None, list[str]]:
    """The path reaching `item` and notes for whoever completes it (None: no path is known)."""
    flow, (kind, name, *rest) = model.workflow, item.id.split(".")
    transitions = {t.id: t for t in flow.transitions}

    def via(t: Transition, decision: str = "approve") -> _Path | None:
        starts = [routes[s] for s in t.sources() if s in routes]
        return min(starts, key=lambda p: len(p.steps)).then(_fire(model, t, decision)) if starts else None

    if kind == "state":
        return routes.get(name), []
    if kind in ("transition", "approval"):
        return via(transitions[name], "reject" if rest == ["rejected"] else "approve"), []
    if kind == "guard":
        t, wanted = transitions[name], "hold" if rest[-1] == "holds" else "not hold"
        starts = [routes[s] for s in t.sources() if s in routes]
        fire = _Path(_fire(model, t).steps[:1])  # the guard is evaluated when the transition is fired
        path = min(starts, key=lambda p: len(p.steps)).then(fire) if starts else None
        return path, [f"give the record values under which `{item.what.split(': ', 1)[1]}` does {wanted}"]
    if kind == "timer":
        timer = next(t for t in flow.timers if t.id == name)
        path = routes.get(timer.state)
        if path is None or timer.after is None:
            return path, [f"set the record so that `{timer.at}` is a moment, then advance past it"]
        return path.then(_Path([_advance(ALWAYS.seconds(timer.after))])), []
    if kind == "task":
        state = next(s for s, d in flow.states.items() if d.task is not None and d.task.id == name)
        task, path = flow.states[state].task, routes.get(state)
        assert task is not None
        actor = f"user/{task.assign.role}" if task.assign.role else "assignee/user"
        data = {} if task.assign.role else {str(task.assign.field): "assignee"}
        decide = {"type": "decide", "instance": INSTANCE, "decision": rest[0], "as": actor}
        return (None if path is None else path.then(_Path([decide], data=data))), []
    state = next(s for s, d in flow.states.items() if d.sla is not None and d.sla.id == name)
    sla, path = flow.states[state].sla, routes.get(state)
    assert sla is not None
    notes = [f"the SLA starts only when `{sla.start}` holds: give the record such values"] if sla.start else []
    if path is None:
        return None, notes
    what = rest[0]
    threshold = {"warning": sla.warnAfter, "breach": sla.breachAfter, "met-late": sla.breachAfter}.get(what)
    if what.startswith("escalation-"):
        threshold = sla.escalations[int(what.split("-")[1]) - 1].after
    if threshold is not None:
        path = path.then(_Path([_sla_advance(model, state, threshold)]))
    if what in ("met", "met-late") and not (what == "met-late" and sla.onBreach):
        leaving = [t for t in flow.transitions if state in t.sources()]
        if not leaving:
            return path, [f"state {state} has no transition out: stop the SLA with its stop condition ({sla.stop})"]
        path = path.then(min((_fire(model, t) for t in leaving), key=lambda p: len(p.steps)))
    return path, notes


def placeholder_record(model: WorkflowModel, needed: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Values the record engine accepts, filled in for required fields, and the problems still left."""
    records, data = model.records(), dict(needed)
    problems: list[str] = []
    for _ in range(8):
        result = records.check(data, SKELETON_NOW)
        problems = [f"{e['field'] or '-'}: {e['message']}" for e in result.errors]
        missing = {str(e["field"]) for e in result.errors if e["field"] in records.model.fields} - set(data)
        if result.ok or not missing:
            break
        for name in sorted(missing):
            data[name] = _placeholder(records.model.fields[name])
    return data, problems


def _placeholder(fdef: Any) -> Any:
    kind = getattr(fdef, "type", "text")
    if kind == "enum":
        return fdef.values[0]
    integer = getattr(fdef, "integer", False)
    return {
        "number": 0 if integer else 0.0,
        "currency": 0.0,
        "boolean": False,
        "date": "2026-01-05",
        "datetime": "2026-01-05T09:00:00Z",
        "object": {},
        "array": [],
    }.get(kind, "TODO")


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./@-]*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _yaml(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_yaml(str(k))}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, timedelta):
        hours = int(value.total_seconds() // 3600)
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)


def _render(model: WorkflowModel, item: Item, path: _Path | None, notes: list[str], reached: bool) -> str:
    flow = model.workflow
    lines = [
        f"# Skeleton: {item.what} ({item.id}), workflow {flow.id} of {model.package.name}.",
        "# Generated by `crmctl workflow coverage --skeletons`: the shortest path known; "
        "play it with `crmctl workflow simulate`.",
    ]
    now = f"now: {SKELETON_NOW.isoformat().replace('+00:00', 'Z')}"
    if path is None:
        lines += [
            *(f"# TODO: {n}" for n in notes),
            f"# TODO: no path from {flow.initial} reaches it.",
            now,
            "events: []",
        ]
        return "\n".join(lines) + "\n"
    data, problems = placeholder_record(model, path.data)
    guards = list(dict.fromkeys(path.guards))
    lines += [
        f"# Path: {' → '.join([flow.initial, *path.states])}.",
        "# Played in memory: it reaches the item."
        if reached
        else "# Played in memory: it does not reach the item yet; complete the TODOs.",
        *(f"# TODO: {n}" for n in notes),
        *(f"# TODO: the placeholder record is refused: {p}" for p in problems),
        now,
        "records:",
    ]
    comment = f"  # fill in values that make the guards hold: {'; '.join(guards)}" if guards else ""
    lines += [
        f"  {RECORD}: {_yaml(data)}{comment}",
        "events:",
        f"  - start: {_yaml({'instance': INSTANCE, 'record': RECORD})}",
    ]
    for step in path.steps:
        kind, args = step["type"], {k: v for k, v in step.items() if k != "type"}
        lines.append(f"  - {kind}: {_yaml(args['by'] if kind == 'advance' else args)}")
    return "\n".join(lines) + "\n"


def skeletons(engine: WorkflowEngine, items: Sequence[Item]) -> list[Skeleton]:
    """The shortest scenario skeleton for each item (comment-only when no path reaches it), each played in
    memory to tell whether it reaches its item as it stands."""
    model = engine.model
    routes, out = _routes(model), list[Skeleton]()
    for item in items:
        path, notes = _plan(model, item, routes)
        steps: list[dict[str, Any]] = []
        reached = False
        if path is not None:
            data, _ = placeholder_record(model, path.data)
            steps = [{"type": "start", "instance": INSTANCE, "data": data}, *path.steps]
            try:
                reached = any(_hits(e) == item.id for e in play(engine, steps, SKELETON_NOW))
            except PlayError:
                reached = False
        out.append(Skeleton(item, _render(model, item, path, notes, reached), steps, reached))
    return out
