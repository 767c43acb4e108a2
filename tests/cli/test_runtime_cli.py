"""simulate, draft, log, replay and store through the real command line (exit codes, output, store contents)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.runtime.storage.locator import locate
from crmctl.runtime.store import Store
from tests.conftest import REPO

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")

FIRST_HALF = """\
now: 2026-11-26T09:00:00Z
events:
  - change: {field: firstName, value: Ada}
  - change: {field: lastName, value: Lovelace}
  - next: {}
  - change: {field: email, value: ada@example.com}
  - next: {}
  - quit: {}
"""
SECOND_HALF = """\
- change: {field: company, value: Analytical Engines}
- change: {field: companySize, value: 300}
- change: {field: annualRevenue, value: 2500000}
- next: {}
- submit: {}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    document = json.loads(capsys.readouterr().out)
    # commands on the JSON contract print an envelope: their answer is its result
    return document["result"] if isinstance(document, dict) and "$schema" in document else document


@pytest.fixture
def store(store_location: str) -> str:
    return store_location


def _session_with_resume(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = _write(tmp_path, "a.yaml", FIRST_HALF)
    second = _write(tmp_path, "b.yaml", SECOND_HALF)
    assert run(["simulate", V1, "--script", first, "--store", store, "--session", "s1"]) == 0
    text = capsys.readouterr().out
    assert "blocked next by contactChannelRequired" in text  # no e-mail or phone yet
    assert "draft s1 saved; resume with: crmctl draft resume s1" in text
    assert run(["draft", "list", "--store", store, "--format", "json"]) == 0
    listed = _json(capsys)
    assert isinstance(listed, dict)
    drafts = listed["drafts"]
    assert [(d["draftId"], d["lastStep"]) for d in drafts] == [("s1", "company")]
    assert run(["draft", "resume", "s1", "--script", second, "--store", store, "--format", "json"]) == 0
    trace = _json(capsys)
    assert isinstance(trace, dict)
    assert trace["status"] == "submitted"
    submit = trace["events"][-1]["effects"][-1]
    assert submit["effect"] == "submit" and submit["ok"] is True
    assert submit["record"]["score"] == 70.0


def test_simulate_resume_submit_then_replay_reproduces_every_effect(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _session_with_resume(tmp_path, store, capsys)
    assert run(["draft", "list", "--store", store]) == 0
    assert "no drafts" in capsys.readouterr().out
    assert run(["log", "verify", "--store", store]) == 0
    assert "11 entries, hash chain intact" in capsys.readouterr().out
    assert run(["replay", "--store", store, "--format", "json"]) == 0
    report = _json(capsys)
    assert isinstance(report, dict)
    assert (report["sessions"], report["events"], report["differingEvents"]) == (1, 11, 0)


def test_replay_against_v2_reports_differences_with_exit_1(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _session_with_resume(tmp_path, store, capsys)
    assert run(["replay", "--store", store, "--against", V2]) == 1
    text = capsys.readouterr().out
    assert "against LeadLifecycle@1.1.0" in text
    assert "+ show mobilePhone (Mobile phone)" in text
    assert run(["replay", "--store", store, "--against", V2, "--format", "json"]) == 1
    report = _json(capsys)
    assert isinstance(report, dict)
    assert report["totals"]["rejected"] == 0  # phone is an alias of mobilePhone in v2: the inputs still apply
    assert report["differingEvents"] >= 1


def test_script_errors_are_located_and_exit_2(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.yaml", "- change: {field: nope, value: 1}\n")
    assert run(["simulate", V1, "--script", bad, "--store", store]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:1:3" in err and "no field 'nope'" in err
    syntax = _write(tmp_path, "syntax.yaml", "- change: {field: x\n")
    assert run(["simulate", V1, "--script", syntax, "--store", store]) == 2
    assert "syntax.yaml" in capsys.readouterr().err
    wrong_type = _write(tmp_path, "type.yaml", "- change: {field: companySize, value: many}\n")
    assert run(["simulate", V1, "--script", wrong_type, "--store", store]) == 2
    assert "companySize" in capsys.readouterr().err
    unknown = _write(tmp_path, "unknown.yaml", "- jump: {}\n")
    assert run(["simulate", V1, "--script", unknown, "--store", store]) == 2
    assert "unknown event 'jump'" in capsys.readouterr().err


def test_tampered_log_names_the_first_bad_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import duckdb

    store = str(tmp_path / "tampered.duckdb")  # the entry is edited in the file itself

    _session_with_resume(tmp_path, store, capsys)
    with duckdb.connect(store) as con:
        con.execute("UPDATE events SET entry = replace(entry, 'Lovelace', 'Byron') WHERE seq = 3")
    assert run(["log", "verify", "--store", store]) == 1
    assert "first bad entry is seq 3" in capsys.readouterr().out


def test_log_export_replays_and_verifies_from_parquet(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _session_with_resume(tmp_path, store, capsys)
    export = tmp_path / "log.parquet"
    assert run(["log", "export", "--store", store, "--out", str(export)]) == 0
    assert "wrote 11 events" in capsys.readouterr().out
    assert run(["log", "verify", "--export", str(export)]) == 0
    capsys.readouterr()
    assert run(["replay", "--store", store, "--from-export", str(export), "--format", "json"]) == 0
    report = _json(capsys)
    assert isinstance(report, dict)
    assert report["events"] == 11 and report["differingEvents"] == 0


def test_missing_draft_and_store_are_clear_errors(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["draft", "show", "nope", "--store", store]) == 2
    assert "no runtime store" in capsys.readouterr().err  # reading never creates a store
    script = _write(tmp_path, "s.yaml", "- next: {}\n")
    assert run(["simulate", V1, "--script", script, "--store", store, "--session", "x"]) == 0
    capsys.readouterr()
    assert run(["draft", "resume", "nope", "--script", script, "--store", store]) == 2
    assert "no draft 'nope'" in capsys.readouterr().err


def test_store_info_reports_format_and_counts(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    _session_with_resume(tmp_path, store, capsys)
    assert run(["store", "info", "--store", store, "--format", "json"]) == 0
    info = _json(capsys)
    assert isinstance(info, dict)
    assert info["format"] == 3


def test_simulate_without_terminal_or_script_is_a_usage_error(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", V1, "--store", store]) == 2
    assert "--script" in capsys.readouterr().err


def test_async_answers_come_from_the_script_and_are_logged(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    claims = str(REPO / "packages" / "ClaimsIntake")
    script = _write(
        tmp_path,
        "c.yaml",
        """\
now: 2026-11-26T09:00:00Z
answers:
  policyService: {"AB-1234567": false, "*": true}
  duplicateDetector: true
events:
  - change: {field: policyNumber, value: AB-1234567}
  - change: {field: incidentDate, value: '2026-11-20'}
  - change: {field: consentDataProcessing, value: true}
  - submit: {}
""",
    )
    assert (
        run(["simulate", claims, "--role", "claimant", "--script", script, "--store", store, "--format", "json"]) == 0
    )
    trace = _json(capsys)
    assert isinstance(trace, dict)
    submit = trace["events"][-1]["effects"][-1]
    assert submit["effect"] == "submit" and submit["ok"] is False
    assert "policyValid" in {r["code"] for r in submit["report"]}
    assert run(["replay", "--store", store]) == 0  # answered from the log, no provider called


def test_a_version_whose_files_changed_is_refused(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    script = _write(tmp_path, "s.yaml", "- change: {field: firstName, value: Ada}\n")
    assert run(["simulate", V1, "--script", script, "--store", store]) == 0
    edited = tmp_path / "v1-edited"
    shutil.copytree(V1, edited)
    schema = edited / "schema.yaml"
    schema.write_text(schema.read_text(encoding="utf-8").replace("maxLength: 80", "maxLength: 90", 1), "utf-8")
    capsys.readouterr()
    assert run(["simulate", str(edited), "--script", script, "--store", store]) == 2
    err = capsys.readouterr().err
    assert "LeadLifecycle@1.0.0 ran in this store as jcs-sha256:" in err and "Bump the version" in err
    # replaying against the edited copy only reads the store, so it is allowed
    assert run(["replay", "--store", store, "--against", str(edited)]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("now: yesterday\nevents: []\n", "now must be an ISO 8601 time"),
        ("color: red\n", "unknown key 'color'"),
        ("answers: [1]\n", "answers maps a provider"),
        ("events: {a: 1}\n", "a script is a list of events"),
        ("- [1, 2]\n", "an event is a mapping with one key"),
        ("- advance: soon\n", "advance takes a duration"),
        ("- next: 3\n", "next takes a mapping of arguments"),
        ("- next: {step: x}\n", "next has no argument 'step'"),
        ("- change: {value: 1}\n", "change needs a field"),
        ("- goto: {}\n", "goto needs a step"),
    ],
)
def test_script_shape_errors(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    script = _write(tmp_path, "s.yaml", text)
    assert run(["simulate", V1, "--script", script, "--store", store]) == 2
    err = capsys.readouterr().err
    assert message in err and "s.yaml" in err


def test_bare_event_names_prefill_and_advance(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    script = _write(
        tmp_path,
        "s.yaml",
        """\
- load: {data: {firstName: Ada, lastName: Lovelace, phone: '+1'}}
- advance: 1.5h
- next
- back
- quit
""",
    )
    assert (
        run(
            [
                "simulate",
                V1,
                "--script",
                script,
                "--store",
                store,
                "--now",
                "2026-11-26T08:00:00Z",
                "--format",
                "json",
                "--session",
                "p",
            ]
        )
        == 0
    )
    trace = _json(capsys)
    assert isinstance(trace, dict)
    assert trace["status"] == "draft"
    assert [(e["event"]["type"], e["at"]) for e in trace["events"]] == [
        ("load", "2026-11-26T08:00:00Z"),
        ("next", "2026-11-26T09:30:01Z"),
        ("back", "2026-11-26T09:30:02Z"),
    ]
    assert run(["draft", "show", "p", "--store", store, "--format", "json"]) == 0
    draft = _json(capsys)
    assert isinstance(draft, dict)
    assert draft["lastStep"] == "personal" and draft["data"]["firstName"] == "Ada"
    assert draft["package"]["version"] == "1.0.0" and draft["status"] == "open" and draft["record"] is None
    assert run(["draft", "show", "p", "--store", store]) == 0
    assert 'firstName = "Ada"' in capsys.readouterr().out
    assert run(["simulate", V1, "--script", script, "--store", store, "--now", "tomorrow"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err


def test_resume_cannot_move_the_clock_back(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    first = _write(tmp_path, "a.yaml", FIRST_HALF)
    assert run(["simulate", V1, "--script", first, "--store", store, "--session", "s1"]) == 0
    capsys.readouterr()
    second = _write(tmp_path, "b.yaml", SECOND_HALF)
    assert run(["draft", "resume", "s1", "--script", second, "--store", store, "--now", "2020-01-01T00:00:00Z"]) == 2
    assert "the clock cannot go back" in capsys.readouterr().err


def test_replay_outputs_and_selection(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    _session_with_resume(tmp_path, store, capsys)
    assert run(["replay", "--store", store, "--session", "s1"]) == 0
    assert "every effect reproduced" in capsys.readouterr().out
    assert run(["replay", "--store", store, "--session", "nope"]) == 2
    assert "no session 'nope'" in capsys.readouterr().err
    assert run(["replay", "--store", store, "--session", "s1", "--all"]) == 2
    capsys.readouterr()
    assert run(["replay", "--store", store, "--against", V2, "--limit", "1"]) == 1
    text = capsys.readouterr().out
    assert "more (raise --limit to see them)" in text and "total: effects" in text
    assert run(["replay", "--store", store, "--against", str(tmp_path / "missing")]) == 2
    capsys.readouterr()


def test_log_and_store_outputs(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    _session_with_resume(tmp_path, store, capsys)
    assert run(["log", "verify", "--store", store, "--format", "json"]) == 0
    verified = _json(capsys)
    assert isinstance(verified, dict)
    head = verified.pop("head")
    assert verified == {
        "tenant": "default",
        "source": "store",
        "path": store,
        "entries": 11,
        "expectedHead": None,
        "ok": True,
        "problems": [],
    }
    assert run(["log", "verify", "--store", store, "--head", head]) == 0
    capsys.readouterr()
    assert run(["log", "verify", "--store", store, "--tenant", "other"]) == 0
    assert "0 entries" in capsys.readouterr().out
    export = tmp_path / "x.parquet"
    assert run(["log", "export", "--store", store, "--out", str(export), "--format", "json"]) == 0
    assert _json(capsys) == {"path": str(export), "events": 11, "tenant": None}
    assert run(["store", "info", "--store", store]) == 0
    assert "format 3," in capsys.readouterr().out
    assert run(["store", "migrate", "--store", store]) == 0
    assert "is current (format 3)" in capsys.readouterr().out
    assert run(["store", "migrate", "--store", store, "--format", "json"]) == 0
    assert _json(capsys) == {"path": store, "migratedFrom": [], "format": 3}
    assert run(["draft", "list", "--store", store, "--tenant", "other", "--format", "json"]) == 0
    assert _json(capsys) == {"tenant": "other", "entity": None, "drafts": []}
    # a log cut short verifies as a chain, but not against the head remembered before
    with Store.open(locate(store)) as opened, opened.transaction(), opened.connection.tenant("default"):
        opened.connection.all("DELETE FROM events WHERE seq > 9")
    assert run(["log", "verify", "--store", store]) == 0
    capsys.readouterr()
    assert run(["log", "verify", "--store", store, "--head", head]) == 1
    assert "LOG004" in capsys.readouterr().out


def test_pinned_copies_outlive_the_working_copy(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    working = tmp_path / "LeadLifecycle"
    shutil.copytree(V1, working)
    first = _write(tmp_path, "a.yaml", FIRST_HALF)
    second = _write(tmp_path, "b.yaml", SECOND_HALF)
    assert run(["simulate", str(working), "--script", first, "--store", store, "--session", "s1"]) == 0
    shutil.rmtree(working)  # the working copy moved on (here: it is gone)
    capsys.readouterr()
    assert run(["draft", "resume", "s1", "--script", second, "--store", store]) == 0
    assert "record Lead/s1 stored, pinned to LeadLifecycle@1.0.0" in capsys.readouterr().out
    assert run(["replay", "--store", store]) == 0
    assert run(["records", "get", "s1", "--entity", "Lead", "--store", store, "--format", "json"]) == 0
