"""The rule catalogue documents itself: every rule has every field, and docs/lint-rules.md is current."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import crmctl.lint
import crmctl.lint.rules
from crmctl.lint import all_rules, render_catalogue_markdown
from crmctl.lint.base import FAMILIES, LintRule, family
from crmctl.lint.docs import REGENERATE, rule_module
from tests.conftest import REPO

DOC_FIELDS = ("code", "name", "summary", "why", "bad", "good", "fix")


@pytest.mark.parametrize("code", list(all_rules()))
def test_rule_is_fully_documented(code: str) -> None:
    rule = all_rules()[code]
    for attr in DOC_FIELDS:
        value = getattr(rule, attr, "")
        assert isinstance(value, str) and value.strip(), f"{code} lacks {attr}"
    assert rule.code == code
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
    assert "\n" not in rule.summary
    assert re.fullmatch(r"(PKG|SCH|UI|RUL|VAL|WF|EVT|L10N)\d{3}", code)


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in all_rules().values()]
    assert len(names) == len(set(names))


def test_committed_catalogue_is_current() -> None:
    committed = (REPO / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    assert committed == render_catalogue_markdown(), f"docs/lint-rules.md is stale; regenerate with: {REGENERATE}"


def test_the_catalogue_names_the_file_that_defines_each_rule() -> None:
    # Someone looking for WF514 reads its row and opens that file: the class is there, by its code.
    import inspect
    from pathlib import Path

    committed = (REPO / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    rows = dict(
        re.findall(r"^\| \[([A-Z0-9]+)\]\(#[a-z0-9]+\) \| [^|]+ \| [^|]+ \| `([a-z_0-9]+)` \|", committed, re.M)
    )
    assert set(rows) == set(all_rules())
    for code, rule in all_rules().items():
        source = Path(inspect.getfile(rule))
        assert source.name == f"{rows[code]}.py", code
        assert re.search(rf"^class {code}\b", source.read_text(encoding="utf-8"), re.M), code


def test_every_rule_is_defined_in_the_module_named_for_its_code_prefix() -> None:
    # WF514 lives in rules/wf.py and EVT551 in rules/evt.py: the file name says where a code is.
    for code, rule in all_rules().items():
        prefix = family(code)
        assert prefix is not None, code
        assert rule_module(rule) == prefix.lower(), (
            f"{code} is defined in {rule.__module__}, not rules/{prefix.lower()}.py"
        )


def test_the_rules_package_has_one_module_per_family_and_registers_every_rule_in_it() -> None:
    modules = {info.name for info in pkgutil.iter_modules(crmctl.lint.rules.__path__)}
    assert modules == {prefix.lower() for prefix in FAMILIES}
    for name in sorted(modules):
        module = importlib.import_module(f"crmctl.lint.rules.{name}")
        defined = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, LintRule) and obj.__module__ == module.__name__
        ]
        # A rule class written into a module but left out of its RULES would silently never run.
        in_code_order = sorted(defined, key=lambda rule: rule.code)
        assert in_code_order == module.RULES, name
        assert all(all_rules()[rule.code] is rule for rule in defined), name


def test_modules_outside_the_rules_package_define_no_rule_code() -> None:
    # Shared machinery (cel_checks, structure, walk, regex_safety) gives bases and helpers, never a rule.
    names = [info.name for info in pkgutil.iter_modules(crmctl.lint.__path__) if info.name != "rules"]
    assert {"cel_checks", "structure", "walk", "regex_safety"} <= set(names)
    for name in names:
        module = importlib.import_module(f"crmctl.lint.{name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, LintRule) and obj.__module__ == module.__name__:
                assert "code" not in vars(obj), f"{obj.__name__} defines a rule code in crmctl.lint.{name}"


def test_family_reads_the_prefix_of_a_code() -> None:
    assert [family(code) for code in ("WF514", "L10N601", "PKG002", "UI200", "XYZ100", "WF", "wf514")] == [
        "WF",
        "L10N",
        "PKG",
        "UI",
        None,
        None,
        None,
    ]
