"""Files named by the user (package files, scripts, scenarios, baselines, records to import, stores, exports):
regular files only, read within a bound, and written whole.

A FIFO, a device or a directory in a file's place would hang the command (`open` waits for a FIFO's writer) or
feed it without end (`/dev/zero`, `/dev/urandom`), so each is refused by what it is, with a located message.
Files are opened non-blocking and checked with `fstat` on what was opened, never by name only.

Every file crmctl writes for the user (an edited package file, an export, a log export, a baseline, the registry's
cache files) goes through `AtomicFile`/`write_atomic`: a temporary file beside the target, renamed over it once
complete, so a crash or a full disk never leaves half a file and readers never see one. The mode is the one any
tool writing a user's file gives it: a new file gets 0666 minus the umask (as `>` in a shell, `cp`, or pyarrow
writing in place would), an existing file keeps its permission bits.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from crmctl.errors import InputError

__all__ = ["MAX_FILE_BYTES", "AtomicFile", "check_regular", "open_regular", "read_regular", "write_atomic"]

MAX_FILE_BYTES = 16 * 1024 * 1024

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


def _refuse(mode: int, where: str) -> None:
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise InputError(f"{where}: is {kind}; only regular files are read")


def check_regular(path: Path, where: str) -> None:
    """Refuse `path` if it exists and is not a regular file (for readers that open it themselves: DuckDB,
    pyarrow). A missing path is left to the reader, which may create it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    _refuse(mode, where)


def open_regular(path: Path, where: str, *, what: str = "file") -> BinaryIO:
    """`path` opened for binary reading if it is a regular file, else an `InputError` at `where`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO opens at once, and is refused
    except OSError as exc:
        raise InputError(f"{where}: cannot read {what}: {exc.strerror}") from None
    try:
        _refuse(os.fstat(fd).st_mode, where)
    except BaseException:
        os.close(fd)
        raise
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return io.open(fd, "rb")  # noqa: UP020 - from a descriptor


def read_regular(path: Path, where: str, *, what: str = "file", limit: int | None = None) -> bytes:
    """The bytes of the regular file `path`, at most `limit` (default `MAX_FILE_BYTES`) of them, else an
    `InputError` giving its size."""
    limit = MAX_FILE_BYTES if limit is None else limit
    with open_regular(path, where, what=what) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(limit + 1)  # at most: the file may grow after fstat
        except OSError as exc:
            raise InputError(f"{where}: cannot read {what}: {exc.strerror}") from None
    size = max(size, len(data))
    if size > limit:
        raise InputError(f"{where}: {what} is {size} bytes; the limit is {limit} bytes")
    return data


class AtomicFile:
    """A file written whole: `temp` (beside `path`, already created) is filled by the caller, then `commit` renames
    it over `path`, or `abort` removes it. As a context manager: commit on success, abort on any exception.

    `temp` is created with mode 0666 (the kernel takes the umask off); when `path` exists, its permission bits are
    copied onto `temp` at commit. `parents` creates missing directories first. OSError from creating the file is
    the caller's to translate."""

    def __init__(self, path: Path, *, parents: bool = False) -> None:
        self.path = path
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
            try:
                os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:  # pragma: no cover - 32 random bits collided
                continue
            break
        self.temp = temp

    def commit(self) -> None:
        """Move the finished temporary file into place (keeping the permission bits of a file it replaces)."""
        try:
            try:
                mode = self.path.stat().st_mode
            except FileNotFoundError:
                pass
            else:
                self.temp.chmod(stat.S_IMODE(mode))
            self.temp.replace(self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Remove the temporary file; `path` stays as it was."""
        self.temp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def write_atomic(path: Path, data: str | bytes, *, parents: bool = False) -> None:
    """Write `data` (text as UTF-8, line ends as given) to `path` whole, through `AtomicFile`."""
    with AtomicFile(path, parents=parents) as file:
        file.temp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
