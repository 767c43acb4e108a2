"""Terminal output: plain text when not on a terminal, NO_COLOR honoured, stdout for results, stderr for notes."""

from __future__ import annotations

import sys

__all__ = ["err", "out", "use_color"]


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def use_color(output_format: str) -> bool:
    """Colour only text output on a real terminal, and never when NO_COLOR is set (https://no-color.org)."""
    import os

    return output_format == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
