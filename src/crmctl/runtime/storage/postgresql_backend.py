"""The PostgreSQL backend: a store in one PostgreSQL (15+) database, shared by many processes at once.

- Record data, draft data and state, workflow instances are JSONB; event entries stay text (the hash covers their
  exact bytes). JSONB is read back as text and parsed like DuckDB's, so both backends return the same values.
- Tenants are isolated by the database: every table with a `tenant` column has row-level security (forced, so the
  tables' owner is held to it too) with a policy admitting the rows of the tenant set for the transaction
  (`crmctl.tenant`, set by `tenant()`); `*` is the scope of work on the store as a whole (`store info`, `store
  copy`, an export of every tenant). A query that forgets its tenant sees nothing of another tenant's. A role that
  is a superuser or has BYPASSRLS is not held to policies: `isolation()` says so, and `store info` shows it.
- Writers append to a tenant's log one after another: each append takes a transaction-scoped advisory lock on the
  tenant's chain before reading its head; the (tenant, seq) key refuses anything else.
- Batches go in by binary COPY into a temporary table, then one INSERT ... SELECT (COPY itself cannot write to a
  table with row-level security); exports read straight into Arrow through ADBC's PostgreSQL driver.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn

from crmctl.errors import EnvironmentFailure, InputError
from crmctl.interrupts import interruptible, pressed
from crmctl.model.tenants import check_tenant
from crmctl.runtime.storage.connection import ALL_TENANTS, canonical_json, select_columns
from crmctl.runtime.storage.errors import StoreConflictError, StoreError, StoreMissingError
from crmctl.runtime.storage.locator import StoreURL
from crmctl.runtime.storage.tables import TABLES

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

    from crmctl.runtime.storage.tables import Table

__all__ = ["PgConnection", "connect_postgresql"]

MINIMUM = 150000
"""The oldest PostgreSQL this backend runs on (server_version_num)."""
_TYPES = {  # kind: (DDL type, information_schema's spelling)
    "text": ('text COLLATE "C"', "text"),  # ordered by code point, as DuckDB orders (keys, pages)
    "json": ("jsonb", "jsonb"),
    "bigint": ("bigint", "bigint"),
    "integer": ("integer", "integer"),
    "double": ("double precision", "double precision"),
    "timestamp": ("timestamptz", "timestamp with time zone"),
    "blob": ("bytea", "bytea"),
}
_JSON_VALUES = {
    "text": ('((data ->> ?) COLLATE "C")', 1),
    "number": ("(CASE WHEN jsonb_typeof(data -> ?) = 'number' THEN (data ->> ?)::double precision END)", 2),
    "boolean": ("(CASE WHEN jsonb_typeof(data -> ?) = 'boolean' THEN (data ->> ?)::boolean END)", 2),
}
_POLICY = "tenant = current_setting('crmctl.tenant', true) OR current_setting('crmctl.tenant', true) = '*'"
_ENTRY_DIGEST = """CREATE OR REPLACE FUNCTION crmctl_entry_digest(entry text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN entry::jsonb #>> '{package,digest}';
EXCEPTION WHEN others THEN
  RETURN NULL;  -- an entry that is not JSON (a damaged store) pins nothing; `log verify` reports it
END $$"""
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FEW_ROWS = 50
"""Rows `insert` writes by one INSERT with parameters; more go by binary COPY."""
_HINT = "pass --store to use another database, or a DuckDB file"
CANCEL_GRACE = 6.0
"""Seconds a statement may run on after its cancel (a hung server, a lost network) before `interrupt` cuts the
connection: a second beyond psycopg's own bound (5 s) for the statement of the thread that gets Ctrl-C, which
psycopg then closes itself."""


def _arrow_type(field: pa.Field) -> str:
    """The PostgreSQL type of a batch column (what binary COPY writes)."""
    import pyarrow as pa

    kind = field.type
    for test, name in (
        (pa.types.is_string, "text"),
        (pa.types.is_large_string, "text"),
        (pa.types.is_int64, "int8"),
        (pa.types.is_int32, "int4"),
        (pa.types.is_float64, "float8"),
        (pa.types.is_timestamp, "timestamptz"),
        (pa.types.is_binary, "bytea"),
        (pa.types.is_boolean, "bool"),
    ):
        if test(kind):
            return name
    raise TypeError(f"no PostgreSQL type for the batch column {field.name} ({kind})")  # pragma: no cover - a bug


def connect_postgresql(target: StoreURL, *, read_only: bool, create: bool) -> PgConnection:
    """Connect to the database at `target`; what libpq refuses (no server, a wrong password, no such database)
    as a store error naming the URL without its password."""
    try:
        import psycopg
        from psycopg.types.string import TextLoader
    except ImportError:
        raise StoreError(
            f"{target.shown}: PostgreSQL stores need crmctl's 'postgresql' extra",
            hint="pip install 'crmctl[postgresql]'",
        ) from None
    try:
        con = psycopg.connect(target.url, autocommit=True, connect_timeout=10, application_name="crmctl")
    except psycopg.Error as error:
        raise StoreError(
            f"cannot connect to the runtime store {target.shown}: {target.hide(_first_line(error))}", hint=_HINT
        ) from None
    try:
        con.adapters.register_loader("jsonb", TextLoader)  # parsed by `read_object`, as DuckDB's text is
        number = int(con.execute("SHOW server_version_num").fetchall()[0][0])
        if number < MINIMUM:
            raise StoreError(
                f"{target.shown} runs PostgreSQL {number // 10000}; crmctl's store needs PostgreSQL 15 or newer"
            )
        con.execute("SET TIME ZONE 'UTC'")
        con.execute("SELECT set_config('crmctl.tenant', '', false)")  # no scope from the URL's options or the role
        if read_only:
            con.execute("SET default_transaction_read_only = on")
        connection = interruptible(PgConnection(con, target, read_only=read_only))
        if not create or read_only:
            found = con.execute("SELECT to_regclass('meta') IS NOT NULL").fetchall()[0][0]
            if not found:
                raise StoreMissingError(
                    f"{target.shown}: no runtime store in this database", hint="run the runtime once to create it"
                )
    except BaseException:
        con.close()
        raise
    return connection


def _unheld(value: Any, path: str = "") -> tuple[str, str] | None:
    """Where in `value` is something JSONB would not give back as it is, and why; None if there is nothing.

    JSONB refuses U+0000 in strings and keys. Its numbers are exact decimals without a binary sign or exponent:
    -0.0 comes back as 0.0, and a float that canonical JSON writes with a positive exponent (1e+16) comes back as
    the integer it equals (10000000000000000), which a 64-bit integer then reads as an int, not a float. Anything
    else (±2^63, 2^64 - 1, 1e308, 5e-324, 0.1) comes back as the same value with the same canonical text."""
    if isinstance(value, str):
        return (path or "the value", "a string holds U+0000, which PostgreSQL cannot store") if "\0" in value else None
    if isinstance(value, float):
        return _unheld_number(value, path or "the value")
    if isinstance(value, dict):
        for key, item in value.items():
            step = key if _PLAIN.fullmatch(key) else f"[{json.dumps(key)}]"  # a key that reads unambiguously
            where = f"{path}.{step}" if path and not step.startswith("[") else f"{path}{step}"
            if "\0" in key:
                return (where, "a key holds U+0000, which PostgreSQL cannot store")
            found = _unheld(item, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unheld(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _unheld_number(value: float, where: str) -> tuple[str, str] | None:
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return where, "-0.0 would come back as 0.0 (PostgreSQL's JSON numbers have no negative zero)"
    if abs(value) >= 1e16 and value.is_integer() and -(2**63) <= value < 2**64:
        return where, (
            f"the float {value!r} would come back as the integer {int(value)} (PostgreSQL's JSON numbers do "
            "not keep a float's exponent); store it as an integer"
        )
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class PgConnection:
    """One psycopg connection (autocommit; transactions opened and closed here) with the store's discipline."""

    engine = "postgresql"
    elsewhere = _HINT
    shared = True

    def __init__(self, con: psycopg.Connection[Any], target: StoreURL, *, read_only: bool) -> None:
        self._con = con
        self._target = target
        self.path = target.shown
        self.read_only = read_only
        self._depth = 0
        self._doomed = False
        self._tenant: str | None = None
        self._cancelled: float | None = None  # when `interrupt` cancelled the statement still running

    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    def interrupt(self) -> None:
        """Stop the statement running on this connection, whichever thread runs it (`crmctl.interrupts` calls this
        every 0.2 s after Ctrl-C): cancel it, and if it still runs `CANCEL_GRACE` seconds later, cut the connection
        (the server rolls its transaction back), as psycopg does for the statement of the thread that gets the
        `KeyboardInterrupt`; an import's batches are written by a thread of their own (`runtime.batch_writes`)."""
        from psycopg import pq

        if self._con.closed or self._con.pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
            self._cancelled = None  # no statement running
            return
        now = time.monotonic()
        if self._cancelled is None:
            self._cancelled = now
            self._con.cancel_safe(timeout=2)
        elif now - self._cancelled >= CANCEL_GRACE:
            self._cut()

    def _cut(self) -> None:
        """Shut the connection's socket down, under the thread waiting on it: its statement fails at once. (Closing
        the connection here would free what that thread is using.)"""
        import socket

        with suppress(OSError), socket.socket(fileno=os.dup(self._con.pgconn.socket)) as cut:
            cut.shutdown(socket.SHUT_RDWR)

    # -- statements -------------------------------------------------------------------------------------------------

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        import psycopg

        text = sql.replace("%", "%%").replace("?", "%s") if params else sql
        try:
            return self._con.execute(text, list(params) if params else None)
        except psycopg.Error as error:
            self._failure(error)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of `sql`."""
        cursor = self._execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    def read(self, tenant: str | None, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of `sql`, in the tenant's scope."""
        with self.tenant(tenant):
            return self.all(sql, params)

    def changed(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that writes; return how many rows it wrote."""
        return int(self._execute(sql, params).rowcount)

    def _failure(self, error: Exception) -> NoReturn:
        """A PostgreSQL error as crmctl's: a key another writer took meanwhile, a write the database aborted for
        another writer's (a deadlock, a serialization failure), a value PostgreSQL cannot hold (a character, a key
        too long for an index, a JSONB too large), a server gone or out of room. Others (a missing table, a policy
        refusing a row) are crmctl bugs: the tables were checked when the store was opened, and every write is made
        in its tenant's scope."""
        import psycopg
        from psycopg import errors

        text = self._target.hide(_first_line(error))
        if isinstance(error, errors.UniqueViolation):
            raise StoreConflictError(
                f"{self.path}: another writer stored the same key meanwhile ({text}); nothing of this was written"
            ) from None
        if isinstance(error, errors.DeadlockDetected | errors.SerializationFailure | errors.LockNotAvailable):
            raise StoreConflictError(
                f"{self.path}: another writer held what this write needed ({text}); nothing of this was written",
                hint="run the command again",
            ) from None
        # 54000, program_limit_exceeded: a key longer than an index entry, a JSONB over 255 MB
        too_large = isinstance(error, errors.ProgramLimitExceeded) and error.sqlstate == "54000"
        if too_large or isinstance(error, errors.UntranslatableCharacter | errors.CharacterNotInRepertoire):
            raise InputError(f"{self.path}: PostgreSQL cannot store this value ({text}); nothing was written") from None
        if isinstance(error, errors.ReadOnlySqlTransaction):
            raise StoreError(f"{self.path} is open read-only") from None
        if isinstance(error, errors.DiskFull | errors.OutOfMemory | psycopg.OperationalError):
            raise EnvironmentFailure(f"{self.path}: the database failed: {text}") from error
        raise error

    # -- transactions and the tenant scope --------------------------------------------------------------------------

    @contextmanager
    def _joined(self, *, writes: bool) -> Iterator[None]:
        """A transaction, or the one already open (a failure inside a write dooms the whole of it)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            except BaseException:
                self._doomed = self._doomed or writes
                raise
            finally:
                self._depth -= 1
            return
        self.all("BEGIN")
        self._depth, self._doomed, self._tenant = 1, False, None
        try:
            yield
        except BaseException:
            self._depth = 0
            self._quietly("ROLLBACK")
            raise
        self._depth = 0
        if pressed():  # a Ctrl-C a query swallowed: nothing is committed after it (crmctl.interrupts)
            self._quietly("ROLLBACK")
            raise KeyboardInterrupt
        if self._doomed:
            self.all("ROLLBACK")
            raise StoreError("a write inside this transaction failed, so nothing of it was written")
        self.all("COMMIT")

    def _quietly(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run `sql` while another error propagates (a connection that failed may refuse it too)."""
        import psycopg

        with suppress(psycopg.Error):
            self._con.execute(sql, list(params) or None)

    def transaction(self) -> Any:
        """Group writes: all of them are committed, or (on any exception) none. Nested use joins the outer one."""
        if not self._depth:
            self.check_writable()
        return self._joined(writes=True)

    @contextmanager
    def tenant(self, tenant: str | None) -> Iterator[None]:
        """The rows of `tenant` (None: every tenant's) for what runs inside, in the open transaction or one of its
        own; the scope it replaced is restored on leaving. Only None asks for the whole store: `*`, or anything
        else that is no tenant id, is refused before it reaches the policy."""
        value = ALL_TENANTS if tenant is None else check_tenant(tenant)
        with self._joined(writes=False):
            previous = self._tenant
            if previous == value:
                yield
                return
            self._set_tenant(value)
            try:
                yield
            except BaseException:
                if previous is not None:  # a transaction the database aborted refuses it; it is rolled back anyway
                    self._quietly("SELECT set_config('crmctl.tenant', %s, true)", [previous])
                    self._tenant = previous
                raise
            if previous is not None:
                self._set_tenant(previous)

    def _set_tenant(self, value: str) -> None:
        self.all("SELECT set_config('crmctl.tenant', ?, true)", [value])
        self._tenant = value

    def check_writable(self) -> None:
        """Refuse to write to a store opened read-only."""
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")

    def json_text(self, value: Any, what: str) -> str:
        """The canonical JSON, after refusing what JSONB would not give back as it is (`_unheld`)."""
        found = _unheld(value)
        if found is not None:
            where, why = found
            raise InputError(f"{what}: {where}: {why}; nothing was written")
        return canonical_json(value, what)

    def lock_chain(self, tenant: str) -> None:
        """A transaction-scoped advisory lock on the tenant's chain: appends wait for each other here."""
        self.all("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [f"crmctl.events/{tenant}"])

    # -- batches ----------------------------------------------------------------------------------------------------

    @contextmanager
    def batch(self, table: pa.Table) -> Iterator[str]:
        """`table` copied (binary COPY) into a temporary table for the duration; yields its name."""
        name = "_crmctl_batch"
        fields = list(table.schema)
        types = [_arrow_type(field) for field in fields]
        columns = ", ".join(f'"{f.name}" {kind}' for f, kind in zip(fields, types, strict=True))
        self.all(f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP")
        names = ", ".join(f'"{f.name}"' for f in fields)
        self._copy(f"COPY {name} ({names}) FROM STDIN (FORMAT BINARY)", types, table)
        yield name  # on an error the transaction is rolled back, and the table with it
        self.all(f"DROP TABLE {name}")

    def _copy(self, statement: str, types: list[str], table: pa.Table) -> None:
        import psycopg

        try:
            with self._con.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types(types)
                for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
                    copy.write_row(row)
        except psycopg.Error as error:
            self._failure(error)

    def insert(self, target: str, columns: Sequence[str], table: pa.Table, *, replace: bool = False) -> None:
        """Insert (or replace) the rows of `table` into `target`, in a transaction: a few rows by one INSERT
        (a temporary table for them would cost five times as much: an append of one event, say), more by COPY."""
        if table.num_rows > _FEW_ROWS:
            with self.transaction(), self.batch(table) as batch:
                self.insert_from(target, columns, batch, replace=replace)
            return
        kinds = TABLES[target]
        marks = ", ".join("?::jsonb" if kinds.kind(c) == "json" else "?" for c in columns)
        rows = ", ".join(f"({marks})" for _ in range(table.num_rows))
        values = [value for row in zip(*(table.column(c).to_pylist() for c in columns), strict=True) for value in row]
        names = ", ".join(f'"{c}"' for c in columns)
        with self.transaction():
            self.all(f"INSERT INTO {target} ({names}) VALUES {rows}{_conflict(kinds, columns, replace)}", values)

    def insert_from(self, target: str, columns: Sequence[str], relation: str, *, replace: bool = False) -> None:
        """INSERT ... SELECT from `relation` (JSON columns cast to JSONB); `replace`: ON CONFLICT DO UPDATE."""
        table = TABLES[target]
        names = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join(f'"{c}"::jsonb' if table.kind(c) == "json" else f'"{c}"' for c in columns)
        self.all(f"INSERT INTO {target} ({names}) SELECT {values} FROM {relation}{_conflict(table, columns, replace)}")

    def upsert(self, target: str, row: Mapping[str, Any]) -> None:
        """INSERT one row ... ON CONFLICT DO UPDATE."""
        table = TABLES[target]
        names = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?::jsonb" if table.kind(c) == "json" else "?" for c in row)
        self.all(
            f"INSERT INTO {target} ({names}) VALUES ({marks}){_conflict(table, list(row), True)}", list(row.values())
        )

    # -- dialect ----------------------------------------------------------------------------------------------------

    def select_list(self, columns: Sequence[str]) -> str:
        """The SELECT list reading `columns`, timestamps as epoch microseconds."""
        return select_columns(self.epoch_us, columns)

    def epoch_us(self, column: str) -> str:
        """Epoch microseconds, exactly (extract gives a numeric)."""
        return f'(extract(epoch from "{column}") * 1000000)::bigint'

    def json_value(self, kind: str) -> tuple[str, int]:
        """JSONB operators on the field's key."""
        return _JSON_VALUES[kind]

    def json_key(self, field: str) -> str:
        """The key itself."""
        return field

    def byte_order(self, column: str) -> str:
        """The "C" collation: byte order (the database's own collation sorts by language rules)."""
        return f'"{column}" COLLATE "C"'

    def entry_digest(self, column: str) -> str:
        """`crmctl_entry_digest`, created with the events table."""
        return f"crmctl_entry_digest({column})"

    @contextmanager
    def arrow(
        self, sql: str, params: Sequence[Any], rows: int, *, tenant: str | None
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        """The rows of `sql` read through ADBC's PostgreSQL driver (COPY in binary, decoded into Arrow in C) on a
        connection of its own, in one read-only transaction in the tenant's scope."""
        import adbc_driver_postgresql.dbapi as adbc

        numbered = sql
        for index in range(len(params)):
            numbered = numbered.replace("?", f"${index + 1}", 1)
        value = ALL_TENANTS if tenant is None else check_tenant(tenant)
        try:
            with adbc.connect(self._target.url) as con, con.cursor() as cursor:
                cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(rows * 512)})
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute("SELECT set_config('crmctl.tenant', $1, true)", [value])
                cursor.fetchall()
                cursor.execute(numbered, list(params) if params else None)
                yield iter(cursor.fetch_record_batch())
                con.rollback()
        except adbc.Error as error:
            text = self._target.hide(_first_line(error))
            raise EnvironmentFailure(f"{self.path}: reading into Arrow failed: {text}") from error

    def columns(self) -> list[tuple[str, str | None, str | None]]:
        """Every table and view of the connection's schema (`current_schema()`), with the columns of the tables."""
        rows = self.all(
            "SELECT t.table_name, c.column_name, c.data_type FROM information_schema.tables t "
            "LEFT JOIN information_schema.columns c ON c.table_schema = t.table_schema "
            "AND c.table_name = t.table_name AND t.table_type = 'BASE TABLE' "
            "WHERE t.table_schema = current_schema() ORDER BY t.table_name, c.ordinal_position"
        )
        return [(str(table), column, kind) for table, column, kind in rows]

    def listed_type(self, kind: str) -> str:
        """information_schema's spelling of `kind`."""
        return _TYPES[kind][1]

    def create_table(self, table: Table) -> None:
        """CREATE TABLE, and for a table of tenants' rows the isolation policy, forced on its owner too."""
        self.all(table.create_statement({kind: spelled for kind, (spelled, _) in _TYPES.items()}))
        if table.tenanted:
            self.all(f"ALTER TABLE {table.name} ENABLE ROW LEVEL SECURITY")
            self.all(f"ALTER TABLE {table.name} FORCE ROW LEVEL SECURITY")
            self.all(f"CREATE POLICY tenant_isolation ON {table.name} USING ({_POLICY}) WITH CHECK ({_POLICY})")
        if table.name == "events":
            self.all(_ENTRY_DIGEST)

    def engine_version(self) -> tuple[str, str]:
        """("postgresql", the server's version)."""
        return "postgresql", str(self.all("SHOW server_version")[0][0]).split()[0]

    def isolation(self) -> str:
        """ "enforced", or why the connecting role is not held to the tenants' row-level security."""
        superuser, bypass, role = self.all(
            "SELECT rolsuper, rolbypassrls, rolname FROM pg_roles WHERE rolname = current_user"
        )[0]
        if superuser or bypass:
            why = "is a superuser" if superuser else "has BYPASSRLS"
            return f"bypassed: role {role} {why}; connect as a role without it to have tenants isolated"
        return "enforced"


def _conflict(table: Table, columns: Sequence[str], replace: bool) -> str:
    """The ON CONFLICT clause replacing a row with the same key."""
    if not replace or not table.key:
        return ""
    others = [c for c in columns if c not in table.key]
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in others)
    return f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}" if others else " ON CONFLICT DO NOTHING"
