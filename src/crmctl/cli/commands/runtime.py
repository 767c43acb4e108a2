"""`crmctl simulate`, `draft`, `log`, `replay`, `store`: thin commands over `crmctl.runtime`.

The clock and ids are taken here, in the shell, and injected: scripts run on a virtual clock (`now:` in the
script, or `--now`), each event one second after the previous unless `advance:` moves it further.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.cli.inputs import duration, instant, open_store, read_document, resolve_store, store_argument
from crmctl.cli.words import plural
from crmctl.errors import InputError, UsageError
from crmctl.model.scripts import ScriptBody, check_events

if TYPE_CHECKING:
    from crmctl.runtime.checks import Resolver
    from crmctl.runtime.service import Runtime, SessionConfig
    from crmctl.runtime.store import Draft

__all__ = [
    "run_draft_discard",
    "run_draft_list",
    "run_draft_resume",
    "run_draft_show",
    "run_log_export",
    "run_log_verify",
    "run_replay",
    "run_replay_merge",
    "run_simulate",
    "run_store_info",
    "run_store_migrate",
]


def _json(value: Any) -> None:
    out(json.dumps(value, indent=2, ensure_ascii=False))


# --- scripts -------------------------------------------------------------------------------------------------------


@dataclass
class Script:
    events: list[tuple[str, dict[str, Any]]]  # (where, event) with where = file:line:col
    now: datetime | None = None
    answers: dict[str, Any] = field(default_factory=dict)


def load_script(path: Path) -> Script:
    """A simulation script (`model.scripts.ScriptDocument`): a YAML list of events, or a mapping with `now`,
    `answers` and `events`."""
    doc = read_document(path, "script")
    data = doc.data
    script = Script([])
    prefix: tuple[str | int, ...] = ()
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(ScriptBody.model_fields))
        if unknown:
            raise InputError(
                f"{doc.loc((unknown[0],), key=True)}: unknown key {unknown[0]!r}; a script has now, answers and events"
            )
        if "now" in data:
            from crmctl.runtime.service import parse_instant

            try:
                script.now = parse_instant(str(data["now"]))
            except (ValueError, UsageError):
                raise InputError(f"{doc.loc(('now',))}: now must be an ISO 8601 time with a zone") from None
        answers = data.get("answers", {})
        if not isinstance(answers, dict):
            raise InputError(f"{doc.loc(('answers',))}: answers maps a provider to its answer")
        script.answers = answers
        data = data.get("events", [])
        prefix = ("events",)
    if not isinstance(data, list):
        raise InputError(f"{doc.loc(prefix)}: a script is a list of events, e.g. - change: {{field: x, value: 1}}")
    for where, kind, args in check_events(doc, prefix, data, scenario=False):
        if kind == "advance":
            script.events.append((where, {"type": "advance", "by": duration(args, where)}))
        else:
            script.events.append((where, {"type": kind, **(args or {})}))
    return script


# --- rendering -----------------------------------------------------------------------------------------------------


def _describe_event(event: Mapping[str, Any]) -> str:
    kind = event["type"]
    if kind == "change":
        return f"change {event['field']} = {json.dumps(event.get('value'), ensure_ascii=False)}"
    if kind == "goto":
        return f"goto {event['step']}"
    return str(kind)


def effect_line(effect: Mapping[str, Any]) -> str:
    """One effect as a line of the text trace."""
    kind = effect.get("effect")
    target = effect.get("field") or effect.get("step")
    if kind == "locale":
        return f"locale {effect['locale']} ({'right-to-left' if effect['direction'] == 'rtl' else 'left-to-right'})"
    if kind == "step":
        return f"step {effect['step']} ({effect['label']}, {effect['mode']}): {', '.join(effect['fields'])}"
    if kind == "show":
        label = f" ({effect['label']})" if "label" in effect else ""
        return f"show {'step ' if 'step' in effect else ''}{target}{label}"
    if kind == "hide":
        return f"hide {'step ' if 'step' in effect else ''}{target}"
    if kind == "readonly":
        return f"read-only {target}"
    if kind == "required":
        return f"{'required' if effect['value'] else 'optional'} {target}"
    if kind == "options":
        return f"options {target}: {', '.join(effect['labels'])}"
    if kind == "set":
        return f"set {target} = {effect.get('display', json.dumps(effect.get('value'), ensure_ascii=False))}"
    if kind == "message":
        mark = "warning" if effect["severity"] == "warning" else "error"
        return f"{mark} {effect['field'] or '(form)'} [{effect['code']}]: {effect['message']}"
    if kind == "clear":
        return f"cleared {effect['field'] or '(form)'} [{effect['code']}]"
    if kind == "error":
        return f"rule error {effect['rule']}: {effect['message']}"
    if kind == "blocked":
        rule = f" by {effect['rule']}" if effect.get("rule") else ""
        return f"blocked {effect['action']}{rule}: {effect['reason']}"
    if kind == "submit":
        if effect["ok"]:
            return "submitted: record created"
        return f"submit refused: {sum(1 for r in effect['report'] if r['severity'] == 'error')} error(s)"
    return json.dumps(effect, ensure_ascii=False)


def _submit_report(effect: Mapping[str, Any]) -> list[str]:
    return [f"      {r['severity']} {r['field'] or '(form)'} [{r['code']}]: {r['message']}" for r in effect["report"]]


def _print_step(index: int, at: datetime, event: Mapping[str, Any], effects: list[dict[str, Any]]) -> None:
    out(f"{index:>3}  {at.strftime('%Y-%m-%dT%H:%M:%SZ')}  {_describe_event(event)}")
    for effect in effects:
        out(f"       {effect_line(effect)}")
        if effect.get("effect") == "submit":
            for line in _submit_report(effect):
                out(line)


# --- simulate ------------------------------------------------------------------------------------------------------


def _resolver(answers: Mapping[str, Any]) -> Resolver:
    from crmctl.runtime.providers import provider_resolver

    return provider_resolver(answers)


def run_simulate(
    package_path: Path,
    *,
    entity: str | None,
    form: str | None,
    locale: str | None,
    role: str | None,
    script_path: Path | None,
    output_format: str,
    store_path: str | None,
    tenant: str,
    session_id: str | None,
    now: str | None,
) -> int:
    from crmctl.model.package import load_package
    from crmctl.runtime.service import Runtime

    if script_path is None and output_format == "json":
        raise UsageError(
            "simulate --format json needs --script FILE: the interactive mode is for people (docs/simulate.md)"
        )
    if script_path is None and not sys.stdin.isatty():
        raise UsageError("simulate without --script needs a terminal; pass --script FILE (see docs/simulate.md)")
    script = load_script(script_path) if script_path is not None else None
    package = load_package(package_path)
    if not package.valid:
        first = package.diagnostics[0]
        raise InputError(f"{first.location}: {first.message} (run crmctl lint {package_path})")
    clock = instant(now) if now is not None or script is None or script.now is None else script.now
    sid = session_id or uuid.uuid4().hex[:12]
    with open_store(store_path) as store:
        runtime = Runtime(store, tenant)
        config = runtime.configure(package, entity=entity, form=form, role=role, locale=locale)
        if script is None:
            from crmctl.cli.interactive import interact

            return interact(runtime, config, sid, resumed=False)
        return _play(runtime, config, sid, script, clock, output_format, start=True)


def _play(
    runtime: Runtime,
    config: SessionConfig,
    sid: str,
    script: Script,
    clock: datetime,
    output_format: str,
    *,
    start: bool,
) -> int:
    from crmctl.errors import UserError

    resolver = _resolver(script.answers)
    steps: list[dict[str, Any]] = []
    events = list(script.events)
    if start and not (events and events[0][1]["type"] == "load"):
        events.insert(0, ("(start)", {"type": "load"}))
    if output_format == "text":
        out(
            f"session {sid}: {config.package.name}@{config.package.version} {config.entity}, role {config.role}, "
            f"locale {config.locale}, tenant {runtime.tenant}"
        )
    status = "open"
    first = True
    for index, (where, event) in enumerate(events, start=1):
        if event["type"] == "advance":
            clock += event["by"]
            continue
        if event["type"] == "quit":
            status = "quit"
            break
        if not first or not start:
            clock += timedelta(seconds=1)
        try:
            if start and first:
                data = event.get("data")
                effects = runtime.start(config, sid, clock, data=data, resolver=resolver)
            else:
                effects = runtime.apply(sid, event, clock, resolver)
        except UserError as exc:
            raise InputError(f"{where}: {exc}") from None
        first = False
        steps.append(
            {"index": index, "at": clock.strftime("%Y-%m-%dT%H:%M:%SZ"), "event": _plain(event), "effects": effects}
        )
        if output_format == "text":
            _print_step(index, clock, event, effects)
        if any(e.get("effect") == "submit" and e.get("ok") for e in effects):
            status = "submitted"
            break
    if status != "submitted":
        status = "draft"
    if output_format == "json":
        return emit(_session_result(runtime, config, sid, status, steps))
    if status == "draft":
        out(f"draft {sid} saved; resume with: crmctl draft resume {sid}")
    else:
        out(f"record {config.entity}/{sid} stored, pinned to {config.package.name}@{config.package.version}")
    return 0


def _session_result(
    runtime: Runtime, config: SessionConfig, sid: str, status: str, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """The JSON result of a scripted session (simulate, draft resume): where it ended and every step's effects.
    The session id is the draft's id while it is a draft and the record's once submitted (the draft is gone)."""
    effects = [e for step in steps for e in step["effects"]]
    submits = [e for e in effects if e.get("effect") == "submit"]
    if status == "submitted":
        step = next((e["step"] for e in reversed(effects) if e.get("effect") == "step"), None)
        data = dict(submits[-1].get("record") or {})
    else:
        _, state = runtime.state_of(sid)
        step, data = state.step, dict(state.data)
    return {
        "sessionId": sid,
        "tenant": runtime.tenant,
        **config.to_json(),
        "status": status,
        "draftId": sid if status == "draft" else None,
        "record": {"entity": config.entity, "id": sid} if status == "submitted" else None,
        "step": step,
        "data": data,
        "validation": submits[-1]["report"] if submits else None,
        "events": steps,
    }


def _plain(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items()}


# --- drafts --------------------------------------------------------------------------------------------------------


def _package_ref(name: str, version: str, digest: str) -> dict[str, str]:
    return {"name": name, "version": version, "digest": digest}


def _draft_summary(draft: Draft) -> dict[str, Any]:
    """A draft as `draft list` and `draft show` give it (the same keys, camelCase)."""
    return {
        "draftId": draft.draft_id,
        "entity": draft.entity,
        "package": _package_ref(draft.package_name, draft.package_version, draft.package_digest),
        "lastStep": draft.last_step,
        "updatedAt": draft.updated_at,
    }


def run_draft_list(store_path: str | None, tenant: str, entity: str | None, output_format: str) -> int:
    with open_store(store_path, read_only=True) as store:
        drafts = store.list_drafts(tenant, entity)
    if output_format == "json":
        return emit({"tenant": tenant, "entity": entity, "drafts": [_draft_summary(d) for d in drafts]})
    if not drafts:
        out(f"no drafts in tenant {tenant}")
    for d in drafts:
        out(f"{d.draft_id}  {d.entity}  {d.package_name}@{d.package_version}  step {d.last_step}  {d.updated_at}")
    return 0


def run_draft_show(draft_id: str, store_path: str | None, tenant: str, output_format: str) -> int:
    """An open draft, or where a submitted one went (the record its submit stored, under the same id)."""
    from crmctl.runtime.service import Runtime

    with open_store(store_path, read_only=True) as store:
        runtime = Runtime(store, tenant)
        draft = store.get_draft(tenant, draft_id)
        submitted = runtime.submission(draft_id) if draft is None else None
        discarded = runtime.discarded(draft_id) if draft is None and submitted is None else None
    if draft is not None:
        doc = {
            **_draft_summary(draft),
            "status": "open",
            "role": draft.state["config"]["role"],
            "locale": draft.state["config"]["locale"],
            "data": draft.data,
            "record": None,
        }
    elif submitted is not None:
        doc = _submitted_draft(draft_id, submitted)
    else:
        raise _no_draft(draft_id, tenant, discarded)
    if output_format == "json":
        return emit(doc)
    package = f"{doc['package']['name']}@{doc['package']['version']}"
    if doc["record"] is not None:
        record = doc["record"]
        out(
            f"draft {draft_id} was submitted at {doc['updatedAt']}: it is record {record['entity']} {record['id']} "
            f"({package})\n  see: {_record_command(record['id'], record['entity'], store_path, tenant)}"
        )
        return 0
    out(f"draft {draft_id}: {doc['entity']} on {package}, step {doc['lastStep']}, updated {doc['updatedAt']}")
    for name, value in sorted(doc["data"].items()):
        out(f"  {name} = {json.dumps(value, ensure_ascii=False)}")
    return 0


def _no_draft(draft_id: str, tenant: str, discarded: Mapping[str, Any] | None) -> InputError:
    """No open draft `draft_id`: it was discarded (said with when), or never existed."""
    if discarded is not None:
        return InputError(
            f"draft {draft_id!r} was discarded at {discarded.get('at')} in tenant {tenant!r}",
            hint="crmctl draft list shows the open drafts; a discarded session id is not used again",
        )
    return InputError(f"no draft {draft_id!r} in tenant {tenant!r}", hint="crmctl draft list shows the open drafts")


def _record_command(record_id: str, entity: str, store_path: str | None, tenant: str) -> str:
    """The command that shows the record a submitted draft became, ready to paste: the --store and --tenant the
    draft was found with (a record lives in its tenant; the store given on the command line is not the default
    one), every word quoted for the shell."""
    import shlex

    words = ["crmctl", "records", "get", record_id, "--entity", entity]
    if store_path is not None:
        words += ["--store", str(store_path)]
    if tenant != "default":
        words += ["--tenant", tenant]
    return shlex.join(words)


def _submitted_draft(draft_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """`draft show` of a draft whose submit stored a record: what the submitting log entry says."""
    package = entry.get("package")
    pinned = package if isinstance(package, Mapping) else {}
    submit = next(e for e in entry["effects"] if isinstance(e, Mapping) and e.get("effect") == "submit")
    data = submit.get("record")
    return {
        "draftId": draft_id,
        "entity": str(entry.get("entity")),
        "package": _package_ref(*(str(pinned.get(key, "")) for key in ("name", "version", "digest"))),
        "lastStep": None,
        "updatedAt": str(entry.get("at")),
        "status": "submitted",
        "role": entry.get("role"),
        "locale": entry.get("locale"),
        "data": data if isinstance(data, dict) else {},
        "record": {"entity": str(entry.get("entity")), "id": draft_id},
    }


def run_draft_discard(draft_id: str, store_path: str | None, tenant: str, now: str | None, output_format: str) -> int:
    """Delete an open draft (logged); a submitted draft is a record now and is refused, pointing at it."""
    from crmctl.errors import UserError
    from crmctl.runtime.service import DraftNotFoundError, Runtime

    at = instant(now)
    with open_store(store_path, create=False) as store:
        runtime = Runtime(store, tenant)
        try:
            draft = runtime.discard(draft_id, at)
        except DraftNotFoundError:
            entry = runtime.submission(draft_id)
            if entry is None:
                raise _no_draft(draft_id, tenant, runtime.discarded(draft_id)) from None
            entity = entry.get("entity")
            raise UserError(
                f"draft {draft_id!r} was submitted: it is record {entity} {draft_id} now, not a draft to discard",
                hint=_record_command(draft_id, str(entity), store_path, tenant),
            ) from None
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if output_format == "json":
        return emit({**_draft_summary(draft), "tenant": tenant, "discardedAt": stamp})
    out(
        f"discarded draft {draft_id} ({draft.entity} on {draft.package_name}@{draft.package_version}, "
        f"step {draft.last_step})"
    )
    return 0


def run_draft_resume(
    draft_id: str,
    *,
    script_path: Path | None,
    output_format: str,
    store_path: str | None,
    tenant: str,
    now: str | None,
) -> int:
    from crmctl.runtime.service import Runtime, parse_instant

    if script_path is None and output_format == "json":
        raise UsageError(
            "draft resume --format json needs --script FILE: the interactive mode is for people (docs/simulate.md)"
        )
    if script_path is None and not sys.stdin.isatty():
        raise UsageError("resume without --script needs a terminal; pass --script FILE")
    script = load_script(script_path) if script_path is not None else None
    with open_store(store_path) as store:
        runtime = Runtime(store, tenant)
        config, state = runtime.state_of(draft_id)
        if script is None:
            from crmctl.cli.interactive import interact

            return interact(runtime, config, draft_id, resumed=True)
        last = parse_instant(runtime.draft(draft_id).updated_at)
        clock = instant(now) if now is not None else (script.now or last + timedelta(seconds=1))
        if clock <= last:
            raise InputError(
                f"the draft was saved at {last.isoformat()}; the clock cannot go back to {clock.isoformat()}"
            )
        if output_format == "text":
            out(f"resuming draft {draft_id} at step {state.step}")
        return _play(runtime, config, draft_id, script, clock - timedelta(seconds=1), output_format, start=False)


# --- log, replay, store --------------------------------------------------------------------------------------------


def run_log_verify(
    store_path: str | None, tenant: str, export: Path | None, output_format: str, expected_head: str | None = None
) -> int:
    if export is not None:
        problems, count, last = _verify_export(export, tenant, expected_head)
        source, where = "export", str(export)
    else:
        with open_store(store_path, read_only=True) as store:
            problems = store.verify_log(tenant, expected_head=expected_head)
            head = store.head(tenant)
            count, last = (head[0], head[1]) if head else (0, None)
            source, where = "store", str(store.path)
    if output_format == "json":
        result = {
            "tenant": tenant,
            "source": source,
            "path": str(where),
            "entries": count,
            "head": last,
            "expectedHead": expected_head,
            "ok": not problems,
            "problems": [
                {"seq": p.seq, "position": p.position, "code": p.code, "message": p.message} for p in problems
            ],
        }
        return emit(result, exit_code=1 if problems else 0)
    if problems:
        first = problems[0]
        out(
            f"log of tenant {tenant}: first bad entry is seq {first.seq} (position {first.position}): "
            f"{first.code} {first.message}"
        )
        for p in problems[1:]:
            out(f"  then seq {p.seq}: {p.code} {p.message}")
    else:
        out(f"log of tenant {tenant}: {plural(count, 'entry', 'entries')}, hash chain intact; head {last or '(empty)'}")
    return 1 if problems else 0


def _verify_export(export: Path, tenant: str, expected_head: str | None = None) -> tuple[list[Any], int, str | None]:
    """The chain problems of `tenant`'s entries in a log export, their number and the last one's hash."""
    from crmctl.runtime import eventlog
    from crmctl.runtime.store import read_event_export

    entries = [e for e in read_event_export(export) if e.get("tenant") == tenant]
    problems = eventlog.verify_chain(entries, expected_head=expected_head)
    return problems, len(entries), str(entries[-1].get("hash")) if entries else None


def run_log_export(store_path: str | None, tenant: str | None, destination: Path, output_format: str) -> int:
    if str(destination) == "-":  # the convention for standard output; Parquet needs a seekable file
        raise UsageError(
            "--out -: the log export is a Parquet file, it cannot be streamed to standard output",
            hint="give a file path, e.g. --out events.parquet",
        )
    with open_store(store_path, read_only=True) as store:
        count = store.export_events(tenant, destination)
    if output_format == "json":
        return emit({"path": str(destination), "events": count, "tenant": tenant})
    out(f"wrote {plural(count, 'event')} to {destination}")
    return 0


def run_replay(
    *,
    store_path: str | None,
    tenant: str,
    session: str | None,
    against: str | None,
    export: Path | None,
    output_format: str,
    limit: int,
    fail_on: str | None = None,
    shard: str | None = None,
    jobs: int = 1,
) -> int:
    """Replay, and exit 1 when a divergence of a failing class is found.

    Against the pinned versions the package, its version and every input are the log's, so a difference only in
    text for people (presentation) can come from nowhere but crmctl: its built-in messages or its formatting
    changed since the crmctl that wrote the log. Without --fail-on such a difference fails only when the log's
    hash chain is broken (its texts were edited); with an intact chain it is reported and exits 0, so upgrading
    crmctl never makes an untouched log fail. `--fail-on presentation` makes it fail either way.

    `shard` (I/N) replays shard I of N and reports for `replay merge`; `jobs` > 1 replays the whole log in that
    many processes (`replay_shards`), with the same report."""
    from crmctl.cli.commands import replay_shards
    from crmctl.cli.commands.replay_shards import load_against, parse_fail_on

    failing = parse_fail_on(fail_on)
    part = replay_shards.parse_shard(shard) if shard is not None else None
    if part is not None and session is not None:
        raise UsageError("give --session ID or --shard I/N, not both")
    target = load_against(against) if against is not None else None
    locator = replay_shards.ReplayLocator(store_path, export, tenant, against)
    workers, entries = replay_shards.pool_plan(locator, jobs) if part is None and session is None else (1, 0)
    if workers > 1:
        report = replay_shards.replay_in_pool(locator, target, workers, entries=entries)
    else:
        sessions = {session} if session is not None else part
        report, identity = replay_shards.replay_log(locator, target, sessions, session)
    if session is not None and report.sessions == 0:
        raise InputError(f"no session {session!r} in the log of tenant {tenant!r}")
    failing, chain = _chain_checked(report, failing, target is None and fail_on is None, store_path, export, tenant)
    if output_format == "json" and part is not None:  # every divergence: --limit applies where shards are merged
        fails = report.fails(failing)
        result = _replay_result(report, failing, chain, None, ok=not fails)
        result["shard"] = replay_shards.shard_json(part, report, identity, target, fail_on)
        return emit(result, exit_code=1 if fails else 0)
    return _report_replay(report, failing, chain, limit, output_format)


def run_replay_merge(paths: list[Path], output_format: str, limit: int) -> int:
    """Merge the shard reports of one replay into the report one replay of the whole log gives."""
    from crmctl.cli.commands import replay_shards

    merged = replay_shards.merge_shard_reports(paths)
    report, failing = merged.report, replay_shards.parse_fail_on(merged.fail_on)
    if merged.against_pinned and merged.fail_on is None and report.fails({"presentation"}) and merged.chain:
        failing = failing | {"presentation"}
    return _report_replay(report, failing, merged.chain, limit, output_format)


def _report_replay(
    report: Any, failing: frozenset[str], chain: list[Any] | None, limit: int, output_format: str
) -> int:
    """Print a replay's report (merged or not) as text or JSON; 1 when a divergence of a failing class was found."""
    fails = report.fails(failing)
    if output_format == "json":
        return emit(_replay_result(report, failing, chain, limit, ok=not fails), exit_code=1 if fails else 0)
    _replay_text(report, limit, failing, chain)
    return 1 if fails else 0


def _chain_checked(
    report: Any, failing: frozenset[str], pinned: bool, store_path: str | None, export: Path | None, tenant: str
) -> tuple[frozenset[str], list[Any] | None]:
    """The failing classes and, when it was checked, the log's chain: against the pinned versions, with no
    --fail-on, presentation differences make the chain checked, and fail when it is broken."""
    if not pinned or not report.fails({"presentation"}):
        return failing, None
    if export is not None:
        chain = _verify_export(export, tenant)[0]
    else:
        with open_store(store_path, read_only=True) as store:
            chain = store.verify_log(tenant)
    return (failing | {"presentation"} if chain else failing), chain


def _replay_result(
    report: Any, failing: frozenset[str], chain: list[Any] | None, limit: int | None, *, ok: bool
) -> dict[str, Any]:
    """Replay's JSON result: the report's counts and what differs (the first `limit` differing events), whether
    it passes, the failing classes and, when it was checked, the log's hash chain."""
    checked = None
    if chain is not None:
        problems = [{"seq": p.seq, "position": p.position, "code": p.code, "message": p.message} for p in chain]
        checked = {"ok": not chain, "problems": problems}
    return {"ok": ok, "failOn": sorted(failing), "chain": checked, **report.to_json(limit)}


def _describe_entry(item: Any) -> str:
    """What a divergent log entry asked for, as words: a form event, a record write or a workflow input."""
    event = item.event
    if not isinstance(event, Mapping):
        return json.dumps(event, ensure_ascii=False)[:200]
    if item.kind == "record":
        given = event.get("input")
        fields = ", ".join(sorted(map(str, given))) if isinstance(given, Mapping) else "?"
        return f"record {event.get('op')} ({fields})"
    if item.kind == "workflow":
        detail = event.get("transition") or event.get("decision") or event.get("field") or ""
        return f"{event.get('type')} {detail}".rstrip()
    if event.get("type") in ("change", "goto") and ("field" in event or "step" in event):
        return _describe_event(event)
    return str(event.get("type"))


def _divergent_effects(item: Any) -> list[str]:
    """The missing (-) and extra (+) effects of a divergence, as the kind of its entry words them."""
    from crmctl.runtime.workflow_text import describe

    if item.kind == "record" and len(item.missing) == len(item.extra) == 1:
        return _record_changes(item.missing[0], item.extra[0])
    submits = [
        [e for e in side if isinstance(e, Mapping) and e.get("effect") == "submit" and e.get("record")]
        for side in (item.missing, item.extra)
    ]
    if item.kind == "form" and len(submits[0]) == len(submits[1]) == 1:  # the same submit, another record
        rest = replace(
            item,
            missing=[e for e in item.missing if e is not submits[0][0]],
            extra=[e for e in item.extra if e is not submits[1][0]],
        )
        changes = _record_changes({"data": submits[0][0]["record"]}, {"data": submits[1][0]["record"]})
        return _divergent_effects(rest) + [f"  record {line}" for line in changes]

    def line(effect: Any) -> str:
        try:
            if item.kind == "workflow":  # effects of one input happen at several moments: say when
                return f"{effect['at']} {describe(effect)}"
            return effect_line(effect)
        except (KeyError, TypeError, AttributeError):  # an effect of no known shape (an edited log entry)
            return json.dumps(effect, ensure_ascii=False, default=str)

    return [f"- {line(e)}" for e in item.missing] + [f"+ {line(e)}" for e in item.extra]


def _record_changes(before: Any, after: Any) -> list[str]:
    """A record write that differs: field by field, then the warnings."""
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return [f"- {json.dumps(before, ensure_ascii=False)}", f"+ {json.dumps(after, ensure_ascii=False)}"]
    lines = []
    old, new = before.get("data") or {}, after.get("data") or {}
    for name in sorted(set(old) | set(new)):
        if name not in new:
            lines.append(f"- {name} = {json.dumps(old[name], ensure_ascii=False)}")
        elif name not in old:
            lines.append(f"+ {name} = {json.dumps(new[name], ensure_ascii=False)}")
        elif json.dumps(old[name], sort_keys=True) != json.dumps(new[name], sort_keys=True):
            lines.append(
                f"~ {name}: {json.dumps(old[name], ensure_ascii=False)} → {json.dumps(new[name], ensure_ascii=False)}"
            )
    for sign, side, other in (("-", before, after), ("+", after, before)):
        lines.extend(
            f"{sign} warning {w.get('field') or '(record)'} [{w.get('code')}]: {w.get('message')}"
            for w in side.get("warnings") or []
            if isinstance(w, Mapping) and w not in (other.get("warnings") or [])
        )
    return lines


def _replay_text(
    report: Any, limit: int, failing: frozenset[str] = frozenset(), chain: list[Any] | None = None
) -> None:
    what = f"against {report.against}" if report.against else "against the pinned versions"
    counted = f"{plural(report.events, 'event')} of {plural(report.sessions, 'session')} {what}"
    if report.ok:
        out(f"replayed {counted}: every effect reproduced")
        return
    classes = ", ".join(f"{n} {c}" for c, n in report.classes().items() if n)
    differing = len(report.divergences)
    out(f"replayed {counted}: {differing} {'event differs' if differing == 1 else 'events differ'} ({classes})")
    for sid, counts in report.per_session.items():
        changed = {k: v for k, v in counts.items() if v}
        if changed:
            out(f"  session {sid}: " + ", ".join(f"{k} {v}" for k, v in changed.items()))
    totals = {k: v for k, v in report.totals().items() if v}
    out("  total: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    for item in report.divergences[:limit]:
        out(
            f"\n  {item.session} #{item.index} (seq {item.seq}) {_describe_entry(item)}: "
            f"{', '.join(item.categories)} [{item.classification}]"
        )
        if item.error:
            out(f"    refused: {item.error}")
        for line in _divergent_effects(item):
            out(f"    {line}")
    if len(report.divergences) > limit:
        out(f"\n  … {len(report.divergences) - limit} more (raise --limit to see them)")
    if chain:
        first = chain[0]
        out(
            f"\n  the log's hash chain is broken (seq {first.seq}: {first.code} {first.message}): the log was "
            "edited, so presentation differences fail too (crmctl log verify names every problem)"
        )
    elif failing and not report.fails(failing):
        where = ""
        if chain is not None:  # against the pinned versions, with an intact chain
            where = (
                " in texts for people, which against the pinned versions come from crmctl itself (its built-in "
                "messages or formatting differ from those of the crmctl that wrote the log; the log's hash "
                "chain is intact)"
            )
        out(
            f"\n  only {', '.join(c for c in report.classes() if c not in failing)} differences{where}: exit 0 "
            "(--fail-on presentation makes them fail)"
        )


_TABLES = {
    "drafts": "drafts",
    "records": "records",
    "events": "events",
    "workflow_instances": "workflowInstances",
    "webhook_outbox": "webhookDeliveries",
}


def run_store_info(store_path: str | None, output_format: str) -> int:
    with open_store(store_path, read_only=True) as store:
        info = store.info()
    tenants = sorted({tenant for counts in info["counts"].values() for tenant in counts})
    rows = [{"tenant": t, **{key: info["counts"][table].get(t, 0) for table, key in _TABLES.items()}} for t in tenants]
    result = {
        "path": info["path"],
        "engine": info["engine"],
        "format": info["format"],
        "createdBy": info["created_by"],
        "writtenBy": info["written_by"],
        "duckdb": info["duckdb"],
        "postgresql": info["postgresql"],
        "isolation": info["isolation"],
        "packages": info["packages"],
        "tenants": rows,
    }
    if output_format == "json":
        return emit(result)
    out(f"store {result['path']}")
    out(
        f"  format {result['format']}, created by crmctl {result['createdBy']}, last written by crmctl "
        f"{result['writtenBy']} ({_engine_named(result)})"
    )
    if result["isolation"] is not None:
        out(f"  tenant isolation (row-level security): {result['isolation']}")
    out(f"  {plural(result['packages'], 'package version')}")
    if not rows:
        out("  no tenants yet")
    for row in rows:
        out(
            f"  tenant {row['tenant']}: {plural(row['records'], 'record')}, {plural(row['drafts'], 'draft')}, "
            f"{plural(row['events'], 'log entry', 'log entries')}, "
            f"{plural(row['workflowInstances'], 'workflow instance')}, "
            f"{plural(row['webhookDeliveries'], 'webhook delivery', 'webhook deliveries')}"
        )
    return 0


def _engine_named(result: dict[str, Any]) -> str:
    return f"PostgreSQL {result['postgresql']}" if result["engine"] == "postgresql" else f"DuckDB {result['duckdb']}"


def run_store_migrate(store_path: str | None, output_format: str) -> int:
    target = resolve_store(store_path)
    with open_store(target, create=False, allow_old_format=True) as store:
        done = store.migrate()
        current = store.info()["format"]
    if output_format == "json":
        return emit({"path": str(target), "migratedFrom": done, "format": current})
    out(f"store {target} is current (format {current})" if not done else f"migrated {target} to format {current}")
    return 0


def run_store_copy(source: str, target: str, output_format: str) -> int:
    from crmctl.runtime.store_copy import copy_store

    report = copy_store(store_argument(source, "SRC"), store_argument(target, "DST"))
    tenants = [
        {
            "tenant": t.tenant,
            "verified": t.verified,
            "sourceHead": _head(t.source_head),
            "targetHead": _head(t.target_head),
            "sourceRows": t.source_rows,
            "targetRows": t.target_rows,
            "chainProblems": [f"{p.code}: {p.message}" for p in t.problems],
        }
        for t in report.tenants
    ]
    result = {
        "source": report.source,
        "target": report.target,
        "sourceEngine": report.source_engine,
        "targetEngine": report.target_engine,
        "verified": report.verified,
        "packages": {"source": report.packages[0], "target": report.packages[1]},
        "rows": report.rows,
        "tenants": tenants,
    }
    code = 0 if report.verified else 1
    if output_format == "json":
        return emit(result, exit_code=code)
    out(f"copied {report.source} ({report.source_engine}) to {report.target} ({report.target_engine})")
    out(f"  {plural(report.packages[1], 'package version')}, " + ", ".join(f"{n} {t}" for t, n in report.rows.items()))
    for t in report.tenants:
        head = f"head {t.target_head[0]} {t.target_head[1]}" if t.target_head else "no log"
        if t.verified:
            out(f"  tenant {t.tenant}: {head}, rows equal, chain intact")
            continue
        out(f"  tenant {t.tenant}: NOT verified: source head {t.source_head}, target head {t.target_head}")
        out(f"    source rows {t.source_rows}, target rows {t.target_rows}")
        for problem in t.problems:
            out(f"    {problem.code}: {problem.message}")
    out("verified" if report.verified else "the copy differs from its source")
    return code


def _head(head: tuple[int, str] | None) -> dict[str, Any] | None:
    return None if head is None else {"seq": head[0], "hash": head[1]}
