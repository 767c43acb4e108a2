"""The runtime plane's commands (simulate, draft, log, replay, store, records, export, workflow, events).

`register(app)` puts them on the root app; `crmctl.cli.main` calls it once. Command bodies import their modules
lazily, as in `main`, so registering costs only typer's declarations."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from crmctl.cli.options import JobsOpt, ListFormat, ListFormatOpt, count, percentage, tenant_id
from crmctl.cli.options import jobs as parse_jobs

__all__ = ["register"]


# --- runtime: simulate, drafts, event log, replay, store ---------------------------------------------------------

draft_app = typer.Typer(
    help="Drafts: sessions saved after every event, resumable at the step they left.", no_args_is_help=True
)
log_app = typer.Typer(help="The runtime's hash-chained event log: verify, export to Parquet.", no_args_is_help=True)
replay_app = typer.Typer(
    help="Re-execute logged sessions, comparing every effect; exit 1 when behaviour differs (and see --fail-on).",
    invoke_without_command=True,
)
store_app = typer.Typer(
    help="The runtime store (a DuckDB file or a PostgreSQL database): info, migrate, copy.", no_args_is_help=True
)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="STORE",
        help="Runtime store: a DuckDB file or a postgresql:// URL (default: CRMCTL_STORE, else store in "
        "[tool.crmctl], else .crm/runtime.duckdb at the project root; docs/runtime.md#store).",
    ),
]
TenantOpt = Annotated[
    str,
    typer.Option("--tenant", callback=tenant_id, metavar="TENANT", help="Tenant; no read or write crosses tenants."),
]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", metavar="TIME", help="Inject the clock: ISO 8601 time of the first event (default: now)."),
]
ScriptOpt = Annotated[
    Path | None,
    typer.Option(
        "--script", metavar="PATH", help="Play a YAML list of events instead of prompting (docs/simulate.md)."
    ),
]


def simulate(
    package: Annotated[Path, typer.Argument(metavar="PACKAGE", help="Package directory.")],
    entity: Annotated[
        str | None, typer.Option("--entity", metavar="ENTITY", help="Entity of the form (default: the UI's).")
    ] = None,
    form: Annotated[
        str | None, typer.Option("--form", metavar="FORM", help="Form name when the UI has several.")
    ] = None,
    locale: Annotated[
        str | None, typer.Option("--locale", metavar="LOCALE", help="Locale (default: the package default).")
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", metavar="ROLE", help="Role (default: the first declared).")
    ] = None,
    script: ScriptOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    session: Annotated[
        str | None, typer.Option("--session", metavar="ID", help="Session (= draft) id (default: random).")
    ] = None,
    now: NowOpt = None,
) -> None:
    """Walk through a package's form in the terminal, or play a script and print the effect trace."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(
        command.run_simulate(
            package,
            entity=entity,
            form=form,
            locale=locale,
            role=role,
            script_path=script,
            output_format=output_format.value,
            store_path=store,
            tenant=tenant,
            session_id=session,
            now=now,
        )
    )


@draft_app.command("list")
def draft_list(
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    entity: Annotated[
        str | None, typer.Option("--entity", metavar="ENTITY", help="Only drafts of this entity.")
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """List open drafts, most recent first."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_draft_list(store, tenant, entity, output_format.value))


@draft_app.command("show")
def draft_show(
    draft: Annotated[str, typer.Argument(metavar="ID", help="Draft id.")],
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Show a draft: entity, pinned package version, data, last step; a submitted one names its record."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_draft_show(draft, store, tenant, output_format.value))


@draft_app.command("discard")
def draft_discard(
    draft: Annotated[str, typer.Argument(metavar="ID", help="Draft id.")],
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    now: Annotated[
        str | None, typer.Option("--now", metavar="TIME", help="Inject the clock: ISO 8601 time (default: now).")
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Delete an open draft (logged); a submitted draft is a record and is refused."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_draft_discard(draft, store, tenant, now, output_format.value))


@draft_app.command("resume")
def draft_resume(
    draft: Annotated[str, typer.Argument(metavar="ID", help="Draft id.")],
    script: ScriptOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    now: NowOpt = None,
) -> None:
    """Continue a draft at the step it was left, on the package version it is pinned to."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(
        command.run_draft_resume(
            draft, script_path=script, output_format=output_format.value, store_path=store, tenant=tenant, now=now
        )
    )


@log_app.command("verify")
def log_verify(
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    export: Annotated[
        Path | None, typer.Option("--export", metavar="PATH", help="Verify a Parquet export instead.")
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(
            "--head", metavar="HASH", help="The head hash recorded earlier (e.g. by CI): detects a truncated log."
        ),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Check the hash chain; exit 1 naming the first edited, deleted, inserted or reordered entry."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_log_verify(store, tenant, export, output_format.value, head))


@log_app.command("export")
def log_export(
    out: Annotated[Path, typer.Option("--out", "-o", metavar="PATH", help="Parquet file to write (atomically).")],
    store: StoreOpt = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", callback=tenant_id, metavar="TENANT", help="Only this tenant (default: all)."),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Write the event log to Parquet; it can be verified and replayed from there."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_log_export(store, tenant, out, output_format.value))


@replay_app.callback()
def replay(
    ctx: typer.Context,
    session: Annotated[str | None, typer.Option("--session", metavar="ID", help="Only this session.")] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Every session of the tenant (the default).")] = False,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="SOURCE",
            help="Re-run the inputs on this version: directory, git:REV[:path], registry:...",
        ),
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--from-export", metavar="PATH", help="Replay a Parquet log export.")
    ] = None,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    limit: Annotated[
        int,
        typer.Option(
            "--limit", parser=count, metavar="N", help="Differing events shown, in text and in JSON (the first N)."
        ),
    ] = 20,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="CLASSES",
            help="Comma-separated divergence classes that fail: behavioral,presentation (default: behavioral; "
            "against the pinned versions presentation too when the log's hash chain is broken).",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Only shard I of N (from 1) of the sessions, by a hash of their ids; its JSON report is for "
            "`crmctl replay merge` (docs/runtime.md#sharded-replay).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            parser=parse_jobs,
            metavar="N",
            help="Worker processes for the whole log (default: the number of cores; 1: in this process; at most "
            "4 a core; small logs always replay in process).",
        ),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Re-execute logged sessions, comparing every effect; exit 1 when behaviour differs (and see --fail-on)."""
    if ctx.invoked_subcommand is not None:
        return
    from crmctl.cli.commands import runtime as command
    from crmctl.cli.options import available_cores

    if session is not None and all_sessions:
        from crmctl.errors import UsageError

        raise UsageError("give --session ID or --all, not both")
    raise typer.Exit(
        command.run_replay(
            store_path=store,
            tenant=tenant,
            session=session,
            against=against,
            export=export,
            output_format=output_format.value,
            limit=limit,
            fail_on=fail_on,
            shard=shard,
            jobs=jobs if jobs is not None else available_cores(),
        )
    )


@replay_app.command("merge")
def replay_merge(
    reports: Annotated[
        list[Path], typer.Argument(metavar="REPORT", help="Shard reports: `replay --shard I/N --format json` output.")
    ],
    limit: Annotated[
        int,
        typer.Option(
            "--limit", parser=count, metavar="N", help="Differing events shown, in text and in JSON (the first N)."
        ),
    ] = 20,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Merge the shard reports of one replay into the report one replay of the whole log gives."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_replay_merge(reports, output_format.value, limit))


@store_app.command("info")
def store_info(store: StoreOpt = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """Format, writer versions and row counts per tenant."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_store_info(store, output_format.value))


@store_app.command("migrate")
def store_migrate(store: StoreOpt = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """Bring a store written by an older crmctl to the current format."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_store_migrate(store, output_format.value))


@store_app.command("copy")
def store_copy(
    source: Annotated[
        str, typer.Argument(metavar="SRC", help="The store to copy: a DuckDB file or a postgresql:// URL.")
    ],
    target: Annotated[
        str,
        typer.Argument(
            metavar="DST",
            help="An empty store to copy into: a new DuckDB file, or a PostgreSQL database schema without crmctl rows.",
        ),
    ],
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Copy a whole store (every tenant, every table) into an empty one, DuckDB or PostgreSQL, in one transaction;
    verified afterwards by each tenant's log head, row counts and chain."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_store_copy(source, target, output_format.value))


records_app = typer.Typer(
    help="Records: create, read, update and import through the validation engines.", no_args_is_help=True
)
EntityOpt = Annotated[str, typer.Option("--entity", "-e", metavar="ENTITY", help="Entity, e.g. Lead.")]
RecordsLocaleOpt = Annotated[
    str | None, typer.Option("--locale", metavar="LOCALE", help="Locale of messages (default: the package default).")
]
RecordsNowOpt = Annotated[
    str | None, typer.Option("--now", metavar="TIME", help="Inject the clock: ISO 8601 time (default: now).")
]
RecordIdArg = Annotated[str, typer.Argument(metavar="ID", help="Record id.")]
PackageArg = Annotated[
    Path, typer.Argument(metavar="PACKAGE", help="Package directory (the version validating the record).")
]
NoAsyncOpt = Annotated[
    bool, typer.Option("--no-async", help="Skip async validations (no provider is asked; say so in your review).")
]


@records_app.command("create")
def records_create(
    package: PackageArg,
    entity: EntityOpt,
    data: Annotated[str | None, typer.Option("--data", metavar="JSON", help="The record as a JSON object.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", metavar="PATH", help="A file holding the record as a JSON object.")
    ] = None,
    record_id: Annotated[
        str | None, typer.Option("--id", metavar="ID", help="Record id (default: a random UUID).")
    ] = None,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    locale: RecordsLocaleOpt = None,
    now: RecordsNowOpt = None,
    no_async: NoAsyncOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Check, calculate and validate a record, then store it with its package version; exit 1 if rejected."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(
        command.run_create(
            package,
            entity,
            data,
            file,
            record_id,
            store=store,
            tenant=tenant,
            output_format=output_format.value,
            locale=locale,
            now=now,
            no_async=no_async,
        )
    )


@records_app.command("get")
def records_get(
    record_id: RecordIdArg,
    entity: EntityOpt,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    locale: RecordsLocaleOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Show a record, rendered with the package version it is pinned to."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(
        command.run_get(record_id, entity, store=store, tenant=tenant, output_format=output_format.value, locale=locale)
    )


@records_app.command("list")
def records_list(
    entity: Annotated[
        str | None, typer.Option("--entity", "-e", metavar="ENTITY", help="Only records of this entity.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", parser=count, metavar="N", help="At most this many records.")
    ] = None,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """List records by entity and id: package version, revision, last update."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(command.run_list(entity, limit, store=store, tenant=tenant, output_format=output_format.value))


@records_app.command("update")
def records_update(
    record_id: RecordIdArg,
    entity: EntityOpt,
    data: Annotated[
        str, typer.Option("--data", metavar="JSON", help="JSON merge patch: fields to set; null removes a field.")
    ],
    package: Annotated[
        Path | None,
        typer.Option(
            "--package",
            metavar="PACKAGE",
            help="Move the record to this version of its package (refused, naming the change "
            "codes, when a change between the two versions breaks the record).",
        ),
    ] = None,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    locale: RecordsLocaleOpt = None,
    now: RecordsNowOpt = None,
    no_async: NoAsyncOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Merge changes into a record and validate it again (its pinned version, or --package); exit 1 if rejected."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(
        command.run_update(
            record_id,
            entity,
            data,
            package,
            store=store,
            tenant=tenant,
            output_format=output_format.value,
            locale=locale,
            now=now,
            no_async=no_async,
        )
    )


@records_app.command("import")
def records_import(
    package: Annotated[
        Path, typer.Argument(metavar="PACKAGE", help="Package directory (the version validating the rows).")
    ],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A .csv (header row of field names) or .jsonl file.")],
    entity: EntityOpt,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Write the valid rows even when some are rejected.")
    ] = False,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    locale: RecordsLocaleOpt = None,
    now: RecordsNowOpt = None,
    no_async: NoAsyncOpt = False,
    jobs: JobsOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Import rows in one transaction: all or nothing; exit 1 listing rejected rows (row, field, code, message).

    Rows are validated by --jobs worker processes (from 50,000 rows) and written in file order by this one: the
    same records, log and report as with --jobs 1."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(
        command.run_import(
            package,
            entity,
            file,
            store=store,
            tenant=tenant,
            output_format=output_format.value,
            locale=locale,
            now=now,
            skip_invalid=skip_invalid,
            no_async=no_async,
            jobs=jobs,
        )
    )


class ExportKind(StrEnum):
    records = "records"
    drafts = "drafts"
    events = "events"
    workflows = "workflows"


class ExportFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


def _report_format(value: str) -> str:
    """`export --format`: the report's format like every command's; the file format moved to --file-format."""
    if value in ExportFormat.__members__:
        raise typer.BadParameter(
            f"{value!r} is a file format: use --file-format {value} (--format is the report's format: text or json)"
        )
    if value not in ListFormat.__members__:
        raise typer.BadParameter(f"{value!r} is not one of 'text', 'json'")
    return value


def export_command(
    kind: Annotated[
        ExportKind, typer.Argument(metavar="KIND", help="What to export: records, drafts, events or workflows.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR", help="Directory to write the datasets into.")],
    file_format: Annotated[
        ExportFormat, typer.Option("--file-format", help="Format of the files written.")
    ] = ExportFormat.parquet,
    entity: Annotated[str | None, typer.Option("--entity", "-e", metavar="ENTITY", help="Only this entity.")] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", callback=tenant_id, metavar="TENANT", help="Only this tenant (default: all)."),
    ] = None,
    partition_by: Annotated[
        str | None,
        typer.Option(
            "--partition-by",
            metavar="COLUMNS",
            help="Hive partitions by these columns, e.g. tenant,package_version",
        ),
    ] = None,
    store: StoreOpt = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format", "-f", metavar="<text|json>", callback=_report_format, help="Output format of the report."
        ),
    ] = "text",
) -> None:
    """Export records (one dataset per entity, typed by each record's version), drafts, events or workflow instances."""
    from crmctl.cli.commands import export as command

    raise typer.Exit(
        command.run_export(
            kind.value,
            out_dir=out_dir,
            file_format=file_format.value,
            entity=entity,
            tenant=tenant,
            partition_by=partition_by,
            store=store,
            output_format=output_format,
        )
    )


# --- workflows ---------------------------------------------------------------------------------------------------

workflow_app = typer.Typer(help="Workflows on a virtual clock: simulate, coverage, migrate.", no_args_is_help=True)
WorkflowOpt = Annotated[
    str | None, typer.Option("--workflow", metavar="WORKFLOW", help="Workflow id (default: the first).")
]


@workflow_app.command("simulate")
def workflow_simulate(
    package: Annotated[Path, typer.Argument(metavar="PACKAGE", help="Package directory.")],
    script: Annotated[
        Path | None, typer.Option("--script", metavar="PATH", help="Scenario YAML (docs/workflows.md).")
    ] = None,
    workflow: WorkflowOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    now: NowOpt = None,
) -> None:
    """Play a scenario: a timeline of transitions, tasks, approvals, SLA warnings and breaches, escalations, events."""
    from crmctl.cli.commands import workflow as command

    raise typer.Exit(
        command.run_simulate(
            package,
            workflow=workflow,
            script_path=script,
            output_format=output_format.value,
            store_path=store,
            tenant=tenant,
            now=now,
        )
    )


@workflow_app.command("migrate")
def workflow_migrate(
    package: Annotated[
        Path, typer.Argument(metavar="PACKAGE", help="Package directory: the version to move instances onto.")
    ],
    instance: Annotated[
        list[str] | None, typer.Option("--instance", metavar="ID", help="Instance id (repeatable).")
    ] = None,
    all_instances: Annotated[bool, typer.Option("--all", help="Every running instance of the workflow.")] = False,
    state_map: Annotated[
        list[str] | None,
        typer.Option("--map", metavar="OLD=NEW", help="Where instances in state OLD go (repeatable)."),
    ] = None,
    workflow: WorkflowOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    now: NowOpt = None,
) -> None:
    """Move running instances to a newer version through an explicit state mapping; all or none (exit 1), logged."""
    from crmctl.cli.commands import workflow as command

    raise typer.Exit(
        command.run_migrate(
            package,
            instances=instance or [],
            all_instances=all_instances,
            mapping=state_map or [],
            workflow=workflow,
            output_format=output_format.value,
            store_path=store,
            tenant=tenant,
            now=now,
        )
    )


@workflow_app.command("coverage")
def workflow_coverage(
    package: Annotated[Path, typer.Argument(metavar="PACKAGE", help="Package directory.")],
    scenarios: Annotated[
        Path, typer.Option("--scenarios", metavar="PATH", help="Directory of scenario YAML files (or one file).")
    ],
    workflow: WorkflowOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
    skeletons: Annotated[
        Path | None,
        typer.Option("--skeletons", metavar="DIR", help="Write a shortest scenario skeleton per uncovered item here."),
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            parser=percentage,
            metavar="PERCENT",
            help="Exit 1 when coverage is below this percentage (0 to 100).",
        ),
    ] = None,
) -> None:
    """Coverage of a workflow by scenarios: states, transitions, guard outcomes, SLA paths, timers, tasks, approvals."""
    from crmctl.cli.commands import coverage as command

    raise typer.Exit(
        command.run_coverage(
            package,
            scenarios=scenarios,
            workflow=workflow,
            output_format=output_format.value,
            skeletons_dir=skeletons,
            fail_under=fail_under,
        )
    )


# --- business events ---------------------------------------------------------------------------------------------

events_app = typer.Typer(
    help="Business events the runtime emitted (from the event log): list, tail; webhook dead letters: dlq.",
    no_args_is_help=True,
)


class TailFormat(StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"


EventNameOpt = Annotated[
    str | None, typer.Option("--event", metavar="EVENT", help="Only this event, e.g. LeadQualified.")
]
EventInstanceOpt = Annotated[str | None, typer.Option("--instance", metavar="ID", help="Only this workflow instance.")]
EventSinceOpt = Annotated[
    str | None, typer.Option("--since", metavar="TIME", help="Only events at or after this ISO 8601 time.")
]


@events_app.command("list")
def events_list(
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    event: EventNameOpt = None,
    instance: EventInstanceOpt = None,
    since: EventSinceOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", parser=count, metavar="N", help="At most this many (the first).")
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """List business events in log order: seq, time, event, instance (or session), payload."""
    from crmctl.cli.commands import events as command

    where = command.EventFilter(event, instance, command.since_option(since))
    raise typer.Exit(command.run_list(store, tenant, where, limit, output_format.value))


@events_app.command("tail")
def events_tail(
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    event: EventNameOpt = None,
    instance: EventInstanceOpt = None,
    since: EventSinceOpt = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", parser=count, metavar="N", help="How many of the last events.")
    ] = 10,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", help="Keep polling every second for new events (with --format jsonl for tools); Ctrl-C stops."
        ),
    ] = False,
    polls: Annotated[int | None, typer.Option("--polls", hidden=True, parser=count)] = None,
    output_format: Annotated[
        TailFormat,
        typer.Option(
            "--format", "-f", help="Output format: jsonl is one event object per line (the form --follow streams)."
        ),
    ] = TailFormat.text,
) -> None:
    """Print the last business events; --follow prints new ones as they are logged."""
    from crmctl.cli.commands import events as command

    where = command.EventFilter(event, instance, command.since_option(since))
    raise typer.Exit(command.run_tail(store, tenant, where, limit, output_format.value, follow=follow, polls=polls))


dlq_app = typer.Typer(
    help="Webhook deliveries that failed every attempt (the dead-letter queue): list, retry (docs/serve.md#webhooks).",
    no_args_is_help=True,
)
DlqStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", metavar="STORE", help="Runtime store (default: the sandbox's, .crm/sandbox.duckdb; docs/serve.md)."
    ),
]


@dlq_app.command("list")
def dlq_list(
    store: DlqStoreOpt = None, tenant: TenantOpt = "default", output_format: ListFormatOpt = ListFormat.text
) -> None:
    """List dead webhook deliveries in log order, each with its last error."""
    from crmctl.cli.commands import dlq as command

    raise typer.Exit(command.run_list(store, tenant, output_format.value))


@dlq_app.command("retry")
def dlq_retry(
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="Event ids (from `events dlq list`).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Retry every dead delivery.")] = False,
    store: DlqStoreOpt = None,
    tenant: TenantOpt = "default",
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Put dead deliveries back in the queue with their attempts reset; `crmctl serve` delivers them."""
    from crmctl.cli.commands import dlq as command

    raise typer.Exit(command.run_retry(store, tenant, ids or [], every, output_format.value))


events_app.add_typer(dlq_app, name="dlq")


# --- the sandbox server -------------------------------------------------------------------------------------------


def serve(
    packages: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[PACKAGE]...", help="Package directories (default: every package under here)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="STORE",
            help="Runtime store, a file or a postgresql:// URL (default: the sandbox's own, .crm/sandbox.duckdb at "
            "the project root; docs/serve.md).",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on; beyond loopback a token is required.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="Port (0: any free one).")
    ] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            help="Require this token (default: CRMCTL_SERVE_TOKEN; generated when the host is not loopback).",
        ),
    ] = None,
    tenant: TenantOpt = "default",
    reload: Annotated[
        bool, typer.Option("--reload/--no-reload", help="Reload the form when a package file changes.")
    ] = True,
    webhooks: Annotated[
        list[str] | None,
        typer.Option("--webhook", metavar="URL", help="Deliver events to URL as CloudEvents (repeatable)."),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Serve the sandbox: the package's forms and workflows in the browser, its records API, events to webhooks."""
    from crmctl.cli.commands import serve as command

    raise typer.Exit(
        command.run_serve(
            packages or [],
            store=store,
            host=host,
            port=port,
            token=token,
            tenant=tenant,
            reload=reload,
            webhooks=webhooks or [],
            output_format=output_format.value,
        )
    )


def register(app: typer.Typer) -> None:
    """Put the runtime plane's commands and command groups on `app`, in the order `--help` lists them."""
    app.add_typer(draft_app, name="draft")
    app.add_typer(log_app, name="log")
    app.add_typer(store_app, name="store")
    app.command()(simulate)
    app.add_typer(replay_app, name="replay")
    app.add_typer(records_app, name="records")
    app.command("export")(export_command)
    app.add_typer(workflow_app, name="workflow")
    app.add_typer(events_app, name="events")
    app.command()(serve)
