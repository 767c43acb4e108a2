"""The store's schema: the tables of each format, the migrations between formats, and the `meta` table that
states a store's format (checked against its tables when a store is opened)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from crmctl import __version__
from crmctl.runtime.storage.connection import Connection
from crmctl.runtime.storage.errors import RESTORE_HINT, StoreFormatError

if TYPE_CHECKING:
    import duckdb

__all__ = ["FORMAT", "LAYOUTS", "MIGRATIONS", "Schema"]

FORMAT = 3
"""The store format this crmctl reads and writes."""


def _create_format_1(con: duckdb.DuckDBPyConnection) -> None:
    ids = "package_name VARCHAR NOT NULL, package_version VARCHAR NOT NULL, package_digest VARCHAR NOT NULL"
    for statement in (
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        "CREATE TABLE packages (digest VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, version VARCHAR NOT NULL, "
        "canonical BLOB NOT NULL)",
        f"CREATE TABLE drafts (tenant VARCHAR NOT NULL, draft_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, {ids}, "
        "data VARCHAR NOT NULL, state VARCHAR NOT NULL, last_step VARCHAR, updated_at TIMESTAMPTZ NOT NULL, "
        "PRIMARY KEY (tenant, draft_id))",
        f"CREATE TABLE records (tenant VARCHAR NOT NULL, entity VARCHAR NOT NULL, id VARCHAR NOT NULL, {ids}, "
        "data VARCHAR NOT NULL, revision INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL, "
        "updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant, entity, id))",
        'CREATE TABLE events (tenant VARCHAR NOT NULL, seq BIGINT NOT NULL, session VARCHAR NOT NULL, "at" '
        "TIMESTAMPTZ NOT NULL, entry VARCHAR NOT NULL, hash VARCHAR NOT NULL, PRIMARY KEY (tenant, seq))",
    ):
        con.execute(statement).fetchall()


def _add_workflow_instances(con: duckdb.DuckDBPyConnection) -> None:
    """Format 2: workflow instances, each pinned to the package version that started it."""
    con.execute(
        "CREATE TABLE workflow_instances (tenant VARCHAR NOT NULL, instance_id VARCHAR NOT NULL, "
        "workflow VARCHAR NOT NULL, entity VARCHAR NOT NULL, package_name VARCHAR NOT NULL, "
        "package_version VARCHAR NOT NULL, package_digest VARCHAR NOT NULL, state VARCHAR NOT NULL, "
        "status VARCHAR NOT NULL, clock TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant, instance_id))"
    ).fetchall()


def _add_webhook_outbox(con: duckdb.DuckDBPyConnection) -> None:
    """Format 3: the webhook outbox (one row per event and webhook, with where each webhook's relay stopped in the
    log) and the delivery attempts, both apart from the hash-chained log (replay and `log verify` never read them)."""
    for statement in (
        "CREATE TABLE webhook_cursors (tenant VARCHAR NOT NULL, webhook VARCHAR NOT NULL, seq BIGINT NOT NULL, "
        "PRIMARY KEY (tenant, webhook))",
        "CREATE TABLE webhook_outbox (tenant VARCHAR NOT NULL, webhook VARCHAR NOT NULL, event_id VARCHAR NOT NULL, "
        "seq BIGINT NOT NULL, position INTEGER NOT NULL, event VARCHAR NOT NULL, status VARCHAR NOT NULL, "
        "attempts INTEGER NOT NULL, next_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant, webhook, event_id))",
        "CREATE TABLE webhook_attempts (tenant VARCHAR NOT NULL, webhook VARCHAR NOT NULL, "
        'event_id VARCHAR NOT NULL, attempt INTEGER NOT NULL, "at" TIMESTAMPTZ NOT NULL, status_code INTEGER, '
        "error VARCHAR, duration_ms DOUBLE NOT NULL)",
    ):
        con.execute(statement).fetchall()


# Migration from format n to n + 1. Format 0 is an empty database.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    0: _create_format_1,
    1: _add_workflow_instances,
    2: _add_webhook_outbox,
}

# The tables each format's migrations create, as DuckDB's information_schema lists their columns: a store is
# checked against its format's layout when opened, so a table someone dropped, renamed, replaced by a view or
# gave other columns is refused once, by name, instead of failing in the middle of a command (a test holds these
# to what MIGRATIONS create).
_TZ = "TIMESTAMP WITH TIME ZONE"
_IDS = "package_name VARCHAR, package_version VARCHAR, package_digest VARCHAR"
_LAYOUT_1 = {
    "meta": "key VARCHAR, value VARCHAR",
    "packages": "digest VARCHAR, name VARCHAR, version VARCHAR, canonical BLOB",
    "drafts": f"tenant VARCHAR, draft_id VARCHAR, entity VARCHAR, {_IDS}, data VARCHAR, state VARCHAR, "
    f"last_step VARCHAR, updated_at {_TZ}",
    "records": f"tenant VARCHAR, entity VARCHAR, id VARCHAR, {_IDS}, data VARCHAR, revision INTEGER, "
    f"created_at {_TZ}, updated_at {_TZ}",
    "events": f"tenant VARCHAR, seq BIGINT, session VARCHAR, at {_TZ}, entry VARCHAR, hash VARCHAR",
}
_LAYOUT_2 = {
    **_LAYOUT_1,
    "workflow_instances": f"tenant VARCHAR, instance_id VARCHAR, workflow VARCHAR, entity VARCHAR, "
    f"{_IDS}, state VARCHAR, status VARCHAR, clock {_TZ}",
}
LAYOUTS: dict[int, dict[str, str]] = {
    1: _LAYOUT_1,
    2: _LAYOUT_2,
    3: {
        **_LAYOUT_2,
        "webhook_cursors": "tenant VARCHAR, webhook VARCHAR, seq BIGINT",
        "webhook_outbox": "tenant VARCHAR, webhook VARCHAR, event_id VARCHAR, seq BIGINT, position INTEGER, "
        f"event VARCHAR, status VARCHAR, attempts INTEGER, next_at {_TZ}",
        "webhook_attempts": f"tenant VARCHAR, webhook VARCHAR, event_id VARCHAR, attempt INTEGER, at {_TZ}, "
        "status_code INTEGER, error VARCHAR, duration_ms DOUBLE",
    },
}


class Schema:
    """The store's format: checks a store's tables against the format its `meta` table states, stamps the versions
    that wrote it, and migrates it to the current format."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def meta(self) -> dict[str, str]:
        """The `meta` table: format, created_by, written_by, duckdb."""
        return {key: value for key, value in self._db.all("SELECT key, value FROM meta ORDER BY key")}

    def check(self, *, allow_old_format: bool) -> None:
        """Create the tables of an empty database; refuse a store of another format or with other tables; stamp
        the versions writing to it. `allow_old_format` admits an older format (for `migrate()` only)."""
        layout = self.layout()
        if "meta" not in layout:
            if layout or self._db.read_only:
                raise StoreFormatError(
                    f"{self._db.path} is a DuckDB database but not a crmctl runtime store",
                    hint="pass --store to use another file",
                )
            self._migrate_from(0, created=True)
            return
        self._check_layout(layout, ["meta"], LAYOUTS[1])
        meta = self.meta()
        found = self.stamped(meta)
        if found > FORMAT:
            raise StoreFormatError(
                f"{self._db.path} was written by crmctl {meta.get('written_by', '?')} in store format "
                f"{found}; this crmctl {__version__} reads format {FORMAT}",
                hint="upgrade crmctl",
            )
        self._check_layout(layout, sorted(LAYOUTS[found]), LAYOUTS[found], stamped=found)
        if found < FORMAT and not allow_old_format:
            raise StoreFormatError(
                f"{self._db.path} is in store format {found}, this crmctl uses format {FORMAT}",
                hint="run `crmctl store migrate` (back the file up first)",
            )
        if not self._db.read_only:
            self._stamp({})

    def stamped(self, meta: Mapping[str, str]) -> int:
        """The format the meta table states: a whole number from 1 (format 0 is an empty database, never stamped),
        in ASCII digits without sign, spaces or underscores."""
        text = meta.get("format")
        if text is not None and text.isascii() and text.isdigit() and not text.startswith("0"):
            return int(text)
        what = (
            "states no store format"
            if text is None
            else (f"states store format {text!r}, which no crmctl writes (formats are whole numbers from 1)")
        )
        raise StoreFormatError(
            f"{self._db.path}: its meta table {what}; the file was edited or is damaged", hint=RESTORE_HINT
        )

    def layout(self) -> dict[str, str]:
        """Each table (and view) of the store with its columns, spelled as in `LAYOUTS` (a view has none)."""
        rows = self._db.all(
            "SELECT t.table_name, t.table_type, c.column_name, c.data_type FROM information_schema.tables t "
            "LEFT JOIN information_schema.columns c ON c.table_catalog = t.table_catalog "
            "AND c.table_schema = t.table_schema AND c.table_name = t.table_name AND t.table_type = 'BASE TABLE' "
            "WHERE t.table_catalog = current_database() AND t.table_schema = 'main' "
            "ORDER BY t.table_name, c.ordinal_position"
        )
        columns: dict[str, list[str]] = {}
        for table, _kind, column, kind in rows:
            columns.setdefault(table, [])
            if column is not None:
                columns[table].append(f"{column} {kind}")
        return {table: ", ".join(names) for table, names in columns.items()}

    def _check_layout(
        self, layout: Mapping[str, str], tables: Sequence[str], expected: Mapping[str, str], stamped: int | None = None
    ) -> None:
        """Refuse a store whose `tables` differ from `expected`, or (with the format it is `stamped` with) that
        holds a table a later format adds: a migration would fail half-way on it."""
        problems = [
            f"table {table} is missing"
            if table not in layout
            else f"{table} is a view, not a table"
            if not layout[table]
            else f"table {table} has columns ({layout[table]}), not ({expected[table]})"
            for table in tables
            if layout.get(table) != expected[table]
        ]
        if stamped is not None:
            later = {table for known in LAYOUTS.values() for table in known} - set(expected)
            problems += [f"table {table} of a later format exists" for table in sorted(later & set(layout))]
        if problems:
            which = f"store format {stamped}, as its meta table says" if stamped is not None else "a crmctl store"
            raise StoreFormatError(
                f"{self._db.path}: its tables are not those of {which}: {'; '.join(problems)}; the file was altered",
                hint=RESTORE_HINT,
            )

    def _stamp(self, values: Mapping[str, str]) -> None:
        import duckdb

        rows = {**values, "written_by": __version__, "duckdb": duckdb.__version__}
        with self._db.transaction():
            for key, value in sorted(rows.items()):
                self._db.all("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def _migrate_from(self, found: int, *, created: bool = False) -> list[int]:
        done = []
        with self._db.transaction():
            for step in range(found, FORMAT):
                self._db.run_migration(MIGRATIONS[step])
                done.append(step)
            extra = {"created_by": __version__} if created else {}
            self._stamp({**extra, "format": str(FORMAT)})
        return done

    def migrate(self) -> list[int]:
        """Bring the store to the current format in one transaction; return the formats migrated from."""
        return self._migrate_from(self.stamped(self.meta()))
