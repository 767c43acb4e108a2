"""The store's plumbing: the connection, transactions (nested ones join the outer), Arrow batch inserts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from crmctl.runtime._storage import StoreError, _store_failure

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__: list[str] = []


class _Core:
    """A DuckDB connection with the store's transaction and batch-insert discipline."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        self._depth = 0
        self._doomed = False

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------------------

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import duckdb

        # Always drain: DuckDB refuses other work on a connection with an unfinished result.
        try:
            return self._con.execute(sql, params).fetchall()
        except duckdb.Error as error:
            _store_failure(self.path, error)

    def _cleanup(self, undo: Callable[[], object]) -> None:
        """Undo work while another error propagates: a connection that failed (a damaged file, a full disk) may
        refuse this too, and that must not hide the error that explains why."""
        import duckdb

        with suppress(duckdb.Error):
            undo()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them are committed, or (on any exception) none. Nested use joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            except BaseException:
                self._doomed = True
                raise
            finally:
                self._depth -= 1
            return
        self._writable()
        self._all("BEGIN TRANSACTION")
        self._depth, self._doomed = 1, False
        try:
            yield
        except BaseException:
            self._depth = 0
            self._cleanup(lambda: self._con.execute("ROLLBACK").fetchall())
            raise
        self._depth = 0
        if self._doomed:
            self._all("ROLLBACK")
            raise StoreError("a write inside this transaction failed, so nothing of it was written")
        self._all("COMMIT")

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")

    @contextmanager
    def _batch(self, table: pa.Table) -> Iterator[str]:
        name = "_crmctl_batch"
        self._con.register(name, table)
        try:
            yield name
        except BaseException:
            self._cleanup(lambda: self._con.unregister(name))
            raise
        self._con.unregister(name)

    def _insert(self, target: str, columns: Sequence[str], table: pa.Table, *, replace: bool = False) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self.transaction(), self._batch(table) as batch:
            self._all(f"{verb} INTO {target} ({names}) SELECT {names} FROM {batch}")
