"""The store's workflow instances (the `workflow_instances` table, store format 2): the engine's instance objects,
each pinned to the package version that started it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmctl.model.tenants import check_tenant
from crmctl.runtime.storage.connection import Connection, iso_from_micros, parse_stored_instant, read_object

__all__ = ["WorkflowInstances"]


class WorkflowInstances:
    """The `workflow_instances` table: one row per instance, its state as canonical JSON."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def put(self, tenant: str, instances: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace workflow instances (the engine's instance objects) in one batch."""
        import pyarrow as pa

        self._db.check_writable()
        check_tenant(tenant)
        if not instances:
            return
        text = pa.string()
        table = pa.table(
            {
                "tenant": pa.array([tenant] * len(instances), text),
                "instance_id": pa.array([str(i["id"]) for i in instances], text),
                "workflow": pa.array([str(i["workflow"]) for i in instances], text),
                "entity": pa.array([str(i["entity"]) for i in instances], text),
                "package_name": pa.array([str(i["package"]["name"]) for i in instances], text),
                "package_version": pa.array([str(i["package"]["version"]) for i in instances], text),
                "package_digest": pa.array([str(i["digest"]) for i in instances], text),
                "state": pa.array(self._states(tenant, instances), text),
                "status": pa.array([str(i["status"]) for i in instances], text),
                "clock": pa.array([parse_stored_instant(i["clock"]) for i in instances], pa.timestamp("us", "UTC")),
            }
        )
        with self._db.transaction(), self._db.tenant(tenant):
            self._db.insert("workflow_instances", table.column_names, table, replace=True)

    def check(self, tenant: str, instances: Sequence[Mapping[str, Any]]) -> None:
        """Refuse an instance `put` would refuse for one of its values, writing nothing."""
        self._states(tenant, instances)

    def _states(self, tenant: str, instances: Sequence[Mapping[str, Any]]) -> list[str]:
        return [self._db.json_text(dict(i), f"workflow instance {tenant}/{i['id']}") for i in instances]

    def get(self, tenant: str, instance_id: str) -> dict[str, Any] | None:
        """The tenant's instance `instance_id`, None if there is none."""
        rows = self._db.read(
            tenant, "SELECT state FROM workflow_instances WHERE tenant = ? AND instance_id = ?", [tenant, instance_id]
        )
        return read_object(rows[0][0], self._db.path, "workflow instance", tenant, instance_id) if rows else None

    def clock(self, tenant: str) -> str | None:
        """The tenant's workflow clock: the latest moment any of its instances reached (ISO UTC), None without any."""
        rows = self._db.read(
            tenant, f"SELECT max({self._db.epoch_us('clock')}) FROM workflow_instances WHERE tenant = ?", [tenant]
        )
        return None if rows[0][0] is None else iso_from_micros(rows[0][0])

    def list_for(self, tenant: str, *, workflow: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """The tenant's instances by id (optionally of one workflow, or in one status)."""
        where, params = "tenant = ?", [tenant]
        if workflow is not None:
            where, params = where + " AND workflow = ?", [*params, workflow]
        if status is not None:
            where, params = where + " AND status = ?", [*params, status]
        rows = self._db.read(
            tenant, f"SELECT instance_id, state FROM workflow_instances WHERE {where} ORDER BY instance_id", params
        )
        return [read_object(state, self._db.path, "workflow instance", tenant, instance) for instance, state in rows]
