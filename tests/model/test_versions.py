"""One semver precedence for the format, the registry, compat and the runtime's exports."""

from __future__ import annotations

import re

from crmctl.model.artifacts import SEMVER as FORMAT_SEMVER
from crmctl.model.versions import SEMVER, version_key
from crmctl.registry.names import version_key as registry_key


def test_precedence() -> None:
    ordered = ["0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]  # fmt: skip
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("1.0.0+build.7") == version_key("1.0.0")
    assert registry_key is version_key and FORMAT_SEMVER is SEMVER
    assert re.match(SEMVER, "1.0") is None
