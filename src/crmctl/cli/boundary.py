"""Maps every way a command can end to an exit code and a message for people.

Usage errors (exit 2) are click's, printed escaped by `main._dispatch`, and `--help` is typer's; everything else
that escapes a command lands here: `UserError` → its message and exit 2, other `CrmctlError` → 3, Ctrl-C → 130,
any other exception is a bug → 3 with a traceback so it can be reported.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from crmctl.cli.console import err, reader_may_leave
from crmctl.errors import CrmctlError, EnvironmentFailure, UserError

__all__ = ["guarded"]


def guarded(call: Callable[[], Any]) -> int:
    with reader_may_leave():  # the messages below too: `crmctl ... 2>&1 | head -1` keeps the real exit status
        return _outcome(call)


def _outcome(call: Callable[[], Any]) -> int:
    try:
        call()
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except UserError as exc:
        err(f"crmctl: error: {exc.message}")
        if exc.hint:
            err(f"  hint: {exc.hint}")
        return exc.exit_code
    except EnvironmentFailure as exc:
        err(f"crmctl: environment error: {exc}")
        return exc.exit_code
    except CrmctlError as exc:
        err(f"crmctl: internal error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        err("crmctl: interrupted")
        return 130
    except BrokenPipeError:  # written past `console.reader_may_leave` (a library call's own stream)
        return 0
    except Exception:
        err("crmctl: internal error (a bug in crmctl; please report it with this output):")
        err(traceback.format_exc())
        return 3
    return 0
