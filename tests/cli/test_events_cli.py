"""`crmctl events list|tail`: business events of a simulated workflow, filters, JSON shape, missing and empty stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.cli.commands import events as events_command
from crmctl.cli.main import run
from crmctl.runtime.storage.locator import locate
from tests.conftest import REPO

V2 = str(REPO / "packages" / "LeadLifecycle" / "v2")
SCENARIO = str(REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml")


@pytest.fixture
def store(store_location: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A simulated workflow's store, on each backend."""
    path = store_location
    assert run(["workflow", "simulate", V2, "--script", SCENARIO, "--store", path]) == 0
    capsys.readouterr()
    return path


def _json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    captured = capsys.readouterr()
    assert captured.err == ""
    rows = json.loads(captured.out)["result"]["events"]
    assert isinstance(rows, list)
    return rows


def test_list_in_log_order(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["events", "list", "--store", store, "--format", "json"]) == 0
    rows = _json(capsys)
    assert [r["event"] for r in rows] == ["LeadContacted", "LeadQualified"]
    first = rows[0]
    assert set(first) == {"seq", "at", "event", "instance", "session", "kind", "payload"}
    assert first["at"] == "2026-11-26T08:00:00Z"
    assert first["instance"] == "lead-ada"
    assert first["session"] == "workflow:lead-ada"
    assert first["kind"] == "workflow"
    assert first["payload"] == {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "company": "Analytical Engines Ltd",
        "owner": "alice",
    }
    assert isinstance(first["seq"], int) and isinstance(rows[1]["seq"], int) and first["seq"] < rows[1]["seq"]


def test_list_text(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["events", "list", "--store", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "2026-11-26T08:00:00Z  LeadContacted" in lines[0] and "lead-ada" in lines[0]
    assert '"score": 90.0' in lines[1]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--event", "LeadQualified"], ["LeadQualified"]),
        (["--event", "LeadDisqualified"], []),
        (["--instance", "lead-ada"], ["LeadContacted", "LeadQualified"]),
        (["--instance", "lead-bob"], []),
        (["--since", "2026-11-26T09:00:00Z"], ["LeadQualified"]),
        (["--since", "2026-11-26T09:00:00+01:00"], ["LeadContacted", "LeadQualified"]),
        (["--limit", "1"], ["LeadContacted"]),
        (["--tenant", "other"], []),
    ],
)
def test_list_filters(store: str, capsys: pytest.CaptureFixture[str], options: list[str], expected: list[str]) -> None:
    assert run(["events", "list", "--store", store, "--format", "json", *options]) == 0
    assert [r["event"] for r in _json(capsys)] == expected


def test_tail_prints_the_last(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["events", "tail", "--store", store, "-n", "1", "--format", "json"]) == 0
    assert [r["event"] for r in _json(capsys)] == ["LeadQualified"]
    assert run(["events", "tail", "--store", store, "--format", "json"]) == 0
    assert [r["event"] for r in _json(capsys)] == ["LeadContacted", "LeadQualified"]


def test_tail_follow_picks_up_new_entries(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmctl.runtime.store import Store

    def append_while_sleeping(seconds: float) -> None:
        assert seconds == events_command.POLL_SECONDS
        with Store.open(locate(store)) as writable:
            writable.append_events(
                "default",
                [
                    {
                        "session": "workflow:lead-bob",
                        "at": "2026-11-27T10:00:00Z",
                        "kind": "workflow",
                        "input": {"type": "fire", "instance": "lead-bob"},
                        "effects": [
                            {
                                "at": "2026-11-27T10:00:00Z",
                                "effect": "event",
                                "event": "LeadDisqualified",
                                "payload": {"company": "B", "source": "web"},
                            }
                        ],
                    }
                ],
            )

    monkeypatch.setattr(events_command, "_sleep", append_while_sleeping)
    assert run(["events", "tail", "--store", store, "-n", "1", "--follow", "--polls", "1", "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["event"], r["instance"]) for r in lines] == [
        ("LeadQualified", "lead-ada"),
        ("LeadDisqualified", "lead-bob"),
    ]


def test_tail_follow_stops_on_ctrl_c(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(events_command, "_sleep", interrupt)
    assert run(["events", "tail", "--store", store, "--follow"]) == 130
    assert "LeadQualified" in capsys.readouterr().out


def test_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crmctl.runtime.store import Store

    path = tmp_path / "empty.duckdb"
    Store.open(path).close()
    assert run(["events", "list", "--store", str(path), "--format", "json"]) == 0
    assert _json(capsys) == []
    assert run(["events", "tail", "--store", str(path)]) == 0
    assert "no business events in tenant default" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["list", "tail"])
def test_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    path = tmp_path / "nope.duckdb"
    assert run(["events", command, "--store", str(path)]) == 2
    assert "no runtime store here" in capsys.readouterr().err
    assert not path.exists()


def test_bad_since(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["events", "list", "--store", store, "--since", "yesterday"]) == 2
    assert "--since 'yesterday'" in capsys.readouterr().err
