"""Diagnostics as you type, end to end over stdio: reference packages, broken buffers and their repair, quick fixes
and ignore actions applied, and requests that must not kill the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from crmctl.lang.edits import TextEdit, apply_edits
from tests.lsp.conftest import (
    as_data,
    check_golden,
    codes,
    copy_package,
    open_doc,
    replace_text,
    server_fixture,
    wait_for,
)

client = server_fixture()
pytestmark = pytest.mark.asyncio(loop_scope="module")

CEL_BAD = "    when: company != ''\n"
CEL_BROKEN = "    when: compny != ''\n"


async def test_reference_packages_are_clean_and_every_file_is_published(client: LanguageClient, tmp_path: Path) -> None:
    lead = copy_package("LeadLifecycle/v1", tmp_path / "packages" / "LeadLifecycle" / "v1")
    claims = copy_package("ClaimsIntake", tmp_path / "packages" / "ClaimsIntake")
    open_doc(client, lead / "rules.yaml")
    open_doc(client, claims / "schema.yaml")
    for pkg in (lead, claims):
        for file in sorted(pkg.rglob("*.yaml")):
            if file.parent in (pkg, pkg / "localization"):
                await wait_for(client, file.as_uri(), lambda d: True)
    check_golden("reference_packages", as_data(client.diagnostics, tmp_path))


async def test_broken_buffers_get_one_located_diagnostic_and_recover(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules = pkg / "rules.yaml"
    text = rules.read_text()
    uri = open_doc(client, rules)
    await wait_for(client, uri, lambda d: not d)
    cases = {
        "half_typed_yaml": text + "  - id: [\n",
        "unterminated_string": text.replace("when: company != ''", "when: \"company != ''"),
        "invalid_cel": text.replace(CEL_BAD, CEL_BROKEN, 1),
        "tab_indentation": text.replace("    entity: Lead\n", "\tentity: Lead\n", 1),
    }
    seen: dict[str, object] = {}
    for version, (name, broken) in enumerate(cases.items(), start=2):
        replace_text(client, uri, broken, version * 2)
        found = await wait_for(client, uri, lambda d: bool(d))
        assert len(found) == 1, found
        seen[name] = as_data({uri: found}, tmp_path)["Lead/rules.yaml"]
        replace_text(client, uri, text, version * 2 + 1)
        await wait_for(client, uri, lambda d: not d)
    check_golden("broken_buffers", seen)


async def test_other_files_keep_their_findings_while_one_does_not_parse(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    schema, rules = pkg / "schema.yaml", pkg / "rules.yaml"
    rules_uri = open_doc(client, rules, rules.read_text().replace(CEL_BAD, CEL_BROKEN, 1))
    await wait_for(client, rules_uri, lambda d: codes(d) == ["RUL301"])
    schema_uri = open_doc(client, schema)
    replace_text(client, schema_uri, schema.read_text() + "  Broken: [\n")
    await wait_for(client, schema_uri, lambda d: codes(d) == ["input"])
    # rules.yaml is still checked against the last schema that parsed
    assert codes(client.diagnostics[rules_uri]) == ["RUL301"]


async def test_invalid_cel_is_underlined_inside_the_expression(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules = pkg / "rules.yaml"
    text = rules.read_text().replace("&& company != ''", "&& compny != ''")
    uri = open_doc(client, rules, text)
    (diag,) = await wait_for(client, uri, lambda d: codes(d) == ["RUL301"])
    line = text.splitlines()[diag.range.start.line]
    assert line[diag.range.start.character : diag.range.end.character] == "compny"
    assert diag.code_description is not None and diag.code_description.href.endswith("lint-rules.md#rul301")
    assert diag.source == "crmctl" and diag.severity == lsp.DiagnosticSeverity.Error


async def _apply(client: LanguageClient, uri: str, path: Path, text: str, action: lsp.CodeAction, version: int) -> str:
    assert action.edit is not None and action.edit.changes is not None
    edits = action.edit.changes[uri]
    lines = text.split("\n")

    def column(pos: lsp.Position) -> int:
        line = lines[pos.line] if pos.line < len(lines) else ""
        return len(line.encode("utf-16-le")[: pos.character * 2].decode("utf-16-le")) + 1

    core = [
        TextEdit(
            str(path),
            e.range.start.line + 1,
            column(e.range.start),
            e.range.end.line + 1,
            column(e.range.end),
            e.new_text,
        )
        for e in edits
    ]
    new = apply_edits(text, core)
    replace_text(client, uri, new, version)
    return new


async def _actions(client: LanguageClient, uri: str, diag: lsp.Diagnostic) -> list[lsp.CodeAction]:
    result = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=lsp.CodeActionContext(diagnostics=[diag]),
        )
    )
    return [a for a in result or [] if isinstance(a, lsp.CodeAction)]


async def test_ignore_action_makes_the_finding_disappear(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules = pkg / "rules.yaml"
    text = rules.read_text().replace(CEL_BAD, CEL_BROKEN, 1)
    uri = open_doc(client, rules, text)
    (diag,) = await wait_for(client, uri, lambda d: codes(d) == ["RUL301"])
    actions = await _actions(client, uri, diag)
    assert [a.title for a in actions] == ["Ignore RUL301 here (with a reason)"]
    new = await _apply(client, uri, rules, text, actions[0], 5)
    assert '# crmctl: ignore[RUL301] reason="' in new
    await wait_for(client, uri, lambda d: not d)


async def test_quick_fix_removes_a_repeated_enum_value(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    schema = pkg / "schema.yaml"
    text = schema.read_text().replace("retail, other]", "retail, other, retail]")
    uri = open_doc(client, schema, text)
    (diag,) = await wait_for(client, uri, lambda d: codes(d) == ["SCH106"])
    actions = await _actions(client, uri, diag)
    assert [a.title.split(":")[0] for a in actions] == ["Fix SCH106", "Ignore SCH106 here (with a reason)"]
    new = await _apply(client, uri, schema, text, actions[0], 5)
    assert new == schema.read_text()
    await wait_for(client, uri, lambda d: not d)


async def test_the_server_survives_bad_requests_and_documents(client: LanguageClient, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    # an unknown method answers with an error
    with pytest.raises(Exception, match=r"[Mm]ethod"):
        await client.protocol.send_request_async("crmctl/noSuchMethod", {})
    # a document outside any package: no diagnostics, no actions
    outside = tmp_path / "notes.yaml"
    outside.write_text("a: [\n")
    out_uri = open_doc(client, outside)
    # a change to a document never opened, binary content, a huge buffer, a file deleted on disk
    replace_text(client, (pkg / "ui.yaml").as_uri(), "forms: {}\n")
    binary = open_doc(client, pkg / "events.yaml", "\x00\x01\x02events: [")
    huge = open_doc(client, pkg / "validations.yaml", "validations: []\n" + "#" * (17 * 1024 * 1024) + "\n")
    (pkg / "workflow.yaml").unlink()
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=(pkg / "workflow.yaml").as_uri(), type=lsp.FileChangeType.Deleted)]
        )
    )
    await wait_for(client, huge, lambda d: codes(d) == ["input"])
    await wait_for(client, binary, lambda d: len(d) == 1)
    code_actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=out_uri),
            range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 1)),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    assert not code_actions
    assert out_uri not in client.diagnostics
    # still alive and answering
    rules_uri = open_doc(client, pkg / "rules.yaml")
    await wait_for(client, rules_uri, lambda d: True)
