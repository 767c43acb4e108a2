"""Packages read straight from git objects (`git:REV[:path]`), never touching the work tree.

GitPython is imported inside the functions: only `diff --against git:...` needs it.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from crmctl.errors import EnvironmentFailure, GitRefError, InputError
from crmctl.model.source import MAX_FILE_BYTES

__all__ = ["GitTree", "open_git_tree", "parse_git_spec"]

_SYMLINK_MODE = 0o120000


def parse_git_spec(spec: str) -> tuple[str, str | None]:
    """`git:REV` or `git:REV:path/in/repo` → (REV, path or None)."""
    body = spec[4:] if spec.startswith("git:") else spec
    rev, sep, path = body.partition(":")
    if not rev:
        raise GitRefError(f"{spec}: no revision given", hint="write git:REV or git:REV:path, e.g. git:main")
    return rev, (path.strip("/") if sep else None)


class GitTree:
    """A `FileTree` over one git tree object (the package directory at one revision)."""

    def __init__(self, tree: Any, label: str) -> None:
        self._tree = tree
        self.label = label
        self._blobs: dict[str, Any] | None = None

    def _index(self) -> dict[str, Any]:
        if self._blobs is None:
            blobs: dict[str, Any] = {}
            for item in self._tree.traverse():
                if item.type != "blob":
                    continue
                rel = posixpath.relpath(item.path, self._tree.path) if self._tree.path else item.path
                if any(part.startswith(".") for part in rel.split("/")):
                    continue
                blobs[rel] = item
            self._blobs = blobs
        return self._blobs

    def files(self) -> list[str]:
        return sorted(self._index())

    def read(self, rel: str) -> bytes:
        blobs = self._index()
        seen: set[str] = set()
        while True:
            blob = blobs.get(rel)
            if blob is None:
                raise InputError(f"{self.label}/{rel}: no such file at this revision")
            if blob.size > MAX_FILE_BYTES:  # from the object's header: refused before the blob is read
                raise InputError(f"{self.label}/{rel}: file is {blob.size} bytes; the limit is {MAX_FILE_BYTES} bytes")
            data: bytes = blob.data_stream.read()
            if blob.mode != _SYMLINK_MODE:
                return data
            target = data.decode("utf-8", "replace")
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if target.startswith("/") or joined == ".." or joined.startswith("../") or joined in seen:
                raise InputError(f"{self.label}/{rel}: symlink points outside the package directory ({target})")
            seen.add(rel)
            rel = joined


def _shallow_hint(repo: Any, rev: str) -> str | None:
    if not (Path(repo.git_dir) / "shallow").exists():
        return None
    if rev.startswith("origin/"):
        branch = rev.split("/", 1)[1]
        fetch = f"git fetch origin {branch}:refs/remotes/origin/{branch} --depth=50"
    else:
        fetch = "git fetch --depth=50 origin"
    return (
        f"this is a shallow clone, so {rev} may simply not have been fetched: run `git fetch --unshallow`, "
        f"or `{fetch}` (in CI: actions/checkout with fetch-depth: 0)"
    )


def _resolve(repo: Any, rev: str) -> Any:
    from git.exc import BadName, BadObject, GitError

    try:
        commit = repo.commit(rev)
        _ = commit.tree.hexsha  # forces the object to be read: in shallow clones parents may be missing
    except (BadName, BadObject, ValueError, GitError, OSError):
        hint = _shallow_hint(repo, rev) or (
            f"check it with `git rev-parse --verify {rev}`; remote branches need `git fetch origin`, tags "
            "`git fetch --tags`"
        )
        raise GitRefError(f"git:{rev}: no such revision in {repo.working_tree_dir}", hint=hint) from None
    return commit


def open_git_tree(spec: str, anchor: Path, *, merge_base: bool = False) -> GitTree:
    """Open `git:REV[:path]`. Without a path, the package is `anchor` taken relative to the repository root."""
    import shutil

    if shutil.which("git") is None:  # GitPython fails at import with a page of advice; say it in one line
        raise EnvironmentFailure(f"{spec}: git is not installed or not on PATH; git: refs need it")
    import git

    rev, path = parse_git_spec(spec)
    try:
        repo = git.Repo(anchor if anchor.exists() else Path.cwd(), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        hint = "run crmctl inside a clone, or compare against a directory or archive"
        raise GitRefError(f"{spec}: {anchor} is not inside a git repository", hint=hint) from None
    if repo.bare or repo.working_tree_dir is None:
        raise GitRefError(f"{spec}: bare repositories are not supported")
    commit = _resolve(repo, rev)
    shown = rev
    if merge_base:
        head = _resolve(repo, "HEAD")
        bases = repo.merge_base(commit, head)
        if not bases:
            raise GitRefError(
                f"git:{rev}: no common ancestor with HEAD",
                hint=_shallow_hint(repo, rev) or "are the histories unrelated?",
            )
        commit = bases[0]
        shown = f"merge-base({rev}, HEAD)={commit.hexsha[:12]}"
    if path is None:
        root = Path(repo.working_tree_dir).resolve()
        target = anchor.resolve()
        if not target.is_relative_to(root):
            raise GitRefError(
                f"{spec}: {anchor} is outside the repository at {root}",
                hint="name the path explicitly: git:REV:path/in/repo",
            )
        path = target.relative_to(root).as_posix()
        path = "" if path == "." else path
    tree = commit.tree
    if path:
        try:
            tree = commit.tree / path
        except KeyError:
            raise GitRefError(
                f"git:{rev}: {path} does not exist at {shown} ({commit.hexsha[:12]}); nothing to compare against",
                hint="if the package moved, name its old path: git:REV:old/path; if it is new, there is no old "
                "version to diff",
            ) from None
        if tree.type != "tree":
            raise GitRefError(f"git:{rev}: {path} is a file at {shown}, not a package directory")
    label = f"git:{rev}:{path}" if path else f"git:{rev}"
    return GitTree(tree, label)
