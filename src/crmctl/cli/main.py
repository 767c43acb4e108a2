"""The command line: option parsing and the single error boundary. Commands live in `crmctl.cli.commands`.

Command bodies import their modules lazily so `crmctl --version` stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from crmctl import __version__

__all__ = ["app", "run"]

app = typer.Typer(
    name="crmctl",
    help="Author, check, diff and publish metadata packages for a metadata-driven CRM platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
new_app = typer.Typer(help="Scaffold a package or add entities, fields and rules to one.", no_args_is_help=True)
schema_app = typer.Typer(help="JSON Schemas of the package artifacts, for editors.", no_args_is_help=True)
package_app = typer.Typer(help="Inspect a package.", no_args_is_help=True)
app.add_typer(new_app, name="new")
app.add_typer(schema_app, name="schema")
app.add_typer(package_app, name="package")
keys_app = typer.Typer(help="Ed25519 signing keys (OpenSSH format).", no_args_is_help=True)
registry_app = typer.Typer(help="The git-based package registry: init, list, show, log, verify, signers.",
                           no_args_is_help=True)  # fmt: skip
signer_app = typer.Typer(help="Signers trusted by the registry (each change is a signed log entry).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(keys_app, name="keys")
app.add_typer(registry_app, name="registry")
registry_app.add_typer(signer_app, name="signer")


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"
    junit = "junit"


class ListFormat(StrEnum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        print(f"crmctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """crmctl: the toolchain of a metadata-driven CRM platform."""


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="crmctl.toml or pyproject.toml to read [tool.crmctl] from.")
]


@app.command()
def lint(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Package directories (default: every package under .).")
    ] = None,
    output_format: FormatOpt = Format.text,
    config: ConfigOpt = None,
    select: Annotated[list[str] | None, typer.Option("--select", help="Only these codes (or prefixes).")] = None,
    ignore: Annotated[list[str] | None, typer.Option("--ignore", help="Skip these codes (or prefixes).")] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Only findings not in this baseline count.")
    ] = None,
    write_baseline: Annotated[
        Path | None, typer.Option("--write-baseline", help="Record today's findings into this file.")
    ] = None,
) -> None:
    """Check packages: JSON Schema, references, CEL types, cycles, workflow reachability, locales, regexes."""
    from crmctl.cli.commands import lint as command

    raise typer.Exit(
        command.run(
            paths or [], output_format.value, config=config, select=select or [], ignore=ignore or [],
            baseline=baseline, write_baseline=write_baseline,
        )
    )  # fmt: skip


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="Old package (directory, archive) or, with --against, the new one.")],
    new: Annotated[str | None, typer.Argument(help="New package directory or archive.")] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Compare PATH against REF: a directory, archive, git:REV[:path] or registry:NAME@VERSION|CHANNEL.",
        ),
    ] = None,
    merge_base: Annotated[bool, typer.Option("--merge-base", help="Compare against merge-base(REF, HEAD).")] = False,
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="Comma-separated classes that fail: breaking,data-dependent,behavioral.")
    ] = "breaking",
    registry: Annotated[
        str | None, typer.Option("--registry", help="Registry for registry: refs (default: CRMCTL_REGISTRY, config).")
    ] = None,
    records: Annotated[
        str | None,
        typer.Option("--records", metavar="STORE",
                     help="Runtime store (DuckDB file): count the stored records each data-dependent change hits."),
    ] = None,
    records_limit: Annotated[
        int, typer.Option("--records-limit", min=0, help="Example record ids shown per change (with --records).")
    ] = 10,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant whose records --records reads (default: the only one).")
    ] = None,
    output_format: FormatOpt = Format.text,
) -> None:
    """Classify every change between two versions of a package and propose the semver bump."""
    from crmctl.cli.commands import diff as command

    raise typer.Exit(command.run(old, new, against=against, merge_base=merge_base, fail_on=fail_on,
                                 output_format=output_format.value, registry=registry, records=records,
                                 records_limit=records_limit, tenant=tenant))  # fmt: skip


@app.command("rules")
def rules_cmd(output_format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.text) -> None:
    """List every lint rule: code, name, default severity, summary."""
    from crmctl.cli.commands import rules as command

    raise typer.Exit(command.run_list(output_format.value))


@app.command()
def explain(code: Annotated[str, typer.Argument(help="A rule code, e.g. RUL301.")]) -> None:
    """Print a lint rule's documentation."""
    from crmctl.cli.commands import rules as command

    raise typer.Exit(command.run_explain(code))


@schema_app.command("export")
def schema_export(directory: Annotated[Path, typer.Argument(help="Where to write the *.schema.json files.")]) -> None:
    """Write the JSON Schema (draft 2020-12) of every artifact for editors."""
    from crmctl.cli.commands import package as command

    raise typer.Exit(command.run_schema_export(directory))


@package_app.command("digest")
def package_digest(
    path: Annotated[Path, typer.Argument(help="Package directory.")],
    output_format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.text,
) -> None:
    """Print the sha256 of the package's canonical JSON form."""
    from crmctl.cli.commands import package as command

    raise typer.Exit(command.run_digest(path, output_format.value))


ListFormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]
PackageOpt = Annotated[Path, typer.Option("--package", "-p", help="Package directory.")]


@new_app.command("package")
def new_package(
    name: Annotated[str, typer.Argument(help="Package name, e.g. LeadLifecycle.")],
    template: Annotated[str, typer.Option("--template", "-t", help="Template: blank, lead-lifecycle.")] = "blank",
    directory: Annotated[Path | None, typer.Option("--dir", "-d", help="Target directory (default ./NAME).")] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Create a package from a template."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(command.run_package(name, template, directory, output_format.value))


@new_app.command("entity")
def new_entity(
    name: Annotated[str, typer.Argument(help="Entity name, e.g. Contact.")],
    package: PackageOpt = Path(),
    description: Annotated[str | None, typer.Option("--description")] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Add an entity to schema.yaml, keeping comments and ordering."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(command.run_entity(package, name, description, output_format.value))


@new_app.command("field")
def new_field(
    target: Annotated[str, typer.Argument(help="ENTITY.FIELD, e.g. Lead.phone.")],
    field_type: Annotated[str, typer.Option("--type", help="Field type.")] = "text",
    package: PackageOpt = Path(),
    required: Annotated[bool, typer.Option("--required", help="Mark the field required.")] = False,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Type option KEY=VALUE, e.g. to=Account, values=a,b.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Add a field to an entity in schema.yaml, keeping comments and ordering."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(
        command.run_field(package, target, field_type, required, option or [], description, output_format.value)
    )


@new_app.command("rule")
def new_rule(
    rule_id: Annotated[str, typer.Argument(help="Rule id, e.g. showCompanySize.")],
    package: PackageOpt = Path(),
    capability: Annotated[
        str, typer.Option("--capability", help="visibility, calculation, dependency, guard, transition.")
    ] = "visibility",
    scope: Annotated[str, typer.Option("--scope", help="global, workflow, step, component, field.")] = "field",
    trigger: Annotated[str, typer.Option("--trigger", help="onLoad, onChange, ... (comma-separated).")] = "onChange",
    target: Annotated[str | None, typer.Option("--target", help="Field, step, group or transition id.")] = None,
    when: Annotated[str | None, typer.Option("--when", help="CEL condition.")] = None,
    expression: Annotated[str | None, typer.Option("--expression", help="CEL value expression.")] = None,
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    goto: Annotated[str | None, typer.Option("--goto", help="Step to go to (transition rules).")] = None,
    message: Annotated[str | None, typer.Option("--message", help="Localization key shown by a guard.")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Add a rule to rules.yaml, keeping comments and ordering."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(
        command.run_rule(
            package, rule_id, output_format=output_format.value, capability=capability, scope=scope,
            trigger=trigger, target=target, when=when, expression=expression, entity=entity, goto=goto,
            message=message, description=description,
        )
    )  # fmt: skip


RegistryOpt = Annotated[
    str | None, typer.Option("--registry", "-r", help="Registry location (path or git URL); else CRMCTL_REGISTRY.")
]
KeyOpt = Annotated[Path | None, typer.Option("--key", "-k", help="Signing key; else CRMCTL_KEY or config.")]


@keys_app.command("generate")
def keys_generate(
    path: Annotated[Path | None, typer.Argument(help="Key file (default ~/.config/crmctl/keys/id_ed25519).")] = None,
    identity: Annotated[str, typer.Option("--identity", help="Who the key belongs to, e.g. alice@example.com.")] = "",
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Create an Ed25519 key pair; print the public key and its fingerprint."""
    from crmctl.cli.commands import keys as command

    if not identity:
        raise typer.BadParameter("give --identity, e.g. --identity alice@example.com", param_hint="--identity")
    raise typer.Exit(command.run_generate(path, identity, output_format.value))


@keys_app.command("show")
def keys_show(
    path: Annotated[Path | None, typer.Argument(help="Key file (default: the configured signing key).")] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Print a key's public key and fingerprint."""
    from crmctl.cli.commands import keys as command

    raise typer.Exit(command.run_show(path, output_format.value))


@registry_app.command("init")
def registry_init(
    location: Annotated[str, typer.Argument(help="Local path (created if missing) or URL of an empty git repo.")],
    key: KeyOpt = None,
    identity: Annotated[
        str | None, typer.Option("--identity", help="The first admin's identity (default: git config user.email).")
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Create a registry whose first admin is the signing key's owner."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_init(location, key, identity, output_format.value))


@registry_app.command("list")
def registry_list(registry: RegistryOpt = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """List published packages: latest version, scope, channels."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_list(registry, output_format.value))


@registry_app.command("show")
def registry_show(
    spec: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@CHANNEL.")],
    registry: RegistryOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Show a package's versions and channels, or one version's digest, signer and provenance."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_show(spec, registry, output_format.value))


@registry_app.command("log")
def registry_log(registry: RegistryOpt = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """Print the registry's log: who published, promoted and changed signers, and when."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_log(registry, output_format.value))


@registry_app.command("verify")
def registry_verify(registry: RegistryOpt = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """Check log, signatures, versions, tags, gates, derived files and history; exit 1 listing every problem."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_verify(registry, output_format.value))


@signer_app.command("add")
def signer_add(
    identity: Annotated[str, typer.Argument(help="The signer's identity, e.g. bob@example.com.")],
    public_key: Annotated[str, typer.Option("--public-key", help="A .pub file or an `ssh-ed25519 AAAA...` line.")],
    scope: Annotated[list[str], typer.Option("--scope", help="global, tenant:<id> or * (repeatable).")],
    admin: Annotated[bool, typer.Option("--admin", help="May add and remove signers in these scopes.")] = False,
    registry: RegistryOpt = None,
    key: KeyOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Trust a signer for some scopes (signed by an admin of those scopes)."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_signer_add(identity, public_key, scope, admin, registry, key, output_format.value))


@signer_app.command("remove")
def signer_remove(
    identity: Annotated[str, typer.Argument(help="The signer to remove.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the log).")] = "",
    registry: RegistryOpt = None,
    key: KeyOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Stop trusting a signer; what it signed before stays valid."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_signer_remove(identity, reason, registry, key, output_format.value))


@signer_app.command("list")
def signer_list(registry: RegistryOpt = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """List every signer ever trusted, with scopes and removal time."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_signer_list(registry, output_format.value))


@app.command()
def publish(
    package: Annotated[Path, typer.Argument(help="Package directory.")],
    registry: RegistryOpt = None,
    key: KeyOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Sign and publish a package; refused (exit 1) unless it lints clean, is newer and breaks no published version."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_publish(package, registry, key, output_format.value))


@app.command()
def promote(
    spec: Annotated[str, typer.Argument(help="NAME@VERSION, e.g. LeadLifecycle@1.1.0.")],
    to: Annotated[str, typer.Option("--to", help="Channel, e.g. sandbox or prod.")],
    registry: RegistryOpt = None,
    key: KeyOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Point a channel at a published version (a signed log entry)."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_promote(spec, to, registry, key, output_format.value))


@app.command()
def resolve(
    name: Annotated[str, typer.Argument(help="Package name.")],
    channel: Annotated[str | None, typer.Option("--channel", "-c", help="The version this channel points at.")] = None,
    version: Annotated[str | None, typer.Option("--version", "-V", help="An exact published version.")] = None,
    registry: RegistryOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Print the version a channel points at (default: the latest published version)."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_resolve(name, channel, version, registry, output_format.value))


# --- runtime: simulate, drafts, event log, replay, store ---------------------------------------------------------

draft_app = typer.Typer(help="Drafts: sessions saved after every event, resumable at the step they left.",
                        no_args_is_help=True)  # fmt: skip
log_app = typer.Typer(help="The runtime's hash-chained event log: verify, export to Parquet.", no_args_is_help=True)
store_app = typer.Typer(help="The embedded runtime store (DuckDB): info, migrate.", no_args_is_help=True)
app.add_typer(draft_app, name="draft")
app.add_typer(log_app, name="log")
app.add_typer(store_app, name="store")

StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="Runtime store file (default .crm/runtime.duckdb).")
]
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant; no read or write crosses tenants.")]
NowOpt = Annotated[
    str | None, typer.Option("--now", help="Inject the clock: ISO 8601 time of the first event (default: now).")
]
ScriptOpt = Annotated[
    Path | None, typer.Option("--script", help="Play a YAML list of events instead of prompting (docs/simulate.md).")
]


@app.command()
def simulate(
    package: Annotated[Path, typer.Argument(help="Package directory.")],
    entity: Annotated[str | None, typer.Option("--entity", help="Entity of the form (default: the UI's).")] = None,
    form: Annotated[str | None, typer.Option("--form", help="Form name when the UI has several.")] = None,
    locale: Annotated[str | None, typer.Option("--locale", help="Locale (default: the package default).")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Role (default: the first declared).")] = None,
    script: ScriptOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    session: Annotated[str | None, typer.Option("--session", help="Session (= draft) id (default: random).")] = None,
    now: NowOpt = None,
) -> None:
    """Walk through a package's form in the terminal, or play a script and print the effect trace."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_simulate(package, entity=entity, form=form, locale=locale, role=role,
                                          script_path=script, output_format=output_format.value, store_path=store,
                                          tenant=tenant, session_id=session, now=now))  # fmt: skip


@draft_app.command("list")
def draft_list(
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    entity: Annotated[str | None, typer.Option("--entity", help="Only drafts of this entity.")] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """List open drafts, most recent first."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_draft_list(store, tenant, entity, output_format.value))


@draft_app.command("show")
def draft_show(
    draft: Annotated[str, typer.Argument(help="Draft id.")],
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Show a draft: entity, pinned package version, data, last step."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_draft_show(draft, store, tenant, output_format.value))


@draft_app.command("resume")
def draft_resume(
    draft: Annotated[str, typer.Argument(help="Draft id.")],
    script: ScriptOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    now: NowOpt = None,
) -> None:
    """Continue a draft at the step it was left, on the package version it is pinned to."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_draft_resume(draft, script_path=script, output_format=output_format.value,
                                              store_path=store, tenant=tenant, now=now))  # fmt: skip


@log_app.command("verify")
def log_verify(
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    export: Annotated[Path | None, typer.Option("--export", help="Verify a Parquet export instead.")] = None,
    head: Annotated[
        str | None,
        typer.Option("--head", help="The head hash recorded earlier (e.g. by CI): detects a truncated log."),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Check the hash chain; exit 1 naming the first edited, deleted, inserted or reordered entry."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_log_verify(store, tenant, export, output_format.value, head))


@log_app.command("export")
def log_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write (atomically).")],
    store: StoreOpt = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Write the event log to Parquet; it can be verified and replayed from there."""
    from crmctl.cli.commands import runtime as command

    raise typer.Exit(command.run_log_export(store, tenant, out, output_format.value))


@app.command()
def replay(
    session: Annotated[str | None, typer.Option("--session", help="Only this session.")] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Every session of the tenant (the default).")] = False,
    against: Annotated[
        str | None,
        typer.Option("--against", help="Re-run the inputs on this version: directory, git:REV[:path], registry:..."),
    ] = None,
    export: Annotated[Path | None, typer.Option("--from-export", help="Replay a Parquet log export.")] = None,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    limit: Annotated[int, typer.Option("--limit", help="Differences shown in text output.")] = 20,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Re-execute logged sessions; exit 1 when an effect differs (pinned versions: byte for byte)."""
    from crmctl.cli.commands import runtime as command

    if session is not None and all_sessions:
        from crmctl.errors import UsageError

        raise UsageError("give --session ID or --all, not both")
    raise typer.Exit(command.run_replay(store_path=store, tenant=tenant, session=session, against=against,
                                        export=export, output_format=output_format.value, limit=limit))  # fmt: skip


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


records_app = typer.Typer(help="Records: create, read, update and import through the validation engines.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(records_app, name="records")
EntityOpt = Annotated[str, typer.Option("--entity", "-e", help="Entity, e.g. Lead.")]
RecordsLocaleOpt = Annotated[
    str | None, typer.Option("--locale", help="Locale of messages (default: the package default).")
]
RecordsNowOpt = Annotated[str | None, typer.Option("--now", help="Inject the clock: ISO 8601 time (default: now).")]
NoAsyncOpt = Annotated[
    bool, typer.Option("--no-async", help="Skip async validations (no provider is asked; say so in your review).")
]


@records_app.command("create")
def records_create(
    package: Annotated[Path, typer.Argument(help="Package directory (the version validating the record).")],
    entity: EntityOpt,
    data: Annotated[str | None, typer.Option("--data", help="The record as a JSON object.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A file holding the record as a JSON object.")] = None,
    record_id: Annotated[str | None, typer.Option("--id", help="Record id (default: a random UUID).")] = None,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    locale: RecordsLocaleOpt = None,
    now: RecordsNowOpt = None,
    no_async: NoAsyncOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Check, calculate and validate a record, then store it with its package version; exit 1 if rejected."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(command.run_create(package, entity, data, file, record_id, store=store, tenant=tenant,
                                        output_format=output_format.value, locale=locale, now=now,
                                        no_async=no_async))  # fmt: skip


@records_app.command("get")
def records_get(
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    entity: EntityOpt,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    locale: RecordsLocaleOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Show a record, rendered with the package version it is pinned to."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(command.run_get(record_id, entity, store=store, tenant=tenant, output_format=output_format.value,
                                     locale=locale))  # fmt: skip


@records_app.command("list")
def records_list(
    entity: Annotated[str | None, typer.Option("--entity", "-e", help="Only records of this entity.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many records.")] = None,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """List records by entity and id: package version, revision, last update."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(command.run_list(entity, limit, store=store, tenant=tenant, output_format=output_format.value))


@records_app.command("update")
def records_update(
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    entity: EntityOpt,
    data: Annotated[str, typer.Option("--data", help="JSON merge patch: fields to set; null removes a field.")],
    package: Annotated[
        Path | None, typer.Option("--package", help="Move the record to this version of its package.")
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

    raise typer.Exit(command.run_update(record_id, entity, data, package, store=store, tenant=tenant,
                                        output_format=output_format.value, locale=locale, now=now,
                                        no_async=no_async))  # fmt: skip


@records_app.command("import")
def records_import(
    package: Annotated[Path, typer.Argument(help="Package directory (the version validating the rows).")],
    file: Annotated[Path, typer.Argument(help="A .csv (header row of field names) or .jsonl file.")],
    entity: EntityOpt,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Write the valid rows even when some are rejected.")
    ] = False,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    locale: RecordsLocaleOpt = None,
    now: RecordsNowOpt = None,
    no_async: NoAsyncOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Import rows in one transaction: all or nothing; exit 1 listing rejected rows (row, field, code, message)."""
    from crmctl.cli.commands import records as command

    raise typer.Exit(command.run_import(package, entity, file, store=store, tenant=tenant,
                                        output_format=output_format.value, locale=locale, now=now,
                                        skip_invalid=skip_invalid, no_async=no_async))  # fmt: skip


class ExportKind(StrEnum):
    records = "records"
    drafts = "drafts"
    events = "events"
    workflows = "workflows"


class ExportFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


@app.command("export")
def export_command(
    kind: Annotated[ExportKind, typer.Argument(help="What to export: records, drafts, events or workflows.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the datasets into.")],
    file_format: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = ExportFormat.parquet,
    entity: Annotated[str | None, typer.Option("--entity", "-e", help="Only this entity.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
    partition_by: Annotated[
        str | None, typer.Option("--partition-by", help="Hive partitions by these columns, e.g. tenant,package_version")
    ] = None,
    store: StoreOpt = None,
    report: Annotated[ListFormat, typer.Option("--report", help="Format of the report on stdout.")] = ListFormat.text,
) -> None:
    """Export records (one dataset per entity, typed by each record's version), drafts, events or workflow instances."""
    from crmctl.cli.commands import export as command

    raise typer.Exit(command.run_export(kind.value, out_dir=out_dir, file_format=file_format.value, entity=entity,
                                        tenant=tenant, partition_by=partition_by, store=store,
                                        output_format=report.value))  # fmt: skip


# --- workflows ---------------------------------------------------------------------------------------------------

workflow_app = typer.Typer(help="Workflows on a virtual clock: simulate, coverage, migrate.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("simulate")
def workflow_simulate(
    package: Annotated[Path, typer.Argument(help="Package directory.")],
    script: Annotated[Path | None, typer.Option("--script", help="Scenario YAML (docs/workflows.md).")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", help="Workflow id (default: the first).")] = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    now: NowOpt = None,
) -> None:
    """Play a scenario: a timeline of transitions, tasks, approvals, SLA warnings and breaches, escalations, events."""
    from crmctl.cli.commands import workflow as command

    raise typer.Exit(command.run_simulate(package, workflow=workflow, script_path=script,
                                          output_format=output_format.value, store_path=store, tenant=tenant,
                                          now=now))  # fmt: skip


@workflow_app.command("migrate")
def workflow_migrate(
    package: Annotated[Path, typer.Argument(help="Package directory: the version to move instances onto.")],
    instance: Annotated[list[str] | None, typer.Option("--instance", help="Instance id (repeatable).")] = None,
    all_instances: Annotated[bool, typer.Option("--all", help="Every running instance of the workflow.")] = False,
    state_map: Annotated[
        list[str] | None, typer.Option("--map", help="OLD=NEW: where instances in state OLD go (repeatable).")
    ] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", help="Workflow id (default: the first).")] = None,
    output_format: ListFormatOpt = ListFormat.text,
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    now: NowOpt = None,
) -> None:
    """Move running instances to a newer version through an explicit state mapping; all or none (exit 1), logged."""
    from crmctl.cli.commands import workflow as command

    raise typer.Exit(command.run_migrate(package, instances=instance or [], all_instances=all_instances,
                                         mapping=state_map or [], workflow=workflow,
                                         output_format=output_format.value, store_path=store, tenant=tenant,
                                         now=now))  # fmt: skip


@workflow_app.command("coverage")
def workflow_coverage(
    package: Annotated[Path, typer.Argument(help="Package directory.")],
    scenarios: Annotated[Path, typer.Option("--scenarios", help="Directory of scenario YAML files (or one file).")],
    workflow: Annotated[str | None, typer.Option("--workflow", help="Workflow id (default: the first).")] = None,
    output_format: ListFormatOpt = ListFormat.text,
    skeletons: Annotated[
        Path | None, typer.Option("--skeletons", help="Write a shortest scenario skeleton per uncovered item here.")
    ] = None,
    fail_under: Annotated[
        float | None, typer.Option("--fail-under", help="Exit 1 when coverage is below this percentage.")
    ] = None,
) -> None:
    """Coverage of a workflow by scenarios: states, transitions, guard outcomes, SLA paths, timers, tasks, approvals."""
    from crmctl.cli.commands import coverage as command

    raise typer.Exit(command.run_coverage(package, scenarios=scenarios, workflow=workflow,
                                          output_format=output_format.value, skeletons_dir=skeletons,
                                          fail_under=fail_under))  # fmt: skip


# --- business events ---------------------------------------------------------------------------------------------

events_app = typer.Typer(help="Business events the runtime emitted (from the event log): list, tail.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(events_app, name="events")
EventNameOpt = Annotated[str | None, typer.Option("--event", help="Only this event, e.g. LeadQualified.")]
EventInstanceOpt = Annotated[str | None, typer.Option("--instance", help="Only this workflow instance.")]
EventSinceOpt = Annotated[str | None, typer.Option("--since", help="Only events at or after this ISO 8601 time.")]


@events_app.command("list")
def events_list(
    store: StoreOpt = None,
    tenant: TenantOpt = "default",
    event: EventNameOpt = None,
    instance: EventInstanceOpt = None,
    since: EventSinceOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="At most this many (the first).")] = None,
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
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="How many of the last events.")] = 10,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep polling every second for new events (JSON Lines); Ctrl-C stops.")
    ] = False,
    polls: Annotated[int | None, typer.Option("--polls", hidden=True, min=0)] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Print the last business events; --follow prints new ones as they are logged."""
    from crmctl.cli.commands import events as command

    where = command.EventFilter(event, instance, command.since_option(since))
    raise typer.Exit(command.run_tail(store, tenant, where, limit, output_format.value, follow=follow, polls=polls))


def _dispatch(argv: list[str] | None) -> None:
    """`crmctl resolve NAME [...]` skips typer's parameter machinery (it imports pydantic) to answer under 100 ms."""
    from crmctl.cli.commands.registry import parse_resolve, run_resolve_fast

    parsed = parse_resolve(sys.argv[1:] if argv is None else argv)
    if parsed is not None:
        raise SystemExit(run_resolve_fast(parsed))
    app(args=argv, prog_name="crmctl", standalone_mode=True)


def run(argv: list[str] | None = None) -> int:
    """Entry point and the one error boundary: user errors exit 2, bugs 3, Ctrl-C 130."""
    import gc

    from crmctl.cli.boundary import guarded

    # A command is a short-lived process that builds large, acyclic trees (parsed packages); the cyclic GC
    # would rescan them again and again (a third of `diff` on a large package) to find almost nothing.
    # Reference counting still frees everything acyclic; the few cycles are collected when it is back on.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        code = guarded(lambda: _dispatch(argv))
    finally:
        if was_enabled:
            gc.enable()
    if argv is None:
        sys.exit(code)
    return code
