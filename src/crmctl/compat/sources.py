"""Where the two sides of a diff come from: a directory, an archive, `git:REV[:path]`, or a scheme that a
higher layer plugs in (the CLI adds `registry:NAME@VERSION|CHANNEL`, since compat may not import the registry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from crmctl.compat.archive import is_archive, open_archive
from crmctl.errors import UsageError
from crmctl.model.tree import DirTree

if TYPE_CHECKING:
    from crmctl.model.tree import FileTree

__all__ = ["SchemeOpener", "open_source", "resolve_sides"]

# `scheme:rest` → a tree, for schemes the core does not know (extension point: the CLI registers `registry`).
SchemeOpener = Callable[[str], "FileTree"]


def open_source(
    spec: str,
    *,
    anchor: Path | None = None,
    merge_base: bool = False,
    schemes: Mapping[str, SchemeOpener] | None = None,
) -> FileTree:
    """Open one side. `anchor` is the directory a bare `git:REV` is taken relative to the repository root."""
    scheme, sep, rest = spec.partition(":")
    if sep and schemes and scheme in schemes:
        if merge_base:
            raise UsageError(f"--merge-base needs a git ref (git:REV), not {spec}")
        return schemes[scheme](rest)
    if spec.startswith("git:"):
        from crmctl.compat.gitrefs import open_git_tree

        return open_git_tree(spec, anchor or Path.cwd(), merge_base=merge_base)
    if merge_base:
        raise UsageError(f"--merge-base needs a git ref (git:REV), not {spec}")
    if is_archive(spec):
        return open_archive(Path(spec), spec)
    return DirTree(Path(spec), spec)


def resolve_sides(
    old: str,
    new: str | None,
    *,
    against: str | None,
    merge_base: bool,
    schemes: Mapping[str, SchemeOpener] | None = None,
) -> tuple[FileTree, FileTree]:
    """`diff OLD NEW` or `diff PATH --against REF` → (old tree, new tree)."""
    if against is not None:
        if new is not None:
            raise UsageError("give either OLD NEW or PATH --against REF, not both")
        old, new = against, old
    elif new is None:
        raise UsageError("give two packages (OLD NEW), or one with --against REF")
    new_tree = open_source(new, schemes=schemes)
    remote = new.startswith("git:") or new.partition(":")[0] in (schemes or {})
    anchor = Path(new) if not remote and not is_archive(new) else None
    old_tree = open_source(old, anchor=anchor, merge_base=merge_base, schemes=schemes)
    return old_tree, new_tree
