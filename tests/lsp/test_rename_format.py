"""Rename and formatting end to end over stdio: a field renamed in every file (open or not) with its old name kept
as an alias, refusals as RequestFailed errors, whole-document and range formatting, a buffer that does not parse."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp.conftest import check_golden, codes, copy_package, open_doc, replace_text, server_fixture, wait_for
from tests.lsp.test_assist import position, span

client = server_fixture()
pytestmark = pytest.mark.asyncio(loop_scope="module")


def apply(text: str, edits: Sequence[lsp.TextEdit]) -> str:
    """`edits` applied to `text` (ASCII text: a UTF-16 position is a character offset)."""
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)

    def offset(p: lsp.Position) -> int:
        return min(starts[min(p.line, len(starts) - 1)] + p.character, len(text))

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


def doc_id(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def test_rename_a_field_everywhere_keeping_an_alias(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    schema, rules = pkg / "schema.yaml", pkg / "rules.yaml"
    # the schema is open with an unsaved edit above the field: its edits follow the buffer, the others the disk
    schema_text = "# unsaved\n" + schema.read_text()
    schema_uri = open_doc(client, schema, schema_text)
    rules_uri = open_doc(client, rules)
    await wait_for(client, rules_uri, lambda d: not d)
    at = position(schema_text, "      phone:", 8)
    prepared = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(doc_id(schema_uri), at))
    assert isinstance(prepared, lsp.PrepareRenamePlaceholder) and prepared.placeholder == "phone"
    assert span(prepared.range) == [at.line, 6, at.line, 11]
    edit = await client.text_document_rename_async(lsp.RenameParams(doc_id(schema_uri), at, "mobilePhone"))
    assert edit is not None and edit.changes is not None
    prefix = pkg.as_uri() + "/"
    check_golden(
        "rename_field",
        {
            uri.removeprefix(prefix): [[*span(e.range), e.new_text] for e in edits]
            for uri, edits in sorted(edit.changes.items())
        },
    )
    new_schema = apply(schema_text, edit.changes[schema_uri])
    assert "mobilePhone:" in new_schema and "aliases: [phone]" in new_schema.replace("\n", " ").replace("  ", " ")
    for uri, edits in edit.changes.items():
        if uri != schema_uri:
            path = Path(uri.removeprefix("file://"))
            path.write_text(apply(path.read_text(), edits))
    assert "mobilePhone" in (pkg / "localization" / "de.yaml").read_text()
    replace_text(client, schema_uri, new_schema)
    # the renamed package is clean: every reference followed
    await wait_for(client, schema_uri, lambda d: not d)
    await wait_for(client, rules_uri, lambda d: not d)


async def _refusal(request: object) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await request  # type: ignore[misc]
    assert caught.value.code == lsp.LSPErrorCodes.RequestFailed
    return caught.value


async def test_refused_renames_answer_request_failed(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    schema, workflow = pkg / "schema.yaml", pkg / "workflow.yaml"
    schema_text, workflow_text = schema.read_text(), workflow.read_text()
    schema_uri, workflow_uri = open_doc(client, schema), open_doc(client, workflow)
    state = position(workflow_text, "    new:", 5)
    refused = await _refusal(
        client.text_document_prepare_rename_async(lsp.PrepareRenameParams(doc_id(workflow_uri), state))
    )
    assert "cannot rename state new" in refused.message and "CMP604" in refused.message
    phone = position(schema_text, "      phone:", 8)
    taken = await _refusal(client.text_document_rename_async(lsp.RenameParams(doc_id(schema_uri), phone, "email")))
    assert "email" in taken.message
    nothing = await _refusal(
        client.text_document_prepare_rename_async(lsp.PrepareRenameParams(doc_id(schema_uri), lsp.Position(1, 0)))
    )
    assert "nothing to rename" in nothing.message
    # a file of the package that does not parse: the rename would miss its references
    rules_uri = open_doc(client, pkg / "rules.yaml", "rules: [\n")
    await wait_for(client, rules_uri, lambda d: codes(d) == ["input"])
    broken = await _refusal(client.text_document_rename_async(lsp.RenameParams(doc_id(schema_uri), phone, "mobile")))
    assert "rules.yaml does not parse" in broken.message
    # a document outside any package
    outside = tmp_path / "notes.yaml"
    outside.write_text("a: b\n")
    await _refusal(client.text_document_rename_async(lsp.RenameParams(doc_id(outside.as_uri()), phone, "x")))


async def test_formatting_the_document_and_a_range(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    schema = pkg / "schema.yaml"
    canonical = schema.read_text()
    messy = canonical.replace(
        "values: [software, manufacturing, finance, healthcare, retail, other]",
        "values:\n        - software\n        - manufacturing\n        - finance\n        - healthcare\n"
        "        - retail\n        - other",
    ).replace("        maxLength: 32\n", "        maxLength:   32   \n")
    uri = open_doc(client, schema, messy)
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(doc_id(uri), options))
    assert edits and apply(messy, edits) == canonical
    check_golden("formatting", [[*span(e.range), e.new_text] for e in edits])
    # the range of the enum values only: the maxLength line stays as it is
    first = position(messy, "values:\n", 0).line
    selection = lsp.Range(lsp.Position(first, 0), lsp.Position(first + 7, 0))
    ranged = await client.text_document_range_formatting_async(
        lsp.DocumentRangeFormattingParams(doc_id(uri), selection, options)
    )
    assert ranged
    partial = apply(messy, ranged)
    assert "values: [software, manufacturing" in partial and "maxLength:   32" in partial
    # already canonical: no edits
    replace_text(client, uri, canonical)
    assert not await client.text_document_formatting_async(lsp.DocumentFormattingParams(doc_id(uri), options))


async def test_formatting_a_buffer_that_does_not_parse_logs_why(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    uri = open_doc(client, pkg / "rules.yaml", "rules: [\n  - id: x\n")
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    assert not await client.text_document_formatting_async(lsp.DocumentFormattingParams(doc_id(uri), options))
    assert any("not formatted" in m.message and "rules.yaml" in m.message for m in client.log_messages)
    # the server still answers
    assert not await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(doc_id((tmp_path / "none.yaml").as_uri()), options)
    )
