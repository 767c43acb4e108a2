"""The interactive terminal renderer of `crmctl simulate`: it renders, emits events and applies effects.

It holds no business logic: what is shown, required, offered or blocked arrives as effects from the runtime;
the renderer only keeps a view built from them (`View.apply`) and turns keystrokes into events. Field types
are read from the schema only to parse what the user types.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.numbers import parse_number

if TYPE_CHECKING:
    from rich.console import Console

    from crmctl.runtime.service import Runtime, SessionConfig

__all__ = ["View", "interact"]


@dataclass
class View:
    """What the renderer knows, built only from effects. `notes` are rich markup whose values are escaped."""

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
    notes: list[str] = field(default_factory=list)
    submitted: bool = False
    rtl: bool = False

    def apply(self, effects: Sequence[Mapping[str, Any]]) -> None:
        from rich.markup import escape

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
            elif kind == "set":
                self.values[target] = e["value"]
                self.display[target] = e.get("display", "")
            elif kind == "input":
                self.values[target] = e["value"]
                self.display.pop(target, None)
            elif kind == "message":
                self.messages[(target or "", e["code"])] = dict(e)
            elif kind == "clear":
                self.messages.pop((target or "", e["code"]), None)
            elif kind == "blocked":
                self.notes.append(f"[yellow]Blocked:[/] {escape(str(e['reason']))}")
            elif kind == "error":
                self.notes.append(f"[red]Rule error[/] {escape(str(e['rule']))}: {escape(str(e['message']))}")
            elif kind == "submit":
                self.submitted = bool(e["ok"])
                if not e["ok"]:
                    self.notes.append(f"[red]Submit refused[/] ({len(e['report'])} problem(s)):")
                    self.notes.extend(f"  {escape(str(r['field'] or '(form)'))}: {escape(str(r['message']))}"
                                      for r in e["report"])  # fmt: skip

    def fields_here(self) -> list[str]:
        return [p for p in self.step_fields if self.visible.get(p, True)]


def _render(console: Console, view: View) -> None:
    from rich.table import Table
    from rich.text import Text

    console.rule(Text(view.step_label + (" (review)" if view.mode == "summary" else ""), style="bold"))
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
        table.add_row(mark, view.labels.get(path, path) + lock, shown)
    console.print(table)
    for message in view.messages.values():
        colour = "yellow" if message["severity"] == "warning" else "red"
        console.print(
            Text.assemble("  ", (message["severity"], colour), f" {message['field'] or ''}: {message['message']}")
        )
    for note in view.notes:
        console.print(Text.from_markup(note))


def _parse(raw: str, kind: str) -> Any:
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
        return json.loads(text)
    return text


def interact(runtime: Runtime, config: SessionConfig, session_id: str, *, resumed: bool) -> int:
    """Walk through the form: one step at a time, a review page, quit to keep the draft."""
    from rich.markup import escape

    from crmctl.cli.commands.runtime import instant
    from crmctl.cli.console import rich_console

    console = rich_console()
    fields = runtime.session_for(config).model.fields  # types only, to parse what is typed
    view = View()

    def send(event: dict[str, Any]) -> None:
        try:
            effects = runtime.apply(session_id, event, instant(None))
            if event["type"] == "change":  # what the user typed is shown as typed (the runtime does not echo it)
                effects = [{"effect": "input", "field": event["field"], "value": event["value"]}, *effects]
            view.apply(effects)
        except UserError as exc:
            view.notes = [f"[red]{escape(str(exc))}[/]"]

    if resumed:
        _, state = runtime.state_of(session_id)
        view.apply(runtime.session_for(config).present(state.view))
        console.print(f"Resuming draft {session_id} at step {state.step}")
    else:
        view.apply(runtime.start(config, session_id, instant(None)))
    console.print(f"{config.package.name}@{config.package.version} · {config.entity} · role {config.role} · "
                  f"locale {config.locale} · session {session_id}")  # fmt: skip
    try:
        _walk(console, view, fields, send)
    except EOFError:  # Ctrl-D: like quit, every event so far is saved
        console.print()
    if not view.submitted:
        console.print(f"Draft saved. Resume with: crmctl draft resume {session_id}")
        return 0
    _render(console, view)
    console.print(f"Record {config.entity}/{session_id} stored, pinned to {config.package.name}@"
                  f"{config.package.version}")  # fmt: skip
    return 0


def _walk(console: Console, view: View, fields: Mapping[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
    from rich.markup import escape
    from rich.prompt import Prompt

    while not view.submitted:
        _render(console, view)
        choice = Prompt.ask("[e]dit, [n]ext, [b]ack, [g]oto, [s]ubmit, [q]uit", default="e" if view.mode == "edit"
                            else "s", choices=["e", "n", "b", "g", "s", "q"])  # fmt: skip
        if choice == "q":
            return
        if choice in ("n", "b", "s"):
            send({"type": {"n": "next", "b": "back", "s": "submit"}[choice]})
        elif choice == "g":
            send({"type": "goto", "step": Prompt.ask("step")})
        else:
            asked: set[str] = set()
            while pending := [p for p in view.fields_here() if p not in view.readonly and p not in asked
                              and getattr(fields.get(p), "type", "text") != "calculated"]:  # fmt: skip
                path = pending[0]  # fields a rule shows while editing are asked for too
                asked.add(path)
                kind = getattr(fields.get(path), "type", "text")
                current = view.values.get(path)
                label = view.labels.get(path, path) + (" *" if path in view.required else "")
                if path in view.options:
                    values, labels = view.options[path]
                    console.print("  " + ", ".join(f"{v} ({lbl})" for v, lbl in zip(values, labels, strict=True)))
                raw = Prompt.ask(escape(label), default="" if current is None else str(current), show_default=True,
                                 console=console)  # fmt: skip
                if raw == ("" if current is None else str(current)):
                    continue
                try:
                    value = _parse(raw, kind)
                except (ValueError, OverflowError):
                    view.notes = [f"[red]{escape(label)}: not a {kind}[/]"]
                    continue
                send({"type": "change", "field": path, "value": value})
