"""The replay guarantee as a property (issue 9 §4, blueprint §2.4): whatever sequence of crmctl commands runs on a
store — records created, updated and imported, form sessions simulated and resumed, workflow scenarios played
(ids reused, clocks left out), instances migrated, replays run in between, mistakes made on the way — no command
crashes, `log verify` accepts the log, and `replay` reproduces every entry, from the store and from an export.

Every command goes through the real command line (`crmctl.cli.main.run`) on a fresh store per example. Three versions
of LeadLifecycle take part: 1.0.0, 1.1.0 (a field renamed under an alias, new fields and values) and 1.2.0, which
gives fields defaults (form sessions start with them, records store them, a cleared value returns to them). Besides
the log as a whole, every session replays on its own (`replay --session`) as the whole log replays it, and replay
re-executes every entry (a replay that skipped some would otherwise reproduce "everything"). The defects the issue
and its review found are `@example`s, so they run every time whatever hypothesis draws."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from tests.conftest import REPO

_KEEP = tempfile.TemporaryDirectory(prefix="crmctl-replay-property-")  # removed when the interpreter exits


def _with_defaults() -> str:
    """LeadLifecycle 1.2.0: 1.1.0 with defaults for an existing enum, a new-in-1.1.0 enum and a boolean."""
    root = Path(_KEEP.name) / "v3"
    shutil.copytree(REPO / "packages" / "LeadLifecycle" / "v2", root)
    manifest, schema = root / "package.yaml", root / "schema.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("version: 1.1.0", "version: 1.2.0"), "utf-8")
    text = schema.read_text(encoding="utf-8")
    for field, default in (("source", "web"), ("preferredLanguage", "en"), ("consentMarketing", "false")):
        start = text.index(f"      {field}:\n")
        end = text.index("        description:", start)
        text = f"{text[:end]}        default: {default}\n{text[end:]}"
    schema.write_text(text, encoding="utf-8")
    return str(root)


VERSIONS = {
    "v1": str(REPO / "packages" / "LeadLifecycle" / "v1"),
    "v2": str(REPO / "packages" / "LeadLifecycle" / "v2"),
    "v3": _with_defaults(),
}
START = datetime(2026, 11, 23, 8, tzinfo=UTC)
TENANTS = ("default", "t2")
RECORD_IDS = ("r1", "r2", "s1")  # s1 is also a form session: a submit creates record s1
SESSIONS = ("s1", "s2")
INSTANCES = ("w1", "w2")
ACTORS = ("alice/salesRep", "bob/salesManager", "carol/salesDirector")

# Values people type, good and bad, per field of Lead (phone is v2's mobilePhone under its alias).
VALUES: dict[str, list[Any]] = {
    "firstName": ["Ada", ""],
    "lastName": ["Lovelace", "Hopper"],
    "email": ["ada@example.com", "not an address"],
    "phone": ["+44 20 7946 0000"],
    "company": ["Analytical Engines", ""],
    "industry": ["software", "nope", None],
    "companySize": [320, 3, "many"],
    "annualRevenue": [2500000, 90000000000],
    "source": ["referral", "webinar", "carrierPigeon", None],  # null: no value, or back to 1.2.0's default
    "preferredLanguage": ["fr", None],  # 1.1.0 on; 1.0.0 refuses it
    "consentMarketing": [True, None],
    "owner": ["alice", "bob"],
    "nextFollowUp": ["2026-12-01", "soon"],
}
FIELDS = sorted(VALUES)


@st.composite
def record_data(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True))
    data = {"firstName": "Ada", "lastName": "Lovelace"} if draw(st.booleans()) else {}
    data.update({name: draw(st.sampled_from(VALUES[name])) for name in chosen})
    return data


# A form filled in and submitted (the record it creates is then updated by `records update s1`, say).
FILLED = [
    {"change": {"field": "firstName", "value": "Ada"}},
    {"change": {"field": "lastName", "value": "Lovelace"}},
    {"change": {"field": "email", "value": "ada@example.com"}},
    {"next": {}},
    {"next": {}},
    {"submit": {}},
]
# An instance taken to a final state (its id is then never started again).
COMPLETED = [
    {"fire": {"transition": "contact", "as": "bob/salesManager"}},
    {"decide": {"decision": "disqualify", "as": "alice/salesRep"}},
]


@st.composite
def form_events(draw: st.DrawFn) -> list[Any]:
    events: list[Any] = list(FILLED) if draw(st.integers(0, 3)) == 0 else []
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(["change", "change", "change", "next", "back", "goto", "submit", "advance"]))
        if kind == "change":
            name = draw(st.sampled_from(FIELDS))
            events.append({"change": {"field": name, "value": draw(st.sampled_from(VALUES[name]))}})
        elif kind == "goto":
            events.append({"goto": {"step": draw(st.sampled_from(["personal", "company", "review"]))}})
        elif kind == "advance":
            events.append({"advance": "2h"})
        else:
            events.append({kind: {}})
    if draw(st.booleans()):
        events.append({"quit": {}})
    return events


@st.composite
def workflow_events(draw: st.DrawFn) -> list[Any]:
    events: list[Any] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["start", "start", "fire", "decide", "claim", "change", "advance"]))
        instance = draw(st.sampled_from(INSTANCES))
        actor = draw(st.sampled_from(ACTORS))
        if kind == "start":
            data = {
                "firstName": "Ada",
                "lastName": "Lovelace",
                "owner": "alice",
                "email": "ada@example.com",
                "companySize": 320,
                "annualRevenue": 2500000,
            }
            events.append({"start": {"instance": instance, "data": data}})
            if draw(st.booleans()):
                events.extend(
                    {kind: {"instance": instance, **args}} for step in COMPLETED for kind, args in step.items()
                )
        elif kind == "fire":
            transition = draw(st.sampled_from(["contact", "qualify", "disqualify"]))
            events.append({"fire": {"instance": instance, "transition": transition, "as": actor}})
        elif kind == "decide":
            decision = draw(st.sampled_from(["approve", "reject", "qualify", "disqualify"]))
            events.append({"decide": {"instance": instance, "decision": decision, "as": actor}})
        elif kind == "claim":
            events.append({"claim": {"instance": instance, "as": actor}})
        elif kind == "change":
            events.append({"change": {"instance": instance, "field": "owner", "value": "bob"}})
        else:
            events.append({"advance": draw(st.sampled_from(["3h", "1d", "3d", "40d"]))})
    return events


@st.composite
def commands(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(2, 8))):
        tenant = draw(st.sampled_from(TENANTS))
        version = draw(st.sampled_from(sorted(VERSIONS)))
        kind = draw(
            st.sampled_from(
                ["create", "update", "import", "simulate", "resume", "workflow", "workflow", "migrate", "replay"]
            )
        )
        if kind == "create":
            out.append((kind, tenant, version, draw(st.sampled_from(RECORD_IDS)), draw(record_data())))
        elif kind == "update":
            moved = draw(st.sampled_from([None, "v2", "v3"]))
            out.append((kind, tenant, moved, draw(st.sampled_from(RECORD_IDS)), draw(record_data())))
        elif kind == "import":
            rows = draw(st.lists(st.tuples(st.sampled_from((*RECORD_IDS, "r3", "r4")), record_data()), max_size=3))
            out.append((kind, tenant, version, rows, draw(st.booleans())))
        elif kind == "simulate":
            out.append((kind, tenant, version, draw(st.sampled_from(SESSIONS)), draw(form_events())))
        elif kind == "resume":
            out.append((kind, tenant, draw(st.sampled_from(SESSIONS)), draw(form_events())))
        elif kind == "workflow":
            out.append((kind, tenant, version, draw(workflow_events()), draw(st.booleans())))
        elif kind == "migrate":
            out.append((kind, tenant, draw(st.sampled_from(["v2", "v3"]))))
        else:
            out.append((kind, tenant))
    return out


class Story:
    """Runs commands on one store; the virtual clock moves an hour per command."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = str(root / "rt.duckdb")
        self.clock = START
        self.files = 0

    def tick(self) -> str:
        self.clock += timedelta(hours=1)
        return self.clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def file(self, suffix: str, text: str) -> str:
        self.files += 1
        path = self.root / f"f{self.files}{suffix}"
        path.write_text(text, encoding="utf-8")
        return str(path)

    def run(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = run([*argv])
        assert code in (0, 1, 2), (argv, code)  # never an internal error
        return code, out.getvalue()

    def play(self, command: tuple[Any, ...]) -> None:
        kind, tenant, *rest = command
        where = ["--store", self.store, "--tenant", tenant]
        now = self.tick()
        if kind == "create":
            version, record_id, data = rest
            self.run(
                "records",
                "create",
                VERSIONS[version],
                "--entity",
                "Lead",
                "--id",
                record_id,
                "--data",
                json.dumps(data),
                "--now",
                now,
                *where,
            )
        elif kind == "update":
            moved, record_id, patch = rest
            package = ["--package", VERSIONS[moved]] if moved else []
            self.run(
                "records",
                "update",
                record_id,
                "--entity",
                "Lead",
                "--data",
                json.dumps(patch),
                *package,
                "--now",
                now,
                *where,
            )
        elif kind == "import":
            version, rows, skip = rest
            text = "".join(json.dumps({"id": row_id, **data}) + "\n" for row_id, data in rows)
            self.run(
                "records",
                "import",
                VERSIONS[version],
                self.file(".jsonl", text),
                "--entity",
                "Lead",
                "--now",
                now,
                *(["--skip-invalid"] if skip else []),
                *where,
            )
        elif kind == "simulate":
            version, session, events = rest
            script = self.file(".json", json.dumps({"now": now, "events": events}))
            self.run("simulate", VERSIONS[version], "--script", script, "--session", session, *where)
        elif kind == "resume":
            session, events = rest
            self.run("draft", "resume", session, "--script", self.file(".json", json.dumps(events)), *where)
        elif kind == "workflow":
            version, events, timed = rest
            scenario = {"now": now, "events": events} if timed else {"events": events}  # untimed: the tenant's clock
            self.run(
                "workflow", "simulate", VERSIONS[version], "--script", self.file(".json", json.dumps(scenario)), *where
            )
        elif kind == "migrate":
            self.run("workflow", "migrate", VERSIONS[rest[0]], "--all", *where)
        else:
            code, text = self.run("replay", *where)
            assert code == 0 or not Path(self.store).exists(), text  # no store yet: exit 2
            self.run("replay", "--against", VERSIONS["v1"], *where)


def _replays(story: Story, source: list[str], tenant: str, entries: int, export: str) -> None:
    """The tenant's log replays from `source` (a store or an export): every one of its `entries` re-executed,
    nothing differs, and each session alone replays as the whole log replays it."""
    from crmctl.runtime.store import read_event_export

    code, text = story.run("replay", *source, "--tenant", tenant, "--format", "json")
    report = json.loads(text)["result"]
    assert code == 0 and report["differingEvents"] == 0, text
    assert report["events"] == entries, (report["events"], entries)
    assert (report["differing"], report["matchedSessions"]) == ([], report["sessions"])
    sessions = {str(e["session"]) for e in read_event_export(Path(export)) if e.get("tenant") == tenant}
    assert len(sessions) == report["sessions"]
    for session in sorted(sessions):
        code, text = story.run("replay", *source, "--tenant", tenant, "--session", session, "--format", "json")
        alone = json.loads(text)["result"]
        assert code == 0 and (alone["sessions"], alone["differingEvents"]) == (1, 0), (session, text)


# The defects as sequences that always run (see the module docstring).
DISQUALIFIED = [
    {"start": {"instance": "w1", "data": {"firstName": "Ada", "lastName": "Lovelace", "owner": "alice"}}},
    *({kind: {"instance": "w1", **args}} for step in COMPLETED for kind, args in step.items()),
]
FILLED_S1 = [*FILLED[:-1], {"change": {"field": "source", "value": None}}, {"submit": {}}]  # back to its default
STARTED_W2 = [{"start": {"instance": "w2", "data": {"firstName": "A", "lastName": "B"}}}]


@settings(max_examples=14, deadline=None, derandomize=True)
@given(commands())
# a completed instance restarted by the same scenario played again (the log no longer replayed)
@example([("workflow", "default", "v2", DISQUALIFIED, True), ("workflow", "default", "v2", DISQUALIFIED, False)])
# a record a form created, updated in place and moved to versions with defaults; one session replayed alone
@example(
    [
        ("simulate", "default", "v3", "s1", FILLED_S1),
        ("update", "default", None, "s1", {"source": None}),
        ("update", "default", "v3", "s1", {"companySize": 3}),
        ("resume", "default", "s2", []),
        ("simulate", "t2", "v1", "s1", FILLED),
        ("update", "t2", "v3", "s1", {"industry": None}),
    ]
)
# instances migrated onto a version with defaults, then driven on without a clock of their own
@example(
    [
        ("workflow", "t2", "v1", STARTED_W2, True),
        ("migrate", "t2", "v3"),
        ("workflow", "t2", "v3", [{"advance": "3d"}], False),
        ("replay", "t2"),
    ]
)
def test_any_sequence_of_commands_leaves_a_log_that_verifies_and_replays(sequence: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        story = Story(Path(directory))
        for command in sequence:
            story.play(command)
        if not Path(story.store).exists():  # every command was refused before it opened the store
            return
        export = str(Path(directory) / "log.parquet")
        assert story.run("log", "export", "--store", story.store, "--out", export)[0] == 0
        for tenant in TENANTS:
            code, text = story.run("log", "verify", "--store", story.store, "--tenant", tenant, "--format", "json")
            assert code == 0, text
            entries = json.loads(text)["result"]["entries"]
            _replays(story, ["--store", story.store], tenant, entries, export)
            _replays(story, ["--from-export", export], tenant, entries, export)
