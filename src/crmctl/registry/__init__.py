"""Control plane: the git-based package registry (publish, promote, resolve, verify). See docs/registry.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from crmctl.model.tree import FileTree

__all__ = ["open_registry_ref", "open_version_tree"]


def open_version_tree(location: str, name: str, ref: str | None) -> FileTree:
    """A published version (`ref` = a version, a channel name, or None for the latest) as a FileTree.

    The artifacts are checked against the logged digest; user errors (no registry, no such version) raise
    `crmctl.errors.UserError` subclasses.
    """
    from crmctl.registry.query import open_version_tree as _open

    return _open(location, name, ref)


def open_registry_ref(ref: str, registry: str | None, *, start: Path | None = None) -> FileTree:
    """The package source `registry:REF` (`NAME@VERSION`, `NAME@CHANNEL`, or a bare `NAME` for its latest version)
    in `registry`, else the configured registry (`crmctl.registry.config.registry_location`, whose configuration
    file is looked up from `start`, by default the current directory)."""
    from crmctl.errors import UsageError
    from crmctl.registry.config import registry_location

    name, _, version_or_channel = ref.partition("@")
    if not name:
        raise UsageError(f"registry:{ref}: expected registry:NAME@VERSION or registry:NAME@CHANNEL")
    return open_version_tree(registry_location(registry, start), name, version_or_channel or None)
