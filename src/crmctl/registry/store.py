"""The registry's storage: a git remote reached through the `git` command, mirrored in a local bare cache.

The `git` CLI (not GitPython) keeps `crmctl resolve` fast: a subprocess costs a few milliseconds, importing
GitPython eighty. Reads go through `git cat-file --batch` at one commit; writes build a commit with plumbing
(a temporary index) on top of the fetched head and push it, with its tag, in one `git push --atomic`.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from crmctl.errors import EnvironmentFailure, UserError
from crmctl.registry.names import shown

__all__ = [
    "ConflictError",
    "RemoteError",
    "Snapshot",
    "Store",
    "normalize_location",
]

# A URL, or git's scp-like `user@host:path`. Never text that starts with `-`: git would read it as one of its
# options (`--upload-pack=<command>`); such a location is a local path, made absolute.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^-/\\\s][^/\\\s]*@[^/\\\s:]+:")
_LOCK = re.compile(r"Unable to create '([^']+\.lock)': File exists")
_LOCK_PATIENCE = 1.0  # seconds: a live git process holds a ref lock for milliseconds
_REJECTED = ("[rejected]", "fetch first", "non-fast-forward", "atomic push failed", "[remote rejected]", "stale info")


class RemoteError(UserError):
    """The registry's git remote cannot be reached, read or written."""


class ConflictError(UserError):
    """Someone else changed the registry first and retrying did not help."""


def normalize_location(location: str, base: Path | None = None) -> str:
    """A git URL as given; a local path made absolute (relative to `base`, else the working directory)."""
    text = location.strip()
    if not text:
        raise UserError("the registry location is empty")
    if _URL.match(text):
        return text
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    path = path.resolve()
    try:
        path.exists()  # raises, rather than answering, for a name the file system cannot hold
    except OSError as error:
        raise UserError(f"{shown(text)}: not a usable registry path ({error.strerror})") from None
    return str(path)


def is_local(location: str) -> bool:
    return not _URL.match(location)


def cache_root() -> Path:
    override = os.environ.get("CRMCTL_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crmctl" / "registries"


# What git says when the machine, not the registry, is the problem: a full disk, a read-only file system, files
# it may not write (ssh's "Permission denied (publickey)" is a credential problem, reported as the remote's).
_ENVIRONMENT = re.compile(
    r"No space left on device|Disk quota exceeded|Read-only file system|"
    r"insufficient permission|Permission denied(?! \(publickey)"
)


def _failed(what: str, result: subprocess.CompletedProcess[bytes], *, cause: bool = False) -> str:
    """`what` and why git failed: its `fatal:`/`error:` lines, or the signal that killed it."""
    if result.returncode < 0:
        return f"{what}: git was killed by signal {-result.returncode}"
    return f"{what}: {_summarize(result.stderr.decode(errors='replace'), cause=cause)}"


def _summarize(stderr: str, *, cause: bool = False) -> str:
    """git's `fatal:`/`error:` lines; with `cause`, also the line before the first of them, which is where the
    transport (ssh) says why: "Permission denied (publickey)", "Could not resolve hostname"."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("hint:")]
    first = next((i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:", "ERROR"))), None)
    if first is None:
        return "; ".join(lines[-2:]) or "git failed"
    fatal = [line for line in lines if line.startswith(("fatal:", "error:", "ERROR"))]
    return "; ".join(lines[first - 1 : first] * (cause and first > 0) + fatal)


# Never wait for a person or a dead network: no ssh password or host-key prompts, a connect timeout, and https
# transfers that stall are abandoned. The user's own GIT_SSH_COMMAND / settings take precedence.
_NON_INTERACTIVE = {
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=15",
    "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
    "GIT_HTTP_LOW_SPEED_TIME": "30",
}


@dataclass
class Store:
    """One registry location and its local cache clone (`<cache>/<sha256(location)[:16]>`, bare)."""

    location: str
    cache: Path = field(init=False)

    def __post_init__(self) -> None:
        import shutil

        if shutil.which("git") is None:
            raise EnvironmentFailure("git is not installed or not on PATH; the registry needs it")
        key = hashlib.sha256(self.location.encode()).hexdigest()[:16]
        self.cache = cache_root() / key

    def git(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        detached: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git on the cache. `detached` runs it in a session of its own, so that killing crmctl's process
        group (kill -9, Ctrl-C) cannot stop it half-way: used for the push, the one step that changes the remote."""
        full_env = {**_NON_INTERACTIVE, **os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        try:
            for _attempt in range(2):
                result = subprocess.run(
                    ["git", "--git-dir", str(self.cache), *args],
                    input=stdin,
                    capture_output=True,
                    env=full_env,
                    check=False,
                    start_new_session=detached,
                )
                if result.returncode == 0 or not self._clear_stale_lock(result.stderr.decode(errors="replace")):
                    break
        except FileNotFoundError:
            raise EnvironmentFailure("git is not installed or not on PATH; the registry needs it") from None
        if check and result.returncode != 0:
            # The fetch succeeded (it checks what it receives), so git failing on the cache now is the machine's
            # problem or a damaged cache: never a traceback, and the way out.
            raise EnvironmentFailure(
                _failed(f"git {args[0]} failed on the registry cache {self.cache}", result)
                + f"; the cache is only a mirror of {self.location}: remove it and run the "
                "command again"
            )
        return result

    def _clear_stale_lock(self, stderr: str) -> bool:
        """A crmctl killed in the middle of a git command leaves a `.lock` file in its cache, and every later
        command would fail on it. A lock in the cache that outlives `_LOCK_PATIENCE` is stale: remove it and
        retry (the cache is only a mirror of the remote, so nothing is lost)."""
        locks = [Path(match.group(1)) for match in _LOCK.finditer(stderr)]
        locks = [lock if lock.is_absolute() else self.cache / lock for lock in locks]
        if not locks or not all(lock.resolve().is_relative_to(self.cache.resolve()) for lock in locks):
            return False  # no lock, or not ours (the remote's, say): report it
        deadline = time.monotonic() + _LOCK_PATIENCE
        while any(lock.exists() for lock in locks) and time.monotonic() < deadline:
            time.sleep(0.02)
        for lock in locks:
            lock.unlink(missing_ok=True)
        return True

    def _ensure_cache(self) -> None:
        import shutil

        if (self.cache / "HEAD").exists():
            return
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.cache.parent))
        except OSError as error:
            raise EnvironmentFailure(
                f"cannot create the registry cache in {self.cache.parent}: "
                f"{error.strerror or error} (CRMCTL_CACHE_DIR chooses another place)"
            ) from None
        for args in (["init", "-q", "--bare"], ["config", "gc.auto", "0"]):
            result = subprocess.run(["git", "--git-dir", str(tmp), *args], capture_output=True, check=False)
            if result.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                raise EnvironmentFailure(_failed(f"cannot create the registry cache {self.cache}", result))
        try:
            tmp.rename(self.cache)
        except OSError:  # another process created it first
            shutil.rmtree(tmp, ignore_errors=True)

    def refresh(self, *, tags: bool = True) -> str | None:
        """Fetch the remote's `main` and tags (moved and deleted tags included); the fetched head or None.

        `tags=False` fetches the branch alone, for readers that never look at tags (half the time of a fetch
        against a registry with a thousand versions).
        """
        if is_local(self.location) and not Path(self.location).exists():
            raise RemoteError(
                f"{self.location}: no such registry (the path does not exist)",
                hint="create one with `crmctl registry init LOCATION`",
            )
        self._ensure_cache()
        if not tags and is_local(self.location):
            # A reader of the branch alone: when a local registry's main is where the cache has it, there is
            # nothing to fetch (a no-op fetch still costs 30 ms of protocol; reading one ref costs 2).
            current = self.head()
            if current is not None and current == self._local_remote_head():
                return current
        refspecs = ["+refs/heads/*:refs/remotes/origin/*", *(["+refs/tags/*:refs/tags/*"] if tags else [])]
        result = self.git(
            "fetch",
            "--quiet",
            "--prune",
            "--force",
            "--no-write-fetch-head",
            "--no-tags",
            "--",
            self.location,
            *refspecs,
            check=False,
        )
        if result.returncode != 0:
            message = _failed(f"{self.location}: cannot fetch the registry", result, cause=True)
            if _ENVIRONMENT.search(result.stderr.decode(errors="replace")):
                raise EnvironmentFailure(message)
            hint = (
                f"if the registry itself is intact, the local cache {self.cache} may be damaged: it is only a "
                "mirror, remove it and run the command again"
            )
            raise RemoteError(message, hint=hint)
        return self.head()

    def _local_remote_head(self) -> str | None:
        result = subprocess.run(
            ["git", "--git-dir", self._local_git_dir(), "rev-parse", "--verify", "-q", "refs/heads/main^{commit}"],
            capture_output=True,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
        if result.returncode != 0:
            return None
        return result.stdout.decode().strip() or None

    def _local_git_dir(self) -> str:
        return _local_git_dir(self.location)

    def peek(self, path: str) -> bytes | None:
        """`path` as the local registry's `main` has it, read in place: no cache, no fetch, nothing written, and
        nothing checked (the log is not replayed). For shell completion, which must stay read-only and fast;
        None for a remote registry, a missing branch or file, or any failure of git."""
        if not is_local(self.location):
            return None
        try:
            result = subprocess.run(
                ["git", "--git-dir", _local_git_dir(self.location), "show", f"refs/heads/main:{path}"],
                capture_output=True,
                check=False,
                timeout=5,
                env={**os.environ, "LC_ALL": "C"},
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout if result.returncode == 0 else None

    def tidy(self) -> None:
        """Pack the cache's refs: a thousand loose tag files make every later fetch 50% slower."""
        self.git("pack-refs", "--all", "--prune", check=False)

    def object_ids(self, commit: str, *paths: str) -> dict[str, str]:
        """Git object ids of top-level entries of `commit` (absent ones left out): equal ids, identical bytes."""
        out = self.git("ls-tree", "-z", commit, "--", *paths).stdout.decode()
        found: dict[str, str] = {}
        for record in out.split("\0"):
            meta, _, path = record.partition("\t")
            if path:
                found[path] = meta.split()[2]
        return found

    def head(self) -> str | None:
        result = self.git("rev-parse", "--verify", "-q", "refs/remotes/origin/main^{commit}", check=False)
        return result.stdout.decode().strip() or None

    def remote_has_refs(self) -> bool:
        result = self.git("for-each-ref", "--count=1", "refs/remotes/origin", "refs/tags")
        return bool(result.stdout.strip())

    def snapshot(self, commit: str) -> Snapshot:
        return Snapshot(self, commit)

    def write_commit(
        self,
        parent: str | None,
        files: dict[str, bytes],
        *,
        message: str,
        identity: str,
        when: str,
        fresh: tuple[str, ...] = (),
    ) -> str:
        """A commit of `parent`'s tree plus `files` (added or replaced); author and committer are the signer.

        Each directory in `fresh` is written from nothing: whatever `parent` had there (or a file in its place, or
        in its parent directory's) is removed first, so afterwards it holds exactly the `files` below it.
        """
        with tempfile.TemporaryDirectory(prefix="crmctl-") as tmp:
            index = str(Path(tmp) / "index")
            env = {"GIT_INDEX_FILE": index, **_identity_env(identity, when)}
            if parent:
                self.git("read-tree", parent, env=env)
                stale = self._stale(parent, fresh)
                if stale:
                    removal = "".join(f"0 {'0' * 40}\t{path}\0" for path in stale)
                    self.git(
                        "update-index", "-z", "--index-info", stdin=removal.encode(errors="surrogateescape"), env=env
                    )
            paths = []
            for number, (_rel, data) in enumerate(sorted(files.items())):
                path = Path(tmp) / f"blob{number}"
                path.write_bytes(data)
                paths.append(str(path))
            oids = self.git("hash-object", "-w", "--stdin-paths", stdin="\n".join(paths).encode() + b"\n")
            info = "".join(
                f"100644 {oid}\t{rel}\n" for rel, oid in zip(sorted(files), oids.stdout.decode().split(), strict=True)
            )
            self.git("update-index", "--add", "--index-info", stdin=info.encode(), env=env)
            tree = self.git("write-tree", env=env).stdout.decode().strip()
            args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
            return self.git(*args, env=env).stdout.decode().strip()

    def _stale(self, parent: str, fresh: tuple[str, ...]) -> list[str]:
        """What `parent` holds at, below, or in the place of the parent directory of each `fresh` directory."""
        holders = {directory.rpartition("/")[0] or directory for directory in fresh}
        if not holders:
            return []
        out = self.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", parent, "--", *sorted(holders)).stdout
        paths = out.decode(errors="surrogateescape").split("\0")
        return [
            path
            for path in paths
            if path
            and (path in holders or path in fresh or any(path.startswith(directory + "/") for directory in fresh))
        ]

    def push(self, commit: str, *, tag: str | None, tag_message: str, identity: str, when: str) -> None:
        """Push `commit` as the remote's `main` (fast-forward only) and `tag`, atomically."""
        refspecs = [f"{commit}:refs/heads/main"]
        if tag is not None:
            self.git("tag", "-f", "-a", "-m", tag_message, tag, commit, env=_identity_env(identity, when))
            refspecs.append(f"refs/tags/{tag}:refs/tags/{tag}")
        # For a local registry, git's receive-pack runs as our child and commits the two refs one rename at a
        # time; killed between them, the branch would move without its tag. Detached, the push either never
        # starts or runs to its end, so the remote always holds a whole version or none.
        result = self.git(
            "push", "--quiet", "--atomic", "--porcelain", "--", self.location, *refspecs, check=False, detached=True
        )
        if result.returncode == 0:
            self.tidy()
            return
        text = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
        if tag is not None:
            self.git("tag", "-d", tag, check=False)
        if any(marker in text for marker in _REJECTED) or "\t!" in text or "!\t" in text:
            raise ConflictError(f"{self.location}: the registry changed while writing (push rejected)")
        raise RemoteError(f"{self.location}: cannot push to the registry: {_summarize(text)}")


def _local_git_dir(location: str) -> str:
    path = Path(location.removeprefix("file://"))
    return str(path / ".git") if (path / ".git").is_dir() else str(path)


def _identity_env(identity: str, when: str) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": identity,
        "GIT_AUTHOR_EMAIL": identity,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": identity,
        "GIT_COMMITTER_EMAIL": identity,
        "GIT_COMMITTER_DATE": when,
    }


class Snapshot:
    """The registry's tree at one commit, read in batches through `git cat-file --batch`."""

    def __init__(self, store: Store, commit: str) -> None:
        self.store = store
        self.commit = commit
        self._tree: dict[str, str] | None = None
        self._modes: dict[str, str] = {}
        self._under: dict[str, list[str]] | None = None
        self._cache: dict[str, bytes | None] = {}

    def tree(self) -> dict[str, str]:
        """Every blob (file or symlink) at this commit: path → object id."""
        if self._tree is None:
            out = self.store.git("ls-tree", "-r", "-z", "--full-tree", self.commit).stdout
            tree: dict[str, str] = {}
            for record in out.decode(errors="surrogateescape").split("\0"):
                if not record:
                    continue
                meta, _, path = record.partition("\t")
                fields = meta.split()
                if len(fields) != 3 or not path:
                    raise _unreadable("ls-tree", record)
                mode, kind, oid = fields
                self._modes[path] = mode
                if kind == "blob":
                    tree[path] = oid
            self._tree = tree
        return self._tree

    def modes(self) -> dict[str, str]:
        """Every entry at this commit, submodules included: path → git mode (100644 for a plain file)."""
        self.tree()
        return dict(self._modes)

    def files_under(self, prefix: str) -> list[str]:
        """Files below a directory, relative to it (from an index built once: verify asks for every version)."""
        if self._under is None:
            under: dict[str, list[str]] = {}
            for path in sorted(self.tree()):
                parts = path.split("/")
                for depth in range(1, len(parts)):
                    under.setdefault("/".join(parts[:depth]), []).append("/".join(parts[depth:]))
            self._under = under
        return list(self._under.get(prefix.rstrip("/"), []))

    def read_many(self, paths: list[str]) -> dict[str, bytes | None]:
        """The bytes of each path (None when absent), in one `cat-file --batch` round trip."""
        wanted = [p for p in dict.fromkeys(paths) if p not in self._cache]
        if wanted:
            names = [
                self._tree[p] if self._tree is not None and p in self._tree else f"{self.commit}:{p}" for p in wanted
            ]
            if self._tree is not None:
                names = [n if ":" not in n else "0" * 40 for n in names]
            out = self.store.git("cat-file", "--batch", stdin="".join(f"{n}\n" for n in names).encode()).stdout
            offset = 0
            for path in wanted:
                end = out.find(b"\n", offset)
                line = out[offset:end] if end >= 0 else out[offset:]
                header = line.split()
                offset = end + 1
                if end >= 0 and header[-1:] in ([b"missing"], [b"ambiguous"]):  # the name may hold spaces
                    self._cache[path] = None
                    continue
                if end < 0 or len(header) != 3 or not header[2].isdigit() or offset + int(header[2]) > len(out):
                    raise _unreadable("cat-file", line.decode("utf-8", "replace"))
                size = int(header[2])
                self._cache[path] = out[offset : offset + size] if header[1] == b"blob" else None
                offset += size + 1
        return {p: self._cache[p] for p in paths}

    def read(self, path: str) -> bytes | None:
        return self.read_many([path])[path]


def _unreadable(command: str, line: str) -> EnvironmentFailure:
    return EnvironmentFailure(
        f"git {command} printed what crmctl cannot read ({line[:80]!r}); is `git` on PATH really git?"
    )
