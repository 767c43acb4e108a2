"""Completion: YAML keys and values per artifact schema, references to other parts of the package, and inside CEL
expressions the fields in scope, enum values, macros and functions (`crmctl.lang.completion`).

It completes the buffer as it is, even when it does not parse, with the last package that loaded; each item's
`textEdit` replaces the word (or quoted string) typed before the cursor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from crmctl.lang.completion import CompletionItem, CompletionKind, complete
from crmctl.lsp.documents import document

if TYPE_CHECKING:
    from crmctl.lsp.convert import LineIndex
    from crmctl.lsp.server import CrmctlServer

__all__ = ["TRIGGER_CHARACTERS", "completion", "register"]

# `.` a member or a qualified name, ` ` after `key:` or an operator, quotes and `[` a value or list item being
# started, `:` a value after its key
TRIGGER_CHARACTERS = [".", " ", "'", '"', "[", ":"]

_KINDS = {
    CompletionKind.KEY: lsp.CompletionItemKind.Property,
    CompletionKind.VALUE: lsp.CompletionItemKind.Value,
    CompletionKind.REFERENCE: lsp.CompletionItemKind.Reference,
    CompletionKind.FIELD: lsp.CompletionItemKind.Field,
    CompletionKind.ENUM_VALUE: lsp.CompletionItemKind.EnumMember,
    CompletionKind.VARIABLE: lsp.CompletionItemKind.Variable,
    CompletionKind.FUNCTION: lsp.CompletionItemKind.Function,
    CompletionKind.MACRO: lsp.CompletionItemKind.Method,
    CompletionKind.KEYWORD: lsp.CompletionItemKind.Keyword,
}


def completion(ls: CrmctlServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    """The items at the cursor; an empty list outside package files."""
    doc = document(ls, params.text_document.uri)
    if doc is None:
        return lsp.CompletionList(is_incomplete=False, items=[])
    line, column = doc.at(params.position)
    items = complete(doc.last_good(ls), doc.file, doc.text, line, column)
    capability = ls.client_capabilities.text_document
    completion_item = capability.completion.completion_item if capability and capability.completion else None
    formats = list(completion_item.documentation_format or []) if completion_item else None
    return lsp.CompletionList(is_incomplete=False, items=[_item(ls, item, doc.index, formats) for item in items])


def _item(
    ls: CrmctlServer, item: CompletionItem, index: LineIndex, formats: list[lsp.MarkupKind] | None
) -> lsp.CompletionItem:
    edit = (
        lsp.TextEdit(range=index.range(item.replace), new_text=item.insert_text) if item.replace is not None else None
    )
    return lsp.CompletionItem(
        label=item.label,
        kind=_KINDS[item.kind],
        detail=item.detail or None,
        documentation=ls.markup(item.documentation, formats) if item.documentation else None,
        sort_text=item.sort_text or None,
        filter_text=item.insert_text if item.insert_text and item.insert_text != item.label else None,
        insert_text=None if edit is not None else item.insert_text or None,
        text_edit=edit,
    )


def register(server: CrmctlServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
    def on_completion(ls: CrmctlServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        return completion(ls, params)
