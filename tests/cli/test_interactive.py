"""The interactive renderer: a view built only from effects, and a walk through the form with scripted keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli import interactive
from crmctl.cli.interactive import View, interact
from crmctl.model.package import load_package
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Store
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"


class Keys:
    """Answers Prompt.ask: menu choices in order, field prompts by label (default kept when absent)."""

    def __init__(self, menu: list[str], fields: dict[str, str]) -> None:
        self.menu: Iterator[str] = iter(menu)
        self.fields = fields
        self.asked: list[str] = []

    def ask(self, prompt: str, *args: Any, default: Any = "", **kwargs: Any) -> str:
        self.asked.append(prompt)
        if "[e]dit" in prompt:
            return next(self.menu)
        if prompt == "step":
            return self.fields["step"]
        return self.fields.get(prompt.removesuffix(" *"), str(default))


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with Store.open(tmp_path / "rt.duckdb") as store:
        yield Runtime(store, "default")


def _config(runtime: Runtime) -> Any:
    return runtime.configure(load_package(V1), entity=None, form=None, role="salesRep", locale="en")


def test_view_follows_effects_only(runtime: Runtime) -> None:
    config = _config(runtime)
    view = View()
    view.apply(runtime.start(config, "v", datetime(2026, 11, 26, 9, tzinfo=UTC)))
    assert view.step == "personal" and view.fields_here() == ["firstName", "lastName", "email", "phone"]
    assert view.required == {"firstName", "lastName"}
    assert view.visible["companySize"] is False
    assert view.options["industry"][1][0] == "Software"
    view.apply(runtime.apply("v", {"type": "next"}, datetime(2026, 11, 26, 9, 0, 1, tzinfo=UTC)))
    assert view.notes and "Blocked" in view.notes[0]
    view.apply([{"effect": "message", "field": "email", "code": "c", "severity": "warning", "message": "m"}])
    assert ("email", "c") in view.messages
    view.apply([{"effect": "clear", "field": "email", "code": "c"}, {"effect": "hide", "step": "company"},
                {"effect": "error", "rule": "r", "message": "boom"}])  # fmt: skip
    assert not view.messages and "company" in view.hidden_steps and "boom" in view.notes[0]
    view.apply([{"effect": "submit", "ok": False, "report": [{"field": "email", "message": "bad"}]}])
    assert view.notes[1].strip() == "email: bad" and not view.submitted


def test_walk_quit_and_resume_to_submit(runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    config = _config(runtime)
    first = Keys(["e", "n", "q"], {"First name": "Ada", "Last name": "Lovelace", "E-mail": "ada@example.com"})
    monkeypatch.setattr("rich.prompt.Prompt.ask", first.ask)
    assert interact(runtime, config, "walk", resumed=False) == 0
    assert "Draft saved. Resume with: crmctl draft resume walk" in capsys.readouterr().out
    assert runtime.draft("walk").last_step == "company"
    assert runtime.draft("walk").data["email"] == "ada@example.com"

    second = Keys(["e", "g", "n", "n", "s"], {"Company": "ACME", "Employees": "300", "Annual revenue": "2500000.5",
                                              "Source": "referral", "step": "personal"})  # fmt: skip
    monkeypatch.setattr("rich.prompt.Prompt.ask", second.ask)
    assert interact(runtime, config, "walk", resumed=True) == 0
    out = capsys.readouterr().out
    assert "Resuming draft walk at step company" in out
    assert "Record Lead/walk stored, pinned to LeadLifecycle@1.0.0" in out
    record = runtime.store.get_record("default", "Lead", "walk")
    assert record is not None
    assert record.data["companySize"] == 300 and record.data["annualRevenue"] == 2500000.5
    assert record.data["score"] == 90.0


def test_bad_input_is_shown_not_raised(runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    config = _config(runtime)
    keys = Keys(["e", "g", "q"], {"First name": "Ada", "step": "nowhere"})
    monkeypatch.setattr("rich.prompt.Prompt.ask", keys.ask)
    assert interact(runtime, config, "bad", resumed=False) == 0
    assert "no step 'nowhere'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [("", "text", None), ("12", "number", 12), ("1.5", "number", 1.5), ("3", "currency", 3.0), ("ja", "boolean", True),
     ("no", "boolean", False), ('["a"]', "array", ["a"]), ("x", "text", "x")],
)  # fmt: skip
def test_parse_by_field_type(raw: str, kind: str, expected: Any) -> None:
    assert interactive._parse(raw, kind) == expected


def test_ctrl_d_keeps_the_draft(runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    def ask(prompt: str, *args: Any, **kwargs: Any) -> str:
        if "[e]dit" in prompt:
            raise EOFError
        return "Ada" if prompt.startswith("First name") else str(kwargs.get("default", ""))

    config = _config(runtime)
    monkeypatch.setattr("rich.prompt.Prompt.ask", ask)
    assert interact(runtime, config, "eof", resumed=False) == 0
    assert "Draft saved. Resume with: crmctl draft resume eof" in capsys.readouterr().out
    assert runtime.draft("eof").last_step == "personal"


def test_nested_and_calculated_fields_are_typed_from_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    with Store.open(tmp_path / "claims.duckdb") as store:
        runtime = Runtime(store, "default")
        claims = load_package(REPO / "packages" / "ClaimsIntake")
        config = runtime.configure(claims, entity=None, form=None, role="claimsManager", locale="en")
        keys = Keys(["e", "n", "e", "q"], {"Policy number": "AB-1234567", "Street": "Hohe Str. 1",
                                           "Postal code": "50667", "Date of incident": "2026-11-20"})  # fmt: skip
        monkeypatch.setattr("rich.prompt.Prompt.ask", keys.ask)
        assert interact(runtime, config, "c", resumed=False) == 0
        data = runtime.draft("c").data
        assert data["incidentAddress"] == {"street": "Hohe Str. 1", "postalCode": "50667"}
        assert data["incidentDate"] == "2026-11-20"
        assert not any(label.startswith("Payable") for label in keys.asked)  # calculated: never asked
