"""Where package files come from: a directory, or (in compat) a git tree or an archive read in memory."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Protocol

from crmctl.errors import InputError
from crmctl.model.files import read_regular

__all__ = ["DirTree", "FileTree", "MemoryTree", "check_relative"]


class FileTree(Protocol):
    """A read-only set of files addressed by relative POSIX paths."""

    label: str

    def files(self) -> list[str]: ...

    def read(self, rel: str) -> bytes: ...


def check_relative(rel: str, label: str) -> str:
    """Refuse paths that would leave the package (absolute, `..`, backslashes)."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or "\\" in rel:
        raise InputError(f"{label}/{rel}: path leaves the package directory")
    return pure.as_posix()


class DirTree:
    """Files of a package directory; symlinks that leave the directory are refused."""

    def __init__(self, root: Path, label: str | None = None) -> None:
        if not root.exists():
            raise InputError(f"{root}: no such package directory")
        if not root.is_dir():
            raise InputError(f"{root}: not a directory (a package is a directory with package.yaml)")
        self.root = root
        self.real_root = root.resolve()
        self.label = label or str(root)

    def files(self) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(dirpath, name)
                found.append(path.relative_to(self.root).as_posix())
        return found

    def read(self, rel: str) -> bytes:
        path = self.root / check_relative(rel, self.label)
        where = f"{self.label}/{rel}"
        try:
            real = path.resolve(strict=True)
        except RuntimeError:  # Python before 3.13 reports a symlink loop so
            raise InputError(f"{where}: cannot read file: symlink loop") from None
        except OSError as exc:
            raise InputError(f"{where}: cannot read file: {exc.strerror}") from None
        if not real.is_relative_to(self.real_root):
            raise InputError(f"{where}: symlink points outside the package directory ({real})")
        return read_regular(path, where)


class MemoryTree:
    """Files already read into memory (an archive's members, a published version read from git)."""

    def __init__(
        self, files: dict[str, bytes], label: str, *, missing: str = "no such file", digest_algorithm: str | None = None
    ) -> None:
        """`digest_algorithm`: the form of the digest these files were published or stored under (a package loaded
        from them keeps it, `model.canonical`); None for the current one."""
        self._files = files
        self.label = label
        self._missing = missing
        self.digest_algorithm = digest_algorithm

    def files(self) -> list[str]:
        return sorted(self._files)

    def read(self, rel: str) -> bytes:
        try:
            return self._files[rel]
        except KeyError:
            raise InputError(f"{self.label}/{rel}: {self._missing}") from None
