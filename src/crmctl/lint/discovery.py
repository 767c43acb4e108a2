"""Where the packages under a directory are: `crmctl lint` and `crmctl fmt` without a package argument, and the
language server's workspace folders, find them the same way."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["discover_packages"]

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}


def discover_packages(root: Path, skip: Callable[[Path], bool] = lambda _: False) -> list[Path]:
    """Every directory under `root` containing package.yaml (skipping VCS, virtualenvs, node_modules, hidden
    directories and `skip`), in sorted walk order."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".") and not skip(Path(dirpath, d))
        )
        if "package.yaml" in filenames:
            found.append(Path(dirpath))
    return found
