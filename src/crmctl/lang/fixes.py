"""Quick fixes: the text edits that resolve a lint finding, where the rule's fix is mechanical, and the inline ignore
comment that suppresses any finding.

A fix is mechanical when the finding says exactly what to remove and nothing has to be chosen or written by a
person: a repeated list entry (PKG104, SCH106), `required: true` on a calculated field (SCH109), an inline ignore
that suppresses nothing (PKG011). Every other rule needs a decision (which of two files to keep, which name, which
type, which translation, which transition) and gets only the "ignore" action. See docs/lsp.md for the inventory.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crmctl.lang.edits import TextEdit
from crmctl.lint.suppress import scan_ignores
from crmctl.model.diagnostics import Diagnostic, Location
from crmctl.model.package import Package
from crmctl.model.source import SourceDoc

__all__ = ["FIXERS", "IGNORE_REASON", "ignore_edit", "quick_fix"]

IGNORE_REASON = "TODO: say why this is acceptable"
"""The reason an inserted ignore comment carries, for the author to replace (a reason is required, PKG010)."""

_INDENT = re.compile(r"[ \t]*")


def _doc(diag: Diagnostic, package: Package) -> SourceDoc | None:
    return next((d for d in package.docs.values() if d.file == diag.location.file), None)


def _lines(doc: SourceDoc) -> list[str]:
    return doc.text.split("\n")


def _delete_lines(doc: SourceDoc, first: int, last: int) -> TextEdit:
    """Delete whole lines `first`..`last` (1-based, inclusive) with their line break."""
    lines = _lines(doc)
    if last < len(lines):
        return TextEdit(doc.file, first, 1, last + 1, 1, "")
    if first > 1:  # the last line of a file without a final line break: take the break before it
        return TextEdit(doc.file, first - 1, len(lines[first - 2].rstrip("\r")) + 1, last, len(lines[last - 1]) + 1, "")
    return TextEdit(doc.file, first, 1, last, len(lines[last - 1]) + 1, "")


def _remove_list_item(diag: Diagnostic, package: Package) -> list[TextEdit] | None:
    """Remove the repeated entry a finding points at, with the separator before it (`, x` in a flow list, the
    line `- x` in a block list). The first occurrence is kept, so the entry is never the list's first."""
    doc = _doc(diag, package)
    found = doc.path_at(diag.location.line, diag.location.column) if doc else None
    if doc is None or found is None or found[1] or not found[0] or not isinstance(found[0][-1], int):
        return None
    path, index = found[0], found[0][-1]
    if index == 0:
        return None
    previous, item = doc.span((*path[:-1], index - 1)), doc.span(path)
    if item.line != previous.line and _lines(doc)[item.line - 1][: item.column - 1].strip() == "-":
        return [_delete_lines(doc, item.line, item.end_line or item.line)]
    start = (previous.end_line or previous.line, previous.end_column or previous.column)
    return [TextEdit(doc.file, *start, item.end_line or item.line, item.end_column or item.column, "")]


def _remove_key_line(diag: Diagnostic, package: Package) -> list[TextEdit] | None:
    """Remove a `key: value` that stands alone on its line (block style); a flow mapping is left to the author."""
    doc = _doc(diag, package)
    found = doc.path_at(diag.location.line, diag.location.column) if doc else None
    if doc is None or found is None or not found[0]:
        return None
    key, value = doc.span(found[0], key=True), doc.span(found[0])
    line = _lines(doc)[key.line - 1]
    if key.line != value.end_line or line[: key.column - 1].strip() or line[(value.end_column or 1) - 1 :].strip():
        return None
    return [_delete_lines(doc, key.line, key.line)]


def _remove_unused_ignore(diag: Diagnostic, package: Package) -> list[TextEdit] | None:
    """Remove the codes of an inline ignore that suppress nothing; the whole comment (or its line) when none of its
    codes is used."""
    doc = _doc(diag, package)
    if doc is None:
        return None
    ignore = next((i for i in scan_ignores(doc) if i.location == diag.location), None)
    unused = re.search(r"ignore\[([^\]]*)\]", diag.message)
    if ignore is None or unused is None:
        return None
    drop = {c.strip() for c in unused.group(1).split(",")}
    keep = [c for c in ignore.codes if c not in drop]
    line = _lines(doc)[diag.location.line - 1].rstrip("\r")
    start = diag.location.column
    bracket = line.index("[", start - 1)
    close = line.index("]", bracket)
    if keep:
        return [TextEdit(doc.file, diag.location.line, bracket + 2, diag.location.line, close + 1, ", ".join(keep))]
    if not line[: start - 1].strip():
        return [_delete_lines(doc, diag.location.line, diag.location.line)]
    before = len(line[: start - 1].rstrip()) + 1
    return [TextEdit(doc.file, diag.location.line, before, diag.location.line, len(line) + 1, "")]


Fixer = Callable[[Diagnostic, Package], "list[TextEdit] | None"]

FIXERS: dict[str, Fixer] = {
    "PKG011": _remove_unused_ignore,
    "PKG104": _remove_list_item,
    "SCH106": _remove_list_item,
    "SCH109": _remove_key_line,
}
"""The rules whose fix is mechanical, each with the function that writes it."""


def quick_fix(diag: Diagnostic, package: Package) -> list[TextEdit] | None:
    """The edits that resolve `diag` in `package` (the package the finding was reported on), or None when its
    rule has no mechanical fix or the text is not in a shape the fix handles."""
    fixer = FIXERS.get(diag.code)
    return fixer(diag, package) if fixer else None


def ignore_edit(diag: Diagnostic, package: Package, reason: str = IGNORE_REASON) -> TextEdit | None:
    """The comment line `# crmctl: ignore[CODE] reason="..."` inserted above the finding's line, indented like it,
    which suppresses the finding (`crmctl.lint.suppress`). None where a comment cannot go: a JSON file, a finding
    inside a multi-line scalar (a comment line there would be part of the text), a finding without a line, or a
    finding about an ignore comment itself."""
    doc = _doc(diag, package)
    if doc is None or doc.file.lower().endswith(".json") or diag.code in ("PKG010", "PKG011"):
        return None
    loc = diag.location
    lines = _lines(doc)
    if not 1 <= loc.line <= len(lines) or not _on_first_line_of_value(doc, loc):
        return None
    indent = _INDENT.match(lines[loc.line - 1])
    prefix = indent.group(0) if indent else ""
    comment = f'{prefix}# crmctl: ignore[{diag.code}] reason="{reason}"\n'
    return TextEdit(doc.file, loc.line, 1, loc.line, 1, comment)


def _on_first_line_of_value(doc: SourceDoc, loc: Location) -> bool:
    found = doc.path_at(loc.line, loc.column)
    if found is None:
        return True
    path, is_key = found
    span = doc.span(path, key=is_key)
    return span.line == loc.line or bool(span.end_line and span.end_line < loc.line)
