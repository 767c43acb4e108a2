"""Replay: re-execute logged sessions and compare the effects.

Against the pinned versions (`against=None`) every event must reproduce its recorded effects byte for byte:
the canonical JSON of the effects (`eventlog.dumps`) is hashed on both sides, so replay compares meaning, not
database bytes. Async validations are answered from the log; replay never calls a provider. A divergence is
reported with its event and a structured diff, and the replay continues with the state it computed.

Against another package version (`against=package`) the same inputs run through that version and every
difference is classified: effects, validation outcomes (messages and submit reports), calculated values (`set`
effects) and submit results. Events the other version refuses (a field it no longer offers, say) are
differences too, and the session goes on without them. This is the behavioural half of `crmctl diff`.

Every divergence also has a class: `presentation` when the effects differ only in text people read (labels,
picklist labels, messages, blocked reasons, displayed values, the text direction) and are the same once those
are left out, `behavioral` otherwise (a refused event is behavioral). `crmctl diff` calls such a relabel a
patch; the caller decides which classes fail (`ReplayReport.fails`).

Entries arrive in log order from any iterable (the store, or a Parquet export), so the cost is linear in the
number of events.

A replay can be cut into shards (`Shard`): shard i of n replays the sessions whose shard key hashes to it (SHA-256
of the UTF-8 key, its first 8 bytes big-endian, modulo n). The only state one session's replay takes from another
is the record a form session's accepted submit logged, where the updates of session `record:ENTITY:ID` start when
ID is that form session; so the key of `record:ENTITY:ID` is the key of ID, and every other session is its own key
(`shard_key`). A shard therefore needs only its own sessions' entries: a reader may pass None for every other one
(`EventLog.sparse_entries`, `read_sparse_export`), never parsing it. Every divergence and every session keeps the
position of its entry in the log (skipped entries count), so `merge_reports` puts the shards' reports back in the
order one replay of the whole log gives.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.runtime.eventlog import dumps, value_hash
from crmctl.runtime.packages import PackageRef, make_copy
from crmctl.runtime.service import SessionConfig, parse_instant, recorded_resolver
from crmctl.runtime.session import Session, SessionState

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crmctl.model.package import Package
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.store import Store

__all__ = [
    "CATEGORIES",
    "CLASSES",
    "Divergence",
    "ReplayReport",
    "Shard",
    "merge_reports",
    "replay",
    "same_json",
    "session_entries",
    "shard_key",
    "shard_of",
]

CATEGORIES = ("effects", "validation", "calculated", "submit", "rejected")
CLASSES = ("behavioral", "presentation")
# The keys of an effect that hold text for people, by effect kind (form and record effects; workflow effects carry
# no localized text: their `reason`s are the engine's account of what happened).
_PRESENTATION = {
    "locale": ("direction",),
    "step": ("label",),
    "show": ("label",),
    "options": ("labels",),
    "set": ("display",),
    "message": ("message",),
    "blocked": ("reason",),
    "error": ("message",),
}


def same_json(a: Any, b: Any) -> bool:
    """True when `a` and `b` have the same canonical JSON (`eventlog.dumps`), without encoding either: equal
    values of equal JSON types all the way down (1 and 1.0 and true differ, as their JSON does). Key order does
    not matter, as canonical JSON sorts keys."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        return a.keys() == b.keys() and all(same_json(value, b[key]) for key, value in a.items())
    if kind is list:
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if kind is float:
        return bool(a == b) and (a != 0.0 or str(a) == str(b))  # -0.0 encodes differently from 0.0
    return bool(a == b)


@dataclass(frozen=True)
class Divergence:
    session: str
    seq: int
    index: int  # event number within its session, from 1
    event: Mapping[str, Any]
    categories: tuple[str, ...]
    missing: list[Any]  # recorded effects not produced
    extra: list[Any]  # produced effects not recorded
    error: str | None = None
    kind: str = "form"  # the log entry's kind: form, record or workflow
    classification: str = "behavioral"  # or "presentation": see CLASSES
    position: int = 0  # the entry's place in the log replayed, from 1: the order of shards merged

    def to_json(self) -> dict[str, Any]:
        event = dict(self.event) if isinstance(self.event, Mapping) else self.event
        return {
            "session": self.session,
            "seq": self.seq,
            "index": self.index,
            "kind": self.kind,
            "event": event,
            "class": self.classification,
            "categories": list(self.categories),
            "error": self.error,
            "missing": self.missing,
            "extra": self.extra,
        }


@dataclass
class ReplayReport:
    against: str | None
    sessions: int = 0
    events: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    per_session: dict[str, dict[str, int]] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)  # session → position of its first entry replayed
    position: int = 0  # of the entry being replayed

    @property
    def ok(self) -> bool:
        return not self.divergences

    def begin(self, sid: str) -> None:
        """Count the session `sid` once, when its first event is replayed."""
        if sid not in self.per_session:
            self.sessions += 1
            self.per_session[sid] = dict.fromkeys(CATEGORIES, 0)
            self.opened[sid] = self.position

    def add(self, sid: str, divergence: Divergence | None) -> None:
        if divergence is not None:
            self.divergences.append(replace(divergence, position=self.position))
            for category in divergence.categories:
                self.per_session[sid][category] += 1

    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(CATEGORIES, 0)
        for item in self.divergences:
            for category in item.categories:
                totals[category] += 1
        return totals

    def classes(self) -> dict[str, int]:
        """Differing events per class."""
        counts = dict.fromkeys(CLASSES, 0)
        for item in self.divergences:
            counts[item.classification] += 1
        return counts

    def fails(self, classes: Iterable[str]) -> bool:
        """Whether a divergence of one of `classes` was found."""
        wanted = set(classes)
        return any(item.classification in wanted for item in self.divergences)

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """Counts, then only what differs: the sessions with a difference (differing events, and per category)
        and the first `limit` differing events (all when None), with how many were left out."""
        per_session = Counter(item.session for item in self.divergences)
        shown = self.divergences if limit is None else self.divergences[:limit]
        return {
            "against": self.against,
            "sessions": self.sessions,
            "events": self.events,
            "matchedSessions": self.sessions - len(per_session),
            "differingSessions": len(per_session),
            "differingEvents": len(self.divergences),
            "totals": self.totals(),
            "classes": self.classes(),
            "differing": [
                {"session": sid, "events": per_session[sid], **counts}
                for sid, counts in self.per_session.items()
                if sid in per_session
            ],
            "divergences": [d.to_json() for d in shown],
            "divergencesOmitted": len(self.divergences) - len(shown),
        }


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1 ≤ index ≤ count): the sessions whose id `shard_of` puts in it. Shards of one
    count are disjoint and together hold every session."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: the index runs from 1 to the count")

    def __contains__(self, session: object) -> bool:
        return isinstance(session, str) and shard_of(session, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Buckets:
    """Several shards of one count at once (`indexes`, each 1 ≤ i ≤ `count`): a process's share of the sessions
    in `replay --jobs`, where shares need not be equal."""

    indexes: frozenset[int]
    count: int

    def __contains__(self, session: object) -> bool:
        return isinstance(session, str) and shard_of(session, self.count) in self.indexes


def shard_key(session: str) -> str:
    """What places a session in a shard: for a record's session `record:ENTITY:ID` the key of ID (the form session
    whose submit may have created the record), for any other session its id."""
    while session.startswith("record:"):
        _, colon, rest = session.removeprefix("record:").partition(":")
        if not colon:
            break
        session = rest
    return session


@lru_cache(maxsize=1 << 16)  # a session has many entries, close together in the log: hash its key once
def shard_of(session: str, count: int) -> int:
    """The shard (1 to `count`) of a session id, the same on every machine and Python: the first 8 bytes of the
    SHA-256 of the UTF-8 bytes of its `shard_key`, big-endian, modulo `count`, plus one."""
    digest = hashlib.sha256(shard_key(session).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def merge_reports(reports: Sequence[ReplayReport]) -> ReplayReport:
    """One report of the reports of disjoint sets of sessions of one log, as one replay of them all would give:
    sessions in the order their first entries come in the log, divergences in the order of their entries."""
    if not reports:
        raise ValueError("no report to merge")
    merged = ReplayReport(reports[0].against)
    opened = sorted((position, sid) for report in reports for sid, position in report.opened.items())
    sessions = {report_sid: counts for report in reports for report_sid, counts in report.per_session.items()}
    for position, sid in opened:
        merged.opened[sid] = position
        merged.per_session[sid] = dict(sessions[sid])
    merged.sessions = sum(report.sessions for report in reports)
    merged.events = sum(report.events for report in reports)
    merged.divergences = sorted((d for report in reports for d in report.divergences), key=lambda d: d.position)
    return merged


@dataclass
class _Track:
    session: Session | None
    state: SessionState
    index: int = 0
    broken: str | None = None


def replay(
    runtime: Runtime,
    entries: Iterable[Mapping[str, Any] | None],
    *,
    against: Package | None = None,
    sessions: Container[str] | None = None,
) -> ReplayReport:
    """Re-execute `entries` (log order) against their pinned versions or `against`; report every difference of
    the sessions in `sessions` (a set, a `Shard`; all when None). A None stands for an entry a reader skipped: one
    of a session `sessions` leaves out whose key (`shard_key`) no session in it has."""
    label = None
    if against is not None:
        label = f"{against.name}@{against.manifest.version if against.manifest else '?'}"
    report = ReplayReport(label)
    against_ref = make_copy(against)[0] if against is not None else None  # only read: never written to the store
    tracks: dict[str, _Track] = {}
    records: _RecordTracks = _RecordTracks()
    flows = _WorkflowTracks()
    for position, entry in enumerate(entries, 1):
        report.position = position
        if entry is None:
            continue
        if entry.get("kind") == "record":
            records.replay(runtime, entry, against, sessions, report)
            continue
        if entry.get("kind") == "workflow":
            flows.replay(runtime, entry, against, sessions, report)
            continue
        if entry.get("kind") != "form":
            continue
        sid = str(entry["session"])
        records.submitted(entry, sid)
        if sessions is not None and sid not in sessions:
            continue
        track = tracks.get(sid)
        if track is None:
            track = tracks[sid] = _open(runtime, entry, against, against_ref)
            report.begin(sid)
        track.index += 1
        report.events += 1
        divergence = _replay_one(track, entry, sid)
        if track.state.status == "submitted":  # it takes no more events: keep a marker, not its state
            tracks[sid] = _Track(None, _SUBMITTED_STATE, track.index, "the session was submitted already")
        report.add(sid, divergence)
    return report


def session_entries(store: Store, tenant: str, session: str) -> Iterator[dict[str, Any]]:
    """What a replay of one session reads from the store, in log order: the session's entries and, for a record's
    session (`record:ENTITY:ID`), those of form session ID too, whose submit may have created the record its first
    update applies to (`replay` reports only `session`'s entries: pass `sessions={session}`)."""
    import heapq

    kind, _, rest = session.partition(":")
    origin = rest.partition(":")[2] if kind == "record" else ""
    if not origin:
        return store.events(tenant, session=session)
    return heapq.merge(store.events(tenant, session=session), store.events(tenant, session=origin), key=_seq)


def _seq(entry: Mapping[str, Any]) -> int:
    seq = entry.get("seq")
    return seq if isinstance(seq, int) else 0  # a damaged entry: `log verify` names it


def _open(
    runtime: Runtime, entry: Mapping[str, Any], against: Package | None, against_ref: PackageRef | None
) -> _Track:
    config = SessionConfig.from_json(entry)
    try:
        if against is None or against_ref is None:
            session = runtime.session_for(config)
        else:
            moved = SessionConfig(against_ref, config.entity, config.form, config.role, config.locale)
            session = runtime.session_for(moved, against)
    except UserError as exc:
        return _Track(None, SessionState(), broken=str(exc))
    return _Track(session, SessionState())


_NOTHING_RECORDED = recorded_resolver([])
_SUBMITTED_STATE = SessionState(status="submitted")


def _replay_one(track: _Track, entry: Mapping[str, Any], sid: str) -> Divergence | None:
    recorded = entry.get("effects", [])
    event = entry.get("event", {})
    seq = int(entry.get("seq", 0))
    if track.session is None:
        return Divergence(sid, seq, track.index, event, ("rejected",), _listed(recorded), [], track.broken)
    try:
        answers = entry.get("answers")
        resolver = recorded_resolver(list(answers)) if answers else _NOTHING_RECORDED
        outcome = track.session.apply(track.state, event, parse_instant(str(entry["at"])), resolver)
    except UserError as exc:
        return Divergence(sid, seq, track.index, event, ("rejected",), _listed(recorded), [], str(exc))
    track.state = outcome.state
    if _reproduced(outcome.effects, recorded, entry):
        return None
    return _divergence(sid, seq, track.index, event, _listed(recorded), outcome.effects)


def _listed(recorded: Any) -> list[Any]:
    """The recorded effects as a list (a tampered entry may hold anything there)."""
    return list(recorded) if isinstance(recorded, list) else [recorded]


def _reproduced(produced: list[dict[str, Any]], recorded: Any, entry: Mapping[str, Any]) -> bool:
    """Whether `produced` are the logged effects: by the logged `effectsHash`, or by value where none was logged."""
    recorded_hash = entry.get("effectsHash")
    return same_json(produced, recorded) if recorded_hash is None else value_hash(produced) == recorded_hash


def _divergence(
    sid: str,
    seq: int,
    index: int,
    event: Mapping[str, Any],
    recorded: list[Any],
    actual: list[dict[str, Any]],
    kind: str = "form",
) -> Divergence:
    missing = _unmatched(recorded, actual)
    extra = _unmatched(actual, recorded)
    changed = missing + extra
    kinds = {e.get("effect") for e in changed if isinstance(e, Mapping)}
    categories = ["effects"]
    if kinds & {"message", "clear"} or any(
        e.get("effect") == "submit" and e.get("report") for e in changed if isinstance(e, Mapping)
    ):
        categories.append("validation")
    if "set" in kinds:
        categories.append("calculated")
    if _submit_results(recorded) != _submit_results(actual):
        categories.append("submit")
    return Divergence(
        sid, seq, index, event, tuple(categories), missing, extra, kind=kind, classification=_classify(missing, extra)
    )


def _classify(missing: list[Any], extra: list[Any]) -> str:
    """`presentation` when the differing effects are the same once their text for people is left out."""
    if not missing and not extra:  # the same effects in another order, or a logged hash that does not match
        return "behavioral"
    left = sorted(dumps(_behaviour(e)) for e in missing)
    right = sorted(dumps(_behaviour(e)) for e in extra)
    return "presentation" if left == right else "behavioral"


def _behaviour(effect: Any) -> Any:
    """An effect without the text people read: what it does, not how it says it."""
    if not isinstance(effect, Mapping):
        return effect
    kind = effect.get("effect")
    out = {k: v for k, v in effect.items() if k not in _PRESENTATION.get(str(kind), ())}
    if kind == "submit" and isinstance(out.get("report"), list):
        out["report"] = [_without_message(f) for f in out["report"]]
    if kind == "record" and isinstance(out.get("warnings"), list):
        out["warnings"] = [_without_message(f) for f in out["warnings"]]
    return out


def _without_message(finding: Any) -> Any:
    return {k: v for k, v in finding.items() if k != "message"} if isinstance(finding, Mapping) else finding


def _unmatched(effects: list[Any], others: list[Any]) -> list[Any]:
    """The effects of `effects` that `others` lacks, as a multiset of canonical JSON texts."""
    pool = [dumps(e) for e in others]
    out = []
    for effect in effects:
        key = dumps(effect)
        if key in pool:
            pool.remove(key)
        else:
            out.append(effect)
    return out


def _digest(entry: Mapping[str, Any]) -> str:
    """The digest of the package version a log entry is pinned to ("" in an entry without one)."""
    package = entry.get("package")
    return str(package.get("digest", "")) if isinstance(package, Mapping) else ""


def _submit_results(effects: Iterable[Any]) -> list[bool]:
    return [bool(e.get("ok")) for e in effects if isinstance(e, Mapping) and e.get("effect") == "submit"]


@dataclass
class _RecordTracks:
    """Record entries: each is re-executed on its own, an update over the data its session's previous entry logged
    (for a record a form created: the record its submit logged), read by the version that stored it."""

    data: dict[str, tuple[str, Any]] = field(default_factory=dict)  # session → (digest, data) of its last entry
    counts: dict[str, int] = field(default_factory=dict)
    engines: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def submitted(self, entry: Mapping[str, Any], sid: str) -> None:
        """Keep the record a form entry's accepted submit logged: the data its record session's updates start from.
        Read from the log, not from the replayed submit, as every record entry is (a divergent submit is reported
        on its own entry), and also when only the record's session is replayed."""
        event = entry.get("event")
        if not isinstance(event, Mapping) or event.get("type") != "submit":
            return
        for effect in _listed(entry.get("effects", [])):
            if isinstance(effect, Mapping) and effect.get("effect") == "submit" and effect.get("ok"):
                self.data[f"record:{entry.get('entity')}:{sid}"] = (_digest(entry), effect.get("record") or {})

    def replay(
        self,
        runtime: Runtime,
        entry: Mapping[str, Any],
        against: Package | None,
        sessions: Container[str] | None,
        report: ReplayReport,
    ) -> None:
        from crmctl.runtime.record_service import replay_entry

        sid = str(entry["session"])
        if sessions is not None and sid not in sessions:
            return
        recorded = _listed(entry.get("effects", []))
        report.begin(sid)
        index = self.counts[sid] = self.counts.get(sid, 0) + 1
        report.events += 1
        event = {"op": entry.get("op"), "input": entry.get("input", {})}
        seq = int(entry.get("seq", 0))
        divergence = None
        try:
            actual = replay_entry(runtime, entry, self.data.get(sid), against, self.engines)
        except UserError as exc:
            divergence = Divergence(sid, seq, index, event, ("rejected",), recorded, [], str(exc), kind="record")
        else:
            if not same_json(actual, recorded):
                divergence = _divergence(sid, seq, index, event, recorded, actual, "record")
                before = recorded[0] if recorded and isinstance(recorded[0], Mapping) else {}
                after = actual[0]
                extra = [
                    c
                    for c, key in (("calculated", "data"), ("validation", "warnings"))
                    if dumps(before.get(key)) != dumps(after.get(key))
                ]
                divergence = replace(divergence, categories=(*divergence.categories, *extra))
        if recorded and isinstance(recorded[0], Mapping):
            self.data[sid] = (_digest(entry), recorded[0].get("data", {}))
        report.add(sid, divergence)


@dataclass
class _WorkflowTracks:
    """Workflow entries: each instance's inputs applied again, in order, to the instance they left."""

    instances: dict[str, Any] = field(default_factory=dict)  # session → instance after its last entry
    counts: dict[str, int] = field(default_factory=dict)
    engines: dict[tuple[str, str], Any] = field(default_factory=dict)

    def replay(
        self,
        runtime: Runtime,
        entry: Mapping[str, Any],
        against: Package | None,
        sessions: Container[str] | None,
        report: ReplayReport,
    ) -> None:
        from crmctl.runtime.workflow import WorkflowEngine, WorkflowModel, apply_input

        sid = str(entry["session"])
        if sessions is not None and sid not in sessions:
            return
        report.begin(sid)
        index = self.counts[sid] = self.counts.get(sid, 0) + 1
        report.events += 1
        given = entry.get("input", {})
        recorded = _listed(entry.get("effects", []))
        seq = int(entry.get("seq", 0))
        divergence = None
        try:
            key = ("against" if against is not None else str(entry["package"]["digest"]), str(entry["workflow"]))
            engine = self.engines.get(key)
            if engine is None:
                package = against if against is not None else runtime.pinned(key[0])
                engine = self.engines[key] = WorkflowEngine(WorkflowModel.build(package, key[1]))
            step = apply_input(engine, self.instances.get(sid), given, parse_instant(str(entry["at"])))
        except UserError as exc:
            divergence = Divergence(sid, seq, index, given, ("rejected",), recorded, [], str(exc), kind="workflow")
        else:
            self.instances[sid] = step.instance
            if not _reproduced(step.effects, recorded, entry):
                divergence = _divergence(sid, seq, index, given, recorded, step.effects, "workflow")
        report.add(sid, divergence)
