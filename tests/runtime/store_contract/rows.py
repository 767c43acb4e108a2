"""Rows the store tests write: records, drafts and event bodies with fixed times and digests."""

from __future__ import annotations

from typing import Any

from crmctl.runtime.store import Draft, StoredRecord

__all__ = ["DIGEST", "T0", "T1", "draft", "events", "record"]

T0 = "2026-11-26T10:00:00Z"
T1 = "2026-11-26T11:30:00.250000Z"
DIGEST = "sha256:" + "a" * 64


def record(id_: str, tenant: str = "acme", entity: str = "Lead", **data: Any) -> StoredRecord:
    return StoredRecord(tenant, entity, id_, "crm", "1.0.0", DIGEST, {"name": id_, **data}, 1, T0, T0)


def draft(draft_id: str, tenant: str = "acme", updated_at: str = T0, entity: str = "Lead") -> Draft:
    return Draft(
        tenant, draft_id, entity, "crm", "1.0.0", DIGEST, {"amount": 40.0}, {"step": "details"}, "details", updated_at
    )


def events(n: int, session: str = "s1") -> list[dict[str, Any]]:
    return [{"session": session, "at": T0, "kind": "set", "n": i} for i in range(n)]
