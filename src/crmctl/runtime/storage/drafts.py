"""The store's drafts (the `drafts` table): records being filled in, step by step, one per open form session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmctl.model.tenants import check_tenant
from crmctl.runtime.storage.connection import Connection, iso_from_micros, parse_stored_instant, read_object

__all__ = ["Draft", "Drafts"]

_COLUMNS = (
    "tenant",
    "draft_id",
    "entity",
    "package_name",
    "package_version",
    "package_digest",
    "data",
    "state",
    "last_step",
    "updated_at",
)


@dataclass(frozen=True)
class Draft:
    """A record being filled in, step by step, not yet saved as a record."""

    tenant: str
    draft_id: str
    entity: str
    package_name: str
    package_version: str
    package_digest: str
    data: dict[str, Any]
    state: dict[str, Any]
    last_step: str | None
    updated_at: str


class Drafts:
    """The `drafts` table: one row per draft, keyed by tenant and draft id."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def save(self, draft: Draft) -> None:
        """Create or replace a draft: an UPDATE of the row when it exists (every event of an open session saves
        it: DuckDB's INSERT OR REPLACE costs three times as much), else an upsert (a writer that created the
        same draft meanwhile is replaced, as it would have been a moment later)."""
        check_tenant(draft.tenant)
        self._db.check_writable()
        where = f"{draft.tenant}/{draft.draft_id}"
        values = [
            draft.entity,
            draft.package_name,
            draft.package_version,
            draft.package_digest,
            self._db.json_text(draft.data, f"draft {where}"),
            self._db.json_text(draft.state, f"draft state {where}"),
            draft.last_step,
            parse_stored_instant(draft.updated_at),
        ]
        settable = ", ".join(f'"{c}" = ?' for c in _COLUMNS[2:])
        with self._db.transaction(), self._db.tenant(draft.tenant):
            updated = self._db.changed(
                f"UPDATE drafts SET {settable} WHERE tenant = ? AND draft_id = ?",
                [*values, draft.tenant, draft.draft_id],
            )
            if not updated:
                self._db.upsert("drafts", dict(zip(_COLUMNS, [draft.tenant, draft.draft_id, *values], strict=True)))

    def get(self, tenant: str, draft_id: str) -> Draft | None:
        """The tenant's draft `draft_id`, None if there is none."""
        rows = self._db.read(
            tenant,
            f"SELECT {self._db.select_list(_COLUMNS)} FROM drafts WHERE tenant = ? AND draft_id = ?",
            [tenant, draft_id],
        )
        return self._draft(rows[0]) if rows else None

    def list_for(self, tenant: str, entity: str | None = None) -> list[Draft]:
        """The tenant's drafts (optionally of one entity), most recently updated first."""
        where, params = ("AND entity = ?", [tenant, entity]) if entity is not None else ("", [tenant])
        rows = self._db.read(
            tenant,
            f"SELECT {self._db.select_list(_COLUMNS)} FROM drafts WHERE tenant = ? {where} "
            "ORDER BY updated_at DESC, draft_id",
            params,
        )
        return [self._draft(row) for row in rows]

    def delete(self, tenant: str, draft_id: str) -> None:
        """Delete the tenant's draft `draft_id` (none: nothing happens)."""
        with self._db.transaction(), self._db.tenant(tenant):
            self._db.changed("DELETE FROM drafts WHERE tenant = ? AND draft_id = ?", [tenant, draft_id])

    def _draft(self, row: tuple[Any, ...]) -> Draft:
        tenant, draft_id, entity, name, version, digest, data, state, last_step, updated_at = row
        path = self._db.path
        return Draft(
            tenant,
            draft_id,
            entity,
            name,
            version,
            digest,
            read_object(data, path, "draft", tenant, draft_id),
            read_object(state, path, "draft state", tenant, draft_id),
            last_step,
            iso_from_micros(updated_at),
        )
