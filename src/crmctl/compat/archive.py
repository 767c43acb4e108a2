"""Packages inside .tar.gz/.tgz/.zip archives, read in memory. Members that could escape are refused.

Every size is bounded before it is read, so a small crafted archive cannot exhaust memory or time: a tar
(gzip-compressed, or not compressed) is decompressed at most `MAX_ARCHIVE_BYTES` far, and each header is checked before
`tarfile` processes it: at most `MAX_MEMBERS` headers, extended headers (PAX, GNU long names and links) of at
most `MAX_EXTENDED_HEADER` bytes and only a few before one member, well-formed PAX records without long digit
runs (older Pythons parse them in quadratic time), no sparse files. A zip's central directory is read only when
it is at most `MAX_ZIP_DIRECTORY` bytes, and a member only when its declared sizes are within the limits.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Self, cast

from crmctl.errors import InputError
from crmctl.model.files import MAX_FILE_BYTES, check_regular
from crmctl.model.tree import MemoryTree

__all__ = ["ARCHIVE_SUFFIXES", "is_archive", "open_archive"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024  # decompressed: the whole tar stream, or the sum of a zip's members
MAX_MEMBERS = 10_000  # tar headers or zip entries
MAX_EXTENDED_HEADER = 64 * 1024
MAX_ZIP_DIRECTORY = 4 * 1024 * 1024
_MAX_HEADERS_PER_MEMBER = 5  # a member and the extended headers before it (global, PAX, long name, long link)
_MAX_LINK_HOPS = 40  # as the kernel's SYMLOOP_MAX: a longer chain of links is not followed
_MANIFESTS = ("package.yaml", "package.yml", "package.json")
_CHUNK = 1024 * 1024


def is_archive(spec: str) -> bool:
    return spec.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_name(name: str, archive: str) -> str:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise InputError(f"{archive}: member {name!r} has an unsafe path (absolute or `..`); archive refused")
    normal = posixpath.normpath(name)
    return "" if normal == "." else normal


def _link_target(name: str, target: str, archive: str) -> str:
    """Resolve a link member's target inside the archive; refuse targets that leave it."""
    if target.startswith("/"):
        raise InputError(f"{archive}: link {name!r} points to absolute path {target!r}; archive refused")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if joined == ".." or joined.startswith("../"):
        raise InputError(f"{archive}: link {name!r} points outside the archive ({target!r}); archive refused")
    return joined


# --- tar --------------------------------------------------------------------------------------------------------


def _decompress(path: Path, label: str) -> io.BytesIO:
    """The tar stream inside `path`, refused as soon as it grows past `MAX_ARCHIVE_BYTES`."""
    import gzip

    out = io.BytesIO()
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        with gzip.GzipFile(fileobj=raw) if gzipped else contextlib.nullcontext(raw) as stream:
            while chunk := stream.read(_CHUNK):
                if out.tell() + len(chunk) > MAX_ARCHIVE_BYTES:
                    raise InputError(f"{label}: archive expands beyond {MAX_ARCHIVE_BYTES} bytes; refused")
                out.write(chunk)
    out.seek(0)
    return out


class _CheckedTar(tarfile.TarFile):
    """A tar read from memory whose headers are checked before `tarfile` processes them (see `_CheckedInfo`)."""

    def __init__(self, stream: io.BytesIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.headers = 0
        self.chain = 0  # headers being processed for the current member
        super().__init__(fileobj=stream, mode="r", tarinfo=_CheckedInfo)


class _CheckedInfo(tarfile.TarInfo):
    @classmethod
    def fromtarfile(cls, tarfile: tarfile.TarFile) -> Self:
        tar = cast("_CheckedTar", tarfile)
        tar.chain += 1
        try:
            _check_header(tar)
            return super().fromtarfile(tar)
        finally:
            tar.chain -= 1


_EXTENDED = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
)
_PAX = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
_PAX_RECORD = re.compile(rb"([1-9][0-9]{0,11}) ([^=\n\0]+)=")
_LONG_DIGIT_RUN = re.compile(rb"[0-9]{65}")


def _check_header(tar: _CheckedTar) -> None:
    """Refuse the header at the read position (and a PAX header's records) before `tarfile` reads it."""
    label = tar.label
    if tar.chain > _MAX_HEADERS_PER_MEMBER:
        raise InputError(f"{label}: more than {_MAX_HEADERS_PER_MEMBER - 1} extended headers in a row; archive refused")
    start = tar.stream.tell()
    with tar.stream.getbuffer() as data:
        header = bytes(data[start : start + tarfile.BLOCKSIZE])
        try:
            info = tarfile.TarInfo.frombuf(header, tar.encoding, tar.errors)
        except tarfile.HeaderError:
            return  # the end of the archive, or a header tarfile itself refuses
        tar.headers += 1
        if tar.headers > MAX_MEMBERS:
            raise InputError(f"{label}: more than {MAX_MEMBERS} members; archive refused")
        where = f"{label}: member {info.name!r}"
        if info.type == tarfile.GNUTYPE_SPARSE:
            raise InputError(f"{where} is a sparse file; archive refused")
        if info.type not in _EXTENDED:
            return
        if info.size > MAX_EXTENDED_HEADER:
            raise InputError(f"{where} has a {info.size}-byte extended header; the limit is {MAX_EXTENDED_HEADER}")
        if info.type in _PAX:
            body = start + tarfile.BLOCKSIZE
            padded = body + -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE  # what tarfile reads and parses
            problem = _pax_problem(bytes(data[body : body + info.size]))
            if _LONG_DIGIT_RUN.search(data, body, padded):
                problem = "a run of more than 64 digits"
            if problem:
                raise InputError(f"{where} has a malformed PAX header ({problem}); archive refused")


def _pax_problem(body: bytes) -> str | None:
    """Why a PAX header is refused: its records must be exactly `<length> <keyword>=<value>\\n`."""
    position = 0
    while position < len(body) and body[position]:
        match = _PAX_RECORD.match(body, position)
        end = position + int(match.group(1)) if match else 0
        if match is None or end > len(body) or end <= match.end() or body[end - 1] != ord("\n"):
            return f"record at byte {position}"
        if match.group(2).startswith(b"GNU.sparse"):
            return "sparse file"
        position = end
    return None


def _read_tar(path: Path, label: str) -> tuple[dict[str, bytes], dict[str, str]]:
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    with _CheckedTar(_decompress(path, label), label) as tar:
        for member in tar:
            name = _safe_name(member.name, label)
            if member.isdir() or not name:
                continue
            if member.issym():
                links[name] = _link_target(name, member.linkname, label)
                continue
            if member.islnk():
                links[name] = _safe_name(member.linkname, label)
                continue
            if not member.isfile():
                raise InputError(f"{label}: member {member.name!r} is not a regular file; archive refused")
            if member.size > MAX_FILE_BYTES:
                raise InputError(
                    f"{label}: member {member.name!r} is {member.size} bytes; the limit is {MAX_FILE_BYTES}"
                )
            stream = tar.extractfile(member)
            if stream is None:  # pragma: no cover - isfile() members always have data
                continue
            files[name] = stream.read()
    return files, links


# --- zip --------------------------------------------------------------------------------------------------------


class _CappedReads(io.FileIO):
    """A file refusing any single read longer than `cap`: zipfile reads the whole central directory at once."""

    cap = MAX_ZIP_DIRECTORY

    def read(self, size: int | None = -1, /) -> bytes:
        wanted = os.fstat(self.fileno()).st_size - self.tell() if size is None or size < 0 else size
        if wanted > self.cap:
            raise _TooLarge(wanted)
        return super().read(size)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"a read of {size} bytes")
        self.size = size


def _read_zip(path: Path, label: str) -> tuple[dict[str, bytes], dict[str, str]]:
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    total = 0
    with _CappedReads(path) as raw:
        try:
            archive = zipfile.ZipFile(raw)
        except _TooLarge as exc:
            raise InputError(
                f"{label}: central directory of {exc.size} bytes; the limit is {MAX_ZIP_DIRECTORY}; archive refused"
            ) from None
        raw.cap = 2 * MAX_FILE_BYTES
        with archive:
            entries = archive.infolist()
            if len(entries) > MAX_MEMBERS:
                raise InputError(f"{label}: more than {MAX_MEMBERS} members; archive refused")
            for info in entries:
                name = _safe_name(info.filename, label)
                if info.is_dir() or not name:
                    continue
                if info.file_size > MAX_FILE_BYTES or info.compress_size > 2 * MAX_FILE_BYTES:
                    size = max(info.file_size, info.compress_size)
                    raise InputError(
                        f"{label}: member {info.filename!r} is {size} bytes; the limit is {MAX_FILE_BYTES}"
                    )
                total += info.file_size
                if total > MAX_ARCHIVE_BYTES:
                    raise InputError(f"{label}: archive expands beyond {MAX_ARCHIVE_BYTES} bytes; refused")
                data = archive.read(info)
                if stat.S_ISLNK(info.external_attr >> 16):
                    links[name] = _link_target(name, data.decode("utf-8", "replace"), label)
                    continue
                files[name] = data
    return files, links


# --- both -------------------------------------------------------------------------------------------------------

# Everything the readers (tarfile, zipfile and the decompressors) raise on a corrupt or unsupported archive:
# zipfile raises NotImplementedError for unknown compression methods and RuntimeError for encrypted members.
_UNREADABLE: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    OSError,
    ValueError,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    _TooLarge,
)


def open_archive(path: Path, label: str | None = None) -> MemoryTree:
    """Read every member of an archive; the package root is the shallowest directory holding package.yaml."""
    label = label or str(path)
    check_regular(path, label)
    if not path.is_file():
        raise InputError(f"{label}: no such archive")
    try:
        if path.name.lower().endswith(".zip"):
            files, links = _read_zip(path, label)
        else:
            files, links = _read_tar(path, label)
    except _UNREADABLE as exc:
        raise InputError(f"{label}: cannot read archive: {_describe(exc)}") from None
    for name, target in links.items():
        for _ in range(_MAX_LINK_HOPS):
            if target not in links:
                break
            target = links[target]
        if target in files:
            files[name] = files[target]
    roots = sorted(
        (n.rpartition("/")[0] for n in files if n.rpartition("/")[2] in _MANIFESTS),
        key=lambda r: (r.count("/") if r else -1, r),
    )
    if not roots:
        raise InputError(f"{label}: no package.yaml in the archive")
    root = roots[0]
    prefix = f"{root}/" if root else ""
    members = {n[len(prefix) :]: data for n, data in files.items() if n.startswith(prefix)}
    return MemoryTree(members, label, missing="no such member in the archive")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
