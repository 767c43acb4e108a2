"""Where a published package came from: the git work tree around its directory, when there is one."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["source_provenance"]

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")


def _git(directory: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, check=False)
    except OSError:
        return None
    return result.stdout.decode(errors="replace").strip() if result.returncode == 0 else None


def source_provenance(directory: Path) -> dict[str, Any] | None:
    """Remote URL (credentials stripped), commit, path within the repository and whether it had local edits."""
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    commit = _git(directory, "rev-parse", "--verify", "-q", "HEAD")
    remote = _git(directory, "config", "--get", "remote.origin.url")
    try:
        rel = directory.resolve().relative_to(Path(top).resolve()).as_posix()
    except ValueError:
        rel = "."
    status = _git(directory, "status", "--porcelain", "--untracked-files=all", "--", ".")
    return {
        "repository": _USERINFO.sub(r"\1", remote) if remote else None,
        "commit": commit,
        "path": rel,
        "dirty": bool(status),
    }
