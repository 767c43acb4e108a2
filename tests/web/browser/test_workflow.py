"""The workflow view and the live-reload overlay in a real Chromium: start an instance, let its SLA fall due on the
virtual clock, decide an approval; break the package and see the located errors, fix it and see them go."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crmctl.web import reload
from tests.web.server import LEAD_V1, running_app
from tests.web.test_workflows import ADA

VIEW = "#/LeadLifecycle/workflow"


def act_as(page: Any, actor: str) -> None:
    page.get_by_label("Acting as (user/role)").fill(actor)


def test_an_instance_through_sla_and_approval(page: Any, shot: Callable[[Any, str], Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with running_app([LEAD_V1], tmp_path / "sandbox.duckdb") as running:
        page.goto(running.url + VIEW)
        expect(page.get_by_role("heading", name="LeadLifecycle — workflow")).to_be_visible()
        page.get_by_label("Instance id").fill("lead-ada")
        page.get_by_label("Lead data (JSON)").fill(json.dumps(ADA))
        page.get_by_role("button", name="Start instance").click()
        expect(page.get_by_role("button", name="lead-ada")).to_be_visible()
        timeline = page.get_by_role("list", name="Timeline of lead-ada")
        expect(timeline).to_contain_text("entered new")

        by = page.get_by_label("Advance by")
        by.fill("3d")
        by.press("Enter")  # the keyboard submits the form
        expect(timeline.locator("li.sla-breach")).to_contain_text("SLA firstContact breached")
        expect(page.locator("#announcer")).to_contain_text("SLA firstContact breached")
        shot(page, "workflow-sla-breached")

        act_as(page, "bob/salesManager")
        page.get_by_role("button", name="Fire contact").click()
        expect(timeline).to_contain_text("new → contacted (contact) by bob (salesManager)")
        act_as(page, "alice/salesRep")
        page.get_by_role("button", name="Fire qualify (needs approval)").click()
        expect(page.get_by_text("approval of qualify by role salesManager").first).to_be_visible()
        shot(page, "workflow-approval-waiting")

        page.get_by_role("button", name="Approve qualify").click()  # alice is no salesManager
        expect(page.locator(".wf-status")).to_contain_text("not an assignee")
        act_as(page, "bob/salesManager")
        page.get_by_label("Comment").fill("Budget confirmed")
        page.get_by_role("button", name="Approve qualify").click()
        expect(timeline).to_contain_text("approval of qualify granted")
        expect(timeline.locator("li.completed")).to_contain_text("completed in qualified")
        expect(page.get_by_role("table")).to_contain_text("completed")
        shot(page, "workflow-approval-decided")


def test_the_overlay_shows_a_broken_package_until_it_is_fixed(
    page: Any, shot: Callable[[Any, str], Path], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    package = tmp_path / "LeadLifecycle"
    shutil.copytree(LEAD_V1, package)
    schema = package / "schema.yaml"
    text = schema.read_text(encoding="utf-8")
    with running_app([package], tmp_path / "sandbox.duckdb", background=[reload.watch]) as running:
        page.goto(running.url + VIEW)
        expect(page.get_by_role("heading", name="Virtual clock")).to_be_visible()

        schema.write_text(text.replace("type: text", "type: txet", 1), encoding="utf-8")
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(re.compile(r"LeadLifecycle has \d+ lint errors?"))
        expect(dialog).to_contain_text(re.compile(r"schema\.yaml:\d+:\d+"))
        expect(dialog).to_be_focused()
        expect(page.locator("#announcer")).to_contain_text("lint error")
        shot(page, "reload-overlay")

        schema.write_text(text, encoding="utf-8")
        expect(dialog).to_have_count(0)
        expect(page.get_by_role("heading", name="Virtual clock")).to_be_visible()
        expect(page.locator("#announcer")).to_contain_text("lints again")
        shot(page, "reload-fixed")
        page.goto("about:blank")  # the stream closes before the server stops
