"""Quick fixes and ignore comments, over every failing case of the lint catalogue (tests/fixtures/lint): an offered
fix resolves its finding, an inserted ignore comment suppresses it, and neither leaves a new finding behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crmctl.lang.edits import apply_edits, group_by_file
from crmctl.lang.fixes import FIXERS, IGNORE_REASON, ignore_edit, quick_fix
from crmctl.lint import LintConfig, lint_package
from crmctl.model.diagnostics import Diagnostic
from crmctl.model.package import Package, load_package
from tests.lint.test_golden import FIXTURES, _cases, _write

FAIL_CASES = [p for p in _cases() if p.values[1] == "fail"]


def _lint(root: Path, select: tuple[str, ...] = ()) -> tuple[Package, list[Diagnostic]]:
    package = load_package(root, str(root))
    return package, lint_package(package, LintConfig(select=select))


def _apply(root: Path, edits: list[Any]) -> None:
    for file, file_edits in group_by_file(edits).items():
        path = Path(file)
        path.write_text(apply_edits(path.read_text(encoding="utf-8"), file_edits), encoding="utf-8")


def _key(d: Diagnostic) -> tuple[str, str]:
    return (d.code, d.message)


@pytest.mark.parametrize(("code", "kind", "case", "select"), FAIL_CASES)
def test_ignore_comment_suppresses_exactly_its_finding(
    tmp_path: Path, code: str, kind: str, case: dict[str, Any], select: list[str]
) -> None:
    _write(tmp_path, case.get("files", {}))
    package, found = _lint(tmp_path, (code, *select, "PKG"))
    target = next(d for d in found if d.code == code)
    edit = ignore_edit(target, package)
    if edit is None:
        pytest.skip("no comment can go there (JSON, inside a multi-line scalar, or an ignore comment itself)")
    _apply(tmp_path, [edit])
    _, after = _lint(tmp_path, (code, *select, "PKG"))
    assert _key(target) not in {_key(d) for d in after if d.location.line == target.location.line + 1}
    assert not [d for d in after if d.code in ("PKG010", "PKG011")], after
    assert IGNORE_REASON in Path(target.location.file).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("code", "kind", "case", "select"), [p for p in FAIL_CASES if p.values[0] in FIXERS or p.values[0] == "PKG011"]
)
def test_quick_fix_resolves_its_finding(
    tmp_path: Path, code: str, kind: str, case: dict[str, Any], select: list[str]
) -> None:
    _write(tmp_path, case.get("files", {}))
    package, found = _lint(tmp_path, (code, *select))
    targets = [d for d in found if d.code == code]
    edits = quick_fix(targets[0], package)
    assert edits, f"{code}: the fix of {targets[0].location} was not offered"
    _apply(tmp_path, edits)
    _, after = _lint(tmp_path, (code, *select))
    assert len([d for d in after if d.code == code]) == len(targets) - 1
    assert {_key(d) for d in after} <= {_key(d) for d in found}


def test_every_fixer_has_a_failing_case() -> None:
    assert sorted(FIXERS) == sorted({p.values[0] for p in FAIL_CASES if p.values[0] in FIXERS})
    assert (FIXTURES / "SCH109.yml").is_file()


def test_unused_code_of_a_partly_used_ignore_is_removed_alone(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "schema.yaml": "entities:\n  Lead:\n    fields:\n"
            '      # crmctl: ignore[SCH106, SCH109] reason="kept for the import"\n'
            "      status: {type: enum, values: [open, won, open]}\n"
        },
    )
    package, found = _lint(tmp_path)
    (unused,) = [d for d in found if d.code == "PKG011"]
    edits = quick_fix(unused, package)
    assert edits is not None
    _apply(tmp_path, edits)
    assert "ignore[SCH106] reason" in (tmp_path / "schema.yaml").read_text()
    assert not [d for d in _lint(tmp_path)[1] if d.code == "PKG011"]


def test_block_list_entries_and_key_lines_are_removed_with_their_line(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "schema.yaml": "entities:\n  Lead:\n    fields:\n      status:\n        type: enum\n        values:\n"
            "          - open\n          - won\n          - open\n"
            "      total:\n        type: calculated\n        resultType: number\n        required: true\n"
            "        expression: '1'\n"
        },
    )
    package, found = _lint(tmp_path, ("SCH106", "SCH109"))
    edits = [e for d in found for e in quick_fix(d, package) or []]
    _apply(tmp_path, edits)
    text = (tmp_path / "schema.yaml").read_text()
    assert "- open\n          - won\n      total:" in text and "required" not in text
    assert not _lint(tmp_path, ("SCH106", "SCH109"))[1]


def test_no_fix_for_rules_that_need_a_decision(tmp_path: Path) -> None:
    _write(tmp_path, {})
    package, _ = _lint(tmp_path)
    diag = Diagnostic("SCH101", "x", package.docs["schema"].loc(("entities",)))
    assert quick_fix(diag, package) is None
    assert ignore_edit(Diagnostic("SCH101", "x", package.docs["schema"].loc(()).__class__("/nowhere")), package) is None
