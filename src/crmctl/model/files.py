"""Files named by the user (package files, scripts, scenarios, baselines, records to import, stores, exports):
regular files only, and read within a bound.

A FIFO, a device or a directory in a file's place would hang the command (`open` waits for a FIFO's writer) or
feed it without end (`/dev/zero`, `/dev/urandom`), so each is refused by what it is, with a located message.
Files are opened non-blocking and checked with `fstat` on what was opened, never by name only.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

from crmctl.errors import InputError

__all__ = ["MAX_FILE_BYTES", "check_regular", "open_regular", "read_regular"]

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
