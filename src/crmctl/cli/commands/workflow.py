"""`crmctl workflow simulate`: play a workflow scenario on a virtual clock and print its timeline.

The scenario's inputs go through the pure engine (`runtime.workflow`) and are appended, with their effects, to the
tenant's event log (kind `workflow`), so `crmctl log verify` and `crmctl replay` cover them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crmctl.cli.commands.runtime import duration, instant, open_store, read_document
from crmctl.cli.console import out
from crmctl.errors import InputError, UsageError

__all__ = ["Player", "describe", "load_scenario", "print_timeline", "run_migrate", "run_simulate", "summarize"]

STEPS = ("start", "fire", "decide", "claim", "change", "advance", "advance-to")
_ARGS = {
    "start": {"instance", "record", "data", "as"},
    "fire": {"instance", "transition", "as"},
    "decide": {"instance", "decision", "as", "comment"},
    "claim": {"instance", "as"},
    "change": {"instance", "field", "value"},
}


@dataclass
class Scenario:
    now: datetime | None
    records: dict[str, dict[str, Any]]
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (where, step)


def load_scenario(path: Path) -> Scenario:
    """A scenario: `now`, named `records` and a list of `events` (start, fire, decide, change, advance)."""
    doc = read_document(path, "scenario")
    data = doc.data
    if not isinstance(data, dict):
        raise InputError(f"{doc.loc(())}: a scenario is a mapping with now, records and events")
    unknown = sorted(set(data) - {"now", "records", "events"})
    if unknown:
        raise InputError(f"{doc.loc((unknown[0],), key=True)}: unknown key {unknown[0]!r}")
    now = instant(str(data["now"])) if "now" in data else None
    records = data.get("records") or {}
    if not isinstance(records, dict) or not all(isinstance(v, dict) for v in records.values()):
        raise InputError(f"{doc.loc(('records',))}: records maps a name to the record's field values")
    scenario = Scenario(now, {str(k): dict(v) for k, v in records.items()})
    events = data.get("events", [])
    if not isinstance(events, list):
        raise InputError(f"{doc.loc(('events',))}: events is a list")
    for i, item in enumerate(events):
        where = str(doc.loc(("events", i)))
        if not isinstance(item, dict) or len(item) != 1:
            raise InputError(f"{where}: a step is a mapping with one key: {', '.join(STEPS)}")
        ((kind, args),) = item.items()
        if kind not in STEPS:
            raise InputError(f"{where}: unknown step {kind!r}; steps are {', '.join(STEPS)}")
        if kind == "advance":
            scenario.steps.append((where, {"type": "advance", "by": duration(args, where)}))
            continue
        if kind == "advance-to":
            try:
                scenario.steps.append((where, {"type": "advance-to", "to": instant(str(args))}))
            except UsageError:
                raise InputError(f"{where}: advance-to takes an ISO 8601 moment with a zone") from None
            continue
        if not isinstance(args, dict) or "instance" not in args:
            raise InputError(f"{where}: {kind} takes a mapping with at least an instance")
        extra = sorted(set(args) - _ARGS[kind])
        if extra:
            raise InputError(f"{where}: {kind} has no argument {extra[0]!r}")
        step = {"type": kind, **{k: v for k, v in args.items() if k != "record"}}
        if kind == "start" and "record" in args:
            if args["record"] not in scenario.records:
                raise InputError(f"{where}: no record {args['record']!r} under records")
            step["data"] = scenario.records[args["record"]]
        scenario.steps.append((where, step))
    return scenario


class Player:
    """Plays steps on the store's instances: new ones start on PACKAGE, stored ones go on, on their own version;
    each step's log entry and instance are written together."""

    def __init__(self, store: Any, tenant: str, package: Any, workflow: str | None, clock: datetime) -> None:
        from crmctl.runtime.service import Runtime
        from crmctl.runtime.workflow import WorkflowEngine, WorkflowModel

        self.store, self.tenant, self.clock = store, tenant, clock
        self.runtime = Runtime(store, tenant)
        self.ref = self.runtime.pin(package)
        self.model = WorkflowModel.build(self.runtime.pinned(self.ref.digest), workflow)
        self.engines = {self.ref.digest: WorkflowEngine(self.model)}
        self.instances: dict[str, dict[str, Any]] = {
            i["id"]: i for i in store.list_instances(tenant, workflow=self.model.workflow.id, status="running")
        }
        self.initial = dict(self.instances)  # the instances running when the run started, as they were
        self.timeline: list[dict[str, Any]] = []

    def engine_of(self, instance: Mapping[str, Any] | None) -> Any:
        from crmctl.runtime.workflow import WorkflowEngine, WorkflowModel

        digest = self.ref.digest if instance is None else str(instance["digest"])
        if digest not in self.engines:
            model = WorkflowModel.build(self.runtime.pinned(digest), self.model.workflow.id)
            self.engines[digest] = WorkflowEngine(model)
        return self.engines[digest]

    def play(self, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Apply one step; WorkflowError (from the engine, or time moving backwards) when it makes no sense.
        Returns the step's effects, earliest first."""
        from crmctl.runtime.service import iso
        from crmctl.runtime.workflow import WorkflowError, apply_input, parse_moment

        before = len(self.timeline)
        if step["type"] in ("advance", "advance-to"):
            target = self.clock + step["by"] if step["type"] == "advance" else step["to"]
            if target < self.clock:
                raise WorkflowError(f"time cannot move backwards ({iso(target)} is before {iso(self.clock)})")
            self.clock = target
            moved: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
            for instance_id in sorted(self.instances):
                current = self.instances[instance_id]
                if current["status"] == "running":
                    done = self.engine_of(current).advance(current, self.clock)
                    self.instances[instance_id] = done.instance
                    moved.append((done.instance, done.effects))
            # Every instance's clock is kept (the next run goes on from it), an entry is logged where something
            # happened; all in one transaction. Instances advance independently: the effects of all of them
            # are merged into time order (each instance's own effects are in time order already).
            self._log(
                [(instance, {"type": "advance", "instance": instance["id"]}, effects) for instance, effects in moved]
            )
            self.timeline[before:] = sorted(self.timeline[before:], key=lambda e: parse_moment(e["at"]))
            return self.timeline[before:]
        instance_id = str(step["instance"])
        existing = self.instances.get(instance_id)
        if existing is None:
            self._refuse_stored(instance_id, step["type"])
        elif existing["status"] != "running" and step["type"] != "start":  # it completed earlier in this run
            raise WorkflowError(
                f"instance {instance_id} is {existing['status']}; only running instances of workflow "
                f"{self.model.workflow.id} take input"
            )
        done = apply_input(self.engine_of(existing), existing, step, self.clock)
        self.instances[instance_id] = done.instance
        self._log([(done.instance, step, done.effects)])
        return self.timeline[before:]

    def _refuse_stored(self, instance_id: str, kind: str) -> None:
        """An id this run does not drive may still exist in the tenant (completed, or of another workflow): an
        instance id names one instance per tenant forever, so it is never started again nor taken over."""
        from crmctl.runtime.workflow import WorkflowError

        stored = self.store.get_instance(self.tenant, instance_id)
        if stored is None:
            return
        what = (
            f"instance {instance_id} exists already in tenant {self.tenant} ({stored['status']}, workflow "
            f"{stored['workflow']}, {stored['package']['name']}@{stored['package']['version']})"
        )
        if kind == "start":
            raise WorkflowError(f"{what}; an instance id is used once per tenant: start the new one under another id")
        raise WorkflowError(f"{what}; only running instances of workflow {self.model.workflow.id} take input")

    def _log(self, steps: list[tuple[dict[str, Any], Mapping[str, Any], list[dict[str, Any]]]]) -> None:
        """Write instances and, for those with effects, their log entries: all in one transaction."""
        from crmctl.runtime.service import iso

        bodies = [
            _entry(instance, self.model.workflow.id, self.model.entity, iso(self.clock), given, effects)
            for instance, given, effects in steps
            if effects or given["type"] != "advance"
        ]
        with self.store.transaction():  # the log entries and the instances: all or none
            self.store.append_events(self.tenant, bodies)
            self.store.put_instances(self.tenant, [instance for instance, _, _ in steps])
        self.timeline.extend({"instance": instance["id"], **e} for instance, _, effects in steps for e in effects)


def run_simulate(
    package_path: Path,
    *,
    workflow: str | None,
    script_path: Path | None,
    output_format: str,
    store_path: Path | None,
    tenant: str,
    now: str | None,
) -> int:
    import sys

    from crmctl.model.package import load_package
    from crmctl.runtime.workflow import WorkflowError, parse_moment

    if script_path is None and not sys.stdin.isatty():
        raise UsageError("workflow simulate without --script needs a terminal; pass --script FILE (docs/workflows.md)")
    scenario = load_scenario(script_path) if script_path is not None else None
    package = load_package(package_path)
    if not package.valid:
        first = package.diagnostics[0]
        raise InputError(f"{first.location}: {first.message} (run crmctl lint {package_path})")
    with open_store(store_path) as store:
        start = scenario.now if scenario is not None and scenario.now is not None and now is None else None
        player = Player(store, tenant, package, workflow, start or workflow_clock(store, tenant, now))
        if scenario is None:
            from crmctl.cli.workflow_interactive import interact

            return interact(player)
        for where, step in scenario.steps:
            try:
                player.play(step)
            except WorkflowError as exc:
                raise InputError(f"{where}: {exc}") from None
    # Earliest first across the steps too: an instance whose clock stood behind the run's start (`now:` or --now
    # later than the tenant's clock) catches up at its first step, with effects dated before earlier steps'.
    timeline = sorted(player.timeline, key=lambda effect: parse_moment(effect["at"]))  # stable: each step's order kept
    summary = summarize(timeline, player.model.workflow.id, player.clock, player.initial)
    if output_format == "json":
        out(
            json.dumps(
                {
                    "workflow": player.model.workflow.id,
                    "package": player.ref.to_json(),
                    "tenant": tenant,
                    "timeline": timeline,
                    "summary": summary,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print_timeline(timeline)
        _print_summary(summary)
    return 0


def workflow_clock(store: Any, tenant: str, now: str | None) -> datetime:
    """When workflow inputs happen without a moment of their own: `--now`, else the tenant's workflow clock (the
    latest moment any of its instances reached: a follow-up scenario goes on where the last one stopped), else
    the wall clock (a tenant without instances)."""
    if now is None:
        latest = store.workflow_clock(tenant)
        if latest is not None:
            from crmctl.runtime.service import parse_instant

            return parse_instant(latest)
    return instant(now)


def describe(effect: Mapping[str, Any]) -> str:
    """One effect of the timeline as words."""
    kind = effect["effect"]
    by = effect.get("by")
    who = f" by {by['user']} ({by['role']})" if isinstance(by, Mapping) and by.get("user") != "system" else ""
    assignee = effect.get("assignee") or {}
    to = f"role {assignee['role']}" if "role" in assignee else f"user {assignee.get('user')}" if assignee else ""
    text = {
        "started": f"started{who}",
        "entered": f"entered {effect.get('state')}",
        "transition": f"{effect.get('source')} → {effect.get('target')} ({effect.get('transition')}){who}",
        "refused": f"refused {effect.get('transition')}: {effect.get('reason')}",
        "guard": f"guard {effect.get('guard')}: {'holds' if effect.get('result') else 'does not hold'}",
        "approval-requested": f"approval of {effect.get('transition')} requested{who} ({effect.get('mode')}, "
        f"{effect.get('needed')} needed)",
        "approval-granted": f"approval of {effect.get('transition')} granted",
        "approval-rejected": f"approval of {effect.get('transition')} rejected{who}",
        "task": f"task {effect.get('task')} for {to}",
        "task-closed": f"task {effect.get('task')} closed",
        "claimed": f"{effect.get('task')} claimed{who}",
        "decided": f"{effect.get('decision')} on {effect.get('task')}{who}"
        + (f": “{effect['comment']}”" if effect.get("comment") else ""),
        "reassigned": f"reassigned {effect.get('task') or 'the work'} to {to} ({effect.get('reason')})",
        "sla-started": f"SLA {effect.get('sla')} started",
        "sla-warning": f"SLA {effect.get('sla')} warning",
        "sla-breach": f"SLA {effect.get('sla')} breached",
        "sla-met": f"SLA {effect.get('sla')} met{' late' if effect.get('late') else ' in time'}",
        "sla-paused": f"SLA {effect.get('sla')} paused",
        "sla-resumed": f"SLA {effect.get('sla')} resumed",
        "sla-reset": f"SLA {effect.get('sla')} reset",
        "escalation": f"SLA {effect.get('sla')} escalation {effect.get('level')}",
        "notify": f"notify {effect.get('role')} ({effect.get('reason')})",
        "timer-set": f"timer {effect.get('timer')} due {effect.get('due')}",
        "timer": f"timer {effect.get('timer')} fired",
        "timer-cleared": f"timer {effect.get('timer')} cleared",
        "event": f"event {effect.get('event')}",
        "changed": f"{effect.get('field')} = {json.dumps(effect.get('value'), ensure_ascii=False)}",
        "set": f"set {effect.get('field')} = {json.dumps(effect.get('value'), ensure_ascii=False)}",
        "calculated": f"{effect.get('field')} recalculated: {json.dumps(effect.get('value'), ensure_ascii=False)}",
        "completed": f"completed in {effect.get('state')}",
    }.get(kind)
    return text or json.dumps(dict(effect), ensure_ascii=False)


_ATTENTION = {
    "sla-warning": "yellow",
    "sla-breach": "red",
    "escalation": "red",
    "refused": "yellow",
    "approval-rejected": "red",
    "completed": "green",
    "approval-granted": "green",
    "event": "cyan",
}


def print_timeline(timeline: list[dict[str, Any]]) -> None:
    """The timeline: a rich table on a terminal (warnings and breaches coloured), plain lines when piped."""
    from crmctl.cli.console import rich_console, use_color

    shown = [e for e in timeline if e["effect"] not in ("guard", "timer-cleared")]  # all of them in JSON
    if use_color("text"):
        from rich.table import Table
        from rich.text import Text

        table = Table("time (UTC)", "instance", "what happened", box=None)
        for effect in shown:
            style = _ATTENTION.get(effect["effect"])
            cells = (effect["at"][:16].replace("T", " "), effect["instance"], describe(effect))
            table.add_row(*(Text(str(cell)) for cell in cells), style=style)
        rich_console().print(table)
        return
    out("time (UTC)        instance     what happened")
    for effect in shown:
        out(f"{effect['at'][:16].replace('T', ' ')}  {effect['instance']:<12} {describe(effect)}")


def summarize(
    timeline: list[dict[str, Any]], workflow: str, end: datetime, running: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Counts per workflow and per rule over one run: transitions, time in state, SLA outcomes, escalations, guard
    results. `running` are the instances that were running when the run started (a follow-up run): they count
    among its instances, and their time in state counts from where their clock stood."""
    from crmctl.runtime.workflow import parse_moment

    transitions: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    guards: dict[str, Counter[str]] = defaultdict(Counter)
    in_state: dict[str, float] = defaultdict(float)
    entered = {i: (str(inst["state"]), parse_moment(str(inst["clock"]))) for i, inst in (running or {}).items()}
    completed = set()
    for effect in timeline:
        kind, instance = effect["effect"], effect["instance"]
        moment = parse_moment(effect["at"])
        if kind == "entered":
            entered[instance] = (effect["state"], moment)
        elif kind == "transition":
            transitions[effect["transition"]] += 1
            state, since = entered.get(instance, (effect["source"], moment))
            in_state[state] += (moment - since).total_seconds()
        elif kind == "guard":
            guards[effect["guard"]]["holds" if effect["result"] else "fails"] += 1
        elif kind == "completed":
            completed.add(instance)
        elif kind == "sla-met":
            outcomes["met late" if effect["late"] else "met in time"] += 1
        elif kind in ("sla-warning", "sla-breach", "escalation", "refused", "approval-granted", "approval-rejected"):
            outcomes[kind] += 1
    for instance, (state, since) in entered.items():
        if instance not in completed:
            in_state[state] += max((end - since).total_seconds(), 0.0)  # a clock ahead of the run's: nothing here
    instances = {e["instance"] for e in timeline} | set(running or ())
    return {
        "workflow": workflow,
        "instances": len(instances),
        "completed": len(completed),
        "transitions": dict(sorted(transitions.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "hoursInState": {s: round(v / 3600, 2) for s, v in sorted(in_state.items())},
        "guards": {g: dict(sorted(c.items())) for g, c in sorted(guards.items())},
    }


def _print_summary(summary: Mapping[str, Any]) -> None:
    out(f"\n{summary['workflow']}: {summary['instances']} instance(s), {summary['completed']} completed")
    if summary["transitions"]:
        out("  transitions: " + ", ".join(f"{k} {v}" for k, v in summary["transitions"].items()))
    if summary["outcomes"]:
        out("  outcomes: " + ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items()))
    if summary["hoursInState"]:
        out("  hours in state: " + ", ".join(f"{k} {v}" for k, v in summary["hoursInState"].items()))
    for guard, counts in summary["guards"].items():
        out(f"  {guard}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def run_migrate(
    package_path: Path,
    *,
    instances: list[str],
    all_instances: bool,
    mapping: list[str],
    workflow: str | None,
    output_format: str,
    store_path: Path | None,
    tenant: str,
    now: str | None,
) -> int:
    """Move running instances onto PACKAGE's version of their workflow: all or none, each move logged."""
    from crmctl.compat.moves import MoveCheck
    from crmctl.model.package import load_package
    from crmctl.model.regex import compile_pattern
    from crmctl.runtime.service import Runtime, iso
    from crmctl.runtime.workflow import WorkflowEngine, WorkflowError, WorkflowModel

    if bool(instances) == all_instances:
        raise UsageError("name instances with --instance ID (repeatable) or take every running one with --all")
    states: dict[str, str] = {}
    for item in mapping:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--map {item!r}: write OLD=NEW, e.g. --map contacted=qualifying")
        states[old] = new
    package = load_package(package_path)
    if not package.valid:
        first = package.diagnostics[0]
        raise InputError(f"{first.location}: {first.message} (run crmctl lint {package_path})")
    with open_store(store_path) as store:
        at = workflow_clock(store, tenant, now)
        runtime = Runtime(store, tenant)
        ref = runtime.pin(package)
        engine = WorkflowEngine(WorkflowModel.build(runtime.pinned(ref.digest), workflow))
        flow = engine.flow.id
        running = {i["id"]: i for i in store.list_instances(tenant, workflow=flow, status="running")}
        chosen = sorted(running) if all_instances else list(dict.fromkeys(instances))  # a repeated id moves once
        missing = [i for i in chosen if i not in running]
        if missing:
            raise InputError(f"no running instance {missing[0]!r} of workflow {flow} in tenant {tenant!r}")
        moved, refused = [], []
        checks: dict[str, MoveCheck] = {}  # one diff per version the instances run on
        for instance_id in chosen:
            current = running[instance_id]
            if current["digest"] == ref.digest:
                continue
            if current["digest"] not in checks:
                checks[current["digest"]] = MoveCheck(runtime.pinned(current["digest"]), package, compile_pattern)
            breaking = checks[current["digest"]].breaking(engine.model.entity, current["data"])
            if breaking:  # its record's values would be lost or reinterpreted on the new version
                refused.append(
                    (
                        instance_id,
                        "; ".join(
                            f"{c.code} {c.kind.id} {c.path}: {c.message} (the record is one of those that {q})"
                            for c, q in breaking
                        ),
                    )
                )
                continue
            try:
                pinned = WorkflowEngine(WorkflowModel.build(runtime.pinned(current["digest"]), flow))
                caught_up = pinned.advance(current, at)  # what fell due by now happens on the old version first
                if caught_up.instance["status"] == "running":
                    moved.append((current, caught_up, engine.adopt(caught_up.instance, states, at)))
            except WorkflowError as exc:
                refused.append((instance_id, str(exc)))
        if not refused:
            with store.transaction():
                for before, caught_up, step in moved:
                    if caught_up.effects:  # logged on the old version, as a simulate's advance would be
                        store.append_events(
                            tenant,
                            [
                                _entry(
                                    before,
                                    flow,
                                    engine.model.entity,
                                    iso(at),
                                    {"type": "advance", "instance": before["id"]},
                                    caught_up.effects,
                                )
                            ],
                        )
                    store.append_events(
                        tenant,
                        [
                            _entry(
                                step.instance,
                                flow,
                                engine.model.entity,
                                iso(at),
                                {"type": "migrate", "instance": before["id"], "map": states},
                                step.effects,
                            )
                        ],
                    )
                    store.put_instances(tenant, [step.instance])
    rows = [
        {"instance": b["id"], "from": b["package"]["version"], "to": ref.version, "state": s.instance["state"]}
        for b, _, s in moved
    ]
    if output_format == "json":
        out(
            json.dumps(
                {
                    "workflow": flow,
                    "to": ref.to_json(),
                    "migrated": [] if refused else rows,
                    "refused": [{"instance": i, "reason": r} for i, r in refused],
                },
                indent=2,
            )
        )
    elif refused:
        out(
            "\n".join(
                [f"refused {i}: {r}" for i, r in refused]
                + [f"nothing was migrated ({len(refused)} of {len(chosen)} refused)"]
            )
        )
    else:
        out(
            "\n".join(
                [f"migrated {r['instance']} from {r['from']} to {r['to']} (state {r['state']})" for r in rows]
                or ["nothing to migrate"]
            )
        )
    return 1 if refused else 0


def _entry(
    instance: Mapping[str, Any],
    flow: str,
    entity: str,
    at: str,
    given: Mapping[str, Any],
    effects: list[dict[str, Any]],
) -> dict[str, Any]:
    """A workflow log entry, pinned to the version `instance` runs on."""
    from crmctl.runtime.eventlog import value_hash

    pinned = {
        "name": instance["package"]["name"],
        "version": instance["package"]["version"],
        "digest": instance["digest"],
    }
    return {
        "session": f"workflow:{instance['id']}",
        "at": at,
        "kind": "workflow",
        "package": pinned,
        "workflow": flow,
        "entity": entity,
        "input": dict(given),
        "effects": effects,
        "effectsHash": value_hash(effects),
    }
