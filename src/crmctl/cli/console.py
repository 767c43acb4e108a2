"""Terminal output: plain text when not on a terminal, NO_COLOR honoured, stdout for results, stderr for notes.

Every command takes `--quiet/-q`, `--verbose/-v` and `--color auto|always|never` (added centrally by
`crmctl.cli.habits`, which calls `configure`). Output goes through three doors: `out` (results: always), `err`
(errors and warnings: always), `note` (progress and informational lines: not under --quiet) and `detail` (what was
used, timings: only under --verbose). Colour is decided here (`color_enabled`): `--color always|never` first, then
NO_COLOR (https://no-color.org: it wins over FORCE_COLOR, the reader's "no" beats a CI default's "yes"), then
FORCE_COLOR (https://force-color.org: any non-empty value colours output that is not a terminal), then TERM=dumb,
then whether the stream is a terminal. JSON output never has colour, and --quiet never changes it.

Everything crmctl prints passes through here, and this is where the terminal is protected from what it prints:
record values, package strings, store contents, registry log fields and file names can hold escape sequences
(ANSI/OSC: colours, titles, hyperlinks, cursor moves, clipboard writes), other control characters, or bidi
overrides that reorder what a reader sees. `printable` escapes them as `\\uXXXX`; `out` and `err` apply it to
every line, and `rich_console` is the one way to get a rich console: literal (no markup, emoji codes or
highlighting, so `[bold]` in a value prints as typed) and escaping every segment it renders. The `\\uXXXX` form is
also JSON's: applied to JSON output (where such characters can only stand inside strings) it keeps the document
valid and every value exact, so one rule serves every format.

A reader that stops reading (`crmctl diff A B | head -1`) changes nothing: the command finishes, prints nothing
more and exits with its own status.

A command run inside crmctl itself (the MCP server runs commands in process) prints into a `captured` sink instead:
`out` and `err` honour it, so what one command prints reaches its caller and never the process's streams.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import Console

__all__ = [
    "COLOR_CHOICES",
    "SHOW_PROGRESS_AFTER",
    "Captured",
    "Rendered",
    "captured",
    "color_choice",
    "color_enabled",
    "configure",
    "detail",
    "err",
    "flush",
    "note",
    "out",
    "plain_terminal",
    "printable",
    "progress",
    "quiet",
    "reader_may_leave",
    "render_styled",
    "rich_console",
    "use_color",
    "verbose",
]

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


# Streams whose reader went away (`crmctl diff A B | head -1`): what is written to them now goes nowhere.
_GONE: set[str] = set()


class _ReaderMayLeave:
    """`sys.stdout` or `sys.stderr` while a command runs: a write or flush that finds the pipe closed by its reader
    lets the stream go (`_let_go`) instead of raising BrokenPipeError, which click turns into exit 1 and which the
    flush at interpreter exit reports as "Exception ignored ... BrokenPipeError" with exit 120."""

    def __init__(self, name: str, stream: Any) -> None:
        self._name = name
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            _let_go(self._name, self._stream)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            _let_go(self._name, self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _let_go(name: str, stream: Any) -> None:
    """Point the stream's file descriptor at /dev/null (the recipe of the Python documentation on SIGPIPE): the
    rest of the output, and the flush at exit, go nowhere. The command runs on and exits with its own status, as
    if the reader had read everything."""
    import os

    _GONE.add(name)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """Run a command with stdout and stderr that survive a reader who stops reading; flush both at the end."""
    saved = sys.stdout, sys.stderr
    sys.stdout = cast("TextIO", _ReaderMayLeave("stdout", saved[0]))
    sys.stderr = cast("TextIO", _ReaderMayLeave("stderr", saved[1]))
    try:
        yield
    finally:
        flush()
        sys.stdout, sys.stderr = saved


def flush() -> bool:
    """Push what is written so far to stdout and stderr; False once nobody reads stdout any more (also when the
    reader left while nothing was written, as `tail -f` notices: `events tail --follow | head -1` ends)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    if "stdout" not in _GONE and _reader_left(sys.stdout):
        _let_go("stdout", sys.stdout)
    return "stdout" not in _GONE


def _reader_left(stream: Any) -> bool:
    """Whether `stream` is a pipe whose reader closed it: poll reports POLLERR to the writer (Linux, macOS)."""
    import select

    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's capture)
        return False
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return False
    poller = select.poll()
    poller.register(descriptor, 0)  # no events asked for: only error conditions are reported
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


@dataclass
class Captured:
    """What a command printed while `captured`: its stdout and its stderr."""

    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.stdout)

    @property
    def messages(self) -> str:
        return "".join(self.stderr)


_SINK: ContextVar[Captured | None] = ContextVar("crmctl_console_sink", default=None)


@contextmanager
def captured() -> Iterator[Captured]:
    """Run code whose `out` and `err` go into the returned `Captured` instead of stdout and stderr."""
    sink = Captured()
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


def _write(to_stderr: bool, text: str) -> None:
    line = text if text.endswith("\n") else text + "\n"
    sink = _SINK.get()
    if sink is not None:
        (sink.stderr if to_stderr else sink.stdout).append(line)
    else:
        (sys.stderr if to_stderr else sys.stdout).write(line)


def out(text: str) -> None:
    _write(False, text if isinstance(text, Rendered) else printable(text))


COLOR_CHOICES = ("auto", "always", "never")


class _Settings:
    """What the command line asked of the output (`--quiet`, `--verbose`, `--color`); reset for every run."""

    quiet = False
    verbose = False
    color = "auto"


_SETTINGS = _Settings()


def configure(*, quiet: bool | None = None, verbose: bool | None = None, color: str | None = None) -> None:
    """Set what the command line asked for (`crmctl.cli.habits`); what is not given stays as it is."""
    if quiet is not None:
        _SETTINGS.quiet = quiet
    if verbose is not None:
        _SETTINGS.verbose = verbose
    if color is not None:
        if color not in COLOR_CHOICES:
            raise ValueError(f"colour choice {color!r} is not one of {', '.join(COLOR_CHOICES)}")
        _SETTINGS.color = color


def reset() -> None:
    """Back to the defaults (not quiet, not verbose, colour auto): the start of every command line."""
    configure(quiet=False, verbose=False, color="auto")


def quiet() -> bool:
    """`--quiet`: results, warnings and errors only."""
    return _SETTINGS.quiet


def verbose() -> bool:
    """`--verbose`: also what was used (configuration, store, registry) and how long it took."""
    return _SETTINGS.verbose


def color_choice() -> str:
    """`--color`: auto, always or never."""
    return _SETTINGS.color


def note(text: str) -> None:
    """An informational line on stderr (what was written, counts): not under --quiet."""
    if not _SETTINGS.quiet:
        err(text)


def detail(text: str) -> None:
    """A line on stderr for --verbose only (which configuration, store or registry was used, timings)."""
    if _SETTINGS.verbose:
        err(text)


def color_enabled(stream: Any = None) -> bool:
    """Whether styled output goes to `stream` (default stdout): --color always/never, else NO_COLOR (wins),
    FORCE_COLOR (non-empty: colour even off a terminal), TERM=dumb, and whether it is a terminal."""
    import os

    if _SETTINGS.color != "auto":
        return _SETTINGS.color == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    target = sys.stdout if stream is None else stream
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):  # a closed or foreign stream
        return False


def plain_terminal() -> bool:
    """No styles at all: `--color never`, or (with `--color auto`) NO_COLOR set to anything but ""
    (https://no-color.org), or TERM `dumb` without FORCE_COLOR."""
    import os

    if _SETTINGS.color != "auto":
        return _SETTINGS.color == "never"
    if os.environ.get("NO_COLOR"):
        return True
    return not os.environ.get("FORCE_COLOR") and os.environ.get("TERM") == "dumb"


def use_color(output_format: str) -> bool:
    """Colour only text output, on a terminal unless --color always or FORCE_COLOR say otherwise
    (`color_enabled`)."""
    return output_format == "text" and color_enabled(sys.stdout)


def err(text: str) -> None:
    _write(True, printable(text))


def rich_console(**options: Any) -> Console:
    """The one rich console (interactive output, tables, progress bars): it prints what it is given literally and
    escapes control characters in all of it (text, tables, rules, prompts). Style with `style=` or
    `rich.text.Text`, never with markup in a string. No colour and no other style (bold, dim, reverse) when
    `plain_terminal()` (rich alone drops only the colours under NO_COLOR), unless the caller names a
    `color_system`: `render_styled` does, for output whose colours were asked for (`--color`, `use_color`)."""
    import os

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

    if "color_system" not in options:  # a caller that names a colour system asked for it
        if plain_terminal():
            options = {**options, "color_system": None, "no_color": True}
        elif _SETTINGS.color == "always" or (_SETTINGS.color == "auto" and os.environ.get("FORCE_COLOR")):
            # rich reads NO_COLOR itself: `--color always` beats it; FORCE_COLOR without NO_COLOR colours a pipe
            options = {"force_terminal": True, "no_color": False, **options}
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


SHOW_PROGRESS_AFTER = 1.0  # seconds: short runs finish before a bar would be worth drawing


@contextmanager
def progress(label: str, *, enabled: bool | None = None) -> Iterator[Callable[..., None]]:
    """The one progress display: `update(done)` or `update(done, total)` as rows go by. On stderr, on a terminal
    only and not under --quiet (`enabled` overrides), shown once the work has run for `SHOW_PROGRESS_AFTER` and
    removed when it ends: a bar with the time remaining when the total is known (`exporting records ━━━ 50/100
    rows`), else a spinner with the time elapsed (`importing: 1,200 rows`)."""
    started = time.monotonic()
    shown = (sys.stderr.isatty() and not _SETTINGS.quiet) if enabled is None else enabled
    state: dict[str, Any] = {}

    def update(done: int, total: int | None = None) -> None:
        if not shown or time.monotonic() - started < SHOW_PROGRESS_AFTER:
            return
        if "bar" not in state:
            from rich import progress as bars

            columns = (
                (bars.SpinnerColumn(), bars.TextColumn(label + ": {task.completed:,} rows"), bars.TimeElapsedColumn())
                if total is None
                else (
                    bars.TextColumn(label),
                    bars.BarColumn(),
                    bars.TextColumn("{task.completed:,}/{task.total:,} rows"),
                    bars.TimeRemainingColumn(),
                )
            )
            state["bar"] = bars.Progress(*columns, console=rich_console(stderr=True), transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task(label, total=total)
        state["bar"].update(state["task"], completed=done, total=total)

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].stop()
