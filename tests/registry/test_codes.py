"""The registry's problem codes: one catalogue (`crmctl.registry.codes`) that docs/registry.md's table states and
that holds every code the registry plane raises (`crmctl explain REG303` had no answer)."""

from __future__ import annotations

import re

from crmctl.registry.codes import REGISTRY_CODES
from crmctl.runtime.eventlog import CHAIN_CODES
from tests.conftest import REPO


def test_the_docs_table_is_the_catalogue() -> None:
    text = (REPO / "docs" / "registry.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (REG[0-9]{3}) \| (.+?) \|$", text, flags=re.MULTILINE))
    assert rows == REGISTRY_CODES


def test_every_code_raised_is_in_a_catalogue() -> None:
    for plane, prefix, catalogue in (("registry", "REG", REGISTRY_CODES), ("runtime", "LOG", CHAIN_CODES)):
        raised = set()
        for path in (REPO / "src" / "crmctl" / plane).rglob("*.py"):
            if path.name != "codes.py":
                raised |= set(re.findall(rf"\b{prefix}[0-9]{{3}}\b", path.read_text(encoding="utf-8")))
        assert raised and raised <= set(catalogue), raised - set(catalogue)
