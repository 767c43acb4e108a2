"""The command line: option parsing and the single error boundary. Commands live in `crmctl.cli.commands`.

Command bodies import their modules lazily so `crmctl --version` stays fast.
"""

from __future__ import annotations

import re
import sys
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer

from crmctl import __version__
from crmctl.api import DEFAULT_SERVER
from crmctl.cli import habits, main_runtime
from crmctl.cli.options import ListFormat, ListFormatOpt, count, tenant_id

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
registry_app = typer.Typer(
    help="The git-based package registry: init, list, show, log, verify, signers.", no_args_is_help=True
)
signer_app = typer.Typer(
    help="Signers trusted by the registry (each change is a signed log entry).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(registry_app, name="registry")
registry_app.add_typer(signer_app, name="signer")
api_app = typer.Typer(help="The records API a package describes: OpenAPI, JSON Schema, GraphQL.", no_args_is_help=True)
app.add_typer(api_app, name="api")


class Format(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"
    junit = "junit"
    markdown = "markdown"


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
    Path | None,
    typer.Option("--config", metavar="FILE", help="crmctl.toml or pyproject.toml to read [tool.crmctl] from."),
]


@app.command()
def lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH", help="Package directories (default: every package under .)."),
    ] = None,
    output_format: FormatOpt = Format.text,
    config: ConfigOpt = None,
    select: Annotated[
        list[str] | None, typer.Option("--select", metavar="CODE", help="Only these codes (or prefixes).")
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", metavar="CODE", help="Skip these codes (or prefixes).")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", metavar="FILE", help="Only findings not in this baseline count.")
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option("--write-baseline", metavar="FILE", help="Record today's findings into this file."),
    ] = None,
) -> None:
    """Check packages: JSON Schema, references, CEL types, cycles, workflow reachability, locales, regexes."""
    from crmctl.cli.commands import lint as command

    raise typer.Exit(
        command.run(
            paths or [],
            output_format.value,
            config=config,
            select=select or [],
            ignore=ignore or [],
            baseline=baseline,
            write_baseline=write_baseline,
        )
    )


@app.command("fmt")
def fmt(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Files or package directories (default: every package under .); - reads standard input.",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 and list the files that would change.")
    ] = False,
    show_diff: Annotated[
        bool, typer.Option("--diff", help="Write nothing; print a unified diff, exit 1 when there is one.")
    ] = False,
    stdin_filename: Annotated[
        str | None,
        typer.Option(
            "--stdin-filename", metavar="NAME", help="With -: the file's name in its package (e.g. schema.yaml)."
        ),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
    config: ConfigOpt = None,
) -> None:
    """Format package files in the canonical style (key order, indentation, quoting), keeping comments."""
    from crmctl.cli.commands import fmt as command

    raise typer.Exit(
        command.run(
            paths or [],
            output_format.value,
            check=check,
            show_diff=show_diff,
            stdin_filename=stdin_filename,
            config=config,
        )
    )


@app.command()
def diff(
    old: Annotated[
        str,
        typer.Argument(metavar="OLD", help="Old package (directory, archive) or, with --against, the new one."),
    ],
    new: Annotated[str | None, typer.Argument(metavar="NEW", help="New package directory or archive.")] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="REF",
            help="Compare PATH against REF: a directory, archive, git:REV[:path] or registry:NAME@VERSION|CHANNEL.",
        ),
    ] = None,
    merge_base: Annotated[bool, typer.Option("--merge-base", help="Compare against merge-base(REF, HEAD).")] = False,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="CLASS,...",
            help="Comma-separated classes that fail: breaking,data-dependent,behavioral.",
        ),
    ] = "breaking",
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            metavar="REGISTRY",
            help="Registry for registry: refs (default: CRMCTL_REGISTRY, config).",
        ),
    ] = None,
    records: Annotated[
        str | None,
        typer.Option(
            "--records",
            metavar="STORE",
            help="Runtime store (DuckDB file): count the stored records each data-dependent change hits.",
        ),
    ] = None,
    records_limit: Annotated[
        int,
        typer.Option(
            "--records-limit",
            parser=count,
            metavar="N",
            help="Example record ids shown per change (with --records).",
        ),
    ] = 10,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            metavar="TENANT",
            callback=tenant_id,
            help="Tenant whose records --records reads (default: the only one).",
        ),
    ] = None,
    output_format: FormatOpt = Format.text,
) -> None:
    """Classify every change between two versions of a package and propose the semver bump."""
    from crmctl.cli.commands import diff as command

    raise typer.Exit(
        command.run(
            old,
            new,
            against=against,
            merge_base=merge_base,
            fail_on=fail_on,
            output_format=output_format.value,
            registry=registry,
            records=records,
            records_limit=records_limit,
            tenant=tenant,
        )
    )


@app.command("rules")
def rules_cmd(output_format: ListFormatOpt = ListFormat.text) -> None:
    """List every lint rule: code, name, default severity, summary."""
    from crmctl.cli.commands import rules as command

    raise typer.Exit(command.run_list(output_format.value))


@app.command()
def lsp(
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Talk over stdin/stdout: the default and only transport (editors pass it).")
    ] = False,
) -> None:
    """Run the language server for editors (diagnostics as you type, compatibility, quick fixes); see docs/lsp.md."""
    from crmctl.lsp.server import serve

    raise typer.Exit(serve())


@app.command()
def explain(
    code: Annotated[
        str,
        typer.Argument(
            metavar="CODE",
            help="Any code crmctl prints: a lint rule (RUL301), a change kind (CMP101), a registry problem (REG303), "
            "an event-log problem (LOG001).",
        ),
    ],
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Explain a code: what it means, why it matters, how to fix it."""
    from crmctl.cli.commands import rules as command

    raise typer.Exit(command.run_explain(code, output_format.value))


@schema_app.command("export")
def schema_export(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where to write the *.schema.json files.")],
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Write the JSON Schema (draft 2020-12) of every artifact, for editors, and of every command's JSON output
    (under DIR/commands)."""
    from crmctl.cli.commands import package as command

    raise typer.Exit(command.run_schema_export(directory, output_format.value))


@package_app.command("digest")
def package_digest(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Package directory.")],
    output_format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.text,
) -> None:
    """Print the sha256 of the package's canonical JSON form."""
    from crmctl.cli.commands import package as command

    raise typer.Exit(command.run_digest(path, output_format.value))


@package_app.command("inspect")
def package_inspect(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Package directory.")],
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Show what a package declares: entities and fields (type, CEL type, required, aliases), rules, validations,
    workflow graphs, forms and events."""
    from crmctl.cli.commands import package as command

    raise typer.Exit(command.run_inspect(path, output_format.value))


_ApiPackage = Annotated[Path, typer.Argument(metavar="PACKAGE", help="Package directory.")]
_ApiOutput = Annotated[
    Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the document to FILE (atomically).")
]


@api_app.command("openapi")
def api_openapi(
    path: _ApiPackage,
    output: _ApiOutput = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            metavar="URL",
            help=f"The server the document names [default: {DEFAULT_SERVER}/api/PACKAGE, as crmctl serve mounts it].",
        ),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Print the OpenAPI 3.1 document (JSON) of the package's records API: create, get, list, update per entity."""
    from crmctl.cli.commands import api as command

    raise typer.Exit(command.run_openapi(path, output, server, output_format.value))


@api_app.command("jsonschema")
def api_jsonschema(
    path: _ApiPackage,
    entity: Annotated[
        str | None, typer.Option("--entity", "-e", metavar="ENTITY", help="Only this entity's schema.")
    ] = None,
    output: _ApiOutput = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Print the JSON Schema (2020-12) of each entity's record data, bundled under `$defs`, or one entity's."""
    from crmctl.cli.commands import api as command

    raise typer.Exit(command.run_jsonschema(path, entity, output, output_format.value))


@api_app.command("graphql")
def api_graphql(path: _ApiPackage, output: _ApiOutput = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """Print the GraphQL SDL of the package's records API: types, inputs, get/list queries, create/update mutations."""
    from crmctl.cli.commands import api as command

    raise typer.Exit(command.run_graphql(path, output, output_format.value))


@app.command()
def mcp(
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="Also offer the tools that write: scaffolding (new ...), records create/update, and publish/promote "
            "when a signing key is configured (CRMCTL_KEY, signing-key, `crmctl keys generate`).",
        ),
    ] = False,
) -> None:
    """Run the MCP server for AI agents over stdio: tools are crmctl commands (read-only by default), resources
    the artifacts, JSON Schemas and catalogues; see docs/agents.md."""
    from crmctl.cli.mcp.server import Policy, configured_signing_key, serve

    root = Path.cwd()
    key = configured_signing_key(root) if allow_writes else None
    raise typer.Exit(serve(Policy(allow_writes=allow_writes, signing_key=key, root=root), run))


PackageOpt = Annotated[Path, typer.Option("--package", "-p", metavar="PATH", help="Package directory.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Write nothing; show what would be created and changed, with the diff.")
]
DescriptionOpt = Annotated[
    str | None, typer.Option("--description", metavar="TEXT", help="What it is, for people and AI agents.")
]


@new_app.command("package")
def new_package(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Package name, e.g. LeadLifecycle.")],
    template: Annotated[
        str, typer.Option("--template", "-t", metavar="TEMPLATE", help="Template: blank, lead-lifecycle.")
    ] = "blank",
    directory: Annotated[
        Path | None, typer.Option("--dir", "-d", metavar="DIR", help="Target directory (default ./NAME).")
    ] = None,
    dry_run: DryRunOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Create a package from a template."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(command.run_package(name, template, directory, output_format.value, dry_run=dry_run))


@new_app.command("entity")
def new_entity(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Entity name, e.g. Contact.")],
    package: PackageOpt = Path(),
    description: DescriptionOpt = None,
    dry_run: DryRunOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Add an entity to schema.yaml, keeping comments and ordering."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(command.run_entity(package, name, description, output_format.value, dry_run=dry_run))


@new_app.command("field")
def new_field(
    target: Annotated[str, typer.Argument(metavar="ENTITY.FIELD", help="The field to add, e.g. Lead.phone.")],
    field_type: Annotated[
        str,
        typer.Option(
            "--type",
            metavar="TYPE",
            help="Field type: text, number, currency, boolean, enum, date, datetime, reference, file, calculated, "
            "object, array.",
        ),
    ] = "text",
    package: PackageOpt = Path(),
    required: Annotated[bool, typer.Option("--required", help="Mark the field required.")] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", metavar="KEY=VALUE", help="Type option (repeatable), e.g. to=Account, values=a,b."
        ),
    ] = None,
    description: DescriptionOpt = None,
    dry_run: DryRunOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Add a field to an entity in schema.yaml (and its label to every locale), keeping comments and ordering."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(
        command.run_field(
            package,
            target,
            field_type,
            required,
            option or [],
            description,
            output_format.value,
            dry_run=dry_run,
        )
    )


@new_app.command("rule")
def new_rule(
    rule_id: Annotated[str, typer.Argument(metavar="ID", help="Rule id, e.g. showCompanySize.")],
    package: PackageOpt = Path(),
    capability: Annotated[
        str,
        typer.Option(
            "--capability", metavar="CAPABILITY", help="visibility, calculation, dependency, guard, transition."
        ),
    ] = "visibility",
    scope: Annotated[
        str, typer.Option("--scope", metavar="SCOPE", help="global, workflow, step, component, field.")
    ] = "field",
    trigger: Annotated[
        str, typer.Option("--trigger", metavar="TRIGGERS", help="onLoad, onChange, ... (comma-separated).")
    ] = "onChange",
    target: Annotated[
        str | None, typer.Option("--target", metavar="ID", help="Field, step, group or transition id.")
    ] = None,
    when: Annotated[str | None, typer.Option("--when", metavar="CEL", help="CEL condition.")] = None,
    expression: Annotated[str | None, typer.Option("--expression", metavar="CEL", help="CEL value expression.")] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", metavar="ENTITY", help="Entity the rule reads (default: the only one).")
    ] = None,
    goto: Annotated[
        str | None, typer.Option("--goto", metavar="STEP", help="Step to go to (transition rules).")
    ] = None,
    message: Annotated[
        str | None, typer.Option("--message", metavar="KEY", help="Localization key shown by a guard.")
    ] = None,
    description: DescriptionOpt = None,
    dry_run: DryRunOpt = False,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Add a rule to rules.yaml, keeping comments and ordering."""
    from crmctl.cli.commands import new as command

    raise typer.Exit(
        command.run_rule(
            package,
            rule_id,
            output_format=output_format.value,
            dry_run=dry_run,
            capability=capability,
            scope=scope,
            trigger=trigger,
            target=target,
            when=when,
            expression=expression,
            entity=entity,
            goto=goto,
            message=message,
            description=description,
        )
    )


RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry", "-r", metavar="REGISTRY", help="Registry location (path or git URL); else CRMCTL_REGISTRY."
    ),
]
KeyOpt = Annotated[
    Path | None, typer.Option("--key", "-k", metavar="KEY", help="Signing key; else CRMCTL_KEY or config.")
]


@keys_app.command("generate")
def keys_generate(
    path: Annotated[
        Path | None, typer.Argument(metavar="PATH", help="Key file (default ~/.config/crmctl/keys/id_ed25519).")
    ] = None,
    identity: Annotated[
        str, typer.Option("--identity", metavar="IDENTITY", help="Who the key belongs to, e.g. alice@example.com.")
    ] = "",
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Create an Ed25519 key pair; print the public key and its fingerprint."""
    from crmctl.cli.commands import keys as command

    if not identity:
        raise typer.BadParameter("give --identity, e.g. --identity alice@example.com", param_hint="--identity")
    raise typer.Exit(command.run_generate(path, identity, output_format.value))


@keys_app.command("show")
def keys_show(
    path: Annotated[
        Path | None, typer.Argument(metavar="PATH", help="Key file (default: the configured signing key).")
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Print a key's public key and fingerprint."""
    from crmctl.cli.commands import keys as command

    raise typer.Exit(command.run_show(path, output_format.value))


@registry_app.command("init")
def registry_init(
    location: Annotated[
        str,
        typer.Argument(metavar="LOCATION", help="Local path (created if missing) or URL of an empty git repo."),
    ],
    key: KeyOpt = None,
    identity: Annotated[
        str | None,
        typer.Option(
            "--identity", metavar="IDENTITY", help="The first admin's identity (default: git config user.email)."
        ),
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
    spec: Annotated[str, typer.Argument(metavar="NAME[@VERSION|@CHANNEL]", help="NAME, NAME@VERSION or NAME@CHANNEL.")],
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
    identity: Annotated[str, typer.Argument(metavar="IDENTITY", help="The signer's identity, e.g. bob@example.com.")],
    public_key: Annotated[
        str, typer.Option("--public-key", metavar="KEY", help="A .pub file or an `ssh-ed25519 AAAA...` line.")
    ],
    scope: Annotated[
        list[str], typer.Option("--scope", metavar="SCOPE", help="global, tenant:<id> or * (repeatable).")
    ],
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
    identity: Annotated[str, typer.Argument(metavar="IDENTITY", help="The signer to remove.")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why (recorded in the log).")] = "",
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            metavar="SHA256:...",
            help="The key to remove (SHA256:...), needed when the signer has several.",
        ),
    ] = None,
    registry: RegistryOpt = None,
    key: KeyOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Stop trusting a signer's key; what it signed before stays valid."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_signer_remove(identity, reason, fingerprint, registry, key, output_format.value))


@signer_app.command("list")
def signer_list(registry: RegistryOpt = None, output_format: ListFormatOpt = ListFormat.text) -> None:
    """List every signer ever trusted, with scopes and removal time."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_signer_list(registry, output_format.value))


@app.command()
def publish(
    package: Annotated[Path, typer.Argument(metavar="PACKAGE", help="Package directory.")],
    registry: RegistryOpt = None,
    key: KeyOpt = None,
    records: Annotated[
        str | None,
        typer.Option(
            "--records",
            metavar="STORE",
            help="Runtime store (DuckDB file) whose records show the data-dependent changes safe.",
        ),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            metavar="TENANT",
            callback=tenant_id,
            help="Tenant whose records --records reads (default: the only one).",
        ),
    ] = None,
    accept_data_dependent: Annotated[
        str | None,
        typer.Option(
            "--accept-data-dependent",
            metavar="REASON",
            help="Publish data-dependent changes the records do not show safe; the reason is signed into the log.",
        ),
    ] = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Sign and publish a package; refused (exit 1) unless it lints clean, is newer, breaks no published version
    and every data-dependent change is shown safe by --records or accepted with --accept-data-dependent."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(
        command.run_publish(
            package, registry, key, output_format.value, records=records, tenant=tenant, accept=accept_data_dependent
        )
    )


@app.command()
def promote(
    spec: Annotated[str, typer.Argument(metavar="NAME@VERSION", help="NAME@VERSION, e.g. LeadLifecycle@1.1.0.")],
    to: Annotated[str, typer.Option("--to", metavar="CHANNEL", help="Channel, e.g. sandbox or prod.")],
    registry: RegistryOpt = None,
    key: KeyOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Point a channel at a published version (a signed log entry)."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_promote(spec, to, registry, key, output_format.value))


@app.command()
def resolve(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Package name.")],
    channel: Annotated[
        str | None,
        typer.Option("--channel", "-c", metavar="CHANNEL", help="The version this channel points at."),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-V", metavar="VERSION", help="An exact published version.")
    ] = None,
    registry: RegistryOpt = None,
    output_format: ListFormatOpt = ListFormat.text,
) -> None:
    """Print the version a channel points at (default: the latest published version)."""
    from crmctl.cli.commands import registry as command

    raise typer.Exit(command.run_resolve(name, channel, version, registry, output_format.value))


# The runtime plane's commands live in their own module, registered here (after the control plane's: `--help`
# lists commands in registration order).
main_runtime.register(app)
habits.register(app)


@cache
def click_app() -> Any:
    """The click command tree typer builds from `app` (built once per process: every invocation walks it), with
    the habits every command shares added (`crmctl.cli.habits`: --quiet, --verbose, --color, completion)."""
    root = habits.decorate(typer.main.get_command(app))
    root.invoke = _carrying_interrupts(root.invoke)
    return root


class _Interrupted(Exception):
    """Ctrl-C (or end of input) inside a command, carried past typer, which would swallow it (exit 130 with no
    word, no envelope), to the boundary, which reports it like every other ending."""


def _carrying_interrupts(invoke: Any) -> Any:
    def invoke_carrying_interrupts(ctx: Any) -> Any:
        try:
            return invoke(ctx)
        except (KeyboardInterrupt, EOFError) as exc:
            raise _Interrupted from exc

    return invoke_carrying_interrupts


def command_path(args: list[str]) -> str:
    """The command a command line names (`registry signer add`), "" when it names none: the longest run of
    command names in it, options skipped (of the root's options only --color takes a value)."""
    names: list[str] = []
    command = click_app()
    skip = False
    for token in args:
        if token == "--":
            break
        if skip or token.startswith("-"):
            skip = token == "--color" and not names
            continue
        commands = getattr(command, "commands", None)
        if not commands or token not in commands:
            break
        names.append(token)
        command = commands[token]
    return " ".join(names)


def _dispatch(args: list[str]) -> None:
    """`crmctl resolve NAME [...]` skips typer's parameter machinery (it imports pydantic) to answer under 100 ms."""
    from crmctl.cli.commands.registry import parse_resolve, run_resolve_fast

    parsed = parse_resolve(args)
    if parsed is not None:
        raise SystemExit(run_resolve_fast(parsed))
    try:
        code = click_app().main(args=args, prog_name="crmctl", standalone_mode=False)
    except _usage_error() as exc:
        raise SystemExit(_show_usage_error(exc)) from None
    except (_Interrupted, typer.Abort):  # Abort: click's prompts, interrupted or at the end of their input
        raise KeyboardInterrupt from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _usage_error() -> type[Exception]:
    """click's ClickException (usage errors, `--help` without arguments), from wherever this typer takes click."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _show_usage_error(exc: Any) -> int:
    """Print a usage error as click does, escaped: its message quotes the arguments as typed (`No such command`,
    `Got unexpected extra arguments`), and not every typer escapes them, nor line separators and bidi overrides.
    In JSON mode the envelope carries click's message (without the usage lines) as a `usage-error` problem."""
    import io

    from crmctl.cli.boundary import fail

    text = io.StringIO()
    exc.show(file=text)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    shown = _TYPER_VALIDATION.sub("", text.getvalue().rstrip("\n"))
    return fail("usage-error", shown, int(exc.exit_code), summary=_TYPER_VALIDATION.sub("", message))


# Typer validates option values with pydantic, whose messages start with its own error category.
_TYPER_VALIDATION = re.compile(r"(?<=: )Value error, ")


def run(argv: list[str] | None = None) -> int:
    """Entry point and the one error boundary: user errors exit 2, bugs 3, Ctrl-C 130."""
    import gc

    from crmctl.cli import contract
    from crmctl.cli.boundary import guarded

    # A command is a short-lived process that builds large, acyclic trees (parsed packages); the cyclic GC
    # would rescan them again and again (a third of `diff` on a large package) to find almost nothing.
    # Reference counting still frees everything acyclic; the few cycles are collected when it is back on.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        with contract.invoked(command_path(args), json_mode=contract.json_requested(args)):
            code = guarded(lambda: _dispatch(args))
    finally:
        if was_enabled:
            gc.enable()
    if argv is None:
        sys.exit(code)
    return code
