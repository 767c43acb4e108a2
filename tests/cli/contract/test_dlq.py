"""The JSON contract and the refusals of `crmctl events dlq list|retry`, and `crmctl serve --webhook` checking its
URLs; a store held by a running `crmctl serve` is a usage error saying so (DuckDB: one process)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from crmctl.cli import contract
from crmctl.cli.main import run
from crmctl.runtime.storage.outbox import Attempt
from crmctl.runtime.store import Store
from crmctl.runtime.webhooks import RetryPolicy
from tests.cli.contract.schema_rules import naming_violations
from tests.web.server import LEAD_V1

COVERED = {"events dlq list", "events dlq retry"}
HOOK = "http://127.0.0.1:9/hook"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _envelope(capsys: pytest.CaptureFixture[str], argv: list[str], exit_code: int = 0) -> dict[str, Any]:
    assert run([*argv, "--format", "json"]) == exit_code, capsys.readouterr()
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert contract.validation_errors(document) == []
    assert document["exitCode"] == exit_code and document["command"] in COVERED
    return document


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store with two dead deliveries (one event, then another) and one pending."""
    path = tmp_path / "s.duckdb"
    body = {"session": "workflow:w1", "at": "2026-11-02T09:00:00Z", "kind": "workflow", "package": {"name": "P"}}
    with Store.open(path) as opened:
        for name in ("One", "Two", "Three"):
            opened.append_events("default", [{**body, "effects": [{"effect": "event", "event": name}]}])
        opened.outbox.relay("default", [HOOK], NOW)
        for delivery in opened.outbox.due("default", HOOK, NOW, 2):
            attempt = Attempt(HOOK, delivery.event_id, NOW, 503, None, 2.0)
            opened.outbox.record("default", [attempt], RetryPolicy(max_attempts=1), [0.0])
    return str(path)


@pytest.mark.parametrize("command", sorted(COVERED))
def test_schemas_follow_the_naming_convention(command: str) -> None:
    assert list(naming_violations(contract.command_schema(command))) == []


def test_list_then_retry_some_then_all(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    listed = _envelope(capsys, ["events", "dlq", "list", "--store", store])["result"]
    first, second = listed["deliveries"]
    assert (first["seq"], first["type"], first["lastError"], first["attempts"]) == (
        1,
        "crmctl.event.One",
        "HTTP 503",
        1,
    )
    retried = _envelope(capsys, ["events", "dlq", "retry", first["id"], "--store", store])["result"]
    assert [(d["id"], d["status"]) for d in retried["requeued"]] == [(first["id"], "dead")]
    assert [
        d["id"] for d in _envelope(capsys, ["events", "dlq", "list", "--store", store])["result"]["deliveries"]
    ] == [second["id"]]
    assert run(["events", "dlq", "retry", "--all", "--store", store]) == 0
    assert f"re-queued {second['id']}" in capsys.readouterr().out
    assert run(["events", "dlq", "list", "--store", store]) == 0
    assert "no dead webhook deliveries in tenant default" in capsys.readouterr().out
    with Store.open(Path(store)) as opened:
        assert opened.outbox.counts("default") == {"pending": 3, "delivered": 0, "dead": 0}
        assert opened.outbox.due("default", HOOK, datetime.now(UTC) + timedelta(days=1), 5)[0].attempts == 0


def test_list_text_names_each_with_its_last_error(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["events", "dlq", "list", "--store", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "crmctl.event.One" in lines[0] and lines[0].endswith("1 attempts, last: HTTP 503")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retry"], "name the deliveries to retry, or pass --all"),
        (["retry", "x", "--all"], "name the deliveries to retry, or pass --all"),
        (["retry", "nope"], "not a dead delivery in tenant default: nope; nothing was re-queued"),
    ],
)
def test_bad_retries_are_usage_errors_that_change_nothing(
    store: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    problems = _envelope(capsys, ["events", "dlq", *argv, "--store", store], 2)["problems"]
    assert message in problems[0]["message"]
    with Store.open(Path(store)) as opened:
        assert opened.outbox.counts("default")["dead"] == 2


def test_a_missing_store_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = _envelope(capsys, ["events", "dlq", "list", "--store", str(tmp_path / "none.duckdb")], 2)
    assert "no runtime store here" in gone["problems"][0]["message"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "not an http or https URL with a host"),
        ("http:///nohost", "not an http or https URL with a host"),
        ("http://127.0.0.1:99999/x", "not a URL"),
        ("/relative", "not an http or https URL with a host"),
    ],
)
def test_serve_refuses_a_webhook_that_is_no_http_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    assert run(["serve", str(LEAD_V1), "--store", str(tmp_path / "s.duckdb"), "--webhook", url]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.duckdb").exists()


def test_serve_refuses_the_same_webhook_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["serve", str(LEAD_V1), "--webhook", HOOK, "--webhook", HOOK, "--store", str(tmp_path / "s")]) == 2
    assert "a URL is given twice" in capsys.readouterr().err


def test_while_serve_holds_the_store_the_dlq_commands_say_so(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = [
        sys.executable,
        "-m",
        "crmctl",
        "serve",
        str(LEAD_V1),
        "--store",
        store,
        "--webhook",
        HOOK,
        "--port",
        "0",
    ]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            url = proc.stderr.readline().split("crmctl sandbox: ")[1].strip()  # printed once listening
            with httpx.Client(base_url=url, timeout=10) as client:
                assert len(client.get("/_sandbox/dlq").json()["deliveries"]) == 2
            for argv in (["list"], ["retry", "--all"]):
                problems = _envelope(capsys, ["events", "dlq", *argv, "--store", store], 2)["problems"]
                assert "is in use by PID" in problems[0]["message"]
                assert "/_sandbox/dlq" in (problems[0].get("hint") or "")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(10) in (0, 130)  # Ctrl-C
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("argv", [["list"], ["retry", "--all"], ["retry", "some-id"]])
def test_a_store_that_is_not_there_is_refused_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """`retry` created an empty store where --store pointed (a typo left an 800 KB file) and then said the id was
    no dead delivery; both commands now say there is no store, and leave none behind."""
    missing = tmp_path / "typo.duckdb"
    document = _envelope(capsys, ["events", "dlq", *argv, "--store", str(missing)], 2)
    assert "no runtime store here" in document["problems"][0]["message"]
    assert not missing.exists()
