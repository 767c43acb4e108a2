"""Records over the store: create, update, read and import records through the record engine, logged.

Every record carries the package version that validated it (name, version, digest; the version itself is
pinned in the store), so reading an old record uses the schema it was written with even after the working
copy moved on. Each accepted create or update appends a log entry of kind "record" to the tenant's log in the
same transaction as the record:

    {"session": "record:<entity>:<id>", "at": ISO, "kind": "record", "op": "create"|"update",
     "package": {name, version, digest}, "entity": E, "locale": L, "input": {...},
     "effects": [{"effect": "record", "id": ID, "data": {...}, "warnings": [...]}], "answers": [...]}

For an update, `input` is the JSON merge patch; the data it applied to is the previous entry of the same
session, which is how replay re-executes it (`replay_entry`). An import writes its rows in Arrow batches of
`batch_size` inside one transaction: all of them or none (unless rejected rows are skipped on purpose).

The clock and ids are injected by the caller; nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmctl import interrupts
from crmctl.errors import UserError
from crmctl.model.aliases import NamedTwice
from crmctl.runtime.batch_writes import BatchWrites
from crmctl.runtime.records import RecordEngine, RecordResult, record_body, record_effects
from crmctl.runtime.row_checks import Row, RowWriting, encoded_rows, pool_refusal
from crmctl.runtime.service import iso, parse_instant, recorded_resolver

if TYPE_CHECKING:
    from datetime import datetime

    from crmctl.model.defaults import DefaultFiller
    from crmctl.model.package import Package
    from crmctl.runtime.checks import Resolver
    from crmctl.runtime.service import Runtime
    from crmctl.runtime.storage.events import EncodedBody
    from crmctl.runtime.store import StoredRecord

__all__ = [
    "ImportReport",
    "MoveCheck",
    "RecordNotFound",
    "RecordOutcome",
    "RecordService",
    "Row",
    "carried",
    "replay_entry",
]

# (pinned version, target version, entity, the stored values a move carries over) -> findings refusing the move
MoveCheck = Callable[["Package", "Package", str, Mapping[str, Any]], list[dict[str, Any]]]


class RecordNotFound(UserError):
    """No record with that entity and id in this tenant."""


@dataclass(frozen=True)
class RecordOutcome:
    """A create or update: the stored record when accepted, the engine's result either way."""

    result: RecordResult
    record: StoredRecord | None

    @property
    def ok(self) -> bool:
        return self.result.ok


@dataclass
class ImportReport:
    rows: int = 0
    written: int = 0
    rejected: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)  # (row, findings)
    warnings: int = 0

    @property
    def ok(self) -> bool:
        return not self.rejected

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "written": self.written,
            "warnings": self.warnings,
            "rejected": [{"row": row, "findings": findings} for row, findings in self.rejected],
        }


class _Rollback(Exception):
    pass


class RecordService:
    """Records of one tenant (the runtime's) in one locale (default: each package's default locale)."""

    def __init__(self, runtime: Runtime, locale: str | None = None) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.tenant = runtime.tenant
        self.locale = locale
        self._engines: dict[tuple[str, str, str | None], RecordEngine] = {}
        self._fills: dict[tuple[str, str], DefaultFiller | None] = {}  # (digest, entity) -> its defaults

    def engine(
        self, package: Package, entity: str, digest: str | None = None, locale: str | None = None
    ) -> RecordEngine:
        return self._engine(package, entity, digest or self.runtime.pin(package).digest, locale or self.locale)

    def _engine(self, package: Package, entity: str, digest: str, locale: str | None) -> RecordEngine:
        """The engine of `entity` in the version `digest` in `locale` (None: the version's default locale)."""
        key = (digest, entity, locale)
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = RecordEngine(package, entity, locale)
        return engine

    # --- reading -----------------------------------------------------------------------------------------------

    def get(self, entity: str, record_id: str) -> tuple[StoredRecord, Package]:
        """The record, as its pinned version reads it (`read`), and that version."""
        record = self.store.get_record(self.tenant, entity, record_id)
        if record is None:
            raise RecordNotFound(f"no {entity} record {record_id!r} in tenant {self.tenant!r}; see crmctl records list")
        return self.read(record)

    def list(self, entity: str | None = None, *, limit: int | None = None) -> list[StoredRecord]:
        """The tenant's records (by entity and id), each as its pinned version reads it, as `get` shows it."""
        return [self.read(record)[0] for record in self.store.list_records(self.tenant, entity, limit=limit)]

    def read(self, record: StoredRecord) -> tuple[StoredRecord, Package]:
        """`record` as its pinned version reads it — a field without a value has its default — and that version."""
        import dataclasses

        from crmctl.model.defaults import filler_for

        package = self.runtime.pinned(record.package_digest)
        key = (record.package_digest, record.entity)
        if key not in self._fills:
            entity_def = package.schema.entities.get(record.entity) if package.schema else None
            self._fills[key] = filler_for(entity_def.fields) if entity_def is not None else None
        fill = self._fills[key]
        return (dataclasses.replace(record, data=fill(record.data)) if fill is not None else record), package

    # --- writing -----------------------------------------------------------------------------------------------

    def create(
        self,
        package: Package,
        entity: str,
        record_id: str,
        values: Mapping[str, Any],
        at: datetime,
        resolver: Resolver | None = None,
    ) -> RecordOutcome:
        from crmctl.runtime.store import StoredRecord

        ref = self.runtime.pin(package)
        engine = self.engine(package, entity, ref.digest)
        result = engine.check(values, at, resolver)
        if not result.ok:
            return RecordOutcome(result, None)
        stamp = iso(at)
        record = StoredRecord(
            self.tenant, entity, record_id, ref.name, ref.version, ref.digest, result.data, 1, stamp, stamp
        )
        with self.store.transaction():
            self.store.put_records([record], mode="create")
            self.store.append_events(
                self.tenant, [record_body("create", ref.to_json(), engine, record_id, stamp, values, result)]
            )
        return RecordOutcome(result, record)

    def update(
        self,
        entity: str,
        record_id: str,
        patch: Mapping[str, Any],
        at: datetime,
        *,
        package: Package | None = None,
        resolver: Resolver | None = None,
        move_check: MoveCheck | None = None,
    ) -> RecordOutcome:
        """Merge `patch` into the stored data and validate under the record's version, or `package` (same name).

        Moving to another version asks `move_check` (the CLI passes `compat.moves`) which changes between the two
        versions break the values the record carries over; any finding rejects the move, nothing written."""
        from crmctl.runtime.store import StoredRecord

        stored, pinned = self.get(entity, record_id)
        if package is not None and package.name != stored.package_name:
            raise UserError(
                f"{entity} {record_id} belongs to package {stored.package_name}, not {package.name}; "
                "a record only moves between versions of its own package"
            )
        target = package or pinned
        ref = self.runtime.pin(target)
        engine = self.engine(target, entity, ref.digest)
        try:
            # The stored version reads the stored data (without its calculated values); it says nothing, so in its
            # default locale (it may lack this one). The target version then reads it and the patch by its names.
            base = self._engine(pinned, entity, stored.package_digest, None).update_base(stored.data)
            if move_check is not None and ref.digest != stored.package_digest:
                refused = move_check(pinned, target, entity, carried(engine.renamed(base), engine.renamed(patch)))
                if refused:
                    return RecordOutcome(RecordResult(False, dict(stored.data), errors=refused), None)
            values = engine.patched(base, patch)
        except NamedTwice as exc:
            return RecordOutcome(RecordResult(False, dict(stored.data), errors=[engine.refusal(exc)]), None)
        result = engine.check(values, at, resolver)
        if not result.ok:
            return RecordOutcome(result, None)
        stamp = iso(at)
        record = StoredRecord(
            self.tenant,
            entity,
            record_id,
            ref.name,
            ref.version,
            ref.digest,
            result.data,
            stored.revision + 1,
            stored.created_at,
            stamp,
        )
        with self.store.transaction():
            self.store.put_records([record], mode="update")
            self.store.append_events(
                self.tenant, [record_body("update", ref.to_json(), engine, record_id, stamp, patch, result)]
            )
        return RecordOutcome(result, record)

    def import_rows(
        self,
        package: Package,
        entity: str,
        rows: Iterable[Row],
        at: datetime,
        *,
        skip_invalid: bool = False,
        batch_size: int = 10_000,
        resolver: Resolver | None = None,
        progress: Callable[[int], None] | None = None,
        jobs: int = 1,
    ) -> ImportReport:
        """Create a record per row, all in one transaction. With a rejected row nothing is written, unless
        `skip_invalid`; the report lists every rejected row either way. `progress` gets the rows done so far.

        Each row is checked and encoded for the store (`encoded_rows`): its data's canonical JSON and its log
        entry's body, so writing here is only chaining and inserting. With `jobs` > 1 that happens in as many
        worker processes, rows from a file (`RowFile`) are converted there too, and the rows are written here in
        file order: the same records, log entries and report as with one."""
        ref = self.runtime.pin(package)
        engine = self.engine(package, entity, ref.digest)
        writing = RowWriting(self.tenant, ref.to_json(), at, iso(at))
        version = (ref.name, ref.version, ref.digest)

        def write(records: list[tuple[str, str]], bodies: list[EncodedBody]) -> None:
            self.store.records.create_encoded(self.tenant, entity, version, records, writing.stamp)
            self.store.log.append_encoded(self.tenant, bodies)

        writes = BatchWrites(write)
        if jobs > 1 and pool_refusal(engine, resolver) is None:
            blob = self.store.get_package(ref.digest)
            assert blob is not None  # pinned just above
            copy = (ref.digest, blob)
            checked = encoded_rows(engine, rows, writing, resolver, jobs=jobs, copy=copy, on_pool=writes.behind)
        else:
            checked = encoded_rows(engine, rows, writing, resolver)
        report = ImportReport()
        records: list[tuple[str, str]] = []
        bodies: list[EncodedBody] = []

        def flush() -> None:
            nonlocal records, bodies
            interrupts.check()  # a Ctrl-C the store's last query swallowed: nothing more is written
            writes.write(records, bodies)
            report.written += len(records)
            records, bodies = [], []

        try:
            # Leaving early stops the batches written behind before the rollback, and the workers after it.
            with interrupts.watched(), closing(checked), self.store.transaction(), writes:
                for number, errors, record_id, warned, data, body in checked:
                    report.rows += 1
                    if body is None:
                        report.rejected.append((number, errors or []))
                        continue
                    if report.rejected and not skip_invalid:
                        continue  # nothing will be written: keep checking to report every bad row
                    report.warnings += warned
                    records.append((record_id, data))
                    bodies.append(body)
                    if len(records) >= batch_size:
                        flush()
                        if progress is not None:
                            progress(report.rows)
                if report.rejected and not skip_invalid:
                    raise _Rollback  # after the batches before the first rejected row: one the store refuses wins
                flush()
                writes.finish()
        except _Rollback:
            report.written = 0
        if progress is not None:
            progress(report.rows)
        return report


def carried(data: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values a JSON merge patch leaves in place: what moving the record carries over (`data` and
    `patch` spelled with the same field names: the update reads both with the target version's)."""
    out = dict(data)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = carried(out[key], value)
        else:
            out.pop(key, None)
    return out


def replay_entry(
    runtime: Runtime,
    entry: Mapping[str, Any],
    base: tuple[str, Mapping[str, Any]] | None,
    against: Package | None = None,
    engines: dict[tuple[str, str, str], RecordEngine] | None = None,
) -> list[dict[str, Any]]:
    """Re-execute a logged record entry; the effects it produces now. `base` is, for an update, the digest of the
    version the record was stored under and the data the session's previous entry logged: the update merges its
    patch into that data as that version reads it (`RecordEngine.update_base`), as `RecordService.update` did,
    also when it moved the record to another version. Against another version every entry, the earlier ones
    included, runs on that version, so the data is read by it too. `engines` caches engines across entries.
    UserError when the record is refused now."""
    engines = {} if engines is None else engines
    locale = str(entry["locale"])
    digest = "against" if against is not None else str(entry["package"]["digest"])
    engine = _replay_engine(runtime, engines, digest, str(entry["entity"]), locale, against)
    values: Mapping[str, Any] = entry.get("input", {})
    if entry.get("op") == "update":
        if base is None:
            raise UserError("an update without the record it updates earlier in the log")
        stored_digest, data = base
        # Reading data needs no texts: the stored version's engine in its default locale (it may lack this one).
        stored = (
            engine if against is not None else _replay_engine(runtime, engines, stored_digest, engine.entity, "", None)
        )
        values = engine.patched(stored.update_base(data), values)
    effects = entry.get("effects") or [{}]
    record_id = str(effects[0].get("id", str(entry["session"]).rsplit(":", 1)[-1]))
    # No logged answer means no async validation ran (no resolver then, or none applied): run none now either.
    answers = list(entry.get("answers", []))
    result = engine.check(values, parse_instant(str(entry["at"])), recorded_resolver(answers) if answers else None)
    if not result.ok:
        raise UserError("; ".join(f"{e['field']}: {e['code']}: {e['message']}" for e in result.errors))
    return record_effects(record_id, result)


def _replay_engine(
    runtime: Runtime,
    engines: dict[tuple[str, str, str], RecordEngine],
    digest: str,
    entity: str,
    locale: str,
    against: Package | None,
) -> RecordEngine:
    """The engine of `entity` in the version stored under `digest` (or `against`) in `locale` ("": the version's
    default), built once per replay."""
    key = (digest, entity, locale)
    engine = engines.get(key)
    if engine is None:
        engine = engines[key] = RecordEngine(against or runtime.pinned(digest), entity, locale or None)
    return engine
