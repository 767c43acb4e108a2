"""The interactive terminal renderer of `crmctl simulate`: it renders, emits events and applies effects.

It holds no business logic: what is shown, required, offered or blocked arrives as effects from the runtime;
the renderer only keeps a view built from them (`View.apply`) and turns keystrokes into events. Field types
are read from the schema only to parse what the user types, and a typed value is shown as the runtime displays
values (`Session.display`: picklist labels, numbers and dates of the locale).

Nothing from the package, the user or the runtime goes through rich markup (where `[e]dit` loses its key and
`\\[` its backslash): texts are `rich.text.Text` with explicit styles. The console is `console.rich_console`
(no styles under NO_COLOR or TERM=dumb).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text

from crmctl.errors import UserError
from crmctl.model.numbers import parse_number

if TYPE_CHECKING:
    from rich.console import Console

    from crmctl.runtime.service import Runtime, SessionConfig

__all__ = ["View", "interact", "parse_value"]


@dataclass
class View:
    """What the renderer knows, built only from effects."""

    step: str | None = None
    step_label: str = ""
    mode: str = "edit"
    step_fields: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    visible: dict[str, bool] = field(default_factory=dict)
    hidden_steps: set[str] = field(default_factory=set)
    readonly: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)
    options: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    display: dict[str, str] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    notes: list[Text] = field(default_factory=list)
    submitted: bool = False
    rtl: bool = False

    def apply(self, effects: Sequence[Mapping[str, Any]]) -> None:
        self.notes = []
        for e in effects:
            kind = e["effect"]
            target = str(e.get("field") or "")
            if kind == "locale":
                self.rtl = e["direction"] == "rtl"
            elif kind == "step":
                self.step, self.step_label, self.mode, self.step_fields = e["step"], e["label"], e["mode"], e["fields"]
            elif kind in ("show", "hide") and "step" in e:
                (self.hidden_steps.discard if kind == "show" else self.hidden_steps.add)(e["step"])
            elif kind in ("show", "hide"):
                self.visible[target] = kind == "show"
                if "label" in e:
                    self.labels[target] = e["label"]
            elif kind == "readonly":
                self.readonly.add(target)
            elif kind == "required":
                (self.required.add if e["value"] else self.required.discard)(target)
            elif kind == "options":
                self.options[target] = (e["values"], e["labels"])
            elif kind in ("set", "input"):  # input: what the user typed (the runtime does not echo it)
                self.values[target] = e["value"]
                self.display[target] = e.get("display", "")
            elif kind == "message":
                self.messages[(target or "", e["code"])] = dict(e)
            elif kind == "clear":
                self.messages.pop((target or "", e["code"]), None)
            elif kind == "blocked":
                self.notes.append(Text.assemble(("Blocked:", "yellow"), f" {e['reason']}"))
            elif kind == "error":
                self.notes.append(Text.assemble(("Rule error", "red"), f" {e['rule']}: {e['message']}"))
            elif kind == "submit":
                self.submitted = bool(e["ok"])
                if not e["ok"]:
                    self.notes.append(Text.assemble(("Submit refused", "red"), f" ({len(e['report'])} problem(s)):"))
                    self.notes.extend(Text(f"  {r['field'] or '(form)'}: {r['message']}") for r in e["report"])

    def fields_here(self) -> list[str]:
        return [p for p in self.step_fields if self.visible.get(p, True)]


def _render(console: Console, view: View) -> None:
    from rich.table import Table

    console.rule(Text(view.step_label, style="bold") + (" (review)" if view.mode == "summary" else ""))
    table = Table(show_header=False, box=None, padding=(0, 1))
    if view.rtl:  # right-to-left locales: labels and values aligned to the right
        table.add_column(justify="right")
        table.add_column(justify="right")
        table.add_column(justify="right")
    names = [p for p, shown in view.visible.items() if shown] if view.mode == "summary" else view.fields_here()
    for path in names:
        mark = "*" if path in view.required else " "
        value = view.values.get(path)
        typed = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        shown = view.display.get(path) or typed
        lock = " (read-only)" if path in view.readonly else ""
        table.add_row(mark, Text(view.labels.get(path, path) + lock), Text(shown))
    console.print(table)
    for message in view.messages.values():
        colour = "yellow" if message["severity"] == "warning" else "red"
        console.print(
            Text.assemble("  ", (message["severity"], colour), f" {message['field'] or ''}: {message['message']}")
        )
    for note in view.notes:
        console.print(note)


def parse_value(raw: str, kind: str) -> Any:
    """What the user typed as a value of a field of type `kind` (None for nothing: the value is cleared);
    ValueError (or OverflowError) when it does not parse."""
    text = raw.strip()
    if text == "":
        return None
    if kind == "number":
        return parse_number(text)
    if kind == "currency":
        return float(parse_number(text))
    if kind == "boolean":
        return text.lower() in ("y", "yes", "true", "1", "j", "ja", "oui")
    if kind in ("array", "object"):
        from crmctl.model.source import parse_json

        try:
            return parse_json(text, "value")
        except UserError as exc:  # reported like any value that does not parse
            raise ValueError(exc.message) from None
    return text


def interact(runtime: Runtime, config: SessionConfig, session_id: str, *, resumed: bool) -> int:
    """Walk through the form: one step at a time, a review page, quit to keep the draft."""
    from crmctl.cli.console import rich_console
    from crmctl.cli.inputs import instant

    console = rich_console()
    session = runtime.session_for(config)
    fields = session.model.fields  # types only, to parse what is typed
    view = View()

    def send(event: dict[str, Any]) -> None:
        try:
            effects = runtime.apply(session_id, event, instant(None))
            if event["type"] == "change":  # the runtime does not echo what was typed: show it as it shows values
                value = event["value"]
                shown = "" if value is None else session.display(value, event["field"])
                effects = [{"effect": "input", "field": event["field"], "value": value, "display": shown}, *effects]
            view.apply(effects)
        except UserError as exc:
            view.notes = [Text(str(exc), style="red")]

    if resumed:
        _, state = runtime.state_of(session_id)
        view.apply(runtime.session_for(config).present(state.view))
        console.print(Text(f"Resuming draft {session_id} at step {state.step}"))
    else:
        view.apply(runtime.start(config, session_id, instant(None)))
    console.print(
        Text(
            f"{config.package.name}@{config.package.version} · {config.entity} · role {config.role} · "
            f"locale {config.locale} · session {session_id}"
        )
    )
    try:
        _walk(console, view, fields, send)
    except EOFError:  # Ctrl-D: like quit, every event so far is saved
        console.print()
    if not view.submitted:
        console.print(Text(f"Draft saved. Resume with: crmctl draft resume {session_id}"))
        return 0
    _render(console, view)
    console.print(
        Text(f"Record {config.entity}/{session_id} stored, pinned to {config.package.name}@{config.package.version}")
    )
    return 0


# The menu, as text: rich would read `[e]` as markup and print "dit, ext, ack" (the keys lost, the rest styled).
MENU = Text("[e]dit, [n]ext, [b]ack, [g]oto, [s]ubmit, [q]uit")


def _walk(console: Console, view: View, fields: Mapping[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
    from rich.prompt import Prompt

    while not view.submitted:
        _render(console, view)
        choice = Prompt.ask(
            MENU, default="e" if view.mode == "edit" else "s", choices=["e", "n", "b", "g", "s", "q"], console=console
        )
        if choice == "q":
            return
        if choice in ("n", "b", "s"):
            send({"type": {"n": "next", "b": "back", "s": "submit"}[choice]})
        elif choice == "g":
            send({"type": "goto", "step": Prompt.ask("step", console=console)})
        else:
            asked: set[str] = set()
            while pending := [
                p
                for p in view.fields_here()
                if p not in view.readonly and p not in asked and getattr(fields.get(p), "type", "text") != "calculated"
            ]:
                path = pending[0]  # fields a rule shows while editing are asked for too
                asked.add(path)
                kind = getattr(fields.get(path), "type", "text")
                current = view.values.get(path)
                label = view.labels.get(path, path) + (" *" if path in view.required else "")
                if path in view.options:
                    values, labels = view.options[path]
                    choices = ", ".join(f"{v} ({lbl})" for v, lbl in zip(values, labels, strict=True))
                    console.print(Text(f"  {choices}"))
                raw = Prompt.ask(
                    Text(label), default="" if current is None else str(current), show_default=True, console=console
                )
                if raw == ("" if current is None else str(current)):
                    continue
                try:
                    value = parse_value(raw, kind)
                except (ValueError, OverflowError):
                    view.notes = [Text(f"{label}: not a {kind}", style="red")]
                    continue
                send({"type": "change", "field": path, "value": value})
