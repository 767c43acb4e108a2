"""docs/registry.md's table of problem codes is the set of codes the registry reports, no more, no less."""

from __future__ import annotations

import re
from pathlib import Path


def test_every_problem_code_is_documented_and_every_documented_code_exists(repo_root: Path) -> None:
    source = "".join(path.read_text(encoding="utf-8") for path in (repo_root / "src" / "crmctl").rglob("*.py"))
    used = set(re.findall(r'"(REG[0-9]{3})"', source))
    documented = set(re.findall(r"^\| (REG[0-9]{3}) \|", (repo_root / "docs" / "registry.md").read_text(), re.M))
    assert used == documented
