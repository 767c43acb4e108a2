"""The store's package copies (the `packages` table): the canonical bytes of every package version the runtime
ran, content-addressed by their digest, so anything logged or stored can be read by the version it ran on."""

from __future__ import annotations

from crmctl.model.canonical import digest_like
from crmctl.runtime.storage.connection import Connection
from crmctl.runtime.storage.errors import StoreIntegrityError

__all__ = ["PackageCopies"]


class PackageCopies:
    """The `packages` table: digest → (name, version, canonical bytes)."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def put(self, digest: str, name: str, version: str, canonical: bytes) -> None:
        """Keep the canonical bytes of a package version under their digest (idempotent)."""
        actual = digest_like(canonical, digest)
        if actual != digest:
            raise StoreIntegrityError(f"package {name} {version}: its bytes hash to {actual}, not to {digest}")
        existing = self.get(digest)
        if existing is not None:
            if existing != canonical:
                raise StoreIntegrityError(f"{self._db.path}: the stored package {digest} does not match its digest")
            return
        with self._db.transaction():  # another writer may store it meanwhile: the same bytes under the same key
            self._db.upsert("packages", {"digest": digest, "name": name, "version": version, "canonical": canonical})

    def get(self, digest: str) -> bytes | None:
        """The canonical bytes stored under `digest`, None if none are."""
        rows = self._db.read(None, "SELECT canonical FROM packages WHERE digest = ?", [digest])
        return bytes(rows[0][0]) if rows else None

    def digests(self) -> list[tuple[str, str, str]]:
        """(digest, name, version) of every stored package version."""
        rows = self._db.read(None, "SELECT digest, name, version FROM packages ORDER BY name, version, digest")
        return [(digest, name, version) for digest, name, version in rows]
