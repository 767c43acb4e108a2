"""Rename that keeps compatibility (`crmctl.lang.rename`): `prepareRename` gives the span and current name of the
symbol under the cursor, `rename` the edits over every file of the package, open or not. A refused rename (a
state, an entity, an existing name, a file that does not parse...) answers with a `RequestFailed` error carrying
the reason, which editors show as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from crmctl.lang.rename import RenameRefused, prepare_rename, rename
from crmctl.lsp.convert import to_workspace_edit
from crmctl.lsp.documents import Document, document, package_texts

if TYPE_CHECKING:
    from crmctl.lsp.server import CrmctlServer
    from crmctl.model.package import Package

__all__ = ["on_prepare_rename", "on_rename", "register"]


def _refused(message: str) -> JsonRpcException:
    return JsonRpcException(message, code=lsp.LSPErrorCodes.RequestFailed)


def _package(ls: CrmctlServer, uri: str) -> tuple[Document, Package]:
    """The document and its package loaded from the current buffers; refused while a file of it does not parse
    (the rename would be computed on an older text, or miss references in that file)."""
    doc = document(ls, uri)
    if doc is None:
        raise _refused("nothing to rename here: the document is not a file of a package")
    loaded = doc.loaded(ls)
    if loaded.package is None:
        raise _refused(f"cannot rename: the package does not load ({loaded.error})")
    if loaded.parse_errors:
        files = ", ".join(sorted(loaded.parse_errors))
        raise _refused(f"cannot rename: {files} does not parse (see the diagnostics); fix it first")
    return doc, loaded.package


def on_prepare_rename(ls: CrmctlServer, params: lsp.PrepareRenameParams) -> lsp.PrepareRenamePlaceholder:
    doc, package = _package(ls, params.text_document.uri)
    line, column = doc.at(params.position)
    try:
        target = prepare_rename(package, doc.file, line, column)
    except RenameRefused as exc:
        raise _refused(str(exc)) from exc
    return lsp.PrepareRenamePlaceholder(range=doc.index.range(target.span), placeholder=target.name)


def on_rename(ls: CrmctlServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit:
    doc, package = _package(ls, params.text_document.uri)
    line, column = doc.at(params.position)
    try:
        edits = rename(package, doc.file, line, column, params.new_name)
    except RenameRefused as exc:
        raise _refused(str(exc)) from exc
    return to_workspace_edit(edits, package_texts(package), ls.encoding)


def register(server: CrmctlServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename_(ls: CrmctlServer, params: lsp.PrepareRenameParams) -> lsp.PrepareRenamePlaceholder:
        return on_prepare_rename(ls, params)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
    def rename_(ls: CrmctlServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit:
        return on_rename(ls, params)
