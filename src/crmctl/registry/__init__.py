"""Control plane: the git-based package registry (publish, promote, resolve, verify). See docs/registry.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmctl.model.tree import FileTree

__all__ = ["open_version_tree"]


def open_version_tree(location: str, name: str, ref: str | None) -> FileTree:
    """A published version (`ref` = a version, a channel name, or None for the latest) as a FileTree.

    The artifacts are checked against the logged digest; user errors (no registry, no such version) raise
    `crmctl.errors.UserError` subclasses.
    """
    from crmctl.registry.query import open_version_tree as _open

    return _open(location, name, ref)
