"""One error tree for the whole tool.

Core modules raise these; the CLI boundary maps them to exit codes. A `UserError` carries a message written
for people (with `file:line:col` or `loc: msg` already in it); anything else reaching the boundary is a bug.
"""

from __future__ import annotations

__all__ = [
    "CrmctlError",
    "EnvironmentFailure",
    "GitRefError",
    "InputError",
    "InternalError",
    "UsageError",
    "UserError",
]


class CrmctlError(Exception):
    """Root of every error crmctl raises on purpose."""

    exit_code = 3


class UserError(CrmctlError):
    """Bad input, configuration or usage: exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(UserError):
    """The command line itself is wrong."""


class InputError(UserError):
    """A file, package or configuration could not be read or understood."""


class GitRefError(UserError):
    """A git revision could not be resolved (never reported as a breaking change)."""


class InternalError(CrmctlError):
    """The environment or crmctl itself failed: exit code 3."""

    exit_code = 3


class EnvironmentFailure(CrmctlError):
    """The machine lacks something crmctl needs (e.g. git): exit code 3, with a message for people."""

    exit_code = 3
