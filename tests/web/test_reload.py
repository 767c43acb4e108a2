"""Live reload: the watcher reloads an edited package, `/_sandbox/changes` tells the renderer (one event per change,
generation and error count), `/diagnostics` locates the lint errors, and the stream ends with the server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from crmctl.cli.commands.serve import _background
from crmctl.web import reload
from crmctl.web.sandbox import Settings
from tests.web.server import LEAD_V1, running_app

LABEL = "  Lead.firstName: First name\n"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    copy = tmp_path / "LeadLifecycle"
    shutil.copytree(LEAD_V1, copy)
    return copy


def events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The stream's `package` events, as they come (comments and the retry line skipped)."""
    kind, data = None, None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and kind == "package" and data is not None:
            yield data
            kind, data = None, None


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_an_edit_a_break_and_a_fix_are_announced_and_located(package: Path, tmp_path: Path) -> None:
    schema, labels = package / "schema.yaml", package / "localization" / "en.yaml"
    with (
        running_app([package], tmp_path / "sandbox.duckdb", background=[reload.watch]) as running,
        running.client() as client,
        client.stream("GET", "/_sandbox/changes") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        heard = events(stream)
        assert next(heard) == {"name": "LeadLifecycle", "generation": 0, "errors": 0}

        edit(labels, LABEL, "  Lead.firstName: Given name\n")
        assert next(heard) == {"name": "LeadLifecycle", "generation": 1, "errors": 0}
        assert client.get("/_sandbox/packages").json()["packages"][0]["generation"] == 1

        edit(
            schema,
            "        type: text\n        description: Given name",
            "        type: txet\n        description: Given name",
        )
        broken = next(heard)
        assert broken["generation"] == 2 and broken["errors"] >= 1
        found = client.get("/_sandbox/packages/LeadLifecycle/diagnostics").json()
        assert found["errors"] == broken["errors"] and found["generation"] == 2
        first = next(d for d in found["diagnostics"] if d["severity"] == "error")
        assert first["file"] == "schema.yaml" and first["line"] > 1 and first["column"] >= 1
        assert first["location"] == f"schema.yaml:{first['line']}:{first['column']}" and first["code"]
        assert "txet" in first["message"]
        workflow = client.get("/_sandbox/packages/LeadLifecycle/workflow")
        assert workflow.status_code == 409 and "schema.yaml" in workflow.json()["detail"]

        edit(schema, "type: txet", "type: text")
        assert next(heard) == {"name": "LeadLifecycle", "generation": 3, "errors": 0}
        assert client.get("/_sandbox/packages/LeadLifecycle/diagnostics").json()["errors"] == 0


def test_the_stream_ends_when_the_server_stops(package: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    ended = threading.Event()
    with running_app([package], tmp_path / "sandbox.duckdb") as running:

        def listen() -> None:
            with running.client() as client, client.stream("GET", "/_sandbox/changes") as stream:
                lines.extend(stream.iter_lines())
            ended.set()

        threading.Thread(target=listen, daemon=True).start()
        deadline = time.monotonic() + 10
        while not any(line.startswith("data: ") for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        stopping = time.monotonic()
    assert ended.wait(5), "the stream did not end"
    assert time.monotonic() - stopping < 3  # well before uvicorn would cancel it
    assert lines[0] == f"retry: {reload.RETRY_MS}"


def test_a_quiet_stream_has_heartbeats(package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reload, "HEARTBEAT", 0.5)
    with (
        running_app([package], tmp_path / "sandbox.duckdb") as running,
        running.client() as client,
        client.stream("GET", "/_sandbox/changes") as stream,
    ):
        for line in stream.iter_lines():
            if line == ": heartbeat":
                break


def test_diagnostics_of_an_unknown_package_is_a_problem(package: Path, tmp_path: Path) -> None:
    with running_app([package], tmp_path / "sandbox.duckdb") as running, running.client() as client:
        response = client.get("/_sandbox/packages/Nope/diagnostics")
    assert response.status_code == 404 and response.json()["type"].endswith("/unknown-package")


def test_the_watcher_survives_a_failing_reload() -> None:
    class Flaky:
        calls = 0

        def reload(self) -> list[str]:
            self.calls += 1
            if self.calls == 1:
                raise OSError("the disk went away")
            return []

        async def call(self, fn: Any) -> Any:
            return fn()

    async def run() -> int:
        flaky = Flaky()
        job = asyncio.create_task(reload.watch(flaky, interval=0.01))  # type: ignore[arg-type]
        while flaky.calls < 3:
            await asyncio.sleep(0.01)
        job.cancel()
        return flaky.calls

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    reload.log.addHandler(handler)  # on the logger itself: other tests may stop it propagating
    try:
        # a thread of its own: a session's Playwright (sync API) keeps an event loop running in this one
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert pool.submit(lambda: asyncio.run(run())).result(30) >= 3
    finally:
        reload.log.removeHandler(handler)
    assert [r.getMessage() for r in records if r.levelno == logging.ERROR] == ["reloading the packages failed"]


def test_serve_watches_unless_told_not_to() -> None:
    assert _background(Settings(reload=True)) == [reload.watch]
    assert _background(Settings(reload=False)) == []


def test_broken_yaml_is_a_located_error_not_a_failing_reload(package: Path, tmp_path: Path) -> None:
    """A file saved half-typed does not parse at all: once it stays so for a second look (not a file still being
    written), the package is served with that one located error (the overlay shows it) instead of the reload
    failing at every look and the old form staying up silently."""
    schema = package / "schema.yaml"
    with running_app([package], tmp_path / "sandbox.duckdb") as running, running.client() as client:
        assert running.sandbox is not None
        edit(schema, "type: text", "type: [")
        assert running.sandbox.reload() == []  # maybe half written: one more look first
        assert running.sandbox.reload() == ["LeadLifecycle"]
        found = client.get("/_sandbox/packages/LeadLifecycle/diagnostics").json()
        assert found["generation"] == 1 and found["errors"] == 1
        (only,) = found["diagnostics"]
        assert only["file"] == "schema.yaml" and only["line"] > 1 and only["code"] == "unreadable"
        assert "invalid YAML" in only["message"]
        assert client.get("/_sandbox/packages/LeadLifecycle/workflow").status_code == 409
        manifest = package / "package.yaml"
        kept = manifest.read_text(encoding="utf-8")
        manifest.unlink()
        assert running.sandbox.reload() == []
        assert running.sandbox.reload() == ["LeadLifecycle"]
        (gone,) = client.get("/_sandbox/packages/LeadLifecycle/diagnostics").json()["diagnostics"]
        assert gone["location"] == "package.yaml:1:1" and "package.yaml is missing" in gone["message"]
        manifest.write_text(kept, encoding="utf-8")
        schema.write_text((LEAD_V1 / "schema.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        assert running.sandbox.reload() == ["LeadLifecycle"]
        assert client.get("/_sandbox/packages/LeadLifecycle/diagnostics").json()["errors"] == 0


def test_a_file_that_does_not_parse_mid_edit_is_a_located_finding(
    package: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A YAML syntax error while typing (found by the security review: the reload failed at every look, a
    traceback in the log every 0.3 s, and the page never heard of it)."""
    schema = package / "schema.yaml"
    with (
        running_app([package], tmp_path / "sandbox.duckdb", background=[reload.watch]) as running,
        running.client() as client,
        client.stream("GET", "/_sandbox/changes") as stream,
    ):
        heard = events(stream)
        assert next(heard) == {"name": "LeadLifecycle", "generation": 0, "errors": 0}
        text = schema.read_text(encoding="utf-8")
        schema.write_text(text + "\n  broken: [\n", encoding="utf-8")
        assert next(heard) == {"name": "LeadLifecycle", "generation": 1, "errors": 1}
        [found] = client.get("/_sandbox/packages/LeadLifecycle/diagnostics").json()["diagnostics"]
        assert found["file"] == "schema.yaml" and found["code"] == "unreadable" and found["line"] > 1
        assert "invalid YAML" in found["message"] and str(tmp_path) not in json.dumps(found)
        refused = client.post("/_sandbox/forms", json={"package": "LeadLifecycle"})
        assert refused.status_code == 409 and str(tmp_path) not in refused.text
        schema.write_text(text, encoding="utf-8")
        assert next(heard) == {"name": "LeadLifecycle", "generation": 2, "errors": 0}
    assert "reloading the packages failed" not in caplog.text
