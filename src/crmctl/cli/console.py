"""Terminal output: plain text when not on a terminal, NO_COLOR honoured, stdout for results, stderr for notes.

Everything crmctl prints passes through here, and this is where the terminal is protected from what it prints:
record values, package strings, store contents, registry log fields and file names can hold escape sequences
(ANSI/OSC: colours, titles, hyperlinks, cursor moves, clipboard writes), other control characters, or bidi
overrides that reorder what a reader sees. `printable` escapes them as `\\uXXXX`; `out` and `err` apply it to
every line, and `rich_console` is the one way to get a rich console: literal (no markup, emoji codes or
highlighting, so `[bold]` in a value prints as typed) and escaping every segment it renders. The `\\uXXXX` form is
also JSON's: applied to JSON output (where such characters can only stand inside strings) it keeps the document
valid and every value exact, so one rule serves every format.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import Console

__all__ = ["Rendered", "err", "out", "printable", "render_styled", "rich_console", "use_color"]

# C0 controls but tab and newline, DEL, C1 controls (U+009B is a one-character CSI on some terminals), the line
# and paragraph separators, and the bidi embeddings, overrides and isolates of "Trojan Source" (CVE-2021-42574).
# The bidi marks (U+200E, U+200F, U+061C) stay: right-to-left text needs them and they reorder nothing.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every character a terminal would act on (not print) written as `\\uXXXX`."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class Rendered(str):
    """Text rendered by `render_styled`: its escape sequences are crmctl's own styles, its content was escaped."""

    __slots__ = ()


def out(text: str) -> None:
    safe = text if isinstance(text, Rendered) else printable(text)
    sys.stdout.write(safe if safe.endswith("\n") else safe + "\n")


def use_color(output_format: str) -> bool:
    """Colour only text output on a real terminal, and never when NO_COLOR is set (https://no-color.org)."""
    import os

    return output_format == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def err(text: str) -> None:
    safe = printable(text)
    sys.stderr.write(safe if safe.endswith("\n") else safe + "\n")


def rich_console(**options: Any) -> Console:
    """A rich console that prints what it is given literally and escapes control characters in all of it (text,
    tables, rules, prompts). Style with `style=` or `rich.text.Text`, never with markup in a string."""
    from rich.console import Console, ConsoleOptions, RenderHook, RenderResult
    from rich.segment import Segment

    class Escaped:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            for segment in console.render(self.inner, options):
                text, style, control = segment
                yield segment if control else Segment(printable(text), style)

    class EscapeHook(RenderHook):
        def process_renderables(self, renderables: list[Any]) -> list[Any]:
            return [Escaped(renderable) for renderable in renderables]

    console = Console(markup=False, emoji=False, highlight=False, **options)
    console.push_render_hook(EscapeHook())
    return console


def render_styled(lines: Iterable[tuple[str, str | None]]) -> Rendered:
    """Lines with their rich styles as terminal text (ANSI colours), content escaped: `out` prints it as it is."""
    import io

    from rich.text import Text

    buffer = io.StringIO()
    console = rich_console(file=buffer, force_terminal=True, color_system="standard", soft_wrap=True, width=200)
    for text, style in lines:
        console.print(Text(printable(text.rstrip("\n")), style=style or ""))  # as plain output: BEL kept, escaped
    return Rendered(buffer.getvalue())
