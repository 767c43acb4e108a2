"""Valid package names, versions, channels, scopes and identities, and semver precedence.

Everything that becomes a path or a git ref inside the registry is checked here first, so `../x`, spaces and
non-semver versions are refused before anything is read or written.
"""

from __future__ import annotations

import re

from crmctl.errors import UsageError
from crmctl.model.versions import SEMVER, version_key

__all__ = [
    "check_channel",
    "check_identity",
    "check_name",
    "check_scope",
    "check_version",
    "parse_name_version",
    "version_key",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_VERSION = re.compile(SEMVER)
_CHANNEL = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_SCOPE = re.compile(r"^(global|tenant:[a-z0-9][a-z0-9-]{0,62}|\*)$")
_IDENTITY = re.compile(r"^[A-Za-z0-9._%+@-]{1,128}$")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"{name!r} is not a valid package name",
                         hint="a letter, then letters, digits, '_' or '-' (at most 64)")  # fmt: skip
    return name


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise UsageError(f"{version!r} is not a semantic version", hint="e.g. 1.2.0 or 2.0.0-rc.1 (semver 2.0.0)")
    return version


def check_channel(channel: str) -> str:
    if not _CHANNEL.match(channel):
        raise UsageError(f"{channel!r} is not a valid channel name",
                         hint="lower-case letters, digits and '-', starting with a letter, e.g. prod")  # fmt: skip
    return channel


def check_scope(scope: str) -> str:
    if not _SCOPE.match(scope):
        raise UsageError(f"{scope!r} is not a valid scope", hint="global, tenant:<id> or *")
    return scope


def check_identity(identity: str) -> str:
    if not _IDENTITY.match(identity):
        raise UsageError(f"{identity!r} is not a valid signer identity",
                         hint="e-mail-like, without spaces, quotes or commas, e.g. alice@example.com")  # fmt: skip
    return identity


def parse_name_version(spec: str) -> tuple[str, str | None]:
    """`NAME` or `NAME@VERSION` (VERSION may also be a channel where the caller allows it)."""
    name, sep, version = spec.partition("@")
    check_name(name)
    if sep and not version:
        raise UsageError(f"{spec!r}: nothing after '@'", hint="write NAME@VERSION, e.g. LeadLifecycle@1.0.0")
    return name, (version if sep else None)


