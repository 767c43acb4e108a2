"""The workflow view in a real Chromium keeps what the user typed and where they are when the package is
reloaded or the view re-renders: who acts, the start form's data, the focus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from crmctl.web import reload
from tests.web.server import LEAD_V1, running_app
from tests.web.test_workflows import ADA


def test_a_reload_and_a_rerender_keep_what_was_typed(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    troubles: list[str] = []
    page.on("console", lambda message: troubles.append(message.text) if message.type == "error" else None)
    package = tmp_path / "LeadLifecycle"
    shutil.copytree(LEAD_V1, package)
    labels = package / "localization" / "en.yaml"
    with running_app([package], tmp_path / "sandbox.duckdb", background=[reload.watch]) as running:
        page.goto(running.url + "#/LeadLifecycle/workflow")
        page.fill("#wf-instance", "lead-ada")
        page.fill("#wf-data", json.dumps(ADA))
        page.click("[data-key=start]")
        expect(page.locator("[data-key='instance-lead-ada']")).to_be_visible()
        expect(page.locator("#wf-instance")).to_have_value("")  # started: its id goes, the data stays
        expect(page.locator("#wf-data")).to_have_value(json.dumps(ADA))

        page.fill("#wf-actor", "bob/salesManager")
        page.fill("#wf-instance", "lead-grace")
        page.fill("#wf-data", '{"firstName": "Grace"')  # half typed
        page.click("[data-key='instance-lead-ada']")  # a re-render
        expect(page.locator("#wf-data")).to_have_value('{"firstName": "Grace"')
        page.focus("#wf-data")
        page.evaluate("() => addEventListener('crmctl:reload', () => { window.reloaded = true })")
        labels.write_text(labels.read_text(encoding="utf-8").replace("First name", "Given name"), encoding="utf-8")
        page.wait_for_function("() => window.reloaded === true")
        page.wait_for_load_state("networkidle")
        expect(page.locator("#wf-actor")).to_have_value("bob/salesManager")
        expect(page.locator("#wf-instance")).to_have_value("lead-grace")
        expect(page.locator("#wf-data")).to_have_value('{"firstName": "Grace"')
        expect(page.locator("#wf-data")).to_be_focused()
        page.goto("about:blank")  # the stream closes before the server stops
    assert troubles == []
