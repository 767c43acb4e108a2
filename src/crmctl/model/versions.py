"""Semantic versions (semver 2.0.0): the pattern and the precedence, shared by the package format, the registry,
compat and the runtime. Imports nothing heavy: `crmctl resolve` reads it on its fast path."""

from __future__ import annotations

import re

__all__ = ["SEMVER", "version_key"]

SEMVER = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_VERSION = re.compile(SEMVER)


def version_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """Semver precedence: build metadata ignored, a pre-release sorts before its release."""
    match = _VERSION.match(version)
    if match is None:
        return (0, 0, 0, 0, ())
    major, minor, patch = int(match.group(1)), int(match.group(2)), int(match.group(3))
    pre = match.group(4)
    if pre is None:
        return (major, minor, patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (major, minor, patch, 0, parts)
