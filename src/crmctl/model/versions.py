"""Semantic versions (semver 2.0.0): the pattern and the precedence, shared by the package format, the registry,
compat and the runtime. Imports nothing heavy: `crmctl resolve` reads it on its fast path."""

from __future__ import annotations

import re

__all__ = ["MAX_VERSION_LENGTH", "SEMVER", "is_version", "version_core", "version_key"]

SEMVER = (  # [0-9], not \d: Python's and Rust's \d also match other scripts' digits (1\u0660.0.0 is not 10.0.0)
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# Semver sets no limit; crmctl does (as npm does, at 256): a version becomes a directory name and a git tag, and
# its numbers become Python ints, which refuse more than 4,300 digits.
MAX_VERSION_LENGTH = 128
_VERSION = re.compile(SEMVER)


def is_version(text: str) -> bool:
    """A semver 2.0.0 version of at most MAX_VERSION_LENGTH characters (the whole text: no trailing newline)."""
    return len(text) <= MAX_VERSION_LENGTH and _VERSION.fullmatch(text) is not None


def version_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """Semver precedence: build metadata ignored, a pre-release sorts before its release (non-versions first)."""
    match = _VERSION.fullmatch(version) if len(version) <= MAX_VERSION_LENGTH else None
    if match is None:
        return (0, 0, 0, 0, ())
    major, minor, patch = int(match.group(1)), int(match.group(2)), int(match.group(3))
    pre = match.group(4)
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)


def version_core(version: str) -> tuple[int, int, int]:
    """MAJOR.MINOR.PATCH of a version, for bump arithmetic ((0, 0, 0) for a non-version, as in `version_key`)."""
    major, minor, patch = version_key(version)[:3]
    return (major, minor, patch)
