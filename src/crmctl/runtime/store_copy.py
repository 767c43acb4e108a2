"""`crmctl store copy SRC DST`: a whole store moved between backends (DuckDB and PostgreSQL, either way, or
within one), verified by every tenant's log head.

Every table is read in key order as Arrow batches (`storage.table_rows`: the same values from both backends,
JSON as canonical text, event entries as their exact text so the hashes hold) and inserted into the target in
batches, all inside one transaction on the target in the whole-store scope: a failure leaves the target as
empty as it was (a DuckDB file this copy created is removed). The target must hold no crmctl content (a missing
file, an empty database schema, or a store without rows); its `meta` gets the source's `created_by`. Afterwards
each tenant's log head (seq, hash) and row counts are compared between source and target and the target's chain
is verified (`Store.verify_log`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crmctl.errors import InputError
from crmctl.runtime.storage.errors import StoreMissingError
from crmctl.runtime.storage.locator import StoreURL
from crmctl.runtime.storage.table_rows import table_rows
from crmctl.runtime.storage.tables import TABLES
from crmctl.runtime.store import Store

if TYPE_CHECKING:
    from crmctl.runtime.eventlog import ChainProblem

__all__ = ["COPIED", "CopyReport", "TenantCopy", "copy_store"]

COPIED = tuple(name for name in TABLES if name != "meta")
"""The tables copied row by row (the target's `meta` is its own, with the source's `created_by`)."""


@dataclass(frozen=True)
class TenantCopy:
    """One tenant after the copy: its log head on both stores, its rows per table on both."""

    tenant: str
    source_head: tuple[int, str] | None
    target_head: tuple[int, str] | None
    source_rows: dict[str, int]
    target_rows: dict[str, int]
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """Same head, same counts, and an intact chain on the target."""
        return self.source_head == self.target_head and self.source_rows == self.target_rows and not self.problems


@dataclass(frozen=True)
class CopyReport:
    """What `copy_store` copied, and what the comparison afterwards found."""

    source: str
    target: str
    source_engine: str
    target_engine: str
    packages: tuple[int, int]
    rows: dict[str, int]
    tenants: list[TenantCopy]

    @property
    def verified(self) -> bool:
        """Every tenant verified, and as many package versions on both."""
        return self.packages[0] == self.packages[1] and all(t.verified for t in self.tenants)


def _same(a: Path | StoreURL, b: Path | StoreURL) -> bool:
    if isinstance(a, StoreURL) or isinstance(b, StoreURL):
        return a == b
    return a.resolve() == b.resolve()


def _rows(store: Store, table: str) -> dict[str, int]:
    """Rows of `table` per tenant (`*` for a table without tenants)."""
    sql = (
        f"SELECT tenant, count(*) FROM {table} GROUP BY tenant"
        if TABLES[table].tenanted
        else f"SELECT '*', count(*) FROM {table}"
    )
    return {str(tenant): int(count) for tenant, count in store.connection.read(None, sql) if count}


def _check_empty(target: Path | StoreURL) -> None:
    """Refuse a target holding any crmctl row (opened read-only: nothing is written to it)."""
    if isinstance(target, Path) and not target.exists():
        return
    try:
        store = Store.open(target, read_only=True, create=False)
    except StoreMissingError:
        return  # a database schema without crmctl's tables
    with store:
        full = [table for table in COPIED if _rows(store, table)]
    if full:
        raise InputError(
            f"{store.path} is not empty (it holds {', '.join(full)}); store copy writes into an empty store only",
            hint="pass a new file, or an empty database schema, as DST",
        )


def copy_store(source: Path | StoreURL, target: Path | StoreURL, *, rows: int = 10_000) -> CopyReport:
    """Copy every table of `source` into the empty store `target`, in batches of `rows`, and compare them."""
    if _same(source, target):
        raise InputError(f"{source} is both SRC and DST; store copy needs two stores")
    with Store.open(source, read_only=True, create=False) as src:
        _check_empty(target)
        created = isinstance(target, Path) and not target.exists()
        try:
            with Store.open(target) as dst:
                _copy_tables(src, dst, rows)
                return _compare(src, dst)
        except BaseException:
            if created:
                assert isinstance(target, Path)
                for leftover in (target, target.with_name(target.name + ".wal")):
                    leftover.unlink(missing_ok=True)
            raise


def _copy_tables(src: Store, dst: Store, rows: int) -> None:
    """Every table's rows, in one transaction on the target in the whole-store scope."""
    import pyarrow as pa

    db = dst.connection
    with db.transaction(), db.tenant(None):
        for table in COPIED:
            columns = [c.name for c in TABLES[table].columns]
            with table_rows(src.connection, table, rows=rows) as batches:
                for batch in batches:
                    db.insert(table, columns, pa.Table.from_batches([batch]))
        created_by = src.schema.meta().get("created_by")
        if created_by is not None:
            db.upsert("meta", {"key": "created_by", "value": created_by})


def _compare(src: Store, dst: Store) -> CopyReport:
    """Heads, counts and the target's chain, per tenant."""
    counts = {table: (_rows(src, table), _rows(dst, table)) for table in COPIED}
    tenants = sorted({t for mine, theirs in counts.values() for t in (*mine, *theirs)} - {"*"})
    report = [
        TenantCopy(
            tenant,
            src.head(tenant),
            dst.head(tenant),
            {table: mine.get(tenant, 0) for table, (mine, _) in counts.items() if TABLES[table].tenanted},
            {table: theirs.get(tenant, 0) for table, (_, theirs) in counts.items() if TABLES[table].tenanted},
            dst.verify_log(tenant),
        )
        for tenant in tenants
    ]
    mine, theirs = counts["packages"]
    return CopyReport(
        str(src.path),
        str(dst.path),
        src.engine,
        dst.engine,
        (mine.get("*", 0), theirs.get("*", 0)),
        {table: sum(theirs.values()) for table, (_, theirs) in counts.items() if table != "packages"},
        report,
    )
