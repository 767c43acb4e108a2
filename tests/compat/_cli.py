"""Invoking `crmctl` through typer's CliRunner the way the error boundary would: user errors exit 2."""

from __future__ import annotations

from dataclasses import dataclass

from typer.testing import CliRunner

from crmctl.cli.main import app
from crmctl.errors import UserError


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def invoke(*args: str) -> Outcome:
    result = CliRunner().invoke(app, list(args))
    err = result.stderr
    code = result.exit_code
    if isinstance(result.exception, UserError):
        code = result.exception.exit_code
        err += f"crmctl: error: {result.exception.message}\n"
        if result.exception.hint:
            err += f"  hint: {result.exception.hint}\n"
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(code, result.stdout, err)
