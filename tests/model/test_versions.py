"""One semver precedence for the format, the registry, compat and the runtime's exports."""

from __future__ import annotations

import re

from crmctl.model.artifacts import SEMVER as FORMAT_SEMVER
from crmctl.model.versions import MAX_VERSION_LENGTH, SEMVER, is_version, version_key
from crmctl.registry.names import version_key as registry_key


def test_precedence() -> None:
    ordered = [
        "0.9.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
        "2.0.0",
    ]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("1.0.0+build.7") == version_key("1.0.0")
    assert registry_key is version_key and FORMAT_SEMVER is SEMVER
    assert re.match(SEMVER, "1.0") is None


def test_a_version_is_the_whole_text_in_ascii_digits_and_bounded() -> None:
    """`$` also matched before a final newline, `\\d` matched every script's digits (`1\\u0660.0.0` sorted as 10.0.0),
    and a pre-release of 5,000 digits made `int()` raise inside the precedence."""
    assert is_version("1.2.3-rc.1+build.5")
    for text in ("1.0.0\n", "1\u0660.0.0", "1.0.0-\u0661", "1.0.0-" + "9" * 5000, "1.0.0-" + "a" * MAX_VERSION_LENGTH):
        assert not is_version(text), text
        assert version_key(text) == (0, 0, 0, 0, ())
    assert is_version("1.0.0-" + "a" * (MAX_VERSION_LENGTH - 6))
