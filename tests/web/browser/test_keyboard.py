"""Keyboard-only use of the sandbox in a real Chromium: after every render the focus is on something a person can
act on (never lost to <body>), each message is announced once, and the page logs no JavaScript error or failed
load (a favicon 404 included) on either served package."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.server import CLAIMS, LEAD_V1, Running, running_app
from tests.web.test_workflows import ADA

FOCUSED = """() => {
  const a = document.activeElement;
  return a === document.body ? 'BODY' : a.id || a.dataset.key || a.tagName;
}"""
WATCH_ANNOUNCER = """() => {
  window.announced = [];
  new MutationObserver(() => {
    const text = document.getElementById('announcer').textContent;
    if (text) window.announced.push(text);
  }).observe(document.getElementById('announcer'), {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def both(tmp_path: Path) -> Iterator[Running]:
    with running_app([LEAD_V1, CLAIMS], tmp_path / "sandbox.duckdb") as running:
        yield running


@pytest.fixture
def troubles(page: Any) -> list[str]:
    """Every console error and uncaught exception of the page: each one is a defect."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


def focused(page: Any) -> str:
    return str(page.evaluate(FOCUSED))


def settle(page: Any, expected: str) -> None:
    page.wait_for_function(f"expected => ({FOCUSED})() === expected", arg=expected)


def test_the_form_by_keyboard_alone_keeps_the_focus(page: Any, both: Running, troubles: list[str]) -> None:
    page.goto(both.url + "#/LeadLifecycle")
    page.wait_for_selector(".form-step h2")
    page.evaluate(WATCH_ANNOUNCER)
    page.keyboard.press("Tab")
    assert focused(page) == "switch-role"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page) == "field-firstName"
    page.keyboard.type("Ada")
    page.keyboard.press("Tab")
    page.keyboard.type("Lovelace")
    page.keyboard.press("Tab")
    page.keyboard.type("ada@example.org")
    page.keyboard.press("Enter")  # Enter advances; the focus follows to the new step's first field
    page.wait_for_selector(".form-step h2:has-text('Company')")
    settle(page, "field-company")
    page.keyboard.type("ACME")
    page.focus("#form-back")
    page.keyboard.press("Enter")
    page.wait_for_selector(".form-step h2:has-text('Personal details')")
    settle(page, "field-firstName")
    page.focus("#switch-locale")
    page.keyboard.press("ArrowDown")  # en -> de: the form starts again, the switch keeps the focus
    page.wait_for_selector(".form-step h2:has-text('Persönliche Angaben')")
    settle(page, "switch-locale")
    assert page.input_value("[id='field-firstName']") == "Ada"
    page.focus("#form-next")
    page.keyboard.press("Enter")
    page.wait_for_selector(".form-step h2:has-text('Firma')")
    settle(page, "field-company")
    page.focus("#form-next")
    page.keyboard.press("Enter")
    page.wait_for_selector(".summary")
    settle(page, "H2")  # the review has no field: its heading
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page) == "form-submit"
    page.keyboard.press("Enter")
    page.wait_for_selector(".submitted")
    settle(page, "H2")
    page.wait_for_function("() => window.announced.some((t) => t.includes('stored'))")
    said = page.evaluate("() => window.announced")
    assert len(said) == len(set(said)), said  # each announcement once
    assert troubles == []


def test_a_discarded_or_resumed_draft_keeps_the_focus(browser: Any, both: Running) -> None:
    first = browser.new_context().new_page()
    first.goto(both.url + "#/LeadLifecycle")
    first.wait_for_selector(".form-step h2")
    first.fill("[id='field-firstName']", "Grace")
    first.press("[id='field-firstName']", "Tab")
    first.wait_for_timeout(400)
    first.context.close()
    page = browser.new_context().new_page()
    page.goto(both.url + "#/LeadLifecycle")
    resume = page.locator(".form-drafts button", has_text="Resume").first
    resume.focus()
    page.keyboard.press("Enter")
    settle(page, "field-firstName")
    assert page.input_value("[id='field-firstName']") == "Grace"
    page.goto(both.url + "#/LeadLifecycle")
    page.reload()
    discard = page.locator(".form-drafts button", has_text="Discard").first
    discard.focus()
    page.keyboard.press("Enter")
    settle(page, "drafts-title")
    page.context.close()


def test_one_announcement_for_messages_in_a_row(page: Any, both: Running) -> None:
    page.goto(both.url + "#/LeadLifecycle")
    page.wait_for_selector(".form-step h2")
    page.wait_for_timeout(100)
    page.evaluate(WATCH_ANNOUNCER)
    page.evaluate("async () => { const {announce} = await import('/static/api.js'); announce('one'); announce('two') }")
    page.wait_for_function("() => window.announced.length > 0")
    page.wait_for_timeout(100)
    assert page.evaluate("() => window.announced") == ["two"]


def test_the_workflow_view_by_keyboard_keeps_the_focus(page: Any, both: Running, troubles: list[str]) -> None:
    page.goto(both.url + "#/LeadLifecycle/workflow")
    page.wait_for_selector("#wf-data")
    page.fill("#wf-instance", "lead-ada")
    page.fill("#wf-data", json.dumps(ADA))
    page.focus("[data-key=start]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".wf-timeline :text('entered new')")
    settle(page, "start")
    page.focus("#wf-by")
    page.keyboard.press("Enter")  # advance one day
    page.wait_for_selector(".wf-timeline :text('SLA firstContact warning')")  # drawn: the view takes input again
    settle(page, "wf-by")
    page.fill("#wf-actor", "bob/salesManager")
    page.focus("[data-key=fire-contact]")
    page.keyboard.press("Enter")  # contacted: the button is gone, the instance's heading takes the focus
    page.wait_for_selector(".wf-timeline :text('contacted')")
    settle(page, "wf-detail-title")
    page.goto(both.url + "#/ClaimsIntake/workflow")
    page.wait_for_selector("#wf-data")
    page.goto(both.url + "#/ClaimsIntake")
    page.wait_for_selector(".form-step h2")
    assert troubles == []


def test_the_package_links_are_told_apart(page: Any, both: Running) -> None:
    page.goto(both.url)
    page.get_by_role("link", name="ClaimsIntake workflow", exact=True).click()
    page.wait_for_selector("#wf-data")
    assert page.evaluate("() => location.hash") == "#/ClaimsIntake/workflow"
    names = page.eval_on_selector_all("#packages a", "links => links.map((a) => a.ariaLabel || a.textContent)")
    assert len(names) == len(set(names)) == 4
    first, second = page.locator("#packages a").first.bounding_box(), page.locator("#packages a").nth(1).bounding_box()
    assert first is not None and second is not None and second["x"] > first["x"] + first["width"]  # not run together
