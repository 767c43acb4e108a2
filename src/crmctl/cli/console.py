"""Terminal output: plain text when not on a terminal, NO_COLOR honoured, stdout for results, stderr for notes."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["err", "out", "rich_console"]


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


@cache
def rich_console(stderr: bool = False) -> Console:
    """A rich console that only colours real terminals (rich itself honours NO_COLOR)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, highlight=False, soft_wrap=True, force_terminal=None)
