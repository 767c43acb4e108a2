"""Hover: what `crmctl.lang.hover` says of the position (a field, an expression's type, a key, a rule code in an
inline ignore) and, on the range of a finding of the last check, the explanation of its code: the rule's catalogue
entry for a lint code, the change kind's class and reason for a compatibility code (`crmctl explain CODE`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from crmctl.compat.kinds import explain_change
from crmctl.lang.hover import explain_markdown, hover
from crmctl.lsp.convert import diagnostic_span
from crmctl.lsp.documents import Document, document

if TYPE_CHECKING:
    from crmctl.lsp.server import CrmctlServer

__all__ = ["code_markdown", "on_hover", "register"]


def code_markdown(code: str) -> str | None:
    """The explanation of a finding's code as Markdown: a lint rule's or a change kind's; None for other codes
    (a parse error, a baseline problem)."""
    if code.upper().startswith("CMP"):
        return explain_change(code, markdown=True)
    return explain_markdown(code)


def on_hover(ls: CrmctlServer, params: lsp.HoverParams) -> lsp.Hover | None:
    doc = document(ls, params.text_document.uri)
    if doc is None:
        return None
    line, column = doc.at(params.position)
    loaded = doc.loaded(ls)
    parts: list[str] = []
    span = None
    if doc.file not in loaded.parse_errors:
        found = hover(loaded.package, doc.file, line, column)
        if found is not None:
            parts.append(found.markdown)
            span = doc.index.range(found.span)
    for text, finding_range in _findings_at(ls, doc, line, column):
        parts.append(text)
        span = span or finding_range
    if not parts:
        return None
    capability = ls.client_capabilities.text_document
    formats = list(capability.hover.content_format or []) if capability and capability.hover else None
    return lsp.Hover(contents=ls.markup("\n\n---\n\n".join(parts), formats), range=span)


def _findings_at(ls: CrmctlServer, doc: Document, line: int, column: int) -> list[tuple[str, lsp.Range]]:
    """The explanations of the findings of the last check whose range holds the position, once per code. None
    while the buffer differs from the text that check saw (its ranges would be off)."""
    result = ls.state.results.get(doc.root)
    if result is None or result.texts.get(doc.file) != doc.text or result.loaded.package is None:
        return []
    source = next((d for d in result.loaded.package.docs.values() if d.file == doc.file), None)
    out: list[tuple[str, lsp.Range]] = []
    seen: set[str] = set()
    for diag in result.findings.get(doc.file, []):
        span = diagnostic_span(diag.location, source, doc.index)
        end = (span.end_line or span.line, span.end_column or span.column)
        if not (span.line, span.column) <= (line, column) <= end or diag.code in seen:
            continue
        seen.add(diag.code)
        text = code_markdown(diag.code)
        if text is not None:
            out.append((text, doc.index.range(span)))
    return out


def register(server: CrmctlServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover_(ls: CrmctlServer, params: lsp.HoverParams) -> lsp.Hover | None:
        return on_hover(ls, params)
