"""Semver proposal from classified changes, and whether the new manifest's version already satisfies it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crmctl.compat.change import Change
from crmctl.compat.kinds import ChangeClass
from crmctl.model.versions import version_core

__all__ = ["BUMPS", "VersionVerdict", "check_version", "expected_version", "propose_bump"]

BUMPS = ("none", "patch", "minor", "major")


def propose_bump(changes: Iterable[Change], old_version: str) -> str:
    """`major` for breaking (`minor` while the old version is 0.x), `minor` for any other non-cosmetic change,
    `patch` when only text for people changed, `none` when nothing changed."""
    bump = "none"
    for change in changes:
        if change.cls is ChangeClass.BREAKING:
            return "minor" if version_core(old_version)[0] == 0 else "major"
        level = change.kind.bump
        if BUMPS.index(level) > BUMPS.index(bump):
            bump = level
    return bump


def expected_version(old_version: str, bump: str) -> str:
    major, minor, patch = version_core(old_version)
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    if bump == "patch":
        return f"{major}.{minor}.{patch + 1}"
    return old_version


@dataclass(frozen=True)
class VersionVerdict:
    ok: bool
    expected: str
    message: str


def check_version(old_version: str, new_version: str, bump: str, *, breaking: bool) -> VersionVerdict:
    """Whether `new_version` carries `bump`, judged on MAJOR.MINOR.PATCH (2.0.0-rc.1 is fine for a breaking change
    from 1.x: a pre-release of the expected version)."""
    expected = expected_version(old_version, bump)
    what = "a breaking change" if breaking else f"a {bump} change"
    if bump == "none":
        ok = version_core(new_version) >= version_core(old_version)
        message = (
            f"version {new_version} is fine: nothing changed"
            if ok
            else f"version {new_version} is lower than {old_version}"
        )
        return VersionVerdict(ok, old_version, message)
    if version_core(new_version) >= version_core(expected):
        return VersionVerdict(True, expected, f"version {new_version} satisfies {what} (at least {expected})")
    if new_version == old_version:
        return VersionVerdict(False, expected, f"version {new_version} was not bumped; expected {expected} for {what}")
    return VersionVerdict(False, expected, f"version {new_version} is too small for {what}; expected {expected}")
