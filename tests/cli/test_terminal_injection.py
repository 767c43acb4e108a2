"""Hostile strings never reach the terminal as controls (issue 9 §3): escape sequences (ANSI colours, OSC titles
and hyperlinks, DCS), C0/C1 controls, bidi overrides and rich markup in record values, record ids, package labels
and messages, store metadata, file names and error messages print escaped and literal in text output; JSON
output keeps every value exact."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli import console, interactive
from crmctl.cli.commands.workflow import print_timeline
from crmctl.cli.main import run
from crmctl.cli.reporters.text import render
from crmctl.model.diagnostics import Diagnostic, Location, Report, Severity
from crmctl.model.package import load_package
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Store
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
NOW = ["--now", "2026-11-26T09:00:00Z"]

# Everything a terminal acts on instead of printing: what must never reach stdout or stderr in text output.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

HOSTILE = {
    "sgr": "\x1b[31mRED\x1b[0m",
    "osc-title": "\x1b]0;owned\x07",
    "osc-hyperlink": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "dcs": "\x1bP+q544e\x1b\\",
    "c1-csi": "\x9b2J",
    "bell-backspace-cr": "ok\x07\x08\rFAKE",
    "rlo": "abc\u202egnp.exe",
    "isolate": "\u2066x\u2069",
    "line-separator": "a\u2028b",
    "markup": "[bold]x[/] [/] [link=https://evil.example]y[/link] :smile:",
}


def _assert_safe(text: str) -> None:
    assert CONTROL.search(text) is None, repr(CONTROL.search(text))


# --- the one escaping function --------------------------------------------------------------------------------


@settings(derandomize=True, max_examples=300)
@given(st.text())
def test_printable_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    safe = console.printable(text.replace("\n", "").replace("\t", ""))
    _assert_safe(safe)


@settings(derandomize=True, max_examples=300)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=10,
    )
)
def test_escaping_json_output_keeps_it_valid_and_every_value_exact(value: Any) -> None:
    for indent in (None, 2):
        document = console.printable(json.dumps(value, ensure_ascii=False, indent=indent))
        _assert_safe(document.replace("\n", ""))
        assert json.loads(document) == value


def test_printable_keeps_ordinary_text_and_right_to_left_marks() -> None:
    text = "Grüße\tשלום\u200f 漢字 👩‍👩‍👧 a\u00adb"
    assert console.printable(text) is text
    assert console.printable("\x1b[31m") == "\\u001b[31m"
    assert console.printable("\u202e") == "\\u202e"


@pytest.mark.parametrize("name", HOSTILE)
def test_out_and_err_escape(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    console.out(HOSTILE[name])
    console.err(HOSTILE[name])
    captured = capsys.readouterr()
    _assert_safe(captured.out.replace("\n", ""))
    _assert_safe(captured.err.replace("\n", ""))


@pytest.mark.parametrize("name", HOSTILE)
def test_a_rich_console_prints_literally_and_escaped(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    shown = console.rich_console(width=200)
    table = Table(title=HOSTILE[name])
    table.add_column(HOSTILE[name])
    table.add_row(HOSTILE[name])
    shown.print(HOSTILE[name])
    shown.print(Text(HOSTILE[name], style="bold"))
    shown.rule(HOSTILE[name])
    shown.print(table)
    text = capsys.readouterr().out
    _assert_safe(text.replace("\n", ""))
    if name == "markup":
        assert text.count(HOSTILE["markup"]) >= 3  # never read as markup, never a MarkupError


def test_styled_output_keeps_its_own_colours_and_escapes_the_content(capsys: pytest.CaptureFixture[str]) -> None:
    rendered = console.render_styled([(HOSTILE["sgr"], "bold red")])
    console.out(rendered)
    text = capsys.readouterr().out
    assert "\x1b[1m" in text  # crmctl's own style (bold: NO_COLOR is set in tests)
    assert "\\u001b[31mRED\\u001b[0m" in text and text.count("\x1b") == 2  # the content's, escaped


@pytest.mark.parametrize("color", [False, True])
def test_lint_text_output_escapes_messages_and_source_lines(color: bool, capsys: pytest.CaptureFixture[str]) -> None:
    location = Location(f"schema{HOSTILE['osc-title']}.yaml", 1, 3)
    diagnostic = Diagnostic("CRM001", f"bad {HOSTILE['sgr']}", location, Severity.ERROR, fix=HOSTILE["markup"])
    report = Report("lint", [diagnostic], sources={location.file: f"a:{HOSTILE['c1-csi']}\n"})
    console.out(render(report, color=color))
    text = capsys.readouterr().out
    own = re.compile(r"\x1b\[[0-9;]*m")  # the reporter's colours
    assert bool(own.search(text)) is color
    _assert_safe(own.sub("", text).replace("\n", ""))
    assert "\\u001b]0;owned\\u0007" in text and "\\u009b2J" in text and HOSTILE["markup"] in text


# --- through the commands ------------------------------------------------------------------------------------


def _hostile_package(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "pkg"
    shutil.copytree(V1, root)
    en = root / "localization" / "en.yaml"
    quoted = json.dumps(text)  # a JSON string is a YAML double-quoted scalar: \u escapes included
    source = en.read_text(encoding="utf-8")
    source = source.replace("Lead.firstName: First name", f"Lead.firstName: {quoted}")
    source = source.replace("step.personal: Personal details", f"step.personal: {quoted}")
    source = source.replace(
        "validation.lastNameRequired: Please enter the last name.", f"validation.lastNameRequired: {quoted}"
    )
    en.write_text(source, encoding="utf-8")
    return root


def _call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", HOSTILE)
def test_commands_escape_hostile_data_in_text_and_keep_it_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    hostile = HOSTILE[name]
    package = str(_hostile_package(tmp_path, hostile))
    store = ["--store", str(tmp_path / "rt.duckdb")]
    record = json.dumps({"firstName": hostile, "lastName": "", "company": hostile, "email": "a@b.example"})
    texts: list[str] = []

    def text_of(*argv: str, codes: tuple[int, ...] = (0,)) -> str:
        code, out, err = _call(capsys, *argv)
        assert code in codes, err
        _assert_safe((out + err).replace("\n", "").replace("\t", ""))
        texts.append(out + err)
        return out + err

    # A rejected record (its message is hostile), then a stored one with a hostile id and values.
    text_of(
        "records",
        "create",
        package,
        "-e",
        "Lead",
        "--data",
        record,
        "--id",
        hostile,
        "--no-async",
        *NOW,
        *store,
        codes=(1,),
    )
    fixed = json.dumps({**json.loads(record), "lastName": "L"})
    text_of("records", "create", package, "-e", "Lead", "--data", fixed, "--id", hostile, "--no-async", *NOW, *store)
    shown = text_of("records", "get", hostile, "-e", "Lead", *store)
    assert console.printable(hostile) in shown
    text_of("records", "list", *store)
    text_of("records", "get", hostile + "-missing", "-e", "Lead", *store, codes=(2,))
    text_of(
        "records",
        "update",
        hostile,
        "-e",
        "Lead",
        "--data",
        json.dumps({"company": hostile + "!"}),
        "--no-async",
        *NOW,
        *store,
    )
    script = tmp_path / "script.yaml"
    script.write_text(
        json.dumps(
            {
                "now": "2026-11-27T09:00:00Z",
                "events": [
                    {"change": {"field": "firstName", "value": hostile}},
                    {"change": {"field": "lastName", "value": ""}},
                    {"submit": {}},
                    {"quit": {}},
                ],
            }
        ),
        encoding="utf-8",
    )
    text_of("simulate", package, "--script", str(script), "--session", "s1", *store)
    text_of("draft", "list", *store)
    text_of("draft", "show", "s1", *store)
    text_of("events", "list", *store)
    text_of("log", "verify", *store)
    text_of("replay", *store)
    text_of("lint", package, codes=(0, 1))
    text_of("diff", str(V1), package, codes=(0, 1))
    assert any(console.printable(hostile) in text for text in texts)

    # JSON keeps the exact values.
    code, out, _ = _call(capsys, "records", "get", hostile, "-e", "Lead", *store, "--format", "json")
    got = json.loads(out)["result"]
    assert code == 0 and got["id"] == hostile and got["data"]["firstName"] == hostile
    assert got["data"]["company"] == hostile + "!"


@pytest.mark.parametrize("name", ["sgr", "osc-title", "c1-csi", "rlo", "markup"])
def test_file_names_and_store_metadata_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    hostile = HOSTILE[name].replace("/", "|")
    directory = tmp_path / f"pkg{hostile}"
    shutil.copytree(V1, directory)
    (directory / "schema.yaml").write_text("entities: [", encoding="utf-8")
    code, out, err = _call(capsys, "lint", str(directory))
    assert code in (1, 2) and console.printable(hostile) in out + err
    _assert_safe((out + err).replace("\n", ""))

    path = tmp_path / "rt.duckdb"
    Store.open(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'written_by'", [hostile])
    code, out, err = _call(capsys, "store", "info", "--store", str(path))
    assert code == 0 and console.printable(hostile) in out
    _assert_safe((out + err).replace("\n", ""))


@pytest.mark.parametrize("name", HOSTILE)
def test_usage_errors_quote_the_arguments_escaped(capsys: pytest.CaptureFixture[str], name: str) -> None:
    # click prints these itself, quoting what was typed; typer escapes C0 and C1 controls in some of them, but not
    # line separators or bidi overrides, and older typers nothing at all.
    hostile = HOSTILE[name]
    for argv in (
        [hostile],  # No such command
        ["rules", "extra", hostile],  # Got unexpected extra argument(s)
        ["lint", f"--{hostile}"],  # No such option
        ["rules", "--format", hostile],  # Invalid value
        ["records", "list", "--limit", hostile],  # Invalid value, from crmctl's own parser
    ):
        code, out, err = _call(capsys, *argv)
        assert code == 2 and out == "" and "Usage: crmctl" in err and "Error: " in err
        _assert_safe(err.replace("\n", ""))
    code, out, err = _call(capsys, "rules", "--help")  # help itself is untouched
    assert code == 0 and out.startswith("Usage: crmctl rules [OPTIONS]") and err == ""


@pytest.mark.parametrize("name", HOSTILE)
def test_the_timeline_table_and_the_interactive_form_escape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    hostile = HOSTILE[name]
    monkeypatch.setattr(console, "use_color", lambda output_format: True)
    print_timeline([{"effect": "event", "at": "2026-11-26T09:00:00Z", "instance": hostile, "event": hostile}])
    _assert_safe(capsys.readouterr().out.replace("\n", ""))

    with Store.open(tmp_path / "rt.duckdb") as store:
        runtime = Runtime(store, "default")
        config = runtime.configure(
            load_package(_hostile_package(tmp_path, hostile)), entity=None, form=None, role="salesRep", locale="en"
        )
        answers = iter(["e", "n", "q"])

        def ask(prompt: str, *args: Any, default: Any = "", **kwargs: Any) -> str:
            if "[e]dit" in prompt:
                return next(answers)
            return hostile if "Last name" not in prompt else ""

        monkeypatch.setattr("rich.prompt.Prompt.ask", ask)
        assert interactive.interact(runtime, config, "walk", resumed=False) == 0
    text = capsys.readouterr().out
    _assert_safe(text.replace("\n", ""))
    if name == "markup":
        assert hostile in text
