"""Live reload in a real Chromium when a file is saved with broken YAML: the overlay locates the parse error, the
form is not re-opened against a package that does not load (no refused request, no console error), and the fix
brings the form back with the values typed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from crmctl.web import reload
from tests.web.server import LEAD_V1, running_app


def test_broken_yaml_shows_the_overlay_and_the_fix_brings_the_form_back(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    troubles: list[str] = []
    page.on("console", lambda message: troubles.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: troubles.append(str(error)))
    package = tmp_path / "LeadLifecycle"
    shutil.copytree(LEAD_V1, package)
    schema, labels = package / "schema.yaml", package / "localization" / "en.yaml"
    text, words = schema.read_text(encoding="utf-8"), labels.read_text(encoding="utf-8")
    with running_app([package], tmp_path / "sandbox.duckdb", background=[reload.watch]) as running:
        page.goto(running.url + "#/LeadLifecycle")
        page.fill("[id='field-firstName']", "Ada")
        page.press("[id='field-firstName']", "Tab")
        for n in range(4):  # rapid saves: the last one wins
            labels.write_text(words.replace("Lead.firstName: First name", f"Lead.firstName: Given {n}"), "utf-8")
            time.sleep(0.05)
        expect(page.get_by_label("Given 3")).to_have_value("Ada")

        schema.write_text(text.replace("type: text", "type: [", 1), encoding="utf-8")
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_contain_text("LeadLifecycle has 1 lint error")
        expect(dialog).to_contain_text("invalid YAML")
        expect(dialog.locator("code")).to_have_text(r"schema.yaml:14:17")
        expect(dialog).to_be_focused()

        schema.write_text(text, encoding="utf-8")
        expect(dialog).to_have_count(0)
        expect(page.get_by_label("Given 3")).to_have_value("Ada")
        page.goto("about:blank")  # the stream closes before the server stops
    assert troubles == []
