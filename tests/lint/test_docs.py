"""The rule catalogue documents itself: every rule has every field, and docs/lint-rules.md is current."""

from __future__ import annotations

import re

import pytest

from crmctl.lint import all_rules, render_catalogue_markdown
from crmctl.lint.docs import REGENERATE
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
