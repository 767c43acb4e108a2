"""Navigation over a package: go to definition, find references, the outline of a file and workspace symbols.

Every function takes a loaded `Package` and a position as `Location` has it (1-based line, 1-based column in
characters, files named as `SourceDoc.file` names them), and answers from the symbol index
(`crmctl.lang.symbols`). A position on a definition's name or on any reference resolves to the symbol; a
position on nothing gives an empty answer, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmctl.lang.symbols import Symbol, SymbolKey, index_for

if TYPE_CHECKING:
    from crmctl.model.diagnostics import Location
    from crmctl.model.package import Package

__all__ = [
    "SymbolNode",
    "definition",
    "document_symbols",
    "references",
    "symbol_at",
    "workspace_symbols",
]


@dataclass(frozen=True)
class SymbolNode:
    """One entry of a file's outline: the symbol (its `name_span` is the selection, its `body_span` the range)
    and the symbols defined inside it (an entity's fields, an object's members, a step's groups, a workflow's
    states and transitions, a state's task)."""

    symbol: Symbol
    children: list[SymbolNode] = field(default_factory=list)


def symbol_at(package: Package, file: str, line: int, column: int) -> SymbolKey | None:
    """The key of the symbol named under the position (a definition or a reference), or None."""
    hit = index_for(package).at(file, line, column)
    return hit[0] if hit is not None else None


def definition(package: Package, file: str, line: int, column: int) -> list[Location]:
    """Where the symbol under the position is defined: the span of its name (several for a message key defined in
    every locale, or a step id two forms share); empty when the position names nothing known."""
    key = symbol_at(package, file, line, column)
    if key is None:
        return []
    return _sorted(s.name_span for s in index_for(package).definitions.get(key, []))


def references(package: Package, file: str, line: int, column: int, include_declaration: bool = True) -> list[Location]:
    """Every place naming the symbol under the position, in file and document order: the exact span of each
    reference (and of each definition's name unless `include_declaration` is False)."""
    index = index_for(package)
    key = symbol_at(package, file, line, column)
    if key is None:
        return []
    spans = [ref.span for ref in index.references.get(key, [])]
    if include_declaration:
        spans += [s.name_span for s in index.definitions.get(key, [])]
    return _sorted(spans)


def document_symbols(package: Package, file: str) -> list[SymbolNode]:
    """The outline of one file as a tree in document order: entity > fields > members; form > steps > groups;
    workflow > calendars, states (> task), transitions, timers; rules, validations, events, roles and message
    keys at the top of their files."""
    index = index_for(package)
    symbols = index.in_file(file)
    nodes = {id(s): SymbolNode(s) for s in symbols}
    by_key: dict[SymbolKey, SymbolNode] = {}
    for s in symbols:
        by_key.setdefault(s.key, nodes[id(s)])
    roots: list[SymbolNode] = []
    for s in symbols:
        parent = by_key.get(s.parent) if s.parent is not None else None
        (parent.children if parent is not None else roots).append(nodes[id(s)])
    return roots


def workspace_symbols(packages: Iterable[Package], query: str) -> list[Symbol]:
    """Definitions of every package whose name matches `query`, best first: exact, then prefix, then substring,
    then the query's characters in order (fuzzy, as editors match), case-insensitively, on the symbol's name or
    its qualified name (`Lead.email`). An empty query lists every symbol."""
    wanted = query.casefold()
    ranked: list[tuple[int, str, str, int, int, Symbol]] = []
    for package in packages:
        for s in index_for(package).symbols:
            rank = min(_rank(s.name.casefold(), wanted), _rank(s.qualified.casefold(), wanted) + 1)
            if rank < _NO_MATCH:
                span = s.name_span
                ranked.append((rank, s.qualified.casefold(), span.file, span.line, span.column, s))
    ranked.sort(key=lambda r: r[:5])
    return [r[-1] for r in ranked]


_NO_MATCH = 10


def _rank(name: str, query: str) -> int:
    if not query or name == query:
        return 0
    if name.startswith(query):
        return 2
    if query in name:
        return 4
    rest = iter(name)
    if all(ch in rest for ch in query):
        return 6
    return _NO_MATCH


def _sorted(spans: Iterable[Location]) -> list[Location]:
    unique = {(s.file, s.line, s.column, s.end_line, s.end_column): s for s in spans}
    return [unique[k] for k in sorted(unique, key=lambda k: (k[0], k[1], k[2]))]
