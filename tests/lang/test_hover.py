"""Hover: golden cases on the reference packages, rule codes in inline ignores, and a property test that it never
raises at any position of any reference file."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.lang.hover import explain_markdown, hover
from crmctl.lint.registry import all_rules
from crmctl.model.package import load_tree
from crmctl.model.tree import MemoryTree
from tests.lang.cases import FIXTURES, buffer, check_golden, file_name, load_cases, reference

CASES = load_cases("hover_cases.yaml")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hover_golden(case: dict[str, Any]) -> None:
    package = reference(case["package"])
    _, line, column = buffer(case, package)
    found = hover(package, file_name(package, case["file"]), line, column)
    if found is None:
        rendered = "no hover\n"
    else:
        span = found.span
        rendered = f"{span.line}:{span.column}-{span.end_line}:{span.end_column}\n{found.markdown}\n"
    check_golden(FIXTURES / "hover" / f"{case['name']}.md", rendered)


def test_explain_markdown_is_the_catalogue_entry() -> None:
    catalogue = (FIXTURES.parents[2] / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    for code in all_rules():
        markdown = explain_markdown(code.lower())
        assert markdown is not None
        assert markdown.replace("### ", "\n### ", 1) in catalogue
    assert explain_markdown("NOPE999") is None


def _package_with_ignore() -> Any:
    files = {
        "package.yaml": "name: P\nversion: 1.0.0\nscope: global\ndescription: d\nlocales: [en]\n",
        "schema.yaml": "entities:\n  A:\n    fields:\n      x: {type: text}"
        + '  # crmctl: ignore[SCH101, rul3] reason="ok"\n',
    }
    return load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "/ws/P"))


def test_hover_on_a_rule_code_in_an_inline_ignore() -> None:
    pkg = _package_with_ignore()
    line = pkg.docs["schema"].text.split("\n")[3]
    column = line.index("SCH101") + 3
    found = hover(pkg, "/ws/P/schema.yaml", 4, column)
    assert found is not None
    assert found.markdown == explain_markdown("SCH101")
    assert (found.span.column, found.span.end_column) == (line.index("SCH101") + 1, line.index("SCH101") + 7)
    unknown = hover(pkg, "/ws/P/schema.yaml", 4, line.index("rul3") + 2)
    assert unknown is not None and "not a crmctl rule code" in unknown.markdown


def test_hover_without_package_or_outside_artifacts() -> None:
    pkg = reference("LeadLifecycle/v2")
    assert hover(None, "x/schema.yaml", 1, 1) is None
    assert hover(pkg, "elsewhere/notes.yaml", 1, 1) is None


@pytest.mark.parametrize("package", ["LeadLifecycle/v1", "LeadLifecycle/v2", "ClaimsIntake"])
@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data())
def test_hover_never_raises(package: str, data: st.DataObject) -> None:
    pkg = reference(package)
    doc = data.draw(st.sampled_from(sorted(pkg.docs.values(), key=lambda d: d.file)))
    line = data.draw(st.integers(-1, doc.text.count("\n") + 3))
    column = data.draw(st.integers(-1, 130))
    found = hover(pkg, doc.file, line, column)
    if found is not None:
        assert found.markdown and found.span.end_line is not None


_SMALL = {
    "package.yaml": "name: P\nversion: 1.0.0\nscope: global\ndescription: d\nlocales: [en]\n",
    "schema.yaml": (
        "entities:\n"
        "  A:\n"
        "    fields:\n"
        "      x: {type: text, default: d, deprecated: true}\n"
        "      addr:\n"
        "        type: object\n"
        "        fields:\n"
        "          city: {type: text}\n"
        "  B:\n"
        "    fields:\n"
        "      z: {type: text}\n"
    ),
    "rules.yaml": (
        "rules:\n"
        "  - {id: bad, entity: A, scope: global, trigger: onLoad, capability: visibility, when: x == == 1}\n"
        "  - {id: nobody, scope: global, trigger: onLoad, capability: visibility, when: z != ''}\n"
        "  - {id: deep, entity: A, scope: global, trigger: onLoad, capability: visibility, when: addr.city != ''}\n"
    ),
}


def _small() -> Any:
    return load_tree(MemoryTree({k: v.encode() for k, v in _SMALL.items()}, "/ws/P"))


def _hover_at(pkg: Any, rel: str, needle: str, offset: int = 0) -> Any:
    doc = next(d for d in pkg.docs.values() if d.file.endswith(rel))
    index = doc.text.index(needle) + offset
    before = doc.text[:index]
    return hover(pkg, doc.file, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def test_hover_facets_of_a_field_nobody_uses() -> None:
    pkg = _small()
    found = _hover_at(pkg, "schema.yaml", "x: {", 0)
    assert found is not None
    assert "default `d`" in found.markdown and "deprecated" in found.markdown
    assert "Used by:\n- rule:bad" in found.markdown
    unused = _hover_at(pkg, "schema.yaml", "z: {", 0)  # rule `nobody` names no entity, so it reads no field
    assert unused is not None and "Used by no rule" in unused.markdown


def test_hover_on_invalid_and_unresolvable_expressions() -> None:
    pkg = _small()
    invalid = _hover_at(pkg, "rules.yaml", "== == 1", 1)
    assert invalid is not None and "Does not type-check" in invalid.markdown
    unknown = _hover_at(pkg, "rules.yaml", "!= ''}", 1)
    assert unknown is not None and "entity it reads is unknown" in unknown.markdown


def test_hover_on_a_member_of_an_object_field_in_an_expression() -> None:
    found = _hover_at(_small(), "rules.yaml", "city != ''", 1)
    assert found is not None and found.markdown.startswith("**A.addr.city**")
    assert (found.span.end_column - found.span.column) == len("city")
