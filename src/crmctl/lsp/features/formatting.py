"""Formatting of a whole document and of a range through `crmctl fmt`'s canonical style
(`crmctl.model.formatting.format_edits`). A buffer the package loader refuses cannot be formatted: the request
answers with no edits and the reason goes to the client's log (`window/logMessage`), as the diagnostics already
show where the text is broken."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from crmctl.errors import CrmctlError
from crmctl.lsp.convert import to_text_edits
from crmctl.lsp.documents import document
from crmctl.model.formatting import format_edits

if TYPE_CHECKING:
    from crmctl.lsp.server import CrmctlServer

__all__ = ["formatting", "register"]


def formatting(ls: CrmctlServer, uri: str, lines: tuple[int, int] | None = None) -> list[lsp.TextEdit]:
    doc = document(ls, uri)
    if doc is None:
        return []
    try:
        edits = format_edits(doc.text, doc.file, lines)
    except CrmctlError as exc:
        ls.window_log_message(lsp.LogMessageParams(lsp.MessageType.Warning, f"crmctl fmt: not formatted: {exc}"))
        return []
    return to_text_edits(edits, doc.index)


def register(server: CrmctlServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting_(ls: CrmctlServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
        return formatting(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_RANGE_FORMATTING)
    def range_formatting_(ls: CrmctlServer, params: lsp.DocumentRangeFormattingParams) -> list[lsp.TextEdit]:
        start, end = params.range.start.line + 1, params.range.end.line + 1
        if params.range.end.character == 0 and end > start:
            end -= 1  # a selection ending at the start of a line does not take that line
        return formatting(ls, params.text_document.uri, (start, end))
