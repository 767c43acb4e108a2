"""Golden cases: tests/fixtures/lint/<CODE>.yml, each a list of `fail` packages (with the expected
`file:line:col` of every finding of CODE) and `pass` packages (no finding of CODE), run by one test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from crmctl.lint import LintConfig, all_rules, lint_package
from crmctl.model.package import load_package

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lint"


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


BASE: dict[str, str] = _load(FIXTURES / "_base.yml")


def _cases() -> list[Any]:
    params = []
    for path in sorted(FIXTURES.glob("[A-Z]*.yml")):
        spec = _load(path)
        code = path.stem
        select = spec.get("select", [])
        for kind in ("fail", "pass"):
            params.extend(
                pytest.param(code, kind, case, select, id=f"{code}-{kind}-{case['name']}")
                for case in spec.get(kind, [])
            )
    return params


def _write(root: Path, files: dict[str, str | None]) -> None:
    merged = {**BASE, **files}
    for rel, text in merged.items():
        if text is None:
            continue
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("code", "kind", "case", "select"), _cases())
def test_golden(tmp_path: Path, code: str, kind: str, case: dict[str, Any], select: list[str]) -> None:
    _write(tmp_path, case.get("files", {}))
    package = load_package(tmp_path, "pkg")
    found = lint_package(package, LintConfig(select=(code, *select)))
    got = sorted(
        f"{d.location.file.removeprefix('pkg/')}:{d.location.line}:{d.location.column}" for d in found if d.code == code
    )
    if kind == "pass":
        assert got == [], [d.message for d in found if d.code == code]
    else:
        assert got == sorted(case["expect"]), [f"{d.location}: {d.message}" for d in found if d.code == code]


def test_every_semantic_rule_has_golden_cases() -> None:
    have = {p.stem for p in FIXTURES.glob("[A-Z]*.yml")}
    missing = [code for code, rule in all_rules().items() if not rule.structural and code not in have]
    assert missing == [], f"add tests/fixtures/lint/<CODE>.yml for {missing}"


def test_golden_files_have_fail_and_pass_cases() -> None:
    for path in FIXTURES.glob("[A-Z]*.yml"):
        spec = _load(path)
        assert spec.get("fail") and spec.get("pass"), path.name
