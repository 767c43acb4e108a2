"""Terminal output: plain text when not on a terminal, NO_COLOR honoured, stdout for results, stderr for notes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["err", "out", "plain_terminal", "rich_console", "use_color"]


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def plain_terminal() -> bool:
    """No styles at all: NO_COLOR is set to anything but "" (https://no-color.org), or TERM is `dumb`."""
    import os

    return bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


def use_color(output_format: str) -> bool:
    """Colour only text output on a real terminal, and never under NO_COLOR or TERM=dumb."""
    return output_format == "text" and sys.stdout.isatty() and not plain_terminal()


def rich_console(**options: Any) -> Console:
    """The rich Console of interactive output and progress bars: no colour and no other style (bold, dim, reverse)
    when `plain_terminal()`; rich alone drops only the colours under NO_COLOR. Text is never highlighted by guesswork
    (numbers, quotes): what is styled is styled on purpose."""
    from rich.console import Console

    if plain_terminal():
        options = {**options, "color_system": None, "no_color": True}
    return Console(highlight=False, **options)


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
