"""Content-addressed package copies: the canonical form of a package version, and loading it back.

The runtime keeps the canonical bytes (`model.canonical.canonical_bytes`) of every package version it ran,
keyed by digest, so a record or a log entry pinned to a digest can always be evaluated again, even after the
working copy moved on. Loading a copy checks that it still hashes to the digest it is filed under, in the form
that digest names (`sha256:` copies, pinned before crmctl adopted RFC 8785, stay in their form: docs/formats.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmctl.errors import InputError
from crmctl.model.canonical import JCS, algorithm_of, bytes_digest, canonical_bytes, digest_like, jcs_loads
from crmctl.model.package import load_tree
from crmctl.model.tree import MemoryTree

if TYPE_CHECKING:
    from crmctl.model.package import Package

__all__ = ["PackageCopyError", "PackageRef", "copy_as", "load_copy", "make_copy"]


class PackageCopyError(InputError):
    """A stored package copy does not hash to its digest, or does not load."""


@dataclass(frozen=True)
class PackageRef:
    name: str
    version: str
    digest: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "digest": self.digest}


def make_copy(package: Package) -> tuple[PackageRef, bytes]:
    """The reference and canonical bytes of a loaded, valid package."""
    if not package.valid or package.manifest is None:
        first = next((d for d in package.diagnostics), None)
        reason = f": {first.location}: {first.message}" if first else ""
        raise InputError(f"{package.label}: the package does not load cleanly{reason}; run crmctl lint")
    blob = canonical_bytes(package)
    digest = bytes_digest(blob, package.digest_algorithm)
    return PackageRef(package.manifest.name, package.manifest.version, digest), blob


def copy_as(package: Package, digest: str) -> tuple[PackageRef, bytes] | None:
    """The copy of `package` in the form `digest` names, if it has exactly that digest (else None).

    A version first pinned under a `sha256:` digest keeps it: the same content, loaded again by a crmctl that
    computes `jcs-sha256:` digests, is recognised as that version (and then known by the old digest everywhere,
    so records and workflow instances keep one digest per version)."""
    try:
        algorithm = algorithm_of(digest)
    except ValueError:
        return None
    if algorithm == package.digest_algorithm or not package.valid or package.manifest is None:
        return None
    blob = canonical_bytes(package, algorithm)
    if bytes_digest(blob, algorithm) != digest:
        return None
    package.digest_algorithm = algorithm
    return PackageRef(package.manifest.name, package.manifest.version, digest), blob


def load_copy(digest: str, blob: bytes) -> Package:
    """The package stored under `digest`; PackageCopyError if the bytes no longer match it."""
    actual = digest_like(blob, digest)
    if actual != digest:
        raise PackageCopyError(
            f"stored package {digest} was edited: its bytes hash to {actual}; what is pinned to "
            "it cannot run (restore the store from a backup)"
        )
    try:
        document = jcs_loads(blob) if algorithm_of(digest) == JCS else json.loads(blob)
    except ValueError as exc:
        raise PackageCopyError(f"stored package {digest} is not JSON: {exc}") from None
    files = {f"{kind}.json": json.dumps(doc, ensure_ascii=False).encode("utf-8") for kind, doc in document.items()}
    package = load_tree(MemoryTree(files, f"store:{digest[:19]}"))
    if not package.valid:
        raise PackageCopyError(f"stored package {digest} does not load: {package.diagnostics[0].message}")
    package.digest_algorithm = algorithm_of(digest)
    return package
