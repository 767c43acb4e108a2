"""The habits every command shares, added once to the click tree typer builds (`crmctl.cli.main.click_app`):

- `--quiet/-q`, `--verbose/-v`, `--color auto|always|never` and `-h` (as `--help`) on every command
  (`crmctl.cli.console` keeps what they asked for: `note` is silent under --quiet, `detail` speaks under
  --verbose, `color_enabled` decides colour);
- dynamic shell completion (`crmctl completion bash|zsh|fish` prints the script; typer's `_CRMCTL_COMPLETE`
  machinery answers underneath): package directories, entity names and ENTITY.FIELD, registry channels, session
  and draft ids, rule codes. A completer never fails: a broken package, a missing store or registry, anything
  unexpected gives no candidates (and the shell falls back to file names).

Commands are written as usual in `crmctl.cli.main` and `crmctl.cli.main_runtime`; nothing here needs them to know.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl.cli import console

__all__ = ["COMPLETERS", "COMPLETE_VAR", "EPILOG", "SHELLS", "completion_script", "decorate", "register"]

COMPLETE_VAR = "_CRMCTL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
# `crmctl --help` ends with this (and docs/cli.md, generated from it).
EPILOG = (
    "Every command takes -q/--quiet (results, warnings and errors only), -v/--verbose (also what was used and how "
    "long it took) and --color auto|always|never (NO_COLOR and FORCE_COLOR are honoured); `crmctl completion "
    "bash|zsh|fish` prints a shell completion script.\n\n"
    "Exit status: 0 success; 1 the command ran and its answer is no (lint errors, failing diff changes, files "
    "fmt --check would change, a refused registry write, a rejected record, replay differences, instances workflow "
    "migrate refuses, a failed verify, coverage under --fail-under); 2 usage, configuration or input error; 3 "
    "internal error or a failure of the machine (git missing, a full disk, a damaged store); 130 interrupted."
)
_MAX_CANDIDATES = 200  # a shell lists what fits; a package tree with more directories is not worth scanning
_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".crm"}


class ColorChoice(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


# --- the shared options ----------------------------------------------------------------------------------------


# The callbacks set only what was asked for (click calls them for defaults too): `crmctl -q lint` asks once, before
# the command, and the command's own default must not undo it; `console.reset()` starts every command line.


def _quiet(ctx: typer.Context, value: bool) -> None:
    if ctx.resilient_parsing or not value:  # shell completion parses without acting
        return
    console.configure(quiet=True)
    _refuse_both()


def _verbose(ctx: typer.Context, value: bool) -> None:
    if ctx.resilient_parsing or not value:
        return
    console.configure(verbose=True)
    _refuse_both()


def _refuse_both() -> None:
    if console.quiet() and console.verbose():
        raise typer.BadParameter("--quiet and --verbose cannot be used together")


def _color(ctx: typer.Context, value: ColorChoice) -> None:
    if ctx.resilient_parsing or value is None or ColorChoice(value) is ColorChoice.auto:
        return
    console.configure(color=ColorChoice(value).value)


def _habit_options(
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            callback=_quiet,
            expose_value=False,
            is_eager=True,
            help="Print only results, warnings and errors (no notes, no progress).",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            callback=_verbose,
            expose_value=False,
            is_eager=True,
            help="Also print what was used (configuration, store, registry, key) and how long it took.",
        ),
    ] = False,
    color: Annotated[
        ColorChoice,
        typer.Option(
            "--color",
            callback=_color,
            expose_value=False,
            is_eager=True,
            metavar="WHEN",
            help="Colour: auto (a terminal, FORCE_COLOR; not NO_COLOR), always or never.",
        ),
    ] = ColorChoice.auto,
) -> None:
    """The options every command takes (only their click parameters are used)."""


def _shared_params() -> list[Any]:
    holder = typer.Typer(add_completion=False)
    holder.command()(_habit_options)
    params: list[Any] = typer.main.get_command(holder).params
    return params


# --- decorating the tree ---------------------------------------------------------------------------------------


def decorate(root: Any) -> Any:
    """Add the shared options and the completers to every command of `root`, and reset the output settings at the
    start of every command line (`root.main`). Returns `root`."""
    shared = _shared_params()
    for path, command in _leaves(root, ()):
        taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
        command.params.extend(p for p in shared if not taken.intersection(p.opts))
        for param in command.params:
            if isinstance(param, typer.core.TyperArgument):
                _plain_argument(param)
            completer = COMPLETERS.get((" ".join(path), param.name)) or COMPLETERS.get(("*", param.name))
            if completer is not None:
                param._custom_shell_complete = _never_failing(completer)
        command.invoke = _timed(command.invoke, " ".join(path))
    root.params.extend(_shared_params())  # before the command too: `crmctl -q lint`, `crmctl --color never diff`
    root.main = _fresh(root, root.main)
    root.epilog = EPILOG
    # -h as well as --help, on every command (click hands the root's setting down to every subcommand)
    root.context_settings = {**root.context_settings, "help_option_names": ["-h", "--help"]}
    return root


def _plain_argument(param: Any) -> None:
    """Help for an argument as click and every other CLI write it: its metavar (the name in capitals when none is
    given), never the Python type typer appends (`PATH <list[Path]>`, `ID <str>`) nor typer's braces around a
    required argument in the usage line (`{path}`): `PACKAGE`, `[PATH]...`. A choice keeps its choices
    (`SHELL <bash|zsh|fish>`)."""
    if param.metavar is None:
        param.metavar = str(param.name).upper()
    if not param.type_descriptor.is_choice:
        param.display_type_rich = lambda ctx: None
    usage = param.metavar if param.required else f"[{param.metavar}]"
    param.get_usage_pieces = lambda ctx: [usage if param.nargs == 1 else f"{usage}..."]


def _leaves(command: Any, path: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    """Every command that runs: the leaves, and a group that runs without a subcommand too (`replay`)."""
    commands = getattr(command, "commands", None)
    if commands is None or getattr(command, "invoke_without_command", False):
        yield path, command
    for name, sub in (commands or {}).items():
        yield from _leaves(sub, (*path, name))


def _fresh(root: Any, main: Callable[..., Any]) -> Callable[..., Any]:
    def fresh_main(*args: Any, **kwargs: Any) -> Any:
        console.reset()
        instruction = os.environ.get(COMPLETE_VAR)
        if instruction:
            _COMPLETING.clear()
            try:
                _register_shells()
                shell = _typer_completion().shell_completion.get_completion_class(instruction.partition("_")[2])
                if shell is not None:
                    _COMPLETING.extend(shell(root, {}, "crmctl", COMPLETE_VAR).get_completion_args()[0])
                return main(*args, **kwargs)
            except Exception:  # completion must never print a traceback: no candidates instead
                return 0
        return main(*args, **kwargs)

    return fresh_main


def _timed(invoke: Callable[[Any], Any], name: str) -> Callable[[Any], Any]:
    def timed_invoke(ctx: Any) -> Any:
        if console.verbose():
            _show_configuration(ctx.params.get("config"))
        started = time.monotonic()
        try:
            return invoke(ctx)
        finally:
            console.detail(f"crmctl: {name} took {time.monotonic() - started:.3f}s")

    return timed_invoke


def _show_configuration(explicit: Path | None) -> None:
    from crmctl.model.config import find_config

    found = explicit if explicit is not None else find_config(Path.cwd())
    console.detail(f"crmctl: configuration: {found if found is not None else 'none found (defaults)'}")


# --- completion ------------------------------------------------------------------------------------------------


def _typer_completion() -> Any:
    """typer's completion module (its shell classes and the click it vendors), loaded when completion is used."""
    import importlib

    return importlib.import_module("typer.completion")


def _register_shells() -> None:
    _typer_completion().completion_init()


def completion_script(root: Any, shell: str) -> str:
    """The script that makes `shell` complete the command lines of `root` (`crmctl completion SHELL`)."""
    _register_shells()
    kind = _typer_completion().shell_completion.get_completion_class(shell)
    if kind is None or shell not in SHELLS:
        from crmctl.errors import UsageError

        raise UsageError(f"no completion for shell {shell!r}", hint="choose bash, zsh or fish")
    script: str = kind(root, {}, "crmctl", COMPLETE_VAR).source()
    return script.strip() + "\n"  # zsh reads `#compdef` only on the first line


_INSTALL = {
    "bash": 'eval "$(crmctl completion bash)"  # in ~/.bashrc',
    "zsh": 'eval "$(crmctl completion zsh)"  # in ~/.zshrc, after compinit',
    "fish": "crmctl completion fish > ~/.config/fish/completions/crmctl.fish",
}


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


class CompletionFormat(StrEnum):
    text = "text"
    json = "json"


def completion(
    ctx: typer.Context,
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
    output_format: Annotated[
        CompletionFormat, typer.Option("--format", "-f", metavar="FORMAT", help="Output format: text or json.")
    ] = CompletionFormat.text,
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Install it once:

      bash: eval "$(crmctl completion bash)"   (in ~/.bashrc)

      zsh:  eval "$(crmctl completion zsh)"    (in ~/.zshrc, after compinit)

      fish: crmctl completion fish > ~/.config/fish/completions/crmctl.fish

    Completes commands, options, package directories, entity and ENTITY.FIELD names, registry channels, session
    and draft ids, and rule codes.
    """
    script = completion_script(ctx.find_root().command, shell.value)
    if output_format is CompletionFormat.json:
        from crmctl.cli.contract import emit

        raise typer.Exit(emit({"shell": shell.value, "script": script, "install": _INSTALL[shell.value]}))
    console.out(script)
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    """Add `crmctl completion` to `app`."""
    app.command("completion")(completion)


# Completers: (ctx, incomplete) -> candidates. They read what the command line gave so far (`_given`).

_COMPLETING: list[str] = []  # the complete words of the command line being completed (after `crmctl`)


def _given(ctx: Any) -> dict[str, Any]:
    """The parameters the command line gives so far. click stops parsing at an option still waiting for its value
    (`crmctl simulate PKG --entity <TAB>`): then the words are parsed again without that option."""
    depth = 0
    parent = ctx.parent
    while parent is not None:
        depth, parent = depth + 1, parent.parent
    words = _COMPLETING[depth:]
    if not words:
        return dict(ctx.params)
    takes_value = {opt for param in ctx.command.params if not getattr(param, "is_flag", True) for opt in param.opts}
    if words[-1] in takes_value:
        words = words[:-1]
    with ctx.command.make_context(ctx.info_name, list(words), parent=ctx.parent, resilient_parsing=True) as again:
        return dict(again.params)


def _never_failing(completer: Callable[[Any, str], list[Any]]) -> Callable[[Any, Any, str], list[Any]]:
    def complete(ctx: Any, param: Any, incomplete: str) -> list[Any]:
        try:
            found = completer(ctx, incomplete)
        except Exception:  # a broken package, no store, no registry, a bug: no candidates, never a traceback
            return []
        return found[:_MAX_CANDIDATES]

    return complete


def _item(value: str, help_text: str | None = None) -> Any:
    return _typer_completion().shell_completion.CompletionItem(value, help=help_text)


def _package_dirs(_ctx: Any, incomplete: str) -> list[Any]:
    """Directories holding a package.yaml, below the directory `incomplete` names (at most three levels down)."""
    head, _, _ = incomplete.rpartition("/")
    base = Path(head or ".").expanduser()
    found: list[str] = []

    def walk(directory: Path, shown: str, depth: int) -> None:
        if len(found) >= _MAX_CANDIDATES or depth > 3:
            return
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name in _SKIP_DIRS or not entry.is_dir():
                continue
            name = f"{shown}{entry.name}"
            if not (name.startswith(incomplete) or incomplete.startswith(name + "/")):
                continue
            if entry.name.startswith(".") and not incomplete[len(shown) :].startswith("."):
                continue  # hidden directories only when asked for
            if (Path(entry.path) / "package.yaml").is_file():
                found.append(name)
            walk(Path(entry.path), name + "/", depth + 1)

    walk(base, f"{head}/" if head else "", 1)
    return [_item(name) for name in found]


def _package_of(ctx: Any) -> Path:
    """The package the command line names so far (`--package`/`-p`, the positional package), else `.`."""
    params = _given(ctx)
    for key in ("package", "path", "paths", "old"):
        value = params.get(key)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if value:
            return Path(str(value))
    return Path()


def _entities_of(package: Path) -> dict[str, Any]:
    from crmctl.model.source import load_document

    for suffix in (".yaml", ".yml", ".json"):
        candidate = package / f"schema{suffix}"
        if candidate.is_file():
            data = load_document(candidate, candidate.name).data
            entities = data.get("entities") if isinstance(data, dict) else None
            return dict(entities) if isinstance(entities, dict) else {}
    return {}


def _entities(ctx: Any, incomplete: str) -> list[Any]:
    return [_item(str(name)) for name in _entities_of(_package_of(ctx)) if str(name).startswith(incomplete)]


def _entity_fields(ctx: Any, incomplete: str) -> list[Any]:
    """ENTITY.FIELD: every field of every entity, or ENTITY. for a new field (`new field`)."""
    found: list[str] = []
    for name, entity in _entities_of(_package_of(ctx)).items():
        fields = entity.get("fields") if isinstance(entity, dict) else None
        names = [f"{name}.{field}" for field in (fields if isinstance(fields, dict) else {})]
        found.extend(value for value in (*names, f"{name}.") if value.startswith(incomplete))
    return [_item(value) for value in found]


def _new_field_target(ctx: Any, incomplete: str) -> list[Any]:
    """`new field ENTITY.FIELD`: the entity part (the field is new)."""
    return [_item(f"{name}.") for name in _entities_of(_package_of(ctx)) if f"{name}.".startswith(incomplete)]


def _channels(ctx: Any, incomplete: str) -> list[Any]:
    """Channels of the configured registry, of the package named so far: a local registry's index read in place
    (completion never clones, fetches, replays or pins a registry, and never writes)."""
    import json

    from crmctl.registry.config import registry_location
    from crmctl.registry.store import Store, normalize_location

    given = _given(ctx)
    location = registry_location(given.get("registry"))
    if not Path(location).expanduser().is_dir():
        return []
    # read in place: opening the registry would mirror it into the cache and pin its head (a write on a TAB)
    raw = Store(normalize_location(str(Path(location).expanduser()))).peek("index.json")
    packages = json.loads(raw).get("packages", {}) if raw is not None else {}
    channels = {str(name): dict(entry.get("channels") or {}) for name, entry in packages.items()}
    named = str(given.get("name") or given.get("spec") or "").partition("@")[0]
    pools = [channels.get(named, {})] if named in channels else list(channels.values())
    names = sorted({channel for pool in pools for channel in pool})
    return [_item(name) for name in names if name.startswith(incomplete)]


def _store_ids(kind: str) -> Callable[[Any, str], list[Any]]:
    def complete(ctx: Any, incomplete: str) -> list[Any]:
        from crmctl.cli.inputs import resolve_store
        from crmctl.runtime.store import Store

        given = _given(ctx)
        explicit = given.get("store")
        path = resolve_store(str(explicit) if explicit else None)  # the store the command would open
        if not isinstance(path, Path) or not path.is_file():
            return []  # no file yet; and a server is not asked while a shell waits for completions
        tenant = str(given.get("tenant") or "default")
        with Store.open(path, read_only=True, create=False) as store:
            if kind == "draft":
                ids: list[tuple[str, str | None]] = [(d.draft_id, d.entity) for d in store.list_drafts(tenant)]
            else:
                ids = [(session, None) for session in store.sessions(tenant)]
        return [_item(value, help_text) for value, help_text in ids if value.startswith(incomplete)]

    return complete


def _rule_codes(_ctx: Any, incomplete: str) -> list[Any]:
    from crmctl.lint import all_rules

    wanted = incomplete.upper()
    return [_item(code, rule.name) for code, rule in all_rules().items() if code.startswith(wanted)]


def _codes(ctx: Any, incomplete: str) -> list[Any]:
    """`explain CODE`: lint rule codes and diff change codes (CMP...)."""
    from crmctl.compat.kinds import KINDS

    wanted = incomplete.upper()
    return [*_rule_codes(ctx, incomplete), *(_item(k.code, k.id) for k in KINDS if k.code.startswith(wanted))]


# (command path, parameter name) -> completer; "*" for every command with that parameter.
COMPLETERS: dict[tuple[str, str | None], Callable[[Any, str], list[Any]]] = {
    ("*", "paths"): _package_dirs,
    ("*", "package"): _package_dirs,
    ("*", "entity"): _entities,
    ("*", "channel"): _channels,
    ("*", "to"): _channels,
    ("*", "session"): _store_ids("session"),
    ("*", "draft"): _store_ids("draft"),
    ("*", "select"): _rule_codes,
    ("*", "ignore"): _rule_codes,
    ("diff", "old"): _package_dirs,
    ("diff", "new"): _package_dirs,
    ("package digest", "path"): _package_dirs,
    ("explain", "code"): _codes,
    ("new field", "target"): _new_field_target,
    ("new rule", "target"): _entity_fields,
}
