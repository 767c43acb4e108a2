"""Comparing workflows: states, tasks, transitions, guards, timers, SLAs and calendars, matched by id."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmctl.compat.change import Collector
    from crmctl.model.artifacts import StateDef, Workflow
    from crmctl.model.source import JsonPath

    _At = tuple[str, JsonPath]

__all__ = ["diff_workflows"]

_W = "workflow"


def diff_workflows(c: Collector) -> None:
    old = {w.id: (i, w) for i, w in enumerate(c.old_pkg.workflow.workflows if c.old_pkg.workflow else [])}
    new = {w.id: (i, w) for i, w in enumerate(c.new_pkg.workflow.workflows if c.new_pkg.workflow else [])}
    for wid, (i, wf) in old.items():
        if wid not in new:
            c.add(
                "workflow-removed",
                f"workflow:{wid}",
                f"workflow {wid} was removed",
                old=(_W, ("workflows", i)),
                hint="keep it (running instances need it) and stop starting new ones",
            )
        elif wf != new[wid][1]:
            _diff_workflow(c, wf, new[wid][1], i, new[wid][0])
    for wid, (j, _wf) in new.items():
        if wid not in old:
            c.add("workflow-added", f"workflow:{wid}", f"workflow {wid} was added", new=(_W, ("workflows", j)))


def _diff_workflow(c: Collector, old: Workflow, new: Workflow, i: int, j: int) -> None:
    base = f"workflow:{old.id}"

    def at(side: int, *rest: str | int) -> tuple[str, tuple[str | int, ...]]:
        return (_W, ("workflows", side, *rest))

    if old.entity != new.entity:
        c.add(
            "workflow-entity-changed",
            base,
            f"workflow {old.id} now runs on {new.entity} instead of {old.entity}",
            old=at(i, "entity"),
            new=at(j, "entity"),
        )
    if old.initial != new.initial:
        c.add(
            "initial-state-changed",
            base,
            f"initial state of {old.id} changed from {old.initial} to {new.initial}",
            old=at(i, "initial"),
            new=at(j, "initial"),
        )
    for name, state in old.states.items():
        path = f"{base}.state:{name}"
        if name not in new.states:
            c.add(
                "state-removed",
                path,
                f"state {name} was removed from workflow {old.id}",
                old=at(i, "states", name),
                hint="keep the state (records are in it) and remove its entries instead",
            )
            continue
        other = new.states[name]
        if state.final != other.final:
            c.add(
                "final-flag-changed",
                path,
                f"state {name} is {'now' if other.final else 'no longer'} final",
                old=at(i, "states", name, "final"),
                new=at(j, "states", name, "final"),
            )
        if state.sla != other.sla:
            c.add(
                "sla-changed",
                path,
                f"SLA of state {name} changed",
                old=at(i, "states", name, "sla"),
                new=at(j, "states", name, "sla"),
            )
        _diff_task(c, name, state, other, path, at(i, "states", name, "task"), at(j, "states", name, "task"))
    for name in new.states:
        if name not in old.states:
            c.add(
                "state-added",
                f"{base}.state:{name}",
                f"state {name} was added to workflow {old.id}",
                new=at(j, "states", name),
            )
    old_t = {t.id: (k, t) for k, t in enumerate(old.transitions)}
    new_t = {t.id: (k, t) for k, t in enumerate(new.transitions)}
    for tid, (k, tr) in old_t.items():
        path = f"{base}.transition:{tid}"
        if tid not in new_t:
            c.add("transition-removed", path, f"transition {tid} was removed", old=at(i, "transitions", k))
            continue
        m, after_tr = new_t[tid]
        if tr.guard != after_tr.guard:
            c.add(
                "transition-guard-changed",
                path,
                f"guard of transition {tid} changed",
                old=at(i, "transitions", k, "guard"),
                new=at(j, "transitions", m, "guard"),
            )
        if tr.model_copy(update={"guard": None}) != after_tr.model_copy(update={"guard": None}):
            c.add(
                "transition-changed",
                path,
                f"transition {tid} changed",
                old=at(i, "transitions", k),
                new=at(j, "transitions", m),
            )
    for tid, (m, _tr) in new_t.items():
        if tid not in old_t:
            c.add(
                "transition-added",
                f"{base}.transition:{tid}",
                f"transition {tid} was added",
                new=at(j, "transitions", m),
            )
    old_timers = {t.id: (k, t) for k, t in enumerate(old.timers)}
    new_timers = {t.id: (k, t) for k, t in enumerate(new.timers)}
    for tid in sorted(set(old_timers) | set(new_timers)):
        before, after = old_timers.get(tid), new_timers.get(tid)
        if before is None or after is None or before[1] != after[1]:
            verb = "added" if before is None else "removed" if after is None else "changed"
            c.add(
                "timer-changed",
                f"{base}.timer:{tid}",
                f"timer {tid} was {verb}",
                old=at(i, "timers", before[0]) if before else None,
                new=at(j, "timers", after[0]) if after else None,
            )
    _diff_calendars(c, old, new, base, i, j)
    _dead_ends(c, old, new, base, j)


def _leaving(wf: Workflow) -> dict[str, list[str]]:
    """State → ids of the transitions that leave it."""
    out: dict[str, list[str]] = {}
    for tr in wf.transitions:
        for source in tr.sources():
            out.setdefault(source, []).append(tr.id)
    return out


def _dead_ends(c: Collector, old: Workflow, new: Workflow, base: str, j: int) -> None:
    """States that records could leave (or that were final) and that now are neither final nor left by anything."""
    before, after = _leaving(old), _leaving(new)
    for name, state in new.states.items():
        was = old.states.get(name)
        if was is None or state.final or name in after or not (was.final or name in before):
            continue
        lost = before.get(name)
        how = (
            f"it is not final and no transition leaves it any more (before: {', '.join(lost)})"
            if lost
            else "it is no longer final and no transition leaves it"
        )
        c.add(
            "state-left-dead-end",
            f"{base}.state:{name}",
            f"state {name} of workflow {new.id} is a dead end: {how}",
            new=(_W, ("workflows", j, "states", name)),
            hint="keep a transition out of the state, or mark it `final: true`",
        )


def _diff_task(c: Collector, name: str, old: StateDef, new: StateDef, path: str, before: _At, after: _At) -> None:
    """A task is matched by its state; another id on the same state is a removal and an addition."""
    if old.task == new.task:
        return
    if old.task is not None and (new.task is None or new.task.id != old.task.id):
        c.add(
            "task-removed",
            f"{path}.task:{old.task.id}",
            f"task {old.task.id} was removed from state {name}",
            old=before,
            hint="keep the task while instances may wait on it",
        )
    if new.task is not None and (old.task is None or new.task.id != old.task.id):
        c.add("task-added", f"{path}.task:{new.task.id}", f"task {new.task.id} was added to state {name}", new=after)
    elif old.task is not None and new.task is not None:
        what = "outcomes" if old.task.outcomes != new.task.outcomes else "assignee or title"
        c.add(
            "task-changed", f"{path}.task:{old.task.id}", f"{what} of task {old.task.id} changed", old=before, new=after
        )


def _diff_calendars(c: Collector, old: Workflow, new: Workflow, base: str, i: int, j: int) -> None:
    for name in sorted(set(old.calendars) | set(new.calendars)):
        before, after = old.calendars.get(name), new.calendars.get(name)
        if before == after:
            continue
        path = f"{base}.calendar:{name}"
        where_old = (_W, ("workflows", i, "calendars", name)) if before is not None else None
        where_new = (_W, ("workflows", j, "calendars", name)) if after is not None else None
        if (before is not None and after is not None) or name == "business":
            # Defining or dropping `business` replaces the built-in calendar of that name: deadlines move.
            verb = (
                "changed"
                if before is not None and after is not None
                else "defined, replacing the built-in one"
                if after is not None
                else "removed, the built-in one applies again"
            )
            c.add("calendar-changed", path, f"calendar {name} was {verb}", old=where_old, new=where_new)
        elif after is None:
            c.add("calendar-removed", path, f"calendar {name} was removed", old=where_old)
        else:
            c.add("calendar-added", path, f"calendar {name} was added", new=where_new)
