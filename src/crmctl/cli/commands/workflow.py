"""`crmctl workflow simulate`: play a workflow scenario on a virtual clock and print its timeline.

The scenario's inputs go through the pure engine (`runtime.workflow`) and are appended, with their effects, to the
tenant's event log (kind `workflow`), so `crmctl log verify` and `crmctl replay` cover them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.cli.inputs import duration, instant, open_store, read_document
from crmctl.errors import InputError, UsageError
from crmctl.model.scripts import ScenarioDocument, check_events
from crmctl.runtime.workflow_text import describe

if TYPE_CHECKING:
    from crmctl.runtime.store import Store

__all__ = ["load_scenario", "print_timeline", "run_migrate", "run_simulate", "workflow_clock"]


@dataclass
class Scenario:
    now: datetime | None
    records: dict[str, dict[str, Any]]
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (where, step)


def load_scenario(path: Path) -> Scenario:
    """A scenario (`model.scripts.ScenarioDocument`): `now`, named `records` and a list of `events`."""
    doc = read_document(path, "scenario")
    data = doc.data
    if not isinstance(data, dict):
        raise InputError(f"{doc.loc(())}: a scenario is a mapping with now, records and events")
    unknown = sorted(set(data) - set(ScenarioDocument.model_fields))
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
    for where, kind, args in check_events(doc, ("events",), events, scenario=True):
        if kind == "advance":
            scenario.steps.append((where, {"type": "advance", "by": duration(args, where)}))
            continue
        if kind == "advance-to":
            try:
                scenario.steps.append((where, {"type": "advance-to", "to": instant(str(args))}))
            except UsageError:
                raise InputError(f"{where}: advance-to takes an ISO 8601 moment with a zone") from None
            continue
        step = {"type": kind, **{k: v for k, v in args.items() if k != "record"}}
        if kind == "start" and "record" in args:
            if args["record"] not in scenario.records:
                raise InputError(f"{where}: no record {args['record']!r} under records")
            step["data"] = scenario.records[args["record"]]
        scenario.steps.append((where, step))
    return scenario


def run_simulate(
    package_path: Path,
    *,
    workflow: str | None,
    script_path: Path | None,
    output_format: str,
    store_path: str | None,
    tenant: str,
    now: str | None,
) -> int:
    import sys

    from crmctl.model.package import load_package
    from crmctl.runtime.scenario import Player, play_held, summarize
    from crmctl.runtime.workflow import parse_moment

    if script_path is None and output_format == "json":
        raise UsageError(
            "workflow simulate --format json needs --script FILE: the interactive mode is for people "
            "(docs/workflows.md)"
        )
    if script_path is None and not sys.stdin.isatty():
        raise UsageError("workflow simulate without --script needs a terminal; pass --script FILE (docs/workflows.md)")
    scenario = load_scenario(script_path) if script_path is not None else None
    package = load_package(package_path)
    if not package.valid:
        first = package.diagnostics[0]
        raise InputError(f"{first.location}: {first.message} (run crmctl lint {package_path})")
    given = instant(now) if now is not None else None  # read before the store is opened, let alone written
    with open_store(store_path) as store:
        if scenario is None:
            from crmctl.cli.workflow_interactive import interact

            clock = given or workflow_clock(store, tenant, None)
            return interact(Player.for_tenant(store, tenant, package, workflow, clock))
        start = given or scenario.now  # else the tenant's clock, read once the run holds the tenant
        player, refused = play_held(
            store,
            tenant,
            package,
            workflow,
            lambda: start or workflow_clock(store, tenant, None),
            [step for _, step in scenario.steps],
        )
        if refused is not None:
            raise InputError(f"{scenario.steps[refused.index][0]}: {refused}", hint=refused.hint)
    # Earliest first across the steps too: an instance whose clock stood behind the run's start (`now:` or --now
    # later than the tenant's clock) catches up at its first step, with effects dated before earlier steps'.
    timeline = sorted(player.timeline, key=lambda effect: parse_moment(effect["at"]))  # stable: each step's order kept
    summary = summarize(timeline, player.model.workflow.id, player.clock, player.initial)
    if output_format == "json":
        return emit(
            {
                "workflow": player.model.workflow.id,
                "package": player.ref.to_json(),
                "tenant": tenant,
                "timeline": timeline,
                "summary": summary,
            }
        )
    print_timeline(timeline)
    _print_summary(summary)
    return 0


def workflow_clock(store: Store, tenant: str, now: str | None) -> datetime:
    """When workflow inputs happen without a moment of their own: `--now`, else the tenant's workflow clock (the
    latest moment any of its instances reached: a follow-up scenario goes on where the last one stopped), else
    the wall clock (a tenant without instances)."""
    if now is None:
        latest = store.workflow_clock(tenant)
        if latest is not None:
            from crmctl.runtime.service import parse_instant

            return parse_instant(latest)
    return instant(now)


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
    store_path: str | None,
    tenant: str,
    now: str | None,
) -> int:
    """Move running instances onto PACKAGE's version of their workflow: all or none, each move logged."""
    from crmctl.compat.moves import MoveCheck
    from crmctl.model.package import load_package
    from crmctl.model.regex import compile_pattern
    from crmctl.runtime.scenario import workflow_entry
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
                store.hold_instances(tenant, {str(before["id"]): before for before, _, _ in moved})
                for before, caught_up, step in moved:
                    if caught_up.effects:  # logged on the old version, as a simulate's advance would be
                        store.append_events(
                            tenant,
                            [
                                workflow_entry(
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
                            workflow_entry(
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
        result = {
            "workflow": flow,
            "to": ref.to_json(),
            "migrated": [] if refused else rows,
            "refused": [{"instance": i, "reason": r} for i, r in refused],
        }
        return emit(result, exit_code=1 if refused else 0)
    if refused:
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
