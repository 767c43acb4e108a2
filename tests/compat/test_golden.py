"""Golden cases: tests/fixtures/compat/<case>/{old,new,expected.json}, one parametrised test (sqlfluff style).

`expected.json` lists every change, the package's and the records API's (`api-*` kinds), by kind, class and path;
an entry may also pin the message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.compat import diff_packages
from crmctl.model.package import load_package

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "compat"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "expected.json").is_file())


def test_enough_golden_cases() -> None:
    assert len(CASE_NAMES) >= 25


@pytest.mark.parametrize("case", CASE_NAMES)
def test_golden_case(case: str) -> None:
    root = CASES / case
    old = load_package(root / "old", "old")
    new = load_package(root / "new", "new")
    result = diff_packages(old, new)
    entries = json.loads((root / "expected.json").read_text())
    got = sorted((c.kind.id, c.cls.value, c.path) for c in result.reported)
    assert got == sorted((e["kind"], e["class"], e["path"]) for e in entries)
    messages = {(c.kind.id, c.path): c.message for c in result.reported}
    for entry in (e for e in entries if "message" in e):
        assert messages[entry["kind"], entry["path"]] == entry["message"]
    assert all(c.kind.section == "api" for c in result.api)
    assert all(c.kind.section == "package" for c in result.changes)
    for change in result.reported:
        assert change.location is not None, change
        assert change.location.file.startswith(("old/", "new/")), change
        if change.kind.id.endswith("-removed") and change.new is None:
            assert change.old is not None


def test_every_change_kind_has_a_golden_case() -> None:
    from crmctl.compat.kinds import KINDS

    seen = {e["kind"] for name in CASE_NAMES for e in json.loads((CASES / name / "expected.json").read_text())}
    assert [k.id for k in KINDS if k.id not in seen] == []
