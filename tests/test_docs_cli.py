"""docs/cli.md is the `--help` of every crmctl command, generated, so it cannot drift from the code.

Regenerate it with `python tests/test_docs_cli.py --write`; `python tests/test_docs_cli.py` prints it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from crmctl.cli.main import click_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
REGENERATE = "python tests/test_docs_cli.py --write"
# A fixed terminal: help text wraps at 100 columns and carries no colour, whatever machine renders it.
ENV = {"COLUMNS": "100", "LINES": "50", "NO_COLOR": "1", "TERM": "dumb", "TERMINAL_WIDTH": "100"}
_HEADER = f"""# CLI reference

<!-- Generated from the typer app's --help by `{REGENERATE}`; do not edit by hand. -->

Every command and subcommand of `crmctl`, as printed by `crmctl ... --help`. The options every command shares
and the exit status of every command are at the end of `crmctl --help`, the first section.
"""


def command_paths() -> list[tuple[str, ...]]:
    """Every command path of the app, groups before their subcommands, in the order the app lists them."""
    root = click_app()
    paths: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        paths.append(path)
        # Duck-typed: typer ships its own copy of click, so `isinstance(command, click.Group)` cannot be used.
        if hasattr(command, "list_commands"):
            ctx = command.context_class(command, info_name=" ".join(("crmctl", *path)))
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, (*path, name))

    walk(root, ())
    return paths


def help_text(path: tuple[str, ...]) -> str:
    """`crmctl PATH --help` as the real command line prints it (the click tree `click_app` decorates: the shared
    options and the root's epilog are in it)."""
    with CliRunner().isolation(env=ENV, color=False) as streams:
        try:
            click_app().main([*path, "--help"], prog_name="crmctl")
        except SystemExit as exc:
            code = exc.code
        else:  # pragma: no cover - --help always exits
            code = 0
        output = streams[0].getvalue().decode("utf-8")
    if code != 0:
        raise RuntimeError(f"crmctl {' '.join(path)} --help exited {code}: {output}")
    lines = [line.rstrip() for line in output.strip("\n").splitlines()]
    return "\n".join(lines)


def heading(path: tuple[str, ...]) -> str:
    return "## `" + " ".join(("crmctl", *path)) + "`"


def render() -> str:
    sections = [f"{heading(path)}\n\n```text\n{help_text(path)}\n```\n" for path in command_paths()]
    return "\n".join([_HEADER, *sections])


def test_cli_reference_is_current() -> None:
    expected = render()
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == expected, f"docs/cli.md is stale; regenerate it with: {REGENERATE}"


def test_every_command_is_documented() -> None:
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    missing = [" ".join(("crmctl", *p)) for p in command_paths() if heading(p) not in current]
    assert not missing, f"undocumented commands {missing}; regenerate docs/cli.md with: {REGENERATE}"


def test_walk_finds_nested_subcommands() -> None:
    paths = command_paths()
    assert () in paths and ("lint",) in paths and ("package", "digest") in paths
    assert all(path[:-1] in paths for path in paths if path)


if __name__ == "__main__":
    text = render()
    if sys.argv[1:] == ["--write"]:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {DOC}")
    else:
        sys.stdout.write(text)
