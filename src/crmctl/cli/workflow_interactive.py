"""The interactive `crmctl workflow simulate`: lists open tasks and approvals, lets the user act and move time.

It only renders the engine's instances and effects and turns what is typed into the same steps a scenario
holds; the engine decides everything. As in `cli.interactive`, no text goes through rich markup (`rich.text.Text`
instead) and the console has no styles under NO_COLOR or TERM=dumb.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from crmctl.errors import UserError
from crmctl.model.source import parse_json

if TYPE_CHECKING:
    from rich.console import Console

    from crmctl.runtime.scenario import Player

__all__ = ["interact", "open_work"]


def open_work(instance: dict[str, Any]) -> list[str]:
    """What waits for people on an instance: its task, or the open steps of its approval."""
    lines = []
    task = instance.get("task")
    if task is not None:
        who = task["assignee"].get("role") or task["assignee"].get("user")
        lines.append(f"task {task['id']} for {who}: {' | '.join(task['outcomes'])}")
    approval = instance.get("approval")
    if approval is not None:
        for index in approval["open"]:
            step = approval["chain"][index]
            who = step.get("role") or step.get("user")
            lines.append(f"approve {approval['transition']}: {who} (approve | reject)")
    return lines


def _show(console: Console, player: Player) -> None:
    from rich.table import Table

    table = Table(title=Text(f"{player.model.workflow.id} at {player.clock.isoformat()}"), show_lines=False)
    for column in ("instance", "version", "state", "waiting for"):
        table.add_column(column)
    for instance_id, instance in sorted(player.instances.items()):
        cells = (
            instance_id,
            instance["package"]["version"],
            f"{instance['state']} ({instance['status']})",
            "\n".join(open_work(instance)) or "-",
        )
        table.add_row(*(Text(str(cell)) for cell in cells))
    console.print(table)


# `[s]` would be markup to rich: `ask` passes prompts as text.
MENU = "[s]tart, [f]ire, [k]laim, [d]ecide, [c]hange, [a]dvance, [q]uit"


def interact(player: Player) -> int:
    """Act on instances until quit; every step is logged and the instances are kept in the store."""
    from rich.prompt import Prompt
    from rich.text import Text

    from crmctl.cli.console import rich_console
    from crmctl.cli.inputs import duration
    from crmctl.cli.interactive import parse_value
    from crmctl.runtime.workflow_text import describe

    console = rich_console()

    def ask(prompt: str, **options: Any) -> str:
        return str(Prompt.ask(Text(prompt), console=console, **options))

    transitions = list(player.model.transitions)
    while True:
        _show(console, player)
        try:
            choice = ask(MENU, choices=["s", "f", "k", "d", "c", "a", "q"], default="a")
        except EOFError:
            return 0
        if choice == "q":
            console.print(Text("Instances are kept in the store; `crmctl workflow simulate` goes on with them."))
            return 0
        step: dict[str, Any]
        try:
            if choice == "a":
                step = {"type": "advance", "by": duration(ask("by (e.g. 4h, 1d)", default="1d"), "advance")}
            else:
                instance = ask("instance", default=next(iter(sorted(player.instances)), "lead-1"))
                if choice == "s":
                    record = ask("record (a JSON object)", default="{}")
                    step = {"type": "start", "instance": instance, "data": parse_json(record, "record")}
                elif choice == "f":
                    step = {
                        "type": "fire",
                        "instance": instance,
                        "as": ask("as (user/role)"),
                        "transition": ask("transition", choices=transitions),
                    }
                elif choice == "k":
                    step = {"type": "claim", "instance": instance, "as": ask("as (user/role)")}
                elif choice == "d":
                    step = {
                        "type": "decide",
                        "instance": instance,
                        "decision": ask("decision"),
                        "as": ask("as (user/role)"),
                        "comment": ask("comment", default="") or None,
                    }
                else:
                    path = ask("field")
                    kind = getattr(player.model.records().model.fields.get(path), "type", "text")
                    step = {
                        "type": "change",
                        "instance": instance,
                        "field": path,
                        "value": parse_value(ask("value (nothing clears it)", default=""), kind),
                    }
            for effect in player.play(step):
                if effect["effect"] not in ("guard", "timer-cleared"):
                    when = effect["at"][:16].replace("T", " ")
                    console.print(Text(f"  {when}  {effect['instance']:<12} {describe(effect)}"))
        except EOFError:  # Ctrl-D: like quit
            return 0
        except (UserError, ValueError, OverflowError) as exc:  # a record that is not JSON, a value that does not parse
            console.print(Text(str(exc), style="red"))
