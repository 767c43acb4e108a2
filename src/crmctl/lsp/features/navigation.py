"""Go to definition and find references across the artifacts of a package (`crmctl.lang.navigation`), answered
from the package loaded from the current buffers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from crmctl.lang.navigation import definition, references
from crmctl.lsp.convert import LineIndex, file_uri
from crmctl.lsp.documents import document, package_texts

if TYPE_CHECKING:
    from collections.abc import Callable

    from crmctl.lsp.server import CrmctlServer
    from crmctl.model.diagnostics import Location

__all__ = ["on_definition", "on_references", "register"]


def _answer(
    ls: CrmctlServer, uri: str, position: lsp.Position, find: Callable[..., list[Location]], *args: bool
) -> list[lsp.Location]:
    doc = document(ls, uri)
    if doc is None:
        return []
    package = doc.loaded(ls).package
    if package is None:
        return []
    line, column = doc.at(position)
    texts = package_texts(package)
    indexes: dict[str, LineIndex] = {}
    out: list[lsp.Location] = []
    for span in find(package, doc.file, line, column, *args):
        index = indexes.setdefault(span.file, LineIndex(texts.get(span.file, ""), ls.encoding))
        out.append(lsp.Location(uri=file_uri(span.file), range=index.range(span)))
    return out


def on_definition(ls: CrmctlServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
    return _answer(ls, params.text_document.uri, params.position, definition)


def on_references(ls: CrmctlServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    include = bool(params.context.include_declaration) if params.context is not None else True
    return _answer(ls, params.text_document.uri, params.position, references, include)


def register(server: CrmctlServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition_(ls: CrmctlServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
        return on_definition(ls, params)

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def references_(ls: CrmctlServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
        return on_references(ls, params)
