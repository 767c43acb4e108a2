"""Maps every way a command can end to an exit code and a message for people (and, in JSON mode, for tools).

Usage errors (exit 2) are click's, printed escaped by `main._dispatch`, and `--help` is typer's; everything else
that escapes a command lands here: `UserError` → its message and exit 2, other `CrmctlError` → 3, Ctrl-C → 130,
any other exception is a bug → 3 with a traceback so it can be reported. When the command line asked for
`--format json`, the same ending is also one JSON envelope on stdout (`crmctl.cli.contract`), so a tool reading
stdout always gets a document, and people still get the message on stderr.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from crmctl.cli.console import err, out, reader_may_leave
from crmctl.errors import CrmctlError, EnvironmentFailure, GitRefError, InputError, UsageError, UserError

__all__ = ["fail", "guarded"]


def guarded(call: Callable[[], Any]) -> int:
    with reader_may_leave():  # the messages below too: `crmctl ... 2>&1 | head -1` keeps the real exit status
        return _outcome(call)


def _ended(call: Callable[[], Any]) -> int:
    """Run the command; its exit code. A Ctrl-C stays one whatever a library made of it (`crmctl.interrupts`)."""
    from crmctl.interrupts import watched

    try:
        with watched():
            call()
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


def _outcome(call: Callable[[], Any]) -> int:
    from crmctl.cli.contract import flush_emitted

    try:
        code = _ended(call)
        flush_emitted()  # the envelope the command emitted (unless an error replaced it): a full disk is an ending too
        return code
    except UserError as exc:
        return fail(_user_error_code(exc), f"crmctl: error: {exc.message}", exc.exit_code, hint=exc.hint)
    except EnvironmentFailure as exc:
        return fail("environment-error", f"crmctl: environment error: {exc}", exc.exit_code)
    except CrmctlError as exc:
        return fail("internal-error", f"crmctl: internal error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", "crmctl: interrupted", 130)
    except BrokenPipeError:  # written past `console.reader_may_leave` (a library call's own stream)
        return 0
    except Exception as exc:
        if _machine_failure(exc):  # stdout on a full disk, a read-only or failing device: not crmctl's bug
            return fail("environment-error", f"crmctl: environment error: {exc}", 3)
        trace = traceback.format_exc()
        return fail(
            "internal-error",
            "crmctl: internal error (a bug in crmctl; please report it with this output):",
            3,
            detail=trace,
            summary=f"{type(exc).__name__}: {exc}",
        )


def _machine_failure(exc: BaseException) -> bool:
    """An OSError the machine caused (no space, quota, I/O error, file too large, read-only file system)."""
    import errno

    machine = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS}
    return isinstance(exc, OSError) and exc.errno in machine


def _user_error_code(exc: UserError) -> str:
    if isinstance(exc, UsageError):
        return "usage-error"
    if isinstance(exc, GitRefError):
        return "git-ref-error"
    if isinstance(exc, InputError):
        return "input-error"
    return "user-error"


def fail(
    code: str,
    message: str,
    exit_code: int,
    *,
    hint: str | None = None,
    detail: str | None = None,
    summary: str | None = None,
) -> int:
    """Report an ending: `message` (and `hint`, `detail`) on stderr; in JSON mode also the error envelope on stdout
    (with `summary` as its message when given, else `message` without the `crmctl: ...: ` prefix)."""
    from crmctl.cli import contract

    err(message)
    if hint:
        err(f"  hint: {hint}")
    if detail:
        err(detail)
    current = contract.invocation()
    if current is not None and current.json and not current.printed:
        text = summary if summary is not None else _without_prefix(message)
        try:
            out(contract.error_envelope(current.command, code, text, exit_code=exit_code, hint=hint))
        except CrmctlError as exc:  # the error envelope itself breaks the contract: a bug, said on stderr
            err(f"crmctl: internal error: {exc}")
            return 3
        except OSError as exc:  # stdout cannot take it (a full disk): people still read why on stderr
            err(f"crmctl: cannot write the JSON envelope: {exc}")
    return exit_code


def _without_prefix(message: str) -> str:
    for prefix in ("crmctl: error: ", "crmctl: environment error: ", "crmctl: internal error: ", "crmctl: "):
        if message.startswith(prefix):
            return message.removeprefix(prefix)
    return message
