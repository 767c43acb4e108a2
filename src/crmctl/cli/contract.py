"""The machine-readable contract: one JSON envelope for every command, described by one JSON Schema per command.

`crmctl COMMAND --format json` prints exactly one JSON document on stdout, whatever happens:

    {
      "$schema": "https://crmctl.dev/schemas/cli/v1/records-list.schema.json",
      "command": "records list",
      "status": "ok",            # ok | failed | error | internal-error | interrupted
      "exitCode": 0,             # 0 ok, 1 failed (findings, a refusal, a check that says no), 2 error, 3 internal
      "result": {...},           # the command's answer (null when it could not give one)
      "problems": [...]          # what went wrong or deserves attention while running it
    }

`result` is described by the command's own schema (`schemas/commands/<command with dashes>.json`, shipped in the
package and written by `crmctl schema export`); a change that would break a reader moves that command to a new
`$schema` version. Naming, everywhere in the contract: keys are lowerCamelCase, enumerated values kebab-case,
instants RFC 3339 in UTC (`2026-01-01T00:00:00Z`); keys that are data (field names, ids) are kept as they are.

Commands call `emit(result, exit_code=...)` (once) in JSON mode and `warn(...)` for a note that is a problem in
JSON and a line on stderr in text. The envelope is printed when the command line ends, so an error that escapes
the command after `emit` replaces it: stdout never holds two documents. Errors never reach a command's JSON:
the boundary (`crmctl.cli.boundary`) turns them into an envelope with `result: null` through `error_envelope`.
With `CRMCTL_CONTRACT_CHECK=1` (the test suite sets it) every envelope is validated against its schema before it
is printed, and a mismatch is a bug.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA_BASE_URL",
    "Invocation",
    "Problem",
    "command_schema",
    "command_slug",
    "contract_commands",
    "emit",
    "envelope",
    "error_envelope",
    "flush_emitted",
    "invocation",
    "invoked",
    "json_requested",
    "problem_from_message",
    "schema_url",
    "status_of",
    "warn",
    "write_command_schemas",
]

SCHEMA_BASE_URL = "https://crmctl.dev/schemas/cli/v1/"

_STATUS = {0: "ok", 1: "failed", 2: "error", 3: "internal-error", 130: "interrupted"}


def status_of(exit_code: int) -> str:
    """The envelope's `status` for an exit code (crmctl's codes; anything else is an internal error)."""
    return _STATUS.get(exit_code, "internal-error")


@dataclass(frozen=True)
class Problem:
    """Something that went wrong or deserves attention while running a command: an error that stopped it, or a
    warning it printed on stderr in text mode. `code` is kebab-case (`input-error`) or a rule code (`RUL301`)."""

    code: str
    message: str
    severity: str = "error"
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


# `path/to/file.yaml:12:5: message`: the located form of crmctl's error messages.
_LOCATED = re.compile(r"(?P<file>[^\n]+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)", re.DOTALL)


def problem_from_message(code: str, message: str, *, severity: str = "error", hint: str | None = None) -> Problem:
    """A problem from one of crmctl's messages, its `file:line:col: ` prefix (when it has one) split out."""
    match = _LOCATED.fullmatch(message)
    if match is None:
        return Problem(code, message, severity, hint)
    return Problem(
        code,
        match["message"],
        severity,
        hint,
        file=match["file"],
        line=int(match["line"]),
        column=int(match["column"]),
    )


@dataclass(frozen=True)
class Invocation:
    """What the command line asked for, known before any command runs (the boundary needs it for errors)."""

    command: str  # "registry signer add"; "" when the command line names no command
    json: bool
    problems: list[Problem]
    # the envelope `emit` made, printed when the command line ends (`flush_emitted`): an error that escapes the
    # command after it (a store that fails to close) replaces it, so stdout never holds two documents
    emitted: list[dict[str, Any]] = field(default_factory=list)
    # the envelope once printed: a command that prints it early (`crmctl serve`, once listening) may still fail
    # after it, and that ending is said on stderr only, never as a second document
    printed: list[dict[str, Any]] = field(default_factory=list)


_INVOCATION: ContextVar[Invocation | None] = ContextVar("crmctl_invocation", default=None)


def invocation() -> Invocation | None:
    return _INVOCATION.get()


@contextmanager
def invoked(command: str, *, json_mode: bool) -> Iterator[Invocation]:
    """Run one command line as `command` (its path below `crmctl`), in JSON mode or not."""
    current = Invocation(command, json_mode, [])
    token = _INVOCATION.set(current)
    try:
        yield current
        flush_emitted()
    finally:
        _INVOCATION.reset(token)


def flush_emitted() -> None:
    """Print the envelope the running command emitted, if an error has not replaced it (the boundary calls this
    when the command ends)."""
    current = _INVOCATION.get()
    if current is not None and current.emitted:
        from crmctl.cli.console import out

        document = current.emitted.pop()
        out(render(document))
        current.printed.append(document)


def json_requested(argv: Sequence[str]) -> bool:
    """Whether the command line asks for JSON output: `--format json`, `--format=json`, `-f json`, `-fjson`.
    The last `--format` given wins, as it does for the command (`-f json -f text` is text)."""
    wanted = False
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            break
        if token == "--format":
            wanted = next(tokens, None) == "json"
        elif token.startswith("--format="):
            wanted = token == "--format=json"
        elif (short := _SHORT_FORMAT.fullmatch(token)) is not None:
            value = short["value"] if short["value"] else next(tokens, None)
            wanted = value in ("json", "=json")
    return wanted


# `-f`, with the flags every command has grouped before it as click allows (`-qf json`, `-vfjson`) and its value
# attached or not
_SHORT_FORMAT = re.compile(r"-[qv]*f(?P<value>.*)", re.DOTALL)


def command_slug(command: str) -> str:
    """`registry signer add` -> `registry-signer-add`: the command's schema file and `$id` (`envelope` for a
    command line that names no command)."""
    return command.replace(" ", "-") or "envelope"


def schema_url(command: str) -> str:
    """The `$schema` of `command`'s envelope: its own schema's URL, the bare envelope's for a command line that
    names a group (`crmctl registry -f json`) or no command, which have no result schema of their own."""
    slug = command_slug(command)
    return f"{SCHEMA_BASE_URL}{slug if _result_schema(slug) is not None else 'envelope'}.schema.json"


def warn(message: str, *, code: str = "warning", hint: str | None = None) -> None:
    """A warning for the reader: a problem of the envelope in JSON mode, `crmctl: warning: ...` on stderr else."""
    current = _INVOCATION.get()
    if current is not None and current.json:
        current.problems.append(problem_from_message(code, message, severity="warning", hint=hint))
        return
    from crmctl.cli.console import err

    err(f"crmctl: warning: {message}")
    if hint:
        err(f"  hint: {hint}")


def envelope(command: str, result: Any, *, exit_code: int = 0, problems: Iterable[Problem] = ()) -> dict[str, Any]:
    """The document `--format json` prints for `command`."""
    return {
        "$schema": schema_url(command),
        "command": command,
        "status": status_of(exit_code),
        "exitCode": exit_code,
        "result": result,
        "problems": [problem.to_json() for problem in problems],
    }


def emit(result: Any, *, exit_code: int = 0, problems: Iterable[Problem] = (), command: str | None = None) -> int:
    """Print the envelope of the running command with `result`; returns `exit_code` (`return emit(...)`).
    Warnings recorded with `warn` come first among the problems."""
    from crmctl.cli.console import out

    current = _INVOCATION.get()
    name = command if command is not None else _running_command()
    recorded = current.problems if current is not None else []
    document = envelope(name, result, exit_code=exit_code, problems=[*recorded, *problems])
    _check(document)
    if current is None:
        out(render(document))
    elif current.emitted:
        from crmctl.errors import InternalError

        raise InternalError(f"`crmctl {name}` emitted two envelopes")
    else:
        current.emitted.append(document)
    return exit_code


# Lone surrogates: the bytes of a command line or file name that are not UTF-8 (Python's surrogateescape).
_SURROGATE = re.compile("[\ud800-\udfff]")


def render(document: dict[str, Any]) -> str:
    """The envelope as JSON text, valid UTF-8 whatever it quotes: a lone surrogate (a file name's byte that is not
    UTF-8) is written as its `\\udcXX` escape (it can stand only inside a string), which reads back exactly,
    instead of going out as the raw byte that makes the whole document unreadable."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def error_envelope(command: str, code: str, message: str, *, exit_code: int, hint: str | None = None) -> str:
    """The envelope of a command that ended in an error (printed by the boundary): `result` is null."""
    current = _INVOCATION.get()
    recorded = current.problems if current is not None else []
    if current is not None:
        current.emitted.clear()  # the error ends the command: what it emitted before is not its answer
    error = problem_from_message(code, message, hint=hint)
    document = envelope(command, None, exit_code=exit_code, problems=[*recorded, error])
    _check(document)
    return render(document)


def _running_command() -> str:
    """The path of the command being run (`registry signer add`), from click's context, else the invocation."""
    import importlib

    import typer

    # the click typer runs on (typer 0.2x ships its own copy): its context stack is the one the command runs in
    click_package = next(c for c in typer.Context.__mro__ if c.__name__ == "Context" and c is not typer.Context)
    click_globals = importlib.import_module(click_package.__module__.rpartition(".")[0] + ".globals")
    context = click_globals.get_current_context(silent=True)
    if context is not None:
        names = []
        while context.parent is not None:  # the root's own name is whatever the caller called the program
            names.append(context.info_name or "")
            context = context.parent
        return " ".join(reversed(names))
    current = _INVOCATION.get()
    return current.command if current is not None else ""


# --- schemas -------------------------------------------------------------------------------------------------------


def contract_commands() -> list[str]:
    """Every command the contract describes (`registry signer add`, ...), from the shipped schema files."""
    folder = resources.files("crmctl.cli").joinpath("schemas", "commands")
    return sorted(_command_of(entry.name) for entry in folder.iterdir() if entry.name.endswith(".json"))


@cache
def _command_names() -> dict[str, str]:
    """slug -> command path, from the `title` of each shipped result schema."""
    folder = resources.files("crmctl.cli").joinpath("schemas", "commands")
    names = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            names[entry.name.removesuffix(".json")] = json.loads(entry.read_text("utf-8"))["title"]
    return names


def _command_of(file_name: str) -> str:
    return _command_names()[file_name.removesuffix(".json")]


@cache
def _envelope_schema() -> dict[str, Any]:
    text = resources.files("crmctl.cli").joinpath("schemas", "envelope.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _result_schema(slug: str) -> dict[str, Any] | None:
    entry = resources.files("crmctl.cli").joinpath("schemas", "commands", f"{slug}.json")
    if not entry.is_file():
        return None
    loaded: dict[str, Any] = json.loads(entry.read_text("utf-8"))
    return loaded


def command_schema(command: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `crmctl COMMAND --format json`: the envelope with the command's result.
    A command without a result schema of its own (the empty command line) gets the bare envelope."""
    slug = command_slug(command)
    schema: dict[str, Any] = json.loads(json.dumps(_envelope_schema()))  # a deep copy: the cache stays untouched
    schema["$id"] = f"{SCHEMA_BASE_URL}{slug}.schema.json"
    result = _result_schema(slug)
    if result is None:
        return schema
    schema["title"] = f"crmctl {command} --format json"
    schema["description"] = result.get("description", schema.get("description", ""))
    properties = schema["properties"]
    properties["$schema"] = {"const": schema["$id"]}
    properties["command"] = {"const": command}
    body = {key: value for key, value in result.items() if key not in ("$defs", "title", "description")}
    properties["result"] = {"anyOf": [body, {"type": "null"}]}
    # a command that ran (ok, or failed with its answer) has a result; only an error leaves it null
    schema["if"] = {"properties": {"status": {"enum": ["ok", "failed"]}}}
    schema["then"] = {"properties": {"result": {"not": {"type": "null"}}}}
    schema["$defs"] = {**schema.get("$defs", {}), **result.get("$defs", {})}
    return schema


def write_command_schemas(directory: Path) -> list[Path]:
    """Write the schema of every command's JSON output into `directory` (`crmctl schema export`)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for command in ("", *contract_commands()):
        target = directory / f"{command_slug(command)}.schema.json"
        target.write_text(json.dumps(command_schema(command), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


@cache
def _validator(command: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(command_schema(command), format_checker=Draft202012Validator.FORMAT_CHECKER)


def validation_errors(document: dict[str, Any]) -> list[str]:
    """Where `document` departs from its command's schema (`result.items[0].id: ...`), empty when it conforms."""
    command = document.get("command")
    if not isinstance(command, str):
        return ["command: not a string"]
    if document.get("result") is not None and _result_schema(command_slug(command)) is None:
        return [f"no schema describes the result of command {command!r}"]
    errors = sorted(_validator(command).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(document)'}: {error.message}" for error in errors]


def _check(document: dict[str, Any]) -> None:
    """With CRMCTL_CONTRACT_CHECK=1: an envelope that does not match its schema is a bug, never printed."""
    if os.environ.get("CRMCTL_CONTRACT_CHECK") != "1":
        return
    errors = validation_errors(document)
    if errors:
        from crmctl.errors import InternalError

        raise InternalError(f"`crmctl {document.get('command')}` output breaks its schema: " + "; ".join(errors[:5]))
