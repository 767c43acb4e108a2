"""The request features in process, on a real `CrmctlServer` without a transport (the end-to-end tests drive the
same code through a subprocess, which coverage does not see): completion, hover, navigation, symbols, rename,
formatting, and the protocol's answers to malformed requests."""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from crmctl.compat.kinds import KINDS, explain_change
from crmctl.lsp.features import completion, formatting, hover, navigation, rename, symbols
from crmctl.lsp.features.diagnostics import publish
from crmctl.lsp.server import CrmctlServer, _workspace_packages, build_server

REPO = Path(__file__).resolve().parents[2]
CEL = "    when: company != ''\n"


def _server(capabilities: lsp.ClientCapabilities | None = None, options: object = None) -> CrmctlServer:
    """A server initialized as pygls does it (the protocol's initialize, then the server's own handler)."""
    server = build_server()
    params = lsp.InitializeParams(capabilities=capabilities or lsp.ClientCapabilities(), initialization_options=options)
    steps = server.protocol.lsp_initialize(params)
    assert inspect.isgenerator(steps)
    try:
        handler, args, _ = next(steps)
        while True:
            handler, args, _ = steps.send(handler(*args))
    except StopIteration:
        pass
    server.text_document_publish_diagnostics = lambda params: None  # type: ignore[method-assign]
    return server


@pytest.fixture
def ls() -> CrmctlServer:
    markdown = [lsp.MarkupKind.Markdown]
    return _server(
        lsp.ClientCapabilities(
            text_document=lsp.TextDocumentClientCapabilities(
                completion=lsp.CompletionClientCapabilities(
                    completion_item=lsp.ClientCompletionItemOptions(documentation_format=markdown)
                ),
                hover=lsp.HoverClientCapabilities(content_format=markdown),
            )
        )
    )


@pytest.fixture
def lead(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO / "packages" / "LeadLifecycle" / "v1", tmp_path / "Lead"))


def doc(path: Path) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=path.as_uri())


def at(text: str, needle: str, after: int) -> lsp.Position:
    offset = text.index(needle) + after
    return lsp.Position(text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1))


def test_completion_maps_items_and_follows_the_client_markup(ls: CrmctlServer, lead: Path) -> None:
    rules = lead / "rules.yaml"
    text = rules.read_text().replace(CEL, "    when: comp\n", 1) + "  - id: [\n"  # does not parse
    ls.state.workspace.open(rules, text)
    params = lsp.CompletionParams(doc(rules), at(text, "when: comp", 10))
    items = completion.completion(ls, params).items
    assert [i.label for i in items] == ["company", "companySize"]
    first = items[0]
    assert first.kind == lsp.CompletionItemKind.Field and isinstance(first.text_edit, lsp.TextEdit)
    assert first.text_edit.new_text == "company" and first.text_edit.range.start.character == 10
    assert isinstance(first.documentation, lsp.MarkupContent)
    assert first.documentation.kind == lsp.MarkupKind.Markdown
    plain = _server()
    plain.state.workspace.open(rules, text)
    (item, _) = completion.completion(plain, params).items
    assert isinstance(item.documentation, lsp.MarkupContent) and item.documentation.kind == lsp.MarkupKind.PlainText
    # enum values are quoted: the filter text is what is inserted
    enum_text = rules.read_text().replace(CEL, "    when: industry == \n", 1)
    ls.state.workspace.open(rules, enum_text)
    values = completion.completion(ls, lsp.CompletionParams(doc(rules), at(enum_text, "== \n", 3))).items
    assert values and values[0].filter_text == values[0].text_edit.new_text == f"'{values[0].label}'"  # type: ignore[union-attr]
    # outside any package, or not a file
    assert (
        completion.completion(
            ls, lsp.CompletionParams(lsp.TextDocumentIdentifier("untitled:1"), lsp.Position(0, 0))
        ).items
        == []
    )


def test_hover_adds_the_explanation_of_a_finding(ls: CrmctlServer, lead: Path) -> None:
    rules = lead / "rules.yaml"
    text = rules.read_text().replace(CEL, "    when: compny != ''\n", 1)
    ls.state.workspace.open(rules, text)
    publish(ls, lead)  # type: ignore[arg-type]
    shown = hover.on_hover(ls, lsp.HoverParams(doc(rules), at(text, "compny", 2)))
    assert shown is not None and isinstance(shown.contents, lsp.MarkupContent)
    assert "### RUL301" in shown.contents.value and shown.range is not None
    key = hover.on_hover(ls, lsp.HoverParams(doc(rules), at(text, "capability: visibility", 2)))
    assert key is not None and "RUL301" not in str(key.contents)
    assert hover.on_hover(ls, lsp.HoverParams(doc(rules), lsp.Position(1, 0))) is None
    assert hover.on_hover(ls, lsp.HoverParams(lsp.TextDocumentIdentifier("untitled:1"), lsp.Position(0, 0))) is None
    # a buffer that does not parse: no language hover (its positions would be off)
    ls.state.workspace.open(rules, text + "  - id: [\n")
    assert hover.on_hover(ls, lsp.HoverParams(doc(rules), at(text, "capability: visibility", 2))) is None


def test_code_markdown_for_lint_and_change_codes() -> None:
    assert hover.code_markdown("CMP108") == explain_change("CMP108", markdown=True)
    assert str(hover.code_markdown("RUL301")).startswith("### RUL301")
    assert hover.code_markdown("input") is None and hover.code_markdown("CMP999") is None
    text = explain_change("cmp108")
    assert text is not None and text.splitlines()[:3] == [
        "CMP108 alias-removed",
        "class: breaking (crmctl diff fails on it by default)",
        "semver: major",
    ]
    for kind in KINDS:  # every class says when `crmctl diff` fails on it
        explained = str(explain_change(kind.code, markdown=True))
        assert explained.startswith(f"### {kind.code} {kind.id}\n\nclass: {kind.cls.value} (crmctl diff ")
        assert explained.endswith(f"Why: {kind.reason}")


def test_navigation_and_symbols(ls: CrmctlServer, lead: Path) -> None:
    rules, schema = lead / "rules.yaml", lead / "schema.yaml"
    text = rules.read_text()
    where = at(text, "when: company", 7)
    (definition,) = navigation.on_definition(ls, lsp.DefinitionParams(doc(rules), where))
    assert definition.uri == schema.as_uri()
    refs = navigation.on_references(
        ls, lsp.ReferenceParams(context=lsp.ReferenceContext(False), text_document=doc(rules), position=where)
    )
    assert refs and definition not in refs
    assert navigation.on_definition(ls, lsp.DefinitionParams(lsp.TextDocumentIdentifier("untitled:1"), where)) == []
    outline = symbols.on_document_symbol(ls, lsp.DocumentSymbolParams(doc(schema)))
    assert [s.name for s in outline] == ["Lead", "User"] and outline[0].children
    assert symbols.symbol_kind("entity") == lsp.SymbolKind.Class
    assert symbols.symbol_kind("something new") == lsp.SymbolKind.Variable
    assert symbols.on_document_symbol(ls, lsp.DocumentSymbolParams(lsp.TextDocumentIdentifier("untitled:1"))) == []
    # workspace symbols: the open documents' packages and those found under the workspace folders
    assert symbols.on_workspace_symbol(ls, lsp.WorkspaceSymbolParams(query="companySize")) == []
    ls.state.package_roots = _workspace_packages(
        lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=lead.parent.as_uri())
    )
    assert ls.state.package_roots == {lead}
    found = symbols.on_workspace_symbol(ls, lsp.WorkspaceSymbolParams(query="companySize"))
    assert [s.name for s in found][:1] == ["companySize"] and found[0].container_name == "Lead"
    # a package that does not load is left out
    (lead / "crmctl.toml").write_text("[tool.crmctl\n")  # a configuration that does not parse
    fresh = _server()
    fresh.state.package_roots = {lead}
    assert symbols.on_workspace_symbol(fresh, lsp.WorkspaceSymbolParams(query="companySize")) == []
    assert navigation.on_definition(fresh, lsp.DefinitionParams(doc(rules), where)) == []


def test_workspace_packages_from_folders_and_root(tmp_path: Path, lead: Path) -> None:
    folders = [lsp.WorkspaceFolder(uri=tmp_path.as_uri(), name="t"), lsp.WorkspaceFolder("untitled:x", "u")]
    params = lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), workspace_folders=folders)
    assert _workspace_packages(params) == {lead}
    missing = lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=(tmp_path / "gone").as_uri())
    assert _workspace_packages(missing) == set()


def test_rename_edits_and_refusals(ls: CrmctlServer, lead: Path) -> None:
    schema, workflow = lead / "schema.yaml", lead / "workflow.yaml"
    text = schema.read_text()
    phone = at(text, "      phone:", 8)
    prepared = rename.on_prepare_rename(ls, lsp.PrepareRenameParams(doc(schema), phone))
    assert prepared.placeholder == "phone"
    edit = rename.on_rename(ls, lsp.RenameParams(doc(schema), phone, "mobilePhone"))
    assert edit.changes is not None and (lead / "ui.yaml").as_uri() in edit.changes

    def refused(call: Any, *args: Any) -> str:
        with pytest.raises(JsonRpcException) as caught:
            call(ls, *args)
        assert caught.value.code == lsp.LSPErrorCodes.RequestFailed
        return caught.value.message

    wf = workflow.read_text()
    assert "CMP604" in refused(rename.on_prepare_rename, lsp.PrepareRenameParams(doc(workflow), at(wf, "    new:", 5)))
    assert "has a field email" in refused(rename.on_rename, lsp.RenameParams(doc(schema), phone, "email"))
    assert "not a file of a package" in refused(
        rename.on_rename, lsp.RenameParams(lsp.TextDocumentIdentifier("untitled:1"), phone, "x")
    )
    ls.state.workspace.open(lead / "rules.yaml", "rules: [\n")
    assert "does not parse" in refused(rename.on_rename, lsp.RenameParams(doc(schema), phone, "mobile"))
    (lead / "crmctl.toml").write_text("[tool.crmctl\n")  # a configuration that does not parse
    ls = _server()
    assert "does not load" in refused(rename.on_prepare_rename, lsp.PrepareRenameParams(doc(schema), phone))


def test_formatting_whole_range_and_broken(ls: CrmctlServer, lead: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = lead / "schema.yaml"
    canonical = schema.read_text()
    messy = canonical.replace("        maxLength: 32\n", "        maxLength:   32\n").replace(
        "        maxLength: 254\n", "        maxLength:   254\n"
    )
    ls.state.workspace.open(schema, messy)
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    assert len(formatting.formatting(ls, schema.as_uri())) == 1 + messy.count("maxLength:   254")
    line = at(messy, "maxLength:   32", 0).line
    handlers = ls.protocol.fm.features
    ranged = handlers[lsp.TEXT_DOCUMENT_RANGE_FORMATTING](
        lsp.DocumentRangeFormattingParams(
            doc(schema), lsp.Range(lsp.Position(line, 0), lsp.Position(line + 1, 0)), options
        )
    )
    assert [e.range.start.line for e in ranged] == [line]
    assert handlers[lsp.TEXT_DOCUMENT_FORMATTING](lsp.DocumentFormattingParams(doc(schema), options))
    logged: list[lsp.LogMessageParams] = []
    monkeypatch.setattr(ls, "window_log_message", logged.append)
    ls.state.workspace.open(schema, "entities: [\n")
    assert formatting.formatting(ls, schema.as_uri()) == []
    assert logged and "not formatted" in logged[0].message and logged[0].type == lsp.MessageType.Warning
    assert formatting.formatting(ls, "untitled:1") == []


def test_every_request_handler_is_registered_with_its_options() -> None:
    prepare = lsp.TextDocumentClientCapabilities(rename=lsp.RenameClientCapabilities(prepare_support=True))
    ls = _server(lsp.ClientCapabilities(text_document=prepare), {"debounceMs": 0})
    assert ls.state.settings.debounce_ms == 0
    features = ls.protocol.fm.features
    caps = ls.server_capabilities
    assert caps.completion_provider is not None
    assert caps.completion_provider.trigger_characters == completion.TRIGGER_CHARACTERS
    assert isinstance(caps.rename_provider, lsp.RenameOptions) and caps.rename_provider.prepare_provider
    assert _server().server_capabilities.rename_provider is True  # RenameOptions only for clients with prepareSupport
    for method in (lsp.TEXT_DOCUMENT_HOVER, lsp.TEXT_DOCUMENT_DEFINITION, lsp.WORKSPACE_SYMBOL):
        assert method in features


def test_ill_typed_requests_and_bodies_are_answered(ls: CrmctlServer) -> None:
    sent: list[tuple[object, lsp.ResponseError | None]] = []
    ls.protocol._send_response = lambda msg_id, result=None, error=None: sent.append((msg_id, error))  # type: ignore[method-assign]
    bad = {"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover", "params": {"textDocument": 5}}
    message = json.loads(json.dumps(bad), object_hook=ls.protocol.structure_message)
    ls.protocol.handle_message(message)  # answered already: nothing more happens
    ((msg_id, error),) = sent
    assert msg_id == 7 and error is not None and error.code == -32602 and "textDocument/hover" in error.message
    # a notification that does not fit is only logged (nobody waits for an answer)
    with pytest.raises(JsonRpcException):
        ls.protocol.structure_message({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"x": 1}})
    # a body that is not JSON: a ParseError response, id null, and the error logged
    logged: list[lsp.LogMessageParams] = []
    ls.window_log_message = logged.append  # type: ignore[method-assign]
    try:
        json.loads(b"{")
    except ValueError as exc:
        ls.report_server_error(exc, JsonRpcException)
    assert sent[-1][0] is None and sent[-1][1] is not None and sent[-1][1].code == -32700
    assert logged[-1].message.startswith("crmctl lsp: bad message from the client (not JSON-RPC): ")
    assert logged[-1].type == lsp.MessageType.Warning  # the client's fault, not an internal error
    # a failure of the server itself is an internal error
    ls.report_server_error(RuntimeError("boom"), JsonRpcException)
    assert logged[-1].message == "crmctl lsp: internal error: boom" and logged[-1].type == lsp.MessageType.Error


def test_a_non_json_frame_over_stdio_is_one_warning_line_without_traceback() -> None:
    import subprocess
    import sys

    frames = b"Content-Length: 5\r\n\r\nhello"
    exit_frame = b'{"jsonrpc": "2.0", "method": "exit"}'
    frames += b"Content-Length: %d\r\n\r\n%s" % (len(exit_frame), exit_frame)
    done = subprocess.run(
        [sys.executable, "-m", "crmctl", "lsp"], input=frames, capture_output=True, timeout=60, check=False
    )
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert "bad message from the client (not JSON-RPC)" in stderr
    assert b'"code": -32700' in done.stdout
    assert done.returncode == 1  # exit without shutdown


def test_a_load_is_reused_until_a_buffer_or_a_file_changes(ls: CrmctlServer, lead: Path) -> None:
    from crmctl.lsp.documents import current

    first = current(ls, lead)
    assert current(ls, lead) is first  # the same package object: its symbol index is kept
    rules = lead / "rules.yaml"
    ls.state.workspace.open(rules, rules.read_text() + "# typed\n")
    second = current(ls, lead)
    assert second is not first and current(ls, lead) is second
    (lead / "ui.yaml").write_text((lead / "ui.yaml").read_text() + "# saved elsewhere, longer\n")
    third = current(ls, lead)
    assert third is not second and "# saved elsewhere" in third.package.docs["ui"].text  # type: ignore[union-attr]
