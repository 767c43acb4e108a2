"""Inline `# crmctl: ignore[...] reason="..."` comments."""

from __future__ import annotations

from pathlib import Path

from crmctl.lint import lint_package
from crmctl.model.package import load_package
from tests.lint.conftest import BAD_RULES


def _lint(package: Path, rules: str) -> list[tuple[str, int]]:
    (package / "rules.yaml").write_text(rules)
    return sorted((d.code, d.location.line) for d in lint_package(load_package(package)))


def test_reasoned_ignore_on_the_line_suppresses(bad_package: Path) -> None:
    text = BAD_RULES.replace("amount > 10\n", 'amount > 10  # crmctl: ignore[RUL301] reason="legacy"\n')
    assert _lint(bad_package, text) == []


def test_reasoned_ignore_on_the_line_above_suppresses(bad_package: Path) -> None:
    text = BAD_RULES.replace("    when:", '    # crmctl: ignore[RUL3] reason="legacy"\n    when:')
    assert _lint(bad_package, text) == []


def test_ignore_two_lines_above_does_not_reach(bad_package: Path) -> None:
    text = BAD_RULES.replace("    capability:", '    # crmctl: ignore[RUL301] reason="legacy"\n    capability:')
    assert _lint(bad_package, text) == [("PKG011", 5), ("RUL301", 7)]


def test_ignore_without_reason_is_reported_and_does_not_suppress(bad_package: Path) -> None:
    text = BAD_RULES.replace("amount > 10\n", "amount > 10  # crmctl: ignore[RUL301]\n")
    assert _lint(bad_package, text) == [("PKG010", 6), ("RUL301", 6)]


def test_ignore_for_another_code_is_unused(bad_package: Path) -> None:
    text = BAD_RULES.replace("amount > 10\n", 'amount > 10  # crmctl: ignore[UI202] reason="x"\n')
    assert _lint(bad_package, text) == [("PKG011", 6), ("RUL301", 6)]


def test_ignore_of_a_deselected_rule_is_not_unused(bad_package: Path) -> None:
    from crmctl.lint import LintConfig

    text = BAD_RULES.replace("amount > 10\n", 'amount > 10  # crmctl: ignore[RUL301] reason="x"\n')
    (bad_package / "rules.yaml").write_text(text)
    package = load_package(bad_package)
    assert lint_package(package, LintConfig(ignore=("RUL301",))) == []
    assert lint_package(package, LintConfig(per_file_ignores={"rules.yaml": ("RUL301",)})) == []
