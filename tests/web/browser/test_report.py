"""The aggregated report of a refused submit in a real Chromium stays true while the user fixes what it lists: a
changed field's line goes (with its aria-invalid and aria-describedby), the count follows, and the report is gone
when every line is."""

from __future__ import annotations

from typing import Any

from tests.web.server import Running


def test_the_report_shrinks_as_its_fields_are_fixed(page: Any, lead_server: Running) -> None:
    page.goto(lead_server.url + "#/LeadLifecycle")
    page.wait_for_selector(".form-step h2")
    page.fill("[id='field-email']", "not-an-address")
    page.press("[id='field-email']", "Tab")
    page.click("#form-submit")
    report = page.locator("#form-report")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'form-report'")
    assert "Submit refused: 3 problems" in report.inner_text()
    email = page.locator("[id='field-email']")
    assert email.get_attribute("aria-invalid") == "true"

    email.fill("ada@example.org")
    email.press("Tab")
    page.wait_for_function("() => document.getElementById('form-report').textContent.includes('2 problems')")
    assert "E-mail" not in report.inner_text()
    assert email.get_attribute("aria-invalid") is None and email.get_attribute("aria-describedby") is None

    for path, text in (("firstName", "Ada"), ("lastName", "Lovelace")):
        page.fill(f"[id='field-{path}']", text)
        page.press(f"[id='field-{path}']", "Tab")
    page.wait_for_selector("#form-report", state="detached")
    assert page.evaluate("() => document.activeElement.id") == "field-email"  # Tab from the last name
