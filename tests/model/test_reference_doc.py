"""docs/package-format.md's key tables are generated from the shipped schemas and must not drift."""

from __future__ import annotations

from pathlib import Path

from crmctl.model.reference import splice


def test_package_format_key_tables_are_current(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "package-format.md").read_text(encoding="utf-8")
    assert splice(doc) == doc, "docs/package-format.md is stale; regenerate with: python -m crmctl.model.reference"
