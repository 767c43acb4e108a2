"""Packages inside .tar.gz/.tgz/.zip archives, read in memory. Members that could escape are refused."""

from __future__ import annotations

import posixpath
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from crmctl.errors import InputError
from crmctl.model.source import MAX_FILE_BYTES
from crmctl.model.tree import MemoryTree

__all__ = ["ARCHIVE_SUFFIXES", "is_archive", "open_archive"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
_MANIFESTS = ("package.yaml", "package.yml", "package.json")


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


def _read_tar(path: Path, label: str) -> tuple[dict[str, bytes], dict[str, str]]:
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    total = 0
    with tarfile.open(path, "r:*") as tar:
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
                raise InputError(f"{label}: member {member.name!r} is {member.size} bytes; the limit is "
                                 f"{MAX_FILE_BYTES}")  # fmt: skip
            total += member.size
            if total > MAX_ARCHIVE_BYTES:
                raise InputError(f"{label}: archive expands beyond {MAX_ARCHIVE_BYTES} bytes; refused")
            stream = tar.extractfile(member)
            if stream is None:  # pragma: no cover - isfile() members always have data
                continue
            files[name] = stream.read()
    return files, links


def _read_zip(path: Path, label: str) -> tuple[dict[str, bytes], dict[str, str]]:
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = _safe_name(info.filename, label)
            if info.is_dir() or not name:
                continue
            if info.file_size > MAX_FILE_BYTES:
                raise InputError(f"{label}: member {info.filename!r} is {info.file_size} bytes; the limit is "
                                 f"{MAX_FILE_BYTES}")  # fmt: skip
            total += info.file_size
            if total > MAX_ARCHIVE_BYTES:
                raise InputError(f"{label}: archive expands beyond {MAX_ARCHIVE_BYTES} bytes; refused")
            data = archive.read(info)
            if stat.S_ISLNK(info.external_attr >> 16):
                links[name] = _link_target(name, data.decode("utf-8", "replace"), label)
                continue
            files[name] = data
    return files, links


def open_archive(path: Path, label: str | None = None) -> MemoryTree:
    """Read every member of an archive; the package root is the shallowest directory holding package.yaml."""
    label = label or str(path)
    if not path.is_file():
        raise InputError(f"{label}: no such archive")
    try:
        if path.name.lower().endswith(".zip"):
            files, links = _read_zip(path, label)
        else:
            files, links = _read_tar(path, label)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputError(f"{label}: cannot read archive: {exc}") from None
    for name, target in links.items():
        seen = {name}
        while target in links and target not in seen:
            seen.add(target)
            target = links[target]
        if target in files:
            files[name] = files[target]
    roots = sorted((n.rpartition("/")[0] for n in files if n.rpartition("/")[2] in _MANIFESTS),
                   key=lambda r: (r.count("/") if r else -1, r))  # fmt: skip
    if not roots:
        raise InputError(f"{label}: no package.yaml in the archive")
    root = roots[0]
    prefix = f"{root}/" if root else ""
    members = {n[len(prefix) :]: data for n, data in files.items() if n.startswith(prefix)}
    return MemoryTree(members, label, missing="no such member in the archive")
