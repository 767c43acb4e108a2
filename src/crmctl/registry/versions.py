"""A published version's files: written from a package, read back from git as a `FileTree`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError
from crmctl.model.canonical import canonical_document
from crmctl.model.tree import MemoryTree

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.registry.store import Snapshot
    from crmctl.registry.trust import Version

__all__ = ["artifact_files", "load_version", "provenance_bytes", "version_tree"]


def artifact_files(package: Package) -> dict[str, bytes]:
    """`artifacts/<kind>.json`, pretty-printed for people; they load back to the same canonical digest."""
    document: dict[str, Any] = canonical_document(package)
    return {
        f"{kind}.json": (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        for kind, value in document.items()
    }


def provenance_bytes(provenance: dict[str, Any]) -> bytes:
    """`provenance.json`: the publish entry's `provenance`, pretty-printed with sorted keys."""
    return (json.dumps(provenance, indent=2, sort_keys=True) + "\n").encode()


def version_tree(snapshot: Snapshot, version: Version) -> MemoryTree:
    prefix = f"{version.path}/artifacts"
    rels = snapshot.files_under(prefix)
    data = snapshot.read_many([f"{prefix}/{rel}" for rel in rels])
    files = {rel: blob for rel in rels if (blob := data[f"{prefix}/{rel}"]) is not None}
    from crmctl.model.canonical import algorithm_of

    # Loaded, the package keeps the form of its logged digest (the log replay checked the digest's syntax).
    algorithm = algorithm_of(version.digest)
    return MemoryTree(files, f"registry:{version.name}@{version.version}", digest_algorithm=algorithm)


def load_version(snapshot: Snapshot, version: Version) -> Package:
    """The published version as a Package; refused unless its artifacts load to the logged digest."""
    from crmctl.model.canonical import digest
    from crmctl.model.package import load_tree

    tree = version_tree(snapshot, version)
    same = False
    try:
        package = load_tree(tree)  # in the form of the logged digest (`version_tree`)
        same = package.valid and digest(package) == version.digest
    except InputError:  # e.g. package.yaml deleted: the same tampering, so the same message and hint
        package = None
    if package is None or not package.valid or not same:
        raise InputError(
            f"{tree.label}: the published artifacts do not match the logged digest {version.digest}",
            hint="the registry was altered; run `crmctl registry verify`",
        )
    return package
