"""Semver proposal and the version check."""

from __future__ import annotations

import pytest

from crmctl.compat.change import Change
from crmctl.compat.kinds import kind
from crmctl.compat.semver import check_version, expected_version, propose_bump


def _changes(*ids: str) -> list[Change]:
    return [Change(kind(i), "x", "m") for i in ids]


@pytest.mark.parametrize(
    ("ids", "old", "bump"),
    [
        ((), "1.0.0", "none"),
        (("field-description-changed",), "1.0.0", "patch"),
        (("field-description-changed", "field-added"), "1.0.0", "minor"),
        (("rule-added",), "1.0.0", "minor"),
        (("field-made-required",), "1.0.0", "minor"),
        (("field-removed", "field-added"), "1.4.2", "major"),
        (("field-removed",), "0.3.1", "minor"),
    ],
)
def test_propose_bump(ids: tuple[str, ...], old: str, bump: str) -> None:
    assert propose_bump(_changes(*ids), old) == bump


def test_expected_version() -> None:
    assert expected_version("1.2.3", "major") == "2.0.0"
    assert expected_version("1.2.3", "minor") == "1.3.0"
    assert expected_version("1.2.3", "patch") == "1.2.4"
    assert expected_version("1.2.3", "none") == "1.2.3"


def test_check_version_messages() -> None:
    too_small = check_version("1.0.0", "1.1.0", "major", breaking=True)
    assert not too_small.ok
    assert too_small.message == "version 1.1.0 is too small for a breaking change; expected 2.0.0"
    assert check_version("1.0.0", "2.0.0", "major", breaking=True).ok
    assert not check_version("1.0.0", "1.0.0", "minor", breaking=False).ok
    assert "not bumped" in check_version("1.0.0", "1.0.0", "minor", breaking=False).message
    assert check_version("1.0.0", "1.0.0", "none", breaking=False).ok
    assert not check_version("1.0.0", "0.9.0", "none", breaking=False).ok
