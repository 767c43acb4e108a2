"""Workflow rules for actions, SLAs, calendars, tasks and timer moments: references, calendars, CEL (WF512+)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from crmctl.lint.base import LintRule
from crmctl.lint.context import Expr, LintContext
from crmctl.model.artifacts import BUILTIN_CALENDARS, Action, Workflow
from crmctl.model.cel import TIMESTAMP, cel_type_of
from crmctl.model.diagnostics import Diagnostic, Severity
from crmctl.model.durations import BUSINESS_DAY, UNIT_SECONDS, parse_duration
from crmctl.model.source import JsonPath

__all__ = ["RULES", "iter_actions"]


def _flows(ctx: LintContext) -> Iterator[tuple[int, Workflow]]:
    if ctx.package.workflow is not None:
        yield from enumerate(ctx.package.workflow.workflows)


def _sem(flow: Workflow, rest: str) -> str:
    return f"workflow:{flow.id}/{rest}"


def iter_actions(flow: Workflow, w: int) -> Iterator[tuple[Action, JsonPath, str]]:
    """Every action of a workflow (`Workflow.actions`): action, json path, semantic path."""
    for action, where, owner in flow.actions():
        yield action, ("workflows", w, *where), _sem(flow, owner)


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


class WF512(LintRule):
    code = "WF512"
    name = "unknown-calendar"
    summary = "An SLA names a calendar that is neither `calendar`, `business` nor one of the workflow's `calendars`."
    why = "The SLA clock cannot run without working time; its deadlines cannot be computed."
    bad = "sla: {id: s, breachAfter: 2bd, calendar: buisness}"
    good = "sla: {id: s, breachAfter: 2bd, calendar: business}"
    fix = "Name `calendar`, `business` or a calendar defined under the workflow's `calendars`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in _flows(ctx):
            for state, sdef in flow.states.items():
                sla = sdef.sla
                if sla is not None and sla.calendar not in BUILTIN_CALENDARS and sla.calendar not in flow.calendars:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: SLA of {state} names unknown calendar {sla.calendar!r}",
                        "workflow",
                        ("workflows", w, "states", state, "sla", "calendar"),
                        _sem(flow, f"state:{state}"),
                    )


class WF513(LintRule):
    code = "WF513"
    name = "transition-does-not-leave-state"
    summary = "A timer, SLA breach or escalation, or task outcome takes a transition that does not leave its state."
    why = "The transition cannot be taken from that state, so the timer, the SLA or the task's decision does nothing."
    bad = "states: {open: {task: {id: t, assign: {role: sales}, outcomes: {accept: win}}}}\n# win: {from: new, to: won}"
    good = "# win: {from: open, to: won}"
    fix = "Name a transition whose `from` includes the state, or add the state to the transition's `from`."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in _flows(ctx):
            sources = {t.id: set(t.sources()) for t in flow.transitions}
            for tid, state, where, sem, what in _leaving(flow):
                if tid in sources and state not in sources[tid]:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: {what} takes transition {tid!r}, which does not leave {state!r}",
                        "workflow",
                        ("workflows", w, *where),
                        _sem(flow, sem),
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
        for w, flow in _flows(ctx):
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
        sem = _sem(flow, f"state:{state}")
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
        for w, flow in _flows(ctx):
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
            yield tr.approval.approverField, where, _sem(flow, f"transition:{tr.id}"), False
    for state, sdef in flow.states.items():
        if sdef.task is not None and sdef.task.assign.field is not None:
            where = ("workflows", w, "states", state, "task", "assign", "field")
            yield sdef.task.assign.field, where, _sem(flow, f"state:{state}"), False


class WF516(LintRule):
    code = "WF516"
    name = "workflow-unknown-field"
    summary = "A `set` action, an approval's `approverField` or a task's `assign.field` names no field of the entity."
    why = "The runtime cannot write the value or find the user; the action or the approval fails when it runs."
    bad = "actions: [{set: {amout: '0.0'}}]"
    good = "actions: [{set: {amount: '0.0'}}]"
    fix = "Name a field of the workflow's entity (dotted paths reach into object fields)."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for w, flow in _flows(ctx):
            entity = ctx.resolve_entity(flow.entity)
            if entity is None:
                continue
            for fpath, where, sem, key in _field_uses(flow, w):
                if ctx.field_def(entity, fpath) is None:
                    yield ctx.finding(
                        self, f"workflow {flow.id}: {entity} has no field {fpath!r}", "workflow", where, sem, key=key
                    )


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
        for w, flow in _flows(ctx):
            for name, cal in flow.calendars.items():
                if _zone_problem(cal.timezone) is not None:
                    yield ctx.finding(
                        self,
                        f"workflow {flow.id}: calendar {name} has unknown time zone {cal.timezone!r}",
                        "workflow",
                        ("workflows", w, "calendars", name, "timezone"),
                        _sem(flow, f"calendar:{name}"),
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
        for w, flow in _flows(ctx):
            for name, cal in flow.calendars.items():
                base: JsonPath = ("workflows", w, "calendars", name)
                sem = _sem(flow, f"calendar:{name}")
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
        for w, flow in _flows(ctx):
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
                            _sem(flow, f"state:{state}"),
                        )
                    last[business] = max(amount, last.get(business, amount))


def _expressions(ctx: LintContext) -> Iterator[tuple[Expr, str, str]]:
    """(expression, what it is, the CEL type it must have or '' when unknown) for the workflow's newer expressions."""
    for w, flow in _flows(ctx):
        entity = ctx.resolve_entity(flow.entity)
        for state, sdef in flow.states.items():
            if sdef.sla is None:
                continue
            for attr in ("start", "pause", "stop", "reset"):
                text = getattr(sdef.sla, attr)
                if text is not None:
                    sla_path: JsonPath = ("workflows", w, "states", state, "sla", attr)
                    expr = Expr("WF", "workflow", sla_path, _sem(flow, f"state:{state}"), entity, text, "when")
                    yield expr, f"SLA {attr} condition", "bool"
        for m, timer in enumerate(flow.timers):
            if timer.at is not None:
                expr = Expr(
                    "WF",
                    "workflow",
                    ("workflows", w, "timers", m, "at"),
                    _sem(flow, f"timer:{timer.id}"),
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


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


class WF524(LintRule):
    code = "WF524"
    name = "workflow-expression-invalid"
    summary = "An SLA start/pause/stop/reset condition, a timer's `at` or a `set` value does not parse or type-check."
    why = "The runtime compiles these expressions when the package is installed; one that fails stops the install."
    bad = "sla: {id: s, breachAfter: 2d, pause: status == 1}"
    good = "sla: {id: s, breachAfter: 2d, pause: status == 'waiting'}"
    fix = "Correct the expression; fields are top-level variables, numbers compare only with the same type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for expr, what, _wanted in _expressions(ctx):
            result = ctx.check(expr)
            if result is None or result.ok:
                continue
            for issue in result.errors:
                yield ctx.finding(
                    self,
                    f"{what} `{_short(expr.text)}`: {issue.message}",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                    location=ctx.expr_location(expr, issue.line, issue.column),
                    fix=issue.hint,
                )


class WF525(LintRule):
    code = "WF525"
    name = "workflow-expression-wrong-type"
    summary = "An SLA condition is not bool, a timer's `at` no timestamp, or a `set` value not of its field's type."
    why = "The runtime needs a bool to start or stop a clock, a moment to fire a timer and a value that fits the field."
    bad = "timers: [{id: t, state: open, at: nextCall, transition: remind}]   # nextCall is text"
    good = "timers: [{id: t, state: open, at: followUpDate, transition: remind}]   # a date"
    fix = "Convert the value, e.g. `timestamp(x)`, `double(n)` or `x != ''`, or use a field of the right type."

    def check(self, ctx: LintContext) -> Iterator[Diagnostic]:
        for expr, what, wanted in _expressions(ctx):
            result = ctx.check(expr)
            if not wanted or result is None or not result.ok:
                continue
            # A `set` may clear its field with null; conditions and moments need a value.
            fine = (wanted, "dyn", "null") if what.startswith("value set") else (wanted, "dyn")
            if result.result_type not in fine:
                yield ctx.finding(
                    self,
                    f"{what} `{_short(expr.text)}` is {result.result_type}, not {wanted}",
                    expr.kind,
                    expr.json_path,
                    expr.semantic,
                    location=ctx.expr_location(expr, 1, 1),
                )


RULES: list[type[LintRule]] = [
    WF512,
    WF513,
    WF514,
    WF515,
    WF516,
    WF521,
    WF522,
    WF523,
    WF524,
    WF525,
]
