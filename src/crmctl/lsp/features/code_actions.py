"""Code actions: the quick fix of each finding under the cursor whose rule has a mechanical fix
(`crmctl.lang.fixes`), and "ignore CODE here" inserting the inline ignore comment with a reason to fill in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from crmctl.lsp.convert import LineIndex, diagnostic_span, to_lsp_diagnostic, to_workspace_edit
from crmctl.lsp.workspace import package_dir

if TYPE_CHECKING:
    from crmctl.lang.edits import TextEdit
    from crmctl.lsp.server import CrmctlServer
    from crmctl.model.diagnostics import Diagnostic

__all__ = ["code_actions", "register"]


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def code_actions(ls: CrmctlServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    """The actions for the findings of the last check that overlap the requested range. None are offered while
    the buffer differs from the text that check saw (a fix computed on an older text would land wrong)."""
    from crmctl.lang.fixes import ignore_edit, quick_fix  # not at module level: the server's start does not need it

    path = to_fs_path(params.text_document.uri)
    root = package_dir(Path(path)) if path and params.text_document.uri.startswith("file:") else None
    result = ls.state.results.get(root) if root is not None else None
    if result is None or result.loaded.package is None or path is None:
        return []
    package = result.loaded.package
    texts = result.texts
    buffer = ls.state.workspace.buffers.get(Path(path))
    if path not in texts or (buffer is not None and buffer != texts[path]):
        return []
    index = LineIndex(texts[path], ls.encoding)
    doc = next((d for d in package.docs.values() if d.file == path), None)
    only = params.context.only
    actions: list[lsp.CodeAction] = []
    for diag in result.findings.get(path, []):
        if not _overlaps(index.range(diagnostic_span(diag.location, doc, index)), params.range):
            continue
        lsp_diag = to_lsp_diagnostic(diag, doc, index, None)
        fix = quick_fix(diag, package)
        if fix and (not only or lsp.CodeActionKind.QuickFix in only):
            actions.append(_action(ls, f"Fix {diag.code}: {_first_line(diag)}", fix, texts, lsp_diag, preferred=True))
        ignore = ignore_edit(diag, package)
        if ignore is not None and (not only or lsp.CodeActionKind.QuickFix in only):
            actions.append(_action(ls, f"Ignore {diag.code} here (with a reason)", [ignore], texts, lsp_diag))
    return actions


def _first_line(diag: Diagnostic) -> str:
    return (diag.fix or diag.message).splitlines()[0]


def _action(
    ls: CrmctlServer,
    title: str,
    edits: list[TextEdit],
    texts: dict[str, str],
    diagnostic: lsp.Diagnostic,
    *,
    preferred: bool = False,
) -> lsp.CodeAction:
    return lsp.CodeAction(
        title=title,
        kind=lsp.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=to_workspace_edit(edits, texts, ls.encoding),
        is_preferred=preferred or None,
    )


def register(server: CrmctlServer) -> None:
    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix])
    )
    def on_code_action(ls: CrmctlServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return code_actions(ls, params)
