"""The server's checks in process (the end-to-end tests drive the same code through a subprocess): loading from
buffers, stand-ins for files that do not parse, publishing and clearing, compatibility against a directory
baseline, code actions, settings."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from lsprotocol import types as lsp

from crmctl.errors import InputError
from crmctl.lsp.convert import file_uri
from crmctl.lsp.features.code_actions import code_actions
from crmctl.lsp.features.diagnostics import _error_finding, code_href, publish
from crmctl.lsp.server import CrmctlServer, Settings, State, build_server
from crmctl.lsp.workspace import OverlayTree, Workspace, package_dir

REPO = Path(__file__).resolve().parents[2]


class FakeServer:
    """What the features use of the server: the state, the encoding, the open documents, publishing and error
    reports (recorded), and `feature` registration (the handlers, by method)."""

    def __init__(self) -> None:
        self.state = State()
        self.encoding = lsp.PositionEncodingKind.Utf16
        self.published: dict[str, list[lsp.Diagnostic]] = {}
        self.workspace = SimpleNamespace(text_documents={})
        self.handlers: dict[str, Any] = {}
        self.errors: list[Exception] = []

    def feature(self, method: str, options: object = None) -> Any:
        def register(fn: Any) -> Any:
            self.handlers[method] = fn
            return fn

        return register

    def report_server_error(self, error: Exception, source: object) -> None:
        self.errors.append(error)

    def text_document_publish_diagnostics(self, params: lsp.PublishDiagnosticsParams) -> None:
        self.published[params.uri] = list(params.diagnostics)


def _lead(tmp_path: Path, name: str = "Lead") -> Path:
    return Path(shutil.copytree(REPO / "packages" / "LeadLifecycle" / "v1", tmp_path / name))


def _codes(ls: FakeServer, path: Path) -> list[str]:
    return sorted(str(d.code) for d in ls.published[file_uri(str(path))])


def test_package_dir_and_overlay(tmp_path: Path) -> None:
    pkg = _lead(tmp_path)
    assert package_dir(pkg / "localization" / "en.yaml") == pkg
    assert package_dir(tmp_path / "x.yaml") is None
    tree = OverlayTree(pkg, {pkg / "new.yaml": "a: 1\n", tmp_path / "elsewhere.yaml": "b: 2\n"})
    assert "new.yaml" in tree.files() and "elsewhere.yaml" not in tree.files()
    assert tree.read("new.yaml") == b"a: 1\n"


def test_only_the_changed_file_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crmctl.model.package as package_module

    pkg = _lead(tmp_path)
    ws = Workspace()
    ws.load(pkg)
    parsed: list[str] = []
    real = package_module.read_source

    def counting(data: bytes, shown: str, as_json: bool) -> Any:
        parsed.append(shown)
        return real(data, shown, as_json)

    monkeypatch.setattr(package_module, "read_source", counting)
    ws.open(pkg / "rules.yaml", (pkg / "rules.yaml").read_text() + "\n")
    loaded = ws.load(pkg)
    assert parsed == [str(pkg / "rules.yaml")] and loaded.package is not None


def test_publish_clears_files_that_became_clean_and_keeps_others_while_one_is_broken(tmp_path: Path) -> None:
    pkg = _lead(tmp_path)
    ls = FakeServer()
    server = cast(CrmctlServer, ls)
    rules, schema = pkg / "rules.yaml", pkg / "schema.yaml"
    text = rules.read_text()
    ls.state.workspace.open(rules, text.replace("when: company != ''", "when: compny != ''", 1))
    publish(server, pkg)
    assert _codes(ls, rules) == ["RUL301"] and _codes(ls, schema) == []
    ls.state.workspace.open(schema, schema.read_text() + "  Broken: [\n")
    publish(server, pkg)
    assert _codes(ls, schema) == ["input"] and _codes(ls, rules) == ["RUL301"]
    (broken,) = ls.published[file_uri(str(schema))]
    assert "invalid YAML" in broken.message
    ls.state.workspace.open(rules, text)
    ls.state.workspace.close(schema)
    publish(server, pkg)
    assert _codes(ls, rules) == [] and _codes(ls, schema) == []


def test_a_file_broken_from_the_start_stands_in_with_its_saved_version(tmp_path: Path) -> None:
    pkg = _lead(tmp_path)
    ls = FakeServer()
    ls.state.workspace.open(pkg / "schema.yaml", "entities: [\n")
    result = publish(cast(CrmctlServer, ls), pkg)
    assert _codes(ls, pkg / "schema.yaml") == ["input"] and _codes(ls, pkg / "rules.yaml") == []
    assert result is not None and result.loaded.package is not None and result.loaded.package.schema is not None
    # unreadable on disk too: an empty document stands in; its own findings are not shown
    (pkg / "ui.yaml").write_bytes(b"\xff\xfe")
    publish(cast(CrmctlServer, ls), pkg)
    assert _codes(ls, pkg / "ui.yaml") == ["input"]


def test_a_package_that_cannot_load_reports_on_package_yaml(tmp_path: Path) -> None:
    pkg = _lead(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.crmctl]\nselect = 3\n")
    ls = FakeServer()
    publish(cast(CrmctlServer, ls), pkg)
    assert _codes(ls, pkg / "package.yaml") == ["input"]
    (tmp_path / "pyproject.toml").write_text('[tool.crmctl]\nignore = ["RUL301"]\n')
    ls.state.workspace.open(pkg / "rules.yaml", (pkg / "rules.yaml").read_text().replace("company !=", "compny !="))
    publish(cast(CrmctlServer, ls), pkg)
    assert _codes(ls, pkg / "rules.yaml") == []  # [tool.crmctl] is respected


def test_compatibility_against_a_directory_baseline(tmp_path: Path) -> None:
    old = _lead(tmp_path, "v1")
    new = _lead(tmp_path, "v2")
    (tmp_path / "pyproject.toml").write_text('[tool.crmctl]\nbaseline = "../v1"\n')
    ls = FakeServer()
    schema = new / "schema.yaml"
    text = schema.read_text()
    ls.state.workspace.open(schema, text.replace("        maxLength: 32\n", "        maxLength: 16\n"))
    publish(cast(CrmctlServer, ls), new)
    found = ls.published[file_uri(str(schema))]
    assert found and all("against ../v1 (1.0.0)" in d.message for d in found), found
    assert (tmp_path, "../v1") not in ls.state.baselines and (new, "../v1") in ls.state.baselines
    shutil.rmtree(old)  # loaded once: the cached baseline is used
    publish(cast(CrmctlServer, ls), new)
    assert ls.published[file_uri(str(schema))] == found


def test_baseline_problems_are_one_warning_on_package_yaml(tmp_path: Path) -> None:
    pkg = _lead(tmp_path)
    for spec in ("registry:LeadLifecycle@prod", "../nowhere"):
        (tmp_path / "pyproject.toml").write_text(f'[tool.crmctl]\nbaseline = "{spec}"\n')
        ls = FakeServer()
        publish(cast(CrmctlServer, ls), pkg)
        (problem,) = ls.published[file_uri(str(pkg / "package.yaml"))]
        assert problem.code == "baseline" and spec in problem.message
        assert problem.severity == lsp.DiagnosticSeverity.Warning


def test_code_actions_follow_the_last_check(tmp_path: Path) -> None:
    pkg = _lead(tmp_path)
    ls = FakeServer()
    server = cast(CrmctlServer, ls)
    schema = pkg / "schema.yaml"
    text = schema.read_text().replace("retail, other]", "retail, other, retail]")
    ls.state.workspace.open(schema, text)
    publish(server, pkg)
    (diag,) = ls.published[file_uri(str(schema))]
    params = lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=file_uri(str(schema))),
        range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag]),
    )
    assert [a.title.split(":")[0] for a in code_actions(server, params)] == [
        "Fix SCH106",
        "Ignore SCH106 here (with a reason)",
    ]
    params.context.only = [lsp.CodeActionKind.Refactor]
    assert code_actions(server, params) == []
    params.context.only = None
    ls.state.workspace.open(schema, text + "\n")  # changed since the check: no stale edits
    assert code_actions(server, params) == []
    other = lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri="untitled:Untitled-1"),
        range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[]),
    )
    assert code_actions(server, other) == []


def test_error_findings_are_located() -> None:
    located = _error_finding(InputError("/p/a.yaml:3:7: invalid YAML: x", hint="fix it"), "/p/package.yaml")
    assert (located.location.file, located.location.line, located.location.column) == ("/p/a.yaml", 3, 7)
    assert located.message == "invalid YAML: x\nfix it"
    whole = _error_finding(InputError("/p/a.yaml: file is not UTF-8"), "/p/package.yaml")
    assert (whole.location.file, whole.location.line) == ("/p/a.yaml", 1)
    elsewhere = _error_finding(InputError("pyproject.toml: bad"), "/p/package.yaml")
    assert elsewhere.location.file == "/p/package.yaml" and elsewhere.message == "pyproject.toml: bad"


def test_code_links_and_settings() -> None:
    assert str(code_href("RUL301")).endswith("docs/lint-rules.md#rul301")
    assert str(code_href("CMP101")).endswith("docs/compatibility.md#change-kinds")
    assert code_href("input") is None
    assert Settings.from_options({"debounceMs": 0}).debounce_ms == 0
    assert Settings.from_options({"debounceMs": 300.5}).debounce_ms == 300
    # `debounce` was never released: the key is `debounceMs`, as the editors' settings send it
    bad_values: list[object] = [True, -1, "5", 10**9]
    for bad in (None, {"debounce": 0}, *({"debounceMs": value} for value in bad_values)):
        assert Settings.from_options(bad).debounce_ms == 150


def test_the_server_is_built_with_its_features() -> None:
    server = build_server()
    assert server.name == "crmctl"
    features = server.protocol.fm.features
    assert lsp.TEXT_DOCUMENT_DID_CHANGE in features and lsp.TEXT_DOCUMENT_CODE_ACTION in features
    for method in (
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.TEXT_DOCUMENT_HOVER,
        lsp.TEXT_DOCUMENT_DEFINITION,
        lsp.TEXT_DOCUMENT_REFERENCES,
        lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL,
        lsp.WORKSPACE_SYMBOL,
        lsp.TEXT_DOCUMENT_PREPARE_RENAME,
        lsp.TEXT_DOCUMENT_RENAME,
        lsp.TEXT_DOCUMENT_FORMATTING,
        lsp.TEXT_DOCUMENT_RANGE_FORMATTING,
    ):
        assert method in features, method


async def _settle(ls: FakeServer) -> None:
    while ls.state.pending:
        await asyncio.gather(*ls.state.pending.values(), return_exceptions=True)


@pytest.mark.asyncio
async def test_handlers_debounce_and_survive_a_crashing_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmctl.lsp.features import code_actions as actions_feature
    from crmctl.lsp.features import diagnostics as diagnostics_feature

    pkg = _lead(tmp_path)
    ls = FakeServer()
    diagnostics_feature.register(cast(CrmctlServer, ls))
    actions_feature.register(cast(CrmctlServer, ls))
    ls.state.settings.debounce_ms = 1
    rules = pkg / "rules.yaml"
    uri = file_uri(str(rules))
    doc = lsp.TextDocumentIdentifier(uri=uri)
    item = lsp.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=rules.read_text())
    ls.handlers[lsp.TEXT_DOCUMENT_DID_OPEN](ls, lsp.DidOpenTextDocumentParams(item))
    whole = lsp.TextDocumentContentChangeWholeDocument(text=item.text.replace("company !=", "compny !=", 1))
    versioned = lsp.VersionedTextDocumentIdentifier(version=2, uri=uri)
    ls.handlers[lsp.TEXT_DOCUMENT_DID_CHANGE](ls, lsp.DidChangeTextDocumentParams(versioned, [whole]))  # restarts
    assert len(ls.state.pending) == 1
    await _settle(ls)
    assert _codes(ls, rules) == ["RUL301"]
    params = lsp.CodeActionParams(
        text_document=doc, range=ls.published[uri][0].range, context=lsp.CodeActionContext(diagnostics=[])
    )
    assert ls.handlers[lsp.TEXT_DOCUMENT_CODE_ACTION](ls, params)
    ls.handlers[lsp.TEXT_DOCUMENT_DID_SAVE](ls, SimpleNamespace(text_document=doc))
    ls.handlers[lsp.TEXT_DOCUMENT_DID_CLOSE](ls, SimpleNamespace(text_document=doc))
    await _settle(ls)
    assert _codes(ls, rules) == []  # closed: the file on disk counts again
    ls.handlers[lsp.TEXT_DOCUMENT_DID_CHANGE](ls, lsp.DidChangeTextDocumentParams(versioned, [whole]))
    assert rules not in ls.state.workspace.buffers and not ls.state.pending  # a change to a closed document: ignored
    (pkg / "ui.yaml").unlink()
    event = lsp.FileEvent(uri=file_uri(str(pkg / "ui.yaml")), type=lsp.FileChangeType.Deleted)
    ls.handlers[lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES](ls, lsp.DidChangeWatchedFilesParams(changes=[event]))
    await _settle(ls)
    assert file_uri(str(pkg / "ui.yaml")) in ls.published
    # outside any package or not a file: nothing happens
    for other in ("untitled:x", file_uri(str(tmp_path / "x.yaml"))):
        item = lsp.TextDocumentItem(uri=other, language_id="yaml", version=1, text="")
        ls.handlers[lsp.TEXT_DOCUMENT_DID_OPEN](ls, lsp.DidOpenTextDocumentParams(item))
        ls.handlers[lsp.TEXT_DOCUMENT_DID_CLOSE](
            ls, SimpleNamespace(text_document=lsp.TextDocumentIdentifier(uri=other))
        )
    assert not ls.state.pending
    # a bug in a check is reported and the server goes on
    monkeypatch.setattr(diagnostics_feature, "check_package", lambda *args: 1 / 0)
    ls.handlers[lsp.TEXT_DOCUMENT_DID_SAVE](ls, SimpleNamespace(text_document=doc))
    await _settle(ls)
    assert isinstance(ls.errors[0], ZeroDivisionError)
