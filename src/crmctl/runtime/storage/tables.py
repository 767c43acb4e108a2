"""The store's tables, declared once for every backend: their columns (by kind, which each backend spells in its
own types) and keys, and the tables each store format adds (`MIGRATIONS`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MIGRATIONS", "TABLES", "Column", "Table"]


@dataclass(frozen=True)
class Column:
    """A column of a store table: its name and its kind, which each backend spells in its own types (`text`,
    `json` — canonical JSON text on DuckDB, JSONB on PostgreSQL —, `bigint`, `integer`, `double`, `timestamp` —
    with time zone —, `blob`)."""

    name: str
    kind: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """A store table: its columns and primary key (none for an append-only table)."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    @property
    def tenanted(self) -> bool:
        """Whether each row belongs to a tenant (PostgreSQL isolates those rows per tenant)."""
        return self.columns[0].name == "tenant"

    def create_statement(self, types: Mapping[str, str]) -> str:
        """CREATE TABLE with each column's kind spelled by `types`, NOT NULL but where it may be NULL, and the key."""
        columns = [f'"{c.name}" {types[c.kind]}{"" if c.nullable else " NOT NULL"}' for c in self.columns]
        if self.key:
            columns.append(f"PRIMARY KEY ({', '.join(self.key)})")
        return f"CREATE TABLE {self.name} ({', '.join(columns)})"

    def kind(self, column: str) -> str:
        """The kind of `column`."""
        return next(c.kind for c in self.columns if c.name == column)


def _columns(spec: str) -> tuple[Column, ...]:
    """`"name kind, name kind?, ..."` (`?`: may be NULL) as columns."""
    found = []
    for part in spec.split(","):
        name, kind = part.split()
        found.append(Column(name, kind.rstrip("?"), kind.endswith("?")))
    return tuple(found)


_IDS = "package_name text, package_version text, package_digest text"
TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table("meta", _columns("key text, value text"), ("key",)),
        Table("packages", _columns("digest text, name text, version text, canonical blob"), ("digest",)),
        Table(
            "drafts",
            _columns(
                f"tenant text, draft_id text, entity text, {_IDS}, data json, state json, last_step text?, "
                "updated_at timestamp"
            ),
            ("tenant", "draft_id"),
        ),
        Table(
            "records",
            _columns(
                f"tenant text, entity text, id text, {_IDS}, data json, revision integer, created_at timestamp, "
                "updated_at timestamp"
            ),
            ("tenant", "entity", "id"),
        ),
        Table(
            "events",
            _columns("tenant text, seq bigint, session text, at timestamp, entry text, hash text"),
            ("tenant", "seq"),
        ),
        # Format 2: workflow instances, each pinned to the package version that started it.
        Table(
            "workflow_instances",
            _columns(
                f"tenant text, instance_id text, workflow text, entity text, {_IDS}, state json, status text, "
                "clock timestamp"
            ),
            ("tenant", "instance_id"),
        ),
        # Format 3: the webhook outbox (one row per event and webhook, with where each webhook's relay stopped in
        # the log) and the delivery attempts, both apart from the hash-chained log (replay and `log verify` never
        # read them).
        Table("webhook_cursors", _columns("tenant text, webhook text, seq bigint"), ("tenant", "webhook")),
        Table(
            "webhook_outbox",
            _columns(
                "tenant text, webhook text, event_id text, seq bigint, position integer, event text, status text, "
                "attempts integer, next_at timestamp"
            ),
            ("tenant", "webhook", "event_id"),
        ),
        Table(
            "webhook_attempts",
            _columns(
                "tenant text, webhook text, event_id text, attempt integer, at timestamp, status_code integer?, "
                "error text?, duration_ms double"
            ),
        ),
    )
}

# Migration from format n to n + 1: the tables it creates. Format 0 is an empty database.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: ("meta", "packages", "drafts", "records", "events"),
    1: ("workflow_instances",),
    2: ("webhook_cursors", "webhook_outbox", "webhook_attempts"),
}
