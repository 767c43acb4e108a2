"""`crmctl records create|get|list|update|import`: thin commands over `crmctl.runtime.record_service`.

The wall clock and new record ids are taken here, never in the runtime. Exit codes: 0 done, 1 a record or
row was rejected (nothing written unless `--skip-invalid`), 2 bad input (see the error boundary).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import note, out, progress
from crmctl.cli.contract import emit
from crmctl.cli.inputs import instant, open_store
from crmctl.cli.words import plural
from crmctl.errors import InputError, UsageError

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.runtime.checks import Resolver
    from crmctl.runtime.record_service import ImportReport, RecordOutcome, RecordService
    from crmctl.runtime.store import StoredRecord

__all__ = ["move_check", "run_create", "run_get", "run_import", "run_list", "run_update"]


REJECTED_SHOWN = 1000  # rejected rows an import's JSON lists (`rejectedRows` counts them all)


def _package(path: Path) -> Package:
    from crmctl.model.package import load_package

    if not path.is_dir():
        raise InputError(f"{path}: no package directory here")
    package = load_package(path)
    if not package.valid:
        first = next(d for d in package.diagnostics if d.severity.value == "error")
        raise InputError(f"{first.location}: {first.message} ({first.code})", hint=f"run `crmctl lint {path}`")
    return package


def _object(text: str, where: str) -> dict[str, Any]:
    from crmctl.runtime.record_files import json_object

    return json_object(text, where)


def _input(data: str | None, file: Path | None) -> dict[str, Any]:
    if (data is None) == (file is None):
        raise UsageError("give the record as --data JSON or --file PATH (one of them)")
    if file is not None:
        from crmctl.model.files import read_regular
        from crmctl.model.source import decode_text

        return _object(decode_text(read_regular(file, str(file)), str(file)), str(file))
    assert data is not None
    return _object(data, "--data")


@contextmanager
def _service(
    store_path: str | None, tenant: str, locale: str | None, *, read_only: bool = False
) -> Iterator[RecordService]:
    from crmctl.runtime.record_service import RecordService
    from crmctl.runtime.service import Runtime

    with open_store(store_path, read_only=read_only) as store:
        yield RecordService(Runtime(store, tenant), locale)


def _record_json(record: StoredRecord) -> dict[str, Any]:
    return {
        "entity": record.entity,
        "id": record.id,
        "revision": record.revision,
        "data": record.data,
        "package": {"name": record.package_name, "version": record.package_version, "digest": record.package_digest},
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
    }


def _finding_lines(findings: list[dict[str, Any]], prefix: str = "") -> list[str]:
    return [f"{prefix}{f['field'] or '-'}: {f['code']}: {f['message']}" for f in findings]


def _report_outcome(outcome: RecordOutcome, verb: str, entity: str, record_id: str, output_format: str) -> int:
    result = outcome.result
    if output_format == "json":
        doc: dict[str, Any] = {
            "outcome": verb if outcome.ok else "rejected",
            "entity": entity,
            "id": record_id,
            "warnings": result.warnings,
            "errors": result.errors,
            "record": None if outcome.record is None else _record_json(outcome.record),
        }
        return emit(doc, exit_code=0 if outcome.ok else 1)
    if outcome.record is not None:
        record = outcome.record
        out(
            "\n".join(
                [
                    f"{verb} {entity} {record_id} (revision {record.revision}, "
                    f"{record.package_name}@{record.package_version})",
                    *_finding_lines(result.warnings, "warning: "),
                ]
            )
        )
    else:
        out(
            "\n".join(
                [
                    f"rejected {entity} {record_id}; nothing was written",
                    *_finding_lines(result.errors, "error: "),
                    *_finding_lines(result.warnings, "warning: "),
                ]
            )
        )
    return 0 if outcome.ok else 1


def _providers(no_async: bool) -> Resolver | None:
    """Async validations ask the registered providers (docs/runtime.md), unless --no-async skips them."""
    if no_async:
        return None
    from crmctl.runtime.providers import provider_resolver

    return provider_resolver()


def run_create(
    package_path: Path,
    entity: str,
    data: str | None,
    file: Path | None,
    record_id: str | None,
    *,
    store: str | None,
    tenant: str,
    output_format: str,
    locale: str | None,
    now: str | None,
    no_async: bool = False,
) -> int:
    import uuid

    values = _input(data, file)
    package = _package(package_path)
    record_id = record_id or str(uuid.uuid4())
    at = instant(now)
    with _service(store, tenant, locale) as service:
        outcome = service.create(package, entity, record_id, values, at, resolver=_providers(no_async))
    return _report_outcome(outcome, "created", entity, record_id, output_format)


def run_update(
    record_id: str,
    entity: str,
    data: str,
    package_path: Path | None,
    *,
    store: str | None,
    tenant: str,
    output_format: str,
    locale: str | None,
    now: str | None,
    no_async: bool = False,
) -> int:
    patch = _object(data, "--data")
    package = _package(package_path) if package_path is not None else None
    at = instant(now)
    with _service(store, tenant, locale) as service:
        outcome = service.update(
            entity, record_id, patch, at, package=package, resolver=_providers(no_async), move_check=move_check
        )
    return _report_outcome(outcome, "updated", entity, record_id, output_format)


def move_check(old: Package, new: Package, entity: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`compat.moves.move_check`, imported when an update runs (the compat engine is heavy)."""
    from crmctl.compat.moves import move_check as check

    return check(old, new, entity, data)


def _display(record: StoredRecord, package: Package, locale: str | None) -> list[tuple[str, str, str]]:
    """(field, label, formatted value) of every field with a value, by the record's own version: in the order its form
    shows them (the pinned copy keeps the UI's order, not the schema's key order), then the others by name."""
    from crmctl.runtime.l10n import Localizer

    l10n = Localizer(package, locale)
    assert package.schema is not None
    fields = package.schema.entities[record.entity].fields
    forms = package.ui.all_forms().values() if package.ui else []
    shown = [
        p.split(".")[0]
        for f in forms
        if f.entity in (None, record.entity)
        for step in f.steps
        for p in [*step.fields, *(q for g in step.groups for q in g.fields)]
    ]
    order = list(dict.fromkeys([*(n for n in shown if n in fields), *sorted(fields)]))
    rows = []
    for name in order:
        fdef = fields[name]
        value = record.data.get(name)
        if value is None:
            continue
        text = (
            json.dumps(value, ensure_ascii=False)
            if isinstance(value, dict | list)
            else l10n.format_value(value, fdef, entity=record.entity, path=name)
        )
        rows.append((name, l10n.field_label(record.entity, name), text))
    return rows


def run_get(
    record_id: str, entity: str, *, store: str | None, tenant: str, output_format: str, locale: str | None
) -> int:
    with _service(store, tenant, locale, read_only=True) as service:
        record, package = service.get(entity, record_id)
        shown = _display(record, package, locale)
    if output_format == "json":
        display = [{"field": name, "label": label, "text": text} for name, label, text in shown]
        return emit({**_record_json(record), "display": display})
    width = max((len(label) for _, label, _ in shown), default=0)
    out(
        "\n".join(
            [
                f"{record.entity} {record.id}  {record.package_name}@{record.package_version}  "
                f"revision {record.revision}  updated {record.updated_at}",
                *(f"  {label.ljust(width)}  {text}" for _, label, text in shown),
            ]
        )
    )
    return 0


def run_list(entity: str | None, limit: int | None, *, store: str | None, tenant: str, output_format: str) -> int:
    with _service(store, tenant, None, read_only=True) as service:
        if output_format == "json":  # the data as `get` shows it: with the pinned version's defaults
            records = service.list(entity, limit=limit)
            total = service.store.count_records(tenant, entity)
        else:  # no data shown: no package version to read
            records = service.store.list_records(tenant, entity, limit=limit)
    if output_format == "json":
        listed = [_record_json(r) for r in records]
        return emit({"tenant": tenant, "entity": entity, "total": total, "records": listed})
    if not records:
        out(f"no records in tenant {tenant}" + (f" for {entity}" if entity else ""))
        return 0
    out(
        "\n".join(
            f"{r.entity}\t{r.id}\t{r.package_name}@{r.package_version}\trevision {r.revision}\t{r.updated_at}"
            for r in records
        )
    )
    return 0


def _report_import(report: ImportReport, entity: str, skip_invalid: bool, output_format: str) -> int:
    if output_format == "json":
        doc = {
            "outcome": "imported" if report.ok else ("partial" if skip_invalid else "rejected"),
            "entity": entity,
            "rows": report.rows,
            "written": report.written,
            "rowsWithWarnings": report.warnings,
            "rejectedRows": len(report.rejected),
            "rejected": [{"row": row, "findings": found} for row, found in report.rejected[:REJECTED_SHOWN]],
        }
        return emit(doc, exit_code=0 if report.ok else 1)
    else:
        lines = [
            f"row {row}: {f['field'] or '-'}: {f['code']}: {f['message']}"
            for row, findings in report.rejected
            for f in findings
        ]
        of_rows = plural(report.rows, "row")
        if report.ok:
            lines.append(f"imported {report.written:,} of {of_rows}")
        elif skip_invalid:
            lines.append(f"imported {report.written:,} of {of_rows}; skipped {len(report.rejected):,} rejected")
        else:
            lines.append(
                f"rejected {len(report.rejected):,} of {of_rows}; nothing was written "
                "(--skip-invalid writes the valid rows)"
            )
        out("\n".join(lines))
    return 0 if report.ok else 1


def run_import(
    package_path: Path,
    entity: str,
    file: Path,
    *,
    store: str | None,
    tenant: str,
    output_format: str,
    locale: str | None,
    now: str | None,
    skip_invalid: bool,
    no_async: bool = False,
    jobs: int | None = None,
) -> int:
    """`jobs` None: as many worker processes as cores (`available_cores`); 1: validate in this process."""
    from crmctl.cli.options import available_cores
    from crmctl.runtime.record_files import read_rows
    from crmctl.runtime.row_checks import pool_refusal

    package = _package(package_path)
    at = instant(now)
    resolver = _providers(no_async)
    with _service(store, tenant, locale) as service, progress("importing") as update:
        engine = service.engine(package, entity)
        refusal = pool_refusal(engine, resolver)
        if refusal is not None and jobs is not None and jobs > 1:
            note(f"crmctl: {refusal}")
        report = service.import_rows(
            package,
            entity,
            read_rows(file, engine),
            at,
            skip_invalid=skip_invalid,
            progress=update,
            resolver=resolver,
            jobs=available_cores() if jobs is None else jobs,
        )
    return _report_import(report, entity, skip_invalid, output_format)
