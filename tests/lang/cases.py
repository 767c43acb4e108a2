"""Shared by the completion and hover golden tests: the reference packages, and the cursor-marked cases of
tests/fixtures/lang (see the header of completion_cases.yaml)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from crmctl.model.package import Package, load_package
from crmctl.model.source import parse_text

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "lang"
MARK = "‸"


@cache
def reference(name: str) -> Package:
    return load_package(ROOT / "packages" / name, f"packages/{name}")


def load_cases(name: str) -> list[dict[str, Any]]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    cases: list[dict[str, Any]] = parse_text(text, name).data
    return cases


def file_name(package: Package | None, rel: str) -> str:
    if package is None:
        return f"/somewhere/{rel}"
    return next(doc.file for doc in package.docs.values() if doc.file.endswith("/" + rel))


def buffer(case: dict[str, Any], package: Package | None) -> tuple[str, int, int]:
    """The case's buffer without its marker, and the 1-based line and column of the marker."""
    if "text" in case:
        marked = case["text"]
    else:
        assert package is not None
        original = next(doc.text for doc in package.docs.values() if doc.file.endswith("/" + case["file"]))
        if "at" in case:
            snippet = case["at"].replace(MARK, "")
            assert original.count(snippet) == 1, f"{case['name']}: snippet must occur once"
            marked = original.replace(snippet, case["at"])
        else:
            ((old, new),) = case["replace"].items()
            assert original.count(old) == 1, f"{case['name']}: snippet must occur once"
            marked = original.replace(old, new)
    assert marked.count(MARK) == 1, f"{case['name']}: exactly one {MARK}"
    index = marked.index(MARK)
    before = marked[:index]
    return marked.replace(MARK, ""), before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def check_golden(path: Path, actual: str) -> None:
    if os.environ.get("CRMCTL_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden result: regenerate with CRMCTL_UPDATE_GOLDEN=1 ({path})"
    assert actual == path.read_text(encoding="utf-8"), f"regenerate with CRMCTL_UPDATE_GOLDEN=1 ({path})"
