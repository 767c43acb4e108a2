"""The interactive renderer: a view built only from effects, and a walk through the form with scripted keys."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

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

    def ask(self, prompt: Any, *args: Any, default: Any = "", **kwargs: Any) -> str:
        prompt = str(prompt)  # prompts are rich Text (never markup)
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
    view.apply(
        [
            {"effect": "clear", "field": "email", "code": "c"},
            {"effect": "hide", "step": "company"},
            {"effect": "error", "rule": "r", "message": "boom"},
        ]
    )
    assert not view.messages and "company" in view.hidden_steps and "boom" in view.notes[0]
    view.apply([{"effect": "submit", "ok": False, "report": [{"field": "email", "message": "bad"}]}])
    assert str(view.notes[1]).strip() == "email: bad" and not view.submitted


def test_walk_quit_and_resume_to_submit(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(runtime)
    first = Keys(["e", "n", "q"], {"First name": "Ada", "Last name": "Lovelace", "E-mail": "ada@example.com"})
    monkeypatch.setattr("rich.prompt.Prompt.ask", first.ask)
    assert interact(runtime, config, "walk", resumed=False) == 0
    assert "Draft saved. Resume with: crmctl draft resume walk" in capsys.readouterr().out
    assert runtime.draft("walk").last_step == "company"
    assert runtime.draft("walk").data["email"] == "ada@example.com"

    second = Keys(
        ["e", "g", "n", "n", "s"],
        {
            "Company": "ACME",
            "Employees": "300",
            "Annual revenue": "2500000.5",
            "Source": "referral",
            "step": "personal",
        },
    )
    monkeypatch.setattr("rich.prompt.Prompt.ask", second.ask)
    assert interact(runtime, config, "walk", resumed=True) == 0
    out = capsys.readouterr().out
    assert "Resuming draft walk at step company" in out
    assert "Record Lead/walk stored, pinned to LeadLifecycle@1.0.0" in out
    record = runtime.store.get_record("default", "Lead", "walk")
    assert record is not None
    assert record.data["companySize"] == 300 and record.data["annualRevenue"] == 2500000.5
    assert record.data["score"] == 90.0


def test_bad_input_is_shown_not_raised(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(runtime)
    keys = Keys(["e", "g", "q"], {"First name": "Ada", "step": "nowhere"})
    monkeypatch.setattr("rich.prompt.Prompt.ask", keys.ask)
    assert interact(runtime, config, "bad", resumed=False) == 0
    assert "no step 'nowhere'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("", "text", None),
        ("12", "number", 12),
        ("1.5", "number", 1.5),
        ("3", "currency", 3.0),
        ("ja", "boolean", True),
        ("no", "boolean", False),
        ('["a"]', "array", ["a"]),
        ("x", "text", "x"),
    ],
)
def test_parse_by_field_type(raw: str, kind: str, expected: Any) -> None:
    assert interactive.parse_value(raw, kind) == expected


def test_ctrl_d_keeps_the_draft(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def ask(prompt: Any, *args: Any, **kwargs: Any) -> str:
        if "[e]dit" in str(prompt):
            raise EOFError
        return "Ada" if str(prompt).startswith("First name") else str(kwargs.get("default", ""))

    config = _config(runtime)
    monkeypatch.setattr("rich.prompt.Prompt.ask", ask)
    assert interact(runtime, config, "eof", resumed=False) == 0
    assert "Draft saved. Resume with: crmctl draft resume eof" in capsys.readouterr().out
    assert runtime.draft("eof").last_step == "personal"


def test_nested_and_calculated_fields_are_typed_from_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(tmp_path / "claims.duckdb") as store:
        runtime = Runtime(store, "default")
        claims = load_package(REPO / "packages" / "ClaimsIntake")
        config = runtime.configure(claims, entity=None, form=None, role="claimsManager", locale="en")
        keys = Keys(
            ["e", "n", "e", "q"],
            {
                "Policy number": "AB-1234567",
                "Street": "Hohe Str. 1",
                "Postal code": "50667",
                "Date of incident": "2026-11-20",
            },
        )
        monkeypatch.setattr("rich.prompt.Prompt.ask", keys.ask)
        assert interact(runtime, config, "c", resumed=False) == 0
        data = runtime.draft("c").data
        assert data["incidentAddress"] == {"street": "Hohe Str. 1", "postalCode": "50667"}
        assert data["incidentDate"] == "2026-11-20"
        assert not any(label.startswith("Payable") for label in keys.asked)  # calculated: never asked


# --- rendered on a terminal: menus intact, NO_COLOR and TERM=dumb honoured, values as labels (issue 9 §4) ---------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the interactive commands write to a 100-column terminal; prompts are answered through `input()`."""
    from crmctl.cli import console

    buffer = io.StringIO()
    make = console.rich_console
    monkeypatch.setattr(console, "rich_console", lambda **o: make(file=buffer, force_terminal=True, width=100, **o))
    for name in ("NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    return buffer


def _answer(monkeypatch: pytest.MonkeyPatch, keys: Keys) -> None:
    """Prompt.ask renders its prompt for real; `keys` decides the answer, read back through `input()`."""
    from rich.prompt import Prompt

    real = Prompt.ask

    def ask(prompt: str, *args: Any, **kwargs: Any) -> Any:
        answer = keys.ask(prompt, *args, **kwargs)
        monkeypatch.setattr("builtins.input", lambda *_: answer)
        return real(prompt, *args, **kwargs)

    monkeypatch.setattr("rich.prompt.Prompt.ask", ask)


COMPANY = {
    "First name": "Ada",
    "Last name": "Lovelace",
    "E-mail": "ada@example.com",
    "Company": "ACME",
    "Industry": "software",
    "Source": "referral",
    "step": "[bold]nowhere",
}


def test_the_menu_and_values_on_a_terminal(
    runtime: Runtime, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answer(monkeypatch, Keys(["e", "n", "e", "g", "q"], COMPANY))
    assert interact(runtime, _config(runtime), "t", resumed=False) == 0
    raw = terminal.getvalue()
    assert "\x1b[" in raw  # styled: this is a terminal
    text = ANSI.sub("", raw)
    # before: rich read [e] as markup and printed "dit, ext, ack, oto, ubmit, uit"
    assert "[e]dit, [n]ext, [b]ack, [g]oto, [s]ubmit, [q]uit [e/n/b/g/s/q] (e):" in text
    assert "dit, ext" not in text.replace("[e]dit, [n]ext", "")
    # before: the step table showed the values as typed (software, referral), not as the locale labels them
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip().startswith(("Industry", "Source"))}
    assert rows["Industry"].split()[-1] == "Software" and rows["Source"].split()[-1] == "Referral"
    assert "goto: no step '[bold]nowhere'" in text  # an error that looks like markup is printed as it is


@pytest.mark.parametrize(("name", "value"), [("NO_COLOR", "1"), ("TERM", "dumb")])
def test_no_styles_under_no_color_or_a_dumb_terminal(
    runtime: Runtime, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    _answer(monkeypatch, Keys(["e", "n", "s", "q"], COMPANY))
    assert interact(runtime, _config(runtime), "plain", resumed=False) == 0
    raw = terminal.getvalue()
    assert "\x1b[" not in raw  # before: bold rules and prompts, dim, under NO_COLOR
    assert "[e]dit, [n]ext" in raw and "Record Lead/plain stored" in raw


def test_the_workflow_menu_on_a_terminal(
    tmp_path: Path, terminal: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmctl.cli.workflow_interactive import interact as workflow_interact
    from crmctl.runtime.scenario import Player
    from crmctl.runtime.workflow import parse_moment

    answers = iter(["s", "lead[1]", '{"firstName": "A", "lastName": "B"}', "q"])

    def ask(prompt: str, *args: Any, **kwargs: Any) -> Any:
        answer = next(answers)
        monkeypatch.setattr("builtins.input", lambda *_: answer)
        return real(prompt, *args, **kwargs)

    from rich.prompt import Prompt

    real = Prompt.ask
    monkeypatch.setattr("rich.prompt.Prompt.ask", ask)
    monkeypatch.setenv("NO_COLOR", "1")
    with Store.open(tmp_path / "wf.duckdb") as store:
        player = Player.for_tenant(
            store,
            "default",
            load_package(REPO / "packages" / "LeadLifecycle" / "v2"),
            None,
            parse_moment("2026-11-23T08:00:00+00:00"),
        )
        assert workflow_interact(player) == 0
    raw = terminal.getvalue()
    assert "\x1b[" not in raw
    assert "[s]tart, [f]ire, [k]laim, [d]ecide, [c]hange, [a]dvance, [q]uit [s/f/k/d/c/a/q] (a):" in raw
    assert "lead[1]" in raw and "started" in raw  # an id with brackets, in the table and in the effects


def test_plain_terminal_and_colour_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    from crmctl.cli.console import plain_terminal, rich_console, use_color

    for name in ("NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert not plain_terminal() and use_color("text") and not use_color("json")
    styled = io.StringIO()
    rich_console(file=styled, force_terminal=True).print(Text.assemble(("x", "bold"), " 42 [bold]"))
    assert styled.getvalue() == "\x1b[1mx\x1b[0m 42 [bold]\n"  # bold on purpose, no markup, no highlighting
    for name, value in (("NO_COLOR", "1"), ("TERM", "dumb")):
        monkeypatch.setenv(name, value)
        assert plain_terminal() and not use_color("text")
        plain = io.StringIO()
        rich_console(file=plain, force_terminal=True).print(Text.assemble(("x", "bold"), " 42"))
        assert plain.getvalue() == "x 42\n"
        monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "")  # an empty NO_COLOR does not count (no-color.org)
    assert not plain_terminal()


_MARKUPISH = st.text(st.sampled_from("[]/\\ab=#@:"), min_size=1, max_size=12)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(label=_MARKUPISH, value=_MARKUPISH, message=_MARKUPISH, reason=_MARKUPISH)
def test_any_text_is_printed_as_it_is(label: str, value: str, message: str, reason: str) -> None:
    from rich.console import Console

    view = View()
    view.apply(
        [
            {"effect": "step", "step": "s", "label": label, "mode": "edit", "fields": ["f"]},
            {"effect": "show", "field": "f", "label": label},
            {"effect": "set", "field": "f", "value": value, "display": value},
            {"effect": "message", "field": "f", "code": "c", "severity": "error", "message": message},
            {"effect": "blocked", "action": "next", "rule": None, "reason": reason},
        ]
    )
    buffer = io.StringIO()
    interactive._render(Console(file=buffer, width=400, color_system=None), view)
    text = buffer.getvalue()
    for written in (label, value, f"f: {message}", f"Blocked: {reason}"):
        assert written in text
