"""Content-addressed package copies: the canonical form of a package version, and loading it back.

The runtime keeps the canonical bytes (`model.canonical.canonical_bytes`) of every package version it ran,
keyed by digest, so a record or a log entry pinned to a digest can always be evaluated again, even after the
working copy moved on. Loading a copy checks that it still hashes to the digest it is filed under.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmctl.errors import InputError
from crmctl.model.canonical import canonical_bytes
from crmctl.model.package import load_tree
from crmctl.model.tree import MemoryTree

if TYPE_CHECKING:
    from crmctl.model.package import Package

__all__ = ["PackageCopyError", "PackageRef", "load_copy", "make_copy"]


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
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    return PackageRef(package.manifest.name, package.manifest.version, digest), blob


def load_copy(digest: str, blob: bytes) -> Package:
    """The package stored under `digest`; PackageCopyError if the bytes no longer match it."""
    actual = "sha256:" + hashlib.sha256(blob).hexdigest()
    if actual != digest:
        raise PackageCopyError(
            f"stored package {digest} was edited: its bytes hash to {actual}; what is pinned to "
            "it cannot run (restore the store from a backup)"
        )
    try:
        document = json.loads(blob)
    except ValueError as exc:
        raise PackageCopyError(f"stored package {digest} is not JSON: {exc}") from None
    files = {f"{kind}.json": json.dumps(doc, ensure_ascii=False).encode("utf-8") for kind, doc in document.items()}
    package = load_tree(MemoryTree(files, f"store:{digest[:19]}"))
    if not package.valid:
        raise PackageCopyError(f"stored package {digest} does not load: {package.diagnostics[0].message}")
    return package
