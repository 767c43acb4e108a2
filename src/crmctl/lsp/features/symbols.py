"""The outline of a document (hierarchical `DocumentSymbol`s) and workspace symbols over every package the server
knows: the packages of open documents and those found under the workspace folders at `initialize`
(`crmctl.lang.navigation`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from crmctl.lang.navigation import SymbolNode, document_symbols, workspace_symbols
from crmctl.lsp.convert import LineIndex, file_uri
from crmctl.lsp.documents import current, document, package_texts
from crmctl.lsp.workspace import package_dir

if TYPE_CHECKING:
    from crmctl.lang.symbols import Symbol
    from crmctl.lsp.server import CrmctlServer
    from crmctl.model.package import Package

__all__ = ["on_document_symbol", "on_workspace_symbol", "register", "symbol_kind"]

_KINDS = {
    "package": lsp.SymbolKind.Package,
    "entity": lsp.SymbolKind.Class,
    "field": lsp.SymbolKind.Field,
    "alias": lsp.SymbolKind.Field,
    "form": lsp.SymbolKind.Module,
    "step": lsp.SymbolKind.Namespace,
    "group": lsp.SymbolKind.Struct,
    "rule": lsp.SymbolKind.Function,
    "validation": lsp.SymbolKind.Boolean,
    "workflow": lsp.SymbolKind.Class,
    "state": lsp.SymbolKind.EnumMember,
    "transition": lsp.SymbolKind.Operator,
    "task": lsp.SymbolKind.Method,
    "calendar": lsp.SymbolKind.Object,
    "timer": lsp.SymbolKind.Event,
    "event": lsp.SymbolKind.Event,
    "role": lsp.SymbolKind.Key,
    "message": lsp.SymbolKind.String,
    "plural": lsp.SymbolKind.String,
}


def symbol_kind(kind: str) -> lsp.SymbolKind:
    return _KINDS.get(kind, lsp.SymbolKind.Variable)


def on_document_symbol(ls: CrmctlServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    doc = document(ls, params.text_document.uri)
    if doc is None:
        return []
    loaded = doc.loaded(ls)
    if loaded.package is None or doc.file in loaded.parse_errors:
        return []  # the outline of the last version that parsed would point at the wrong lines
    index = doc.index

    def convert(node: SymbolNode) -> lsp.DocumentSymbol:
        s = node.symbol
        return lsp.DocumentSymbol(
            name=s.name,
            kind=symbol_kind(s.kind),
            range=index.range(s.body_span),
            selection_range=index.range(s.name_span),
            detail=s.detail or s.kind,
            children=[convert(child) for child in node.children] or None,
        )

    return [convert(node) for node in document_symbols(loaded.package, doc.file)]


def known_packages(ls: CrmctlServer) -> list[Package]:
    """The packages of open documents and of the workspace folders, each loaded from the current buffers."""
    roots = set(ls.state.package_roots)
    roots |= {root for path in ls.state.workspace.buffers if (root := package_dir(path)) is not None}
    packages: list[Package] = []
    for root in sorted(roots):
        package = current(ls, root).package
        if package is not None:
            packages.append(package)
    return packages


def on_workspace_symbol(ls: CrmctlServer, params: lsp.WorkspaceSymbolParams) -> list[lsp.SymbolInformation]:
    packages = known_packages(ls)
    texts: dict[str, str] = {}
    for package in packages:
        texts.update(package_texts(package))
    indexes: dict[str, LineIndex] = {}

    def convert(s: Symbol) -> lsp.SymbolInformation:
        span = s.name_span
        index = indexes.setdefault(span.file, LineIndex(texts.get(span.file, ""), ls.encoding))
        return lsp.SymbolInformation(
            name=s.name,
            kind=symbol_kind(s.kind),
            location=lsp.Location(uri=file_uri(span.file), range=index.range(s.body_span)),
            container_name=s.container,
        )

    return [convert(s) for s in workspace_symbols(packages, params.query)]


def register(server: CrmctlServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol_(ls: CrmctlServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        return on_document_symbol(ls, params)

    @server.feature(lsp.WORKSPACE_SYMBOL)
    def workspace_symbol_(ls: CrmctlServer, params: lsp.WorkspaceSymbolParams) -> list[lsp.SymbolInformation]:
        return on_workspace_symbol(ls, params)
