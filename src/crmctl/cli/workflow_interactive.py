"""The interactive `crmctl workflow simulate`: lists open tasks and approvals, lets the user act and move time.

It only renders the engine's instances and effects and turns what is typed into the same steps a scenario
holds; the engine decides everything.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError

if TYPE_CHECKING:
    from rich.console import Console

    from crmctl.cli.commands.workflow import Player

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

    table = Table(title=f"{player.model.workflow.id} at {player.clock.isoformat()}", show_lines=False)
    for column in ("instance", "version", "state", "waiting for"):
        table.add_column(column)
    for instance_id, instance in sorted(player.instances.items()):
        table.add_row(instance_id, instance["package"]["version"], f"{instance['state']} ({instance['status']})",
                      "\n".join(open_work(instance)) or "-")  # fmt: skip
    console.print(table)


def interact(player: Player) -> int:
    """Act on instances until quit; every step is logged and the instances are kept in the store."""
    from rich.prompt import Prompt
    from rich.text import Text

    from crmctl.cli.commands.runtime import duration
    from crmctl.cli.commands.workflow import describe
    from crmctl.cli.console import rich_console

    console = rich_console()
    transitions = list(player.model.transitions)
    while True:
        _show(console, player)
        try:
            choice = Prompt.ask("[s]tart, [f]ire, [k]laim, [d]ecide, [c]hange, [a]dvance, [q]uit",
                                choices=["s", "f", "k", "d", "c", "a", "q"], default="a")  # fmt: skip
        except EOFError:
            return 0
        if choice == "q":
            console.print("Instances are kept in the store; `crmctl workflow simulate` goes on with them.")
            return 0
        step: dict[str, Any]
        try:
            if choice == "a":
                step = {"type": "advance", "by": duration(Prompt.ask("by (e.g. 4h, 1d)", default="1d"), "advance")}
            else:
                instance = Prompt.ask("instance", default=next(iter(sorted(player.instances)), "lead-1"),
                                      console=console)  # fmt: skip
                if choice == "s":
                    step = {"type": "start", "instance": instance,
                            "data": json.loads(Prompt.ask("record (a JSON object)", default="{}"))}  # fmt: skip
                elif choice == "f":
                    step = {"type": "fire", "instance": instance, "as": Prompt.ask("as (user/role)"),
                            "transition": Prompt.ask("transition", choices=transitions)}  # fmt: skip
                elif choice == "k":
                    step = {"type": "claim", "instance": instance, "as": Prompt.ask("as (user/role)")}
                elif choice == "d":
                    step = {"type": "decide", "instance": instance, "decision": Prompt.ask("decision"),
                            "as": Prompt.ask("as (user/role)"),
                            "comment": Prompt.ask("comment", default="") or None}  # fmt: skip
                else:
                    step = {"type": "change", "instance": instance, "field": Prompt.ask("field"),
                            "value": Prompt.ask("value")}  # fmt: skip
            for effect in player.play(step):
                if effect["effect"] not in ("guard", "timer-cleared"):
                    when = effect["at"][:16].replace("T", " ")
                    console.print(f"  {when}  {effect['instance']:<12} {describe(effect)}")
        except EOFError:  # Ctrl-D: like quit
            return 0
        except (UserError, ValueError) as exc:  # ValueError: a record that is not JSON
            console.print(Text(str(exc), style="red"))
