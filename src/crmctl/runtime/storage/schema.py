"""The store's schema: the tables of each format (one definition for every backend), the migrations between
formats, and the `meta` table that states a store's format (checked against its tables when a store is opened)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crmctl import __version__
from crmctl.runtime.storage.connection import ALL_TENANTS, Connection
from crmctl.runtime.storage.errors import RESTORE_HINT, StoreFormatError
from crmctl.runtime.storage.tables import MIGRATIONS, TABLES, Column, Table

__all__ = ["FORMAT", "MIGRATIONS", "TABLES", "Column", "Schema", "Table", "layouts"]

FORMAT = 3
"""The store format this crmctl reads and writes (the tables of each: `tables.MIGRATIONS`)."""


def layouts(connection: Connection) -> dict[int, dict[str, str]]:
    """The tables of each format with their columns, as `connection`'s backend lists them (`Schema.layout`): a
    store is checked against its format's layout when opened, so a table someone dropped, renamed, replaced by a
    view or gave other columns is refused once, by name, instead of failing in the middle of a command."""
    found: dict[int, dict[str, str]] = {}
    tables: dict[str, str] = {}
    for step in range(FORMAT):
        for name in MIGRATIONS[step]:
            table = TABLES[name]
            tables[name] = ", ".join(f"{c.name} {connection.listed_type(c.kind)}" for c in table.columns)
        found[step + 1] = dict(tables)
    return found


class Schema:
    """The store's format: checks a store's tables against the format its `meta` table states, stamps the versions
    that wrote it, and migrates it to the current format."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def meta(self) -> dict[str, str]:
        """The `meta` table: format, created_by, written_by, and the database engine's version."""
        return {key: value for key, value in self._db.all("SELECT key, value FROM meta ORDER BY key")}

    def check(self, *, allow_old_format: bool) -> None:
        """Create the tables of an empty database; refuse a store of another format or with other tables; stamp
        the versions writing to it. `allow_old_format` admits an older format (for `migrate()` only)."""
        layout = self.layout()
        known = layouts(self._db)
        if "meta" not in layout:
            if self._created(layout):
                return
            layout = self.layout()
        self._check_layout(layout, ["meta"], known[1])
        meta = self.meta()
        found = self.stamped(meta)
        if found > FORMAT:
            raise StoreFormatError(
                f"{self._db.path} was written by crmctl {meta.get('written_by', '?')} in store format "
                f"{found}; this crmctl {__version__} reads format {FORMAT}",
                hint="upgrade crmctl",
            )
        self._check_layout(layout, sorted(known[found]), known[found], stamped=found)
        if found < FORMAT and not allow_old_format:
            raise StoreFormatError(
                f"{self._db.path} is in store format {found}, this crmctl uses format {FORMAT}",
                hint="run `crmctl store migrate` (back the file up first)",
            )
        if not self._db.read_only:
            self._stamp({})

    def _created(self, layout: Mapping[str, str]) -> bool:
        """Create the tables of an empty database; False if another writer created them meanwhile (PostgreSQL: the
        first process to reach a new store creates it while the others wait, then finds them)."""
        if layout or self._db.read_only:
            raise StoreFormatError(
                f"{self._db.path} is a {self._db.engine} database but not a crmctl runtime store",
                hint=self._db.elsewhere,
            )
        with self._db.transaction():
            self._db.lock_chain(ALL_TENANTS)  # the store's own lock (no tenant is named `*`)
            if "meta" in self.layout():
                return False
            self._migrate_from(0, created=True)
        return True

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
        """Each table (and view) of the store with its columns, spelled as in `layouts()` (a view has none)."""
        columns: dict[str, list[str]] = {}
        for table, column, kind in self._db.columns():
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
            later = set(TABLES) - set(expected)
            problems += [f"table {table} of a later format exists" for table in sorted(later & set(layout))]
        if problems:
            which = f"store format {stamped}, as its meta table says" if stamped is not None else "a crmctl store"
            raise StoreFormatError(
                f"{self._db.path}: its tables are not those of {which}: {'; '.join(problems)}; the store was altered",
                hint=RESTORE_HINT,
            )

    def _stamp(self, values: Mapping[str, str]) -> None:
        engine, version = self._db.engine_version()
        rows = {**values, "written_by": __version__, engine: version}
        with self._db.transaction():
            for key, value in sorted(rows.items()):
                self._db.upsert("meta", {"key": key, "value": value})

    def _migrate_from(self, found: int, *, created: bool = False) -> list[int]:
        done = []
        with self._db.transaction():
            for step in range(found, FORMAT):
                for name in MIGRATIONS[step]:
                    self._db.create_table(TABLES[name])
                done.append(step)
            extra = {"created_by": __version__} if created else {}
            self._stamp({**extra, "format": str(FORMAT)})
        return done

    def migrate(self) -> list[int]:
        """Bring the store to the current format in one transaction; return the formats migrated from."""
        return self._migrate_from(self.stamped(self.meta()))
