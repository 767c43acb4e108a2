"""What a request is about: the document a URI names, its current text (the open buffer, else the file on disk),
its package, and position conversion both ways.

Requests answer from packages loaded from the current buffers (`Workspace.load` parses again only what changed),
so positions in answers match the text the editor shows; completion answers from the last package that loaded,
since it is asked for in the middle of typing, when the buffer often does not parse. A load is reused while
neither the package's buffers nor its files on disk (size, modification time) changed: a package object keeps its
symbol index (`crmctl.lang.symbols.index_for`), which costs far more than a request on a large package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from crmctl.lsp.convert import LineIndex
from crmctl.lsp.workspace import Loaded, package_dir

if TYPE_CHECKING:
    from crmctl.lsp.server import CrmctlServer
    from crmctl.model.package import Package

__all__ = ["Document", "current", "document", "package_texts"]


@dataclass
class Document:
    """One document of a package: its path, name (as the package names its files), package directory and text."""

    path: Path
    root: Path
    text: str
    index: LineIndex

    @property
    def file(self) -> str:
        return str(self.path)

    def at(self, position: lsp.Position) -> tuple[int, int]:
        """The 1-based (line, character column) of an LSP position in this text."""
        return self.index.column(position)

    def loaded(self, ls: CrmctlServer) -> Loaded:
        """The package loaded from the current buffers."""
        return current(ls, self.root)

    def last_good(self, ls: CrmctlServer) -> Package | None:
        """The last package that loaded (from an older version of the buffers, maybe), loading it when none has."""
        package = ls.state.workspace.last_good.get(self.root)
        return package if package is not None else self.loaded(ls).package


def _fingerprint(root: Path, buffers: dict[Path, str]) -> tuple[object, ...]:
    """What a load of `root` depends on: its files on disk (name, size, modification time) and its open buffers."""
    disk: list[tuple[str, int, int]] = []
    for path in sorted(root.rglob("*")):
        try:
            stat = path.stat()
        except OSError:
            continue
        if path.is_file():
            disk.append((str(path), stat.st_size, stat.st_mtime_ns))
    open_ = sorted((str(p), text) for p, text in buffers.items() if p.is_relative_to(root))
    return (tuple(disk), tuple(open_))


def current(ls: CrmctlServer, root: Path) -> Loaded:
    """The package at `root` loaded from the current buffers; the previous load while nothing it read changed."""
    key = _fingerprint(root, ls.state.workspace.buffers)
    cached = ls.state.loads.get(root)
    if cached is not None and cached[0] == key:
        return cached[1]
    loaded = ls.state.workspace.load(root)
    ls.state.loads[root] = (key, loaded)
    return loaded


def document(ls: CrmctlServer, uri: str) -> Document | None:
    """The document `uri` names, or None: not a `file:` URI, not inside a package, neither open nor on disk."""
    path_text = to_fs_path(uri) if uri.startswith("file:") else None
    if not path_text:
        return None
    path = Path(path_text)
    root = package_dir(path)
    if root is None:
        return None
    text = ls.state.workspace.buffers.get(path)
    if text is None:
        try:
            text = path.read_text("utf-8", errors="replace")
        except OSError:
            return None
    return Document(path, root, text, LineIndex(text, ls.encoding))


def package_texts(package: Package) -> dict[str, str]:
    """The text each file of a package was loaded from (buffers and files on disk alike), for position conversion
    of edits to files that are not open."""
    return {doc.file: doc.text for doc in package.docs.values()}
