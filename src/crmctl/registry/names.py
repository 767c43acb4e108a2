"""Valid package names, versions, channels, scopes and identities, and semver precedence.

Everything that becomes a path, a git ref or a line of `trust/allowed_signers` inside the registry is checked here
first, so `../x`, spaces, a trailing newline, non-semver versions and versions git cannot tag are refused before
anything is read or written. Every pattern must match the whole text (`fullmatch`: `$` would also match before a
final newline), and every kind of name has a length limit, checked before the pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from crmctl.errors import UsageError
from crmctl.model.tenants import TENANT_ID
from crmctl.model.versions import MAX_VERSION_LENGTH, is_version, version_key

__all__ = [
    "MAX_VERSION_LENGTH",
    "case_collision",
    "check_channel",
    "check_identity",
    "check_name",
    "check_scope",
    "check_version",
    "parse_name_version",
    "shown",
    "version_key",
]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_CHANNEL = re.compile(r"[a-z][a-z0-9-]{0,31}")
_SCOPE = re.compile(rf"global|tenant:{TENANT_ID}|\*")
_IDENTITY = re.compile(r"[A-Za-z0-9._%+@-]{1,128}")


def shown(text: str) -> str:
    """The text as a quoted literal, cut short: a refused name may be megabytes long."""
    return repr(text) if len(text) <= 80 else f"{text[:60]!r}... ({len(text)} characters)"


def check_name(name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise UsageError(
            f"{shown(name)} is not a valid package name", hint="a letter, then letters, digits, '_' or '-' (at most 64)"
        )
    return name


def check_version(version: str) -> str:
    if len(version) > MAX_VERSION_LENGTH:
        raise UsageError(
            f"{shown(version)} is too long for a version ({len(version)} characters)",
            hint=f"crmctl accepts versions of at most {MAX_VERSION_LENGTH} characters",
        )
    if not is_version(version):
        raise UsageError(f"{shown(version)} is not a semantic version", hint="e.g. 1.2.0 or 2.0.0-rc.1 (semver 2.0.0)")
    if version.endswith(".lock"):  # the one rule of `git check-ref-format` that a semver version can break
        raise UsageError(
            f"{version!r} cannot be published: a version becomes the tag NAME/v{version}, and git "
            "refuses a tag ending in '.lock'",
            hint="choose another last pre-release or build identifier",
        )
    return version


def check_channel(channel: str) -> str:
    if _CHANNEL.fullmatch(channel) is None:
        raise UsageError(
            f"{shown(channel)} is not a valid channel name",
            hint="lower-case letters, digits and '-', starting with a letter, at most 32, e.g. prod",
        )
    return channel


def check_scope(scope: str) -> str:
    if _SCOPE.fullmatch(scope) is None:
        raise UsageError(f"{shown(scope)} is not a valid scope", hint="global, tenant:<id> or *")
    return scope


def check_identity(identity: str) -> str:
    if _IDENTITY.fullmatch(identity) is None:
        raise UsageError(
            f"{shown(identity)} is not a valid signer identity",
            hint="e-mail-like, without spaces, quotes or commas, at most 128 characters, e.g. alice@example.com",
        )
    return identity


def case_collision(new: str, existing: Iterable[str]) -> str | None:
    """The member of `existing` that differs from `new` only by letter case, if any.

    Package names and versions become directories and git refs, and two of them that differ only by case are one
    file on the case-insensitive file systems of macOS and Windows; two identities that differ only by case are
    easily taken for one person. The registry refuses the second spelling.
    """
    folded = new.casefold()
    return next((old for old in sorted(existing) if old != new and old.casefold() == folded), None)


def parse_name_version(spec: str) -> tuple[str, str | None]:
    """`NAME` or `NAME@VERSION` (VERSION may also be a channel where the caller allows it)."""
    name, sep, version = spec.partition("@")
    check_name(name)
    if sep and not version:
        raise UsageError(f"{shown(spec)}: nothing after '@'", hint="write NAME@VERSION, e.g. LeadLifecycle@1.0.0")
    return name, (version if sep else None)
