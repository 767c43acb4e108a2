"""Run one crmctl command in process, as `crmctl COMMAND --format json ARGS` would from a shell, and return its
envelope.

What the command prints goes into a `console.captured` sink, never the process's stdout (which belongs to the
protocol). Commands are not re-entrant (the boundary swaps the process's streams, the contract keeps the running
invocation), so one runs at a time. The envelope is checked against the command's schema: a command whose output
does not match (a bug) yields an internal-error envelope instead, so a tool never answers outside its schema.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Entry", "Outcome", "error_outcome", "redacted", "run_json"]

# The CLI's entry point, `crmctl.cli.main.run` (argv in, exit code out), handed in by the `mcp` command: this
# package sits under the command tree and does not import it back.
Entry = Callable[[list[str]], int]

_LOCK = threading.Lock()
_T = TypeVar("_T")


@dataclass(frozen=True)
class Outcome:
    """How a command ended: its exit code, its envelope, and what it said on stderr (for people; the envelope's
    problems carry the same for tools)."""

    exit_code: int
    envelope: dict[str, Any]
    messages: str = ""


def run_json(entry: Entry, command: str, args: list[str]) -> Outcome:
    """Run `crmctl COMMAND --format json ARGS` through `entry` in this process (one command at a time)."""
    from crmctl.cli.console import captured

    argv = [*command.split(), "--format", "json", *args]
    with _LOCK, captured() as sink:
        code = entry(argv)
    document = _one_document(sink.text)
    if document is None:
        return error_outcome(command, "internal-error", f"`crmctl {command}` printed no JSON envelope", 3)
    from crmctl.cli.contract import validation_errors

    errors = validation_errors(document) if document.get("command") == command else ["command: not this command"]
    if errors:
        message = f"`crmctl {command}` output breaks its schema: " + "; ".join(errors[:3])
        return error_outcome(command, "internal-error", message, 3, messages=redacted(sink.messages))
    return Outcome(code, redacted(document), redacted(sink.messages))


# A PEM or OpenSSH private key, whole or cut short, on several lines or folded into one (as a YAML plain scalar
# quoted in an error message is): from its BEGIN line through its END line or the end of its base64.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
    r"(?:[A-Za-z0-9+/=\s:,.\\-]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)"
)
_REDACTED = "[private key redacted]"


def redacted(value: _T) -> _T:
    """`value` (an envelope, a message) with every private key in its strings replaced by a marker: whatever file
    an agent points a tool at (a package file symlinked to ~/.ssh/id_ed25519), no tool answer carries a key."""
    if isinstance(value, str):
        return _PRIVATE_KEY.sub(_REDACTED, value) if "PRIVATE KEY-----" in value else value  # type: ignore[return-value]
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [redacted(item) for item in value]  # type: ignore[return-value]
    return value


def error_outcome(
    command: str, code: str, message: str, exit_code: int, *, hint: str | None = None, messages: str = ""
) -> Outcome:
    """The outcome of a command that could not run or answer: an envelope with `result: null` and one problem."""
    from crmctl.cli.contract import envelope, problem_from_message

    problem = problem_from_message(code, message, hint=hint)
    document = envelope(command, None, exit_code=exit_code, problems=[problem])
    return Outcome(exit_code, document, messages or message)


def _one_document(text: str) -> dict[str, Any] | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
