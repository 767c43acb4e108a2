"""Where a published package came from: the git work tree around its directory, when there is one.

The remote URL goes into the signed log forever, so it is stored without credentials (`public_url`).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["public_url", "source_provenance"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)::")
# Schemes whose user name is an account on the server (ssh's `git@`), never a secret; any other scheme's user
# name may be one (https://<token>@github.com/...).
_SSH_SCHEMES = frozenset(("ssh", "git+ssh", "ssh+git"))
_SCP_HOST = re.compile(r"(?:\[[^\]/@]*\]|[A-Za-z0-9._-]+):")


def public_url(url: str) -> str:
    """`url` without credentials, for every form of remote git accepts.

    - `scheme://[user[:password]@]host[:port]/path[?query][#fragment]`: the user and password go (for ssh the
      user name stays, without any password), and so do the query and the fragment, where tokens travel
      (`?private_token=...`). As git does, the host part ends at the first `/`, `?` or `#`; everything up to the
      *last* `@` in it is the user part, so a password containing `@` goes entirely.
    - scp-like `[user[:password]@]host:path`: the user name stays (`git@github.com:org/repo.git`), a password
      goes; the user part ends at the last `@` that is followed by a host name and `:` (so a password with `@`
      or `/` in it goes too).
    - `transport::address` (a remote helper): the address is cleaned the same way.
    - A local path is kept as it is.
    """
    text = url.strip()
    helper = _HELPER.match(text)
    if helper is not None and not _SCHEME.match(text):
        return helper.group(0) + public_url(text[helper.end() :])
    scheme = _SCHEME.match(text)
    if scheme is not None:
        rest = text[scheme.end() :]
        cut = min([i for i in (rest.find(c) for c in "/?#") if i >= 0], default=len(rest))
        userinfo, at, host = rest[:cut].rpartition("@")
        user = userinfo.split(":", 1)[0] if at and scheme.group(1).lower() in _SSH_SCHEMES else ""
        path = re.split(r"[?#]", rest[cut:], maxsplit=1)[0]
        return f"{scheme.group(0)}{user + '@' if user else ''}{host}{path}"
    slash = text.find("/")
    head = text if slash < 0 else text[:slash]
    if ":" not in head:  # a local path (`/srv/repo.git`, `./repo`, `../x`)
        return text
    for sign in sorted((i for i, c in enumerate(text) if c == "@"), reverse=True):
        remainder = text[sign + 1 :]
        if _SCP_HOST.match(remainder):
            user = text[:sign].split(":", 1)[0]
            return f"{user + '@' if user else ''}{remainder}"
    return text


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
        "repository": public_url(remote) if remote else None,
        "commit": commit,
        "path": rel,
        "dirty": bool(status),
    }
