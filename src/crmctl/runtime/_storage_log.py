"""The store's event log: per-tenant hash chains appended in batches, read in seq windows, verified, exported to
Parquet and read back from an export (see `runtime.store` and `runtime.eventlog`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from crmctl import __version__
from crmctl.errors import InputError
from crmctl.model.files import AtomicFile, check_regular
from crmctl.model.tenants import check_tenant
from crmctl.runtime import eventlog
from crmctl.runtime._storage import (
    _CHUNK,
    _EVENT_COLUMNS,
    EXPORT_FORMAT,
    StoreError,
    StoreFormatError,
    _event_schema,
    _instant,
    _iso,
    _link_text,
    _loads,
    _select,
    _store_failure,
    _utc_or_none,
)
from crmctl.runtime._storage_core import _Core
from crmctl.runtime.eventlog import GENESIS, ChainProblem

__all__ = ["PACKAGES_KEY", "read_event_export", "read_export_packages"]

PACKAGES_KEY = "crmctl.packages"


class _EventLog(_Core):
    """The event-log half of the store."""

    # -- event log --------------------------------------------------------------------------------------------------

    def append_events(self, tenant: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Chain `bodies` (each with a `session` and an ISO UTC `at`) onto the tenant's log; return the entries."""
        import pyarrow as pa

        check_tenant(tenant)
        for body in bodies:
            clash = eventlog.CHAIN_KEYS.intersection(body)
            if clash or not isinstance(body.get("session"), str) or body.get("tenant", tenant) != tenant:
                raise InputError(
                    f"an event needs a string session, may not set {sorted(eventlog.CHAIN_KEYS)} and "
                    f"belongs to tenant {tenant}: {eventlog.dumps(dict(body))[:200]}"
                )
        if not bodies:
            return []
        times = [_instant(body.get("at")) for body in bodies]
        with self.transaction():
            seq, prev = self.head(tenant) or (0, GENESIS)
            entries, texts = [], []
            for body in bodies:
                seq += 1
                entry, text = _link_text({**body, "tenant": tenant}, seq, prev)
                entries.append(entry)
                texts.append(text)
                prev = entry["hash"]
            schema = _event_schema()
            table = pa.Table.from_arrays(
                [
                    pa.array([tenant] * len(entries), pa.string()),
                    pa.array([e["seq"] for e in entries], pa.int64()),
                    pa.array([e["session"] for e in entries], pa.string()),
                    pa.array(times, schema.field("at").type),
                    pa.array(texts, pa.string()),
                    pa.array([e["hash"] for e in entries], pa.string()),
                ],
                schema=schema,
            )
            self._insert("events", _EVENT_COLUMNS, table)
        return entries

    def _event_rows(self, tenant: str, session: str | None = None, after_seq: int = 0) -> Iterator[tuple[Any, ...]]:
        if session is None:
            yield from self._log_rows(tenant, after_seq)
            return
        where, extra = "AND session = ?", [session]
        while True:
            rows = self._all(
                f"SELECT {_select(_EVENT_COLUMNS)} FROM events WHERE tenant = ? {where} AND seq > ? "
                f"ORDER BY seq LIMIT {_CHUNK}",
                [tenant, *extra, after_seq],
            )
            yield from rows
            if len(rows) < _CHUNK:
                return
            after_seq = rows[-1][1]

    def _log_rows(self, tenant: str, after_seq: int) -> Iterator[tuple[Any, ...]]:
        # The whole log in windows of _CHUNK seq numbers: `seq > ? ORDER BY seq LIMIT n` sorts every later entry
        # again for each chunk (quadratic in the log's length), while a window lets DuckDB skip the row groups
        # outside it. Seq numbers are dense unless entries were deleted; an empty window jumps to the next one.
        window = f"SELECT {_select(_EVENT_COLUMNS)} FROM events WHERE tenant = ? AND seq > ? AND seq <= ? ORDER BY seq"
        following = "SELECT min(seq), max(seq) FROM events WHERE tenant = ? AND seq > ?"
        while True:
            low, high = self._all(following, [tenant, after_seq])[0]
            if low is None:
                return
            after_seq = int(low) - 1
            while after_seq < high:
                upper = min(after_seq + _CHUNK, int(high))
                rows = self._all(window, [tenant, after_seq, upper])
                yield from rows
                after_seq = upper
                if not rows:
                    break

    def events(self, tenant: str, *, session: str | None = None, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """The tenant's entries in seq order (optionally one session's, after a seq), read in chunks."""
        for row in self._event_rows(tenant, session, after_seq):
            yield _loads(row[4], self.path, "event", tenant, row[1])

    def sessions(self, tenant: str) -> list[str]:
        """The tenant's sessions in the order they started."""
        query = "SELECT session FROM events WHERE tenant = ? GROUP BY session ORDER BY min(seq), session"
        return [row[0] for row in self._all(query, [tenant])]

    def head(self, tenant: str) -> tuple[int, str] | None:
        """(seq, hash) of the tenant's last entry, None for an empty log."""
        rows = self._all("SELECT seq, hash FROM events WHERE tenant = ? ORDER BY seq DESC LIMIT 1", [tenant])
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def verify_log(self, tenant: str, *, expected_head: str | None = None) -> list[ChainProblem]:
        """Verify the tenant's chain, and that the seq, session, at and hash columns agree with each entry."""
        column_problems: list[ChainProblem] = []

        def entries() -> Iterator[Any]:
            for position, (row_tenant, seq, session, at, text, hash_) in enumerate(self._event_rows(tenant)):
                try:
                    entry = json.loads(text)
                except ValueError:
                    yield text
                    continue
                if isinstance(entry, dict):
                    columns = {"tenant": row_tenant, "seq": seq, "session": session, "hash": hash_}
                    bad = [name for name, value in columns.items() if entry.get(name) != value]
                    if not isinstance(entry.get("at"), str) or _utc_or_none(entry["at"]) != _iso(at):
                        bad.append("at")
                    if bad:
                        message = f"entry seq {seq}: the {', '.join(bad)} column(s) disagree with the entry"
                        column_problems.append(ChainProblem(seq, position, "LOG001", message))
                yield entry

        problems = eventlog.verify_chain(entries(), expected_head=expected_head)
        return sorted(problems + column_problems, key=lambda problem: problem.position)

    # -- export -----------------------------------------------------------------------------------------------------

    def export_events(self, tenant: str | None, path: Path) -> int:
        """Write the events of one tenant (None: all) to a Parquet file atomically; return the number written.

        The file's metadata carries the package copies the entries are pinned to (`crmctl.packages`, see
        `read_export_packages`), so the export replays from the file alone."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        where, params = ("WHERE tenant = ?", [tenant]) if tenant is not None else ("", [])
        schema = _event_schema().with_metadata(
            {
                "crmctl.format": EXPORT_FORMAT,
                "crmctl.version": __version__,
                PACKAGES_KEY: self._pinned_copies(where, params),
            }
        )
        try:
            target = AtomicFile(path)  # the mode a user's file gets: crmctl.model.files
        except OSError as error:
            raise StoreError(f"cannot write {path}: {error.strerror}") from error
        temp = str(target.temp)
        count = 0
        try:
            columns = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
            # A cursor of its own, so a failed export cannot leave this connection with an unfinished result.
            with self._con.cursor() as cursor, pq.ParquetWriter(temp, schema) as writer:
                query = cursor.sql(f"SELECT {columns} FROM events {where} ORDER BY tenant, seq", params=params)
                for batch in query.to_arrow_reader(_CHUNK):
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
                    count += batch.num_rows
            target.commit()
        except BaseException as error:
            import duckdb

            target.abort()
            if isinstance(error, OSError):
                raise StoreError(f"cannot write {path}: {error.strerror or error}") from error
            if isinstance(error, duckdb.Error):
                _store_failure(self.path, error)
            raise
        return count

    def _pinned_copies(self, where: str, params: list[Any]) -> str:
        """`crmctl.packages`: every stored package version the selected entries are pinned to, as canonical JSON
        `{digest: {"name", "version", "canonical"}}` (`canonical`: the copy's canonical text, whose sha256 is the
        digest). An entry that is not JSON (a damaged store) pins nothing: the export still carries it as it is,
        for `log verify` to report."""
        query = (
            f"SELECT digest, name, version, canonical FROM packages WHERE digest IN (SELECT DISTINCT CASE WHEN "
            f"json_valid(entry) THEN json_extract_string(entry, '$.package.digest') END FROM events {where}) "
            f"ORDER BY digest"
        )
        copies = {
            digest: {"name": name, "version": version, "canonical": bytes(blob).decode("utf-8")}
            for digest, name, version, blob in self._all(query, params)
        }
        return eventlog.dumps(copies)


def _export_file(path: Path) -> Any:
    """The Parquet file of an `export_events` export (its schema metadata checked); refuses other files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_regular(path, str(path))
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        raise StoreFormatError(f"{path} is not a Parquet file: {error}") from error
    metadata = parquet.schema_arrow.metadata or {}
    if metadata.get(b"crmctl.format") != EXPORT_FORMAT.encode():
        raise StoreFormatError(f"{path} is not a crmctl event log export (no crmctl.format = {EXPORT_FORMAT})")
    return parquet


def read_event_export(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of an `export_events` file, in the order written; refuses other Parquet files."""
    parquet = _export_file(path)

    def entries() -> Iterator[dict[str, Any]]:
        row = 0
        for batch in parquet.iter_batches(batch_size=_CHUNK, columns=["entry"]):
            for text in batch.column(0).to_pylist():
                row += 1
                yield _loads(text, path, "event in row", row)

    return entries()


def read_export_packages(path: Path) -> dict[str, tuple[str, str, bytes]] | None:
    """The package copies an export carries: digest → (name, version, canonical bytes); None for an export written
    before exports carried them. The bytes are not checked here: loading a copy checks its digest."""
    metadata = _export_file(path).schema_arrow.metadata or {}
    raw = metadata.get(PACKAGES_KEY.encode())
    if raw is None:
        return None
    try:
        copies = json.loads(raw.decode("utf-8"))
        return {
            str(digest): (str(copy["name"]), str(copy["version"]), str(copy["canonical"]).encode("utf-8"))
            for digest, copy in copies.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise StoreFormatError(
            f"{path}: the package copies in its metadata ({PACKAGES_KEY}) are not readable: {error}"
        ) from None
