"""Navigation end to end over stdio: definition, references, the outline and workspace symbols (over the packages
found under the workspace folder at initialize and those of open documents), with golden results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from tests.lsp.conftest import REPO, SERVER, check_golden, copy_package, open_doc, replace_text
from tests.lsp.test_assist import position, span

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT: list[Path] = []


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory) -> object:
    """A server whose workspace folder holds LeadLifecycle v1 and v2 and ClaimsIntake, as packages/<Name>/vN/."""
    root = tmp_path_factory.mktemp("workspace")
    for name in ("LeadLifecycle/v1", "LeadLifecycle/v2"):
        copy_package(name, root / "packages" / name)
    shutil.copytree(REPO / "packages" / "ClaimsIntake", root / "packages" / "ClaimsIntake")
    ROOT[:] = [root]
    params = lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(
            text_document=lsp.TextDocumentClientCapabilities(
                document_symbol=lsp.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True)
            )
        ),
        workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="crm")],
        initialization_options={"debounceMs": 0},
    )
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def rel(uri: str) -> str:
    return uri.removeprefix(ROOT[0].as_uri() + "/")


def locations(found: object) -> list[list[object]]:
    assert isinstance(found, list | tuple)
    return [[rel(loc.uri), *span(loc.range)] for loc in found if isinstance(loc, lsp.Location)]


def doc_id(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


def refs_params(uri: str, at: lsp.Position, declaration: bool) -> lsp.ReferenceParams:
    context = lsp.ReferenceContext(include_declaration=declaration)
    return lsp.ReferenceParams(context=context, text_document=doc_id(uri), position=at)


async def test_definition_and_references_across_artifacts(client: LanguageClient) -> None:
    pkg = ROOT[0] / "packages" / "LeadLifecycle" / "v1"
    rules = pkg / "rules.yaml"
    text = rules.read_text()
    uri = open_doc(client, rules)
    cases = {
        "field_in_expression": position(text, "when: company", 7),
        "rule_target": position(text, "target: companySize", 10),
        "rule_id": position(text, "id: showCompanySize", 5),
    }
    seen: dict[str, object] = {}
    for name, at in cases.items():
        definition = await client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc_id(uri), position=at)
        )
        refs = await client.text_document_references_async(
            lsp.ReferenceParams(
                context=lsp.ReferenceContext(include_declaration=True), text_document=doc_id(uri), position=at
            )
        )
        without = await client.text_document_references_async(
            lsp.ReferenceParams(
                context=lsp.ReferenceContext(include_declaration=False), text_document=doc_id(uri), position=at
            )
        )
        seen[name] = {"definition": locations(definition), "references": locations(refs)}
        assert locations(definition), name
        assert len(locations(without)) == len(locations(refs)) - len(locations(definition))
    check_golden("navigation", seen)
    refs = seen["field_in_expression"]["references"]  # type: ignore[index]
    files = {str(r[0]).rsplit("/", 1)[-1] for r in refs}
    assert {"schema.yaml", "rules.yaml", "ui.yaml"} <= files
    # on nothing: empty answers
    assert (
        locations(await client.text_document_definition_async(lsp.DefinitionParams(doc_id(uri), lsp.Position(1, 0))))
        == []
    )


async def test_definition_follows_the_unsaved_buffer(client: LanguageClient) -> None:
    pkg = ROOT[0] / "packages" / "LeadLifecycle" / "v2"
    schema, rules = pkg / "schema.yaml", pkg / "rules.yaml"
    schema_uri = open_doc(client, schema, "\n\n" + schema.read_text())  # two lines more than on disk
    rules_text = rules.read_text()
    rules_uri = open_doc(client, rules)
    found = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc_id(rules_uri), position=position(rules_text, "when: company", 7))
    )
    (loc,) = locations(found)
    assert loc[0].endswith("v2/schema.yaml")
    line = ("\n\n" + schema.read_text()).splitlines()[int(loc[1])]  # type: ignore[call-overload]
    assert line.strip() == "company:"
    replace_text(client, schema_uri, schema.read_text())


async def test_document_symbols_are_a_tree(client: LanguageClient) -> None:
    pkg = ROOT[0] / "packages" / "LeadLifecycle" / "v1"
    seen: dict[str, object] = {}

    def tree(symbols: list[lsp.DocumentSymbol]) -> list[object]:
        out: list[object] = []
        for s in symbols:
            assert s.range.start.line <= s.selection_range.start.line <= s.selection_range.end.line <= s.range.end.line
            entry: list[object] = [s.name, lsp.SymbolKind(s.kind).name, s.detail, span(s.selection_range)]
            if s.children:
                entry.append(tree(list(s.children)))
            out.append(entry)
        return out

    for name in ("schema.yaml", "ui.yaml", "workflow.yaml", "rules.yaml", "localization/en.yaml"):
        uri = open_doc(client, pkg / name)
        found = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc_id(uri)))
        assert found and all(isinstance(s, lsp.DocumentSymbol) for s in found)
        seen[name] = tree([s for s in found if isinstance(s, lsp.DocumentSymbol)])
    check_golden("document_symbols", seen)
    # a buffer that does not parse has no outline (its last good version's lines would be wrong)
    broken_uri = open_doc(client, pkg / "validations.yaml", "validations: [\n")
    assert not await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc_id(broken_uri)))


async def test_workspace_symbols_over_every_known_package(client: LanguageClient, tmp_path: Path) -> None:
    found = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="companySize"))
    assert isinstance(found, list | tuple)
    data = [
        [s.name, lsp.SymbolKind(s.kind).name, s.container_name, rel(s.location.uri), *span(s.location.range)]
        for s in found
        if isinstance(s, lsp.SymbolInformation)
    ]
    check_golden("workspace_symbols", data)
    assert {"LeadLifecycle/v1", "LeadLifecycle/v2"} <= {str(d[3]).removeprefix("packages/")[:16] for d in data}
    claims = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="Claim"))
    assert claims and any("ClaimsIntake" in s.location.uri for s in claims if isinstance(s, lsp.SymbolInformation))
    # a package outside the workspace folder counts once one of its documents is open
    outside = copy_package("LeadLifecycle/v1", tmp_path / "Elsewhere")
    open_doc(client, outside / "package.yaml")
    again = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="companySize"))
    assert again and any("Elsewhere" in s.location.uri for s in again if isinstance(s, lsp.SymbolInformation))
