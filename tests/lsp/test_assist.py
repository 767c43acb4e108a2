"""Completion and hover end to end over stdio: golden results on the reference packages and on buffers that do not
parse, a finding's explanation on hover (lint and compatibility codes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from crmctl.compat.kinds import explain_change
from crmctl.lang.hover import explain_markdown
from tests.lsp.conftest import (
    check_golden,
    codes,
    copy_package,
    open_doc,
    replace_text,
    server_fixture,
    wait_for,
)
from tests.lsp.test_compatibility import PHONE, _repo

client = server_fixture()
pytestmark = pytest.mark.asyncio(loop_scope="module")

CEL = "    when: company != ''\n"


def position(text: str, needle: str, after: int | None = None) -> lsp.Position:
    """The position `after` characters into the first occurrence of `needle` (its end by default)."""
    offset = text.index(needle) + (len(needle) if after is None else after)
    line = text.count("\n", 0, offset)
    return lsp.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


def span(r: lsp.Range) -> list[int]:
    return [r.start.line, r.start.character, r.end.line, r.end.character]


def item_data(item: lsp.CompletionItem) -> dict[str, object]:
    edit = item.text_edit
    assert isinstance(edit, lsp.TextEdit), item
    doc = item.documentation
    return {
        "label": item.label,
        "kind": lsp.CompletionItemKind(item.kind).name if item.kind else None,
        "detail": item.detail,
        "edit": [*span(edit.range), edit.new_text],
        "doc": doc.value.splitlines()[0] if isinstance(doc, lsp.MarkupContent) and doc.value else None,
    }


async def complete(client: LanguageClient, uri: str, at: lsp.Position) -> list[lsp.CompletionItem]:
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at)
    )
    assert isinstance(result, lsp.CompletionList)
    return list(result.items)


async def hover(client: LanguageClient, uri: str, at: lsp.Position) -> lsp.Hover | None:
    return await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at)
    )


async def test_completion_golden_on_reference_and_broken_buffers(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules, schema, ui = pkg / "rules.yaml", pkg / "schema.yaml", pkg / "ui.yaml"
    text = rules.read_text()
    uri = open_doc(client, rules)
    await wait_for(client, uri, lambda d: not d)
    broken_tail = "  - id: [\n"
    cases: dict[str, tuple[str, str, str, int | None]] = {
        # name: (file, buffer, needle, offset into the needle)
        "cel_field_prefix": ("rules", text.replace(CEL, "    when: comp\n"), "when: comp", None),
        "cel_enum_after_eq": ("rules", text.replace(CEL, "    when: industry == \n"), "when: industry == ", None),
        "cel_in_unparsable_buffer": ("rules", text.replace(CEL, "    when: ann\n") + broken_tail, "when: ann", None),
        "cel_unterminated_string": ("rules", text.replace(CEL, "    when: industry == 'so\n"), "== 'so", None),
        "target_field_reference": ("rules", text.replace("target: companySize", "target: comp"), "target: comp", None),
        "rule_key": ("rules", text.replace("    scope: field\n", "    sc\n", 1), "    sc\n", 6),
        "rule_key_half_typed_yaml": ("rules", text + "  - id: new\n    tri", "id: new\n    tri", None),
        "schema_field_type": ("schema", "", "type: text", 6),
        "ui_field": ("ui", "", "", None),
    }
    seen: dict[str, list[dict[str, object]]] = {}
    uris = {"rules": uri}
    for version, (name, (which, buffer, needle, after)) in enumerate(cases.items(), start=2):
        target = uris.get(which)
        if which == "schema":
            target = uris.setdefault(which, open_doc(client, schema))
            buffer = schema.read_text()
        if which == "ui":
            buffer = ui.read_text().replace("fields: [company, industry]", "fields: [company, ind]")
            needle = "[company, ind"
            target = uris.setdefault(which, open_doc(client, ui))
        assert target is not None
        replace_text(client, target, buffer, version)
        items = await complete(client, target, position(buffer, needle, after))
        assert items, name
        assert all(isinstance(i.text_edit, lsp.TextEdit) for i in items)
        seen[name] = [item_data(i) for i in items[:12]]
    check_golden("completion", seen)
    labels = {name: [str(i["label"]) for i in items] for name, items in seen.items()}
    assert {"company", "companySize"} <= set(labels["cel_field_prefix"])
    assert "annualRevenue" in labels["cel_in_unparsable_buffer"]
    assert "'software'" in labels["cel_enum_after_eq"] or "software" in str(seen["cel_enum_after_eq"])
    assert "trigger" in labels["rule_key_half_typed_yaml"]


async def test_completion_outside_a_package_is_empty(client: LanguageClient, tmp_path: Path) -> None:
    notes = tmp_path / "notes.yaml"
    notes.write_text("a: b\n")
    uri = open_doc(client, notes)
    assert await complete(client, uri, lsp.Position(0, 1)) == []


async def test_hover_golden(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules, schema = pkg / "rules.yaml", pkg / "schema.yaml"
    rules_text, schema_text = rules.read_text(), schema.read_text()
    rules_uri, schema_uri = open_doc(client, rules), open_doc(client, schema)
    await wait_for(client, rules_uri, lambda d: not d)
    cases = {
        "field_definition": (schema_uri, schema_text, "      email:", 7),
        "field_in_expression": (rules_uri, rules_text, "when: company", 7),
        "field_reference": (rules_uri, rules_text, "target: companySize", 10),
        "expression_operator": (rules_uri, rules_text, "company != ''", 9),
        "key": (rules_uri, rules_text, "    capability: visibility", 6),
    }
    seen: dict[str, object] = {}
    for name, (uri, text, needle, after) in cases.items():
        found = await hover(client, uri, position(text, needle, after))
        assert found is not None, name
        assert isinstance(found.contents, lsp.MarkupContent) and found.contents.kind == lsp.MarkupKind.Markdown
        seen[name] = {"range": span(found.range) if found.range else None, "markdown": found.contents.value}
    assert await hover(client, rules_uri, lsp.Position(1, 0)) is None  # a comment
    check_golden("hover", seen)


async def test_hover_on_a_lint_finding_explains_its_rule(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules = pkg / "rules.yaml"
    text = rules.read_text().replace(CEL, "    when: compny != ''\n", 1)
    uri = open_doc(client, rules, text)
    (diag,) = await wait_for(client, uri, lambda d: codes(d) == ["RUL301"])
    found = await hover(client, uri, diag.range.start)
    assert found is not None and isinstance(found.contents, lsp.MarkupContent)
    explanation = explain_markdown("RUL301")
    assert explanation is not None and explanation in found.contents.value
    # outside the finding's range: no explanation
    elsewhere = await hover(client, uri, position(text, "    capability: visibility", 6))
    assert elsewhere is not None and isinstance(elsewhere.contents, lsp.MarkupContent)
    assert "RUL301" not in elsewhere.contents.value
    # while the buffer differs from the checked text, the finding's range may be stale: no explanation
    replace_text(client, uri, "\n" + text, 3)
    moved = await hover(client, uri, diag.range.start)
    assert moved is None or "RUL301" not in str(moved.contents)


async def test_hover_on_a_compatibility_finding_explains_the_change_kind(
    client: LanguageClient, tmp_path: Path
) -> None:
    pkg = _repo(tmp_path, "git:main")
    schema = pkg / "schema.yaml"
    uri = open_doc(client, schema, schema.read_text().replace(PHONE, ""))
    found = await wait_for(client, uri, lambda d: "CMP101" in codes(d))
    (removed,) = [d for d in found if d.code == "CMP101"]
    shown = await hover(client, uri, removed.range.start)
    assert shown is not None and isinstance(shown.contents, lsp.MarkupContent)
    explanation = explain_change("CMP101", markdown=True)
    assert explanation is not None and explanation.startswith("### CMP101 ")
    assert explanation in shown.contents.value
