"""The MCP server's tools: each one crmctl command, its arguments named, typed and described as a JSON Schema and
mapped onto the command line.

A tool's arguments become the command's argv: positional arguments after `--` (a value that looks like an option
stays a value), options as `--flag=value` (a value starting with `-` is not read as another option), a boolean as
the bare flag when true, an array as the flag repeated (or several positional values). Arguments are checked
against the tool's input schema first: a bad argument is the tool's error, never a crash.

Read-only by default. `writes` tools (files, stores) exist only when the server runs with `--allow-writes`;
`signs` tools (publish, promote) also need a signing key the user configured (`registry.config.signing_key_path`
from CRMCTL_KEY or `signing-key` in [tool.crmctl], or the key `crmctl keys generate` made) and use that key: no
tool takes a key, a key path or a passphrase. Runtime tools that would record a session (`simulate`,
`workflow simulate`) run on a scratch store in read-only mode, so nothing persists. The paths a write tool
writes to (`Arg.written`) must resolve inside the server's working directory (`server.call` checks them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TOOLS", "Arg", "ArgumentError", "ToolSpec", "command_line", "input_schema"]


class ArgumentError(Exception):
    """The arguments of a tool call do not match its input schema."""


@dataclass(frozen=True)
class Arg:
    """One argument of a tool: `name` (lowerCamelCase), the command's option `flag` (None: positional), its JSON
    type (`string`, `boolean`, `integer`, `number`, `array` of strings), what it means, whether it is required."""

    name: str
    flag: str | None
    kind: str
    description: str
    required: bool = False
    enum: tuple[str, ...] = ()
    written: bool = False  # a path the command writes to (when the tool writes): kept inside the working directory


@dataclass(frozen=True)
class ToolSpec:
    """A tool: the crmctl command it runs, its description, its arguments, what it is allowed to do."""

    name: str
    command: str
    description: str
    args: tuple[Arg, ...] = ()
    fixed: tuple[str, ...] = ()  # always on the command line (`--dry-run`)
    writes: bool = False  # only with --allow-writes
    signs: bool = False  # only with --allow-writes and a configured signing key, passed as --key
    scratch_store: bool = False  # read-only mode: a throwaway store for a command that records what it runs

    @property
    def read_only(self) -> bool:
        return not (self.writes or self.signs)


def _path(name: str, flag: str | None, description: str, *, required: bool = False, written: bool = False) -> Arg:
    return Arg(name, flag, "string", description, required, written=written)


_PACKAGE = _path("package", None, "Package directory (relative to the server's working directory).", required=True)
_STORE = _path(
    "store", "--store", "Runtime store (DuckDB file); default as configured, else .crm/runtime.duckdb.", written=True
)
_TENANT = Arg("tenant", "--tenant", "string", "Tenant id (default: `default`).")
_REGISTRY = Arg("registry", "--registry", "string", "Registry location (path or git URL); default as configured.")
_NOW = Arg("now", "--now", "string", "ISO 8601 time of the first event (the injected clock); default: now.")
_ENTITY = Arg("entity", "--entity", "string", "Entity name, e.g. Lead.")
_DESCRIPTION = Arg("description", "--description", "string", "What it is, for people and AI agents.")
_SCAFFOLD_ARGS: dict[str, tuple[Arg, ...]] = {
    "entity": (
        Arg("name", None, "string", "Entity name, e.g. Contact.", required=True),
        _path("package", "--package", "Package directory.", required=True, written=True),
        _DESCRIPTION,
    ),
    "field": (
        Arg("target", None, "string", "ENTITY.FIELD, e.g. Lead.phone.", required=True),
        _path("package", "--package", "Package directory.", required=True, written=True),
        Arg(
            "type",
            "--type",
            "string",
            "Field type: text, number, currency, boolean, enum, date, datetime, "
            "reference, file, calculated, object, array (default text).",
        ),
        Arg("required", "--required", "boolean", "Mark the field required."),
        Arg("options", "--option", "array", 'Type options KEY=VALUE, e.g. ["to=Account"], ["values=a,b"].'),
        _DESCRIPTION,
    ),
    "rule": (
        Arg("id", None, "string", "Rule id, e.g. showCompanySize.", required=True),
        _path("package", "--package", "Package directory.", required=True, written=True),
        Arg("capability", "--capability", "string", "visibility, calculation, dependency, guard or transition."),
        Arg("scope", "--scope", "string", "global, workflow, step, component or field."),
        Arg("trigger", "--trigger", "string", "onLoad, onChange, ... (comma-separated)."),
        Arg("target", "--target", "string", "Field, step, group or transition id."),
        Arg("when", "--when", "string", "CEL condition."),
        Arg("expression", "--expression", "string", "CEL value expression."),
        Arg("entity", "--entity", "string", "Entity the rule reads (default: the only one)."),
        Arg("goto", "--goto", "string", "Step to go to (transition rules)."),
        Arg("message", "--message", "string", "Localization key shown by a guard."),
        _DESCRIPTION,
    ),
}


def _scaffold_tools() -> list[ToolSpec]:
    tools = []
    for kind, args in _SCAFFOLD_ARGS.items():
        tools.append(
            ToolSpec(
                f"new_{kind}_preview",
                f"new {kind}",
                f"Preview adding a {kind} to a package (`crmctl new {kind} --dry-run`): writes nothing, returns the "
                "files it would change and the unified diff. Apply it with `new_" + kind + "` (needs --allow-writes).",
                args,
                fixed=("--dry-run",),
            )
        )
        tools.append(
            ToolSpec(
                f"new_{kind}",
                f"new {kind}",
                f"Add a {kind} to a package (`crmctl new {kind}`), keeping comments and ordering; returns the diff.",
                args,
                writes=True,
            )
        )
    return tools


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "package_inspect",
        "package inspect",
        "What a package declares: entities and fields (type, CEL type, required, aliases), rules, validations, "
        "workflow graphs (states, transitions, timers), forms and events.",
        (_PACKAGE,),
    ),
    ToolSpec(
        "package_digest",
        "package digest",
        "The digest (jcs-sha256) of a package's canonical form: what a registry signs.",
        (_PACKAGE,),
    ),
    ToolSpec(
        "api_openapi",
        "api openapi",
        "The OpenAPI 3.1 document of the records API a package describes: create, get, list (filter, sort, cursor) "
        "and update (If-Match) per entity, errors as problem details carrying the validation report.",
        (_PACKAGE, Arg("server", "--server", "string", "Server URL the document names (default the sandbox's).")),
    ),
    ToolSpec(
        "api_jsonschema",
        "api jsonschema",
        "The JSON Schema (2020-12) of each entity's record data, bundled under `$defs`, or one entity's.",
        (_PACKAGE, Arg("entity", "--entity", "string", "Only this entity's schema.")),
    ),
    ToolSpec(
        "api_graphql",
        "api graphql",
        "The GraphQL SDL of the records API a package describes: types, inputs, get/list queries, create/update "
        "mutations.",
        (_PACKAGE,),
    ),
    ToolSpec(
        "lint",
        "lint",
        "Check packages (JSON Schema, references, CEL types, cycles, workflow reachability, locales, regexes); "
        "status `failed` (exit 1) when there are findings.",
        (
            Arg(
                "paths",
                None,
                "array",
                "Package directories or files (default: every package under the server's working directory).",
            ),
            Arg("select", "--select", "array", "Only these codes (or prefixes)."),
            Arg("ignore", "--ignore", "array", "Skip these codes (or prefixes)."),
            _path("baseline", "--baseline", "Only findings not in this baseline file count."),
        ),
    ),
    ToolSpec(
        "diff",
        "diff",
        "Classify every change between two versions of a package (breaking, data-dependent, behavioral, ...) and "
        "propose the semver bump. Give `old` and `new`, or `old` (the new version) with `against` "
        "(e.g. `git:HEAD`, `registry:NAME@prod`).",
        (
            Arg("old", None, "string", "Old package (directory, archive) or, with `against`, the new one.", True),
            Arg("new", None, "string", "New package directory or archive."),
            Arg(
                "against",
                "--against",
                "string",
                "Compare `old` against REF: a directory, archive, git:REV[:path] or registry:NAME@VERSION|CHANNEL.",
            ),
            Arg("mergeBase", "--merge-base", "boolean", "Compare against merge-base(REF, HEAD)."),
            Arg(
                "failOn",
                "--fail-on",
                "string",
                "Comma-separated classes that fail: breaking,data-dependent,behavioral (default breaking).",
            ),
            _REGISTRY,
            _path("records", "--records", "Runtime store: count the stored records each data-dependent change hits."),
            Arg("recordsLimit", "--records-limit", "integer", "Example record ids per change (with records)."),
            _TENANT,
        ),
    ),
    ToolSpec(
        "explain",
        "explain",
        "The documentation of a lint rule or change code (e.g. RUL301): what it checks, why, how to fix it.",
        (Arg("code", None, "string", "A rule or change code, e.g. RUL301.", required=True),),
    ),
    ToolSpec("rules", "rules", "Every lint rule: code, name, default severity, summary."),
    *_scaffold_tools(),
    ToolSpec(
        "simulate",
        "simulate",
        "Play a script of form events (docs/simulate.md) on a package's form and return the effect trace: "
        "visibility, calculations, validations, steps, submit. Read-only mode runs on a scratch store.",
        (
            _PACKAGE,
            _path("script", "--script", "The script (YAML list of events), a file path.", required=True),
            Arg("entity", "--entity", "string", "Entity of the form (default: the UI's)."),
            Arg("form", "--form", "string", "Form name when the UI has several."),
            Arg("locale", "--locale", "string", "Locale (default: the package default)."),
            Arg("role", "--role", "string", "Role (default: the first declared)."),
            _TENANT,
            _NOW,
        ),
        scratch_store=True,
    ),
    ToolSpec(
        "replay",
        "replay",
        "Re-execute logged sessions from a store, comparing every effect (against another version with "
        "`against`); status `failed` when behaviour differs.",
        (
            Arg("session", "--session", "string", "Only this session."),
            Arg(
                "against",
                "--against",
                "string",
                "Re-run the inputs on this version: directory, git:REV[:path], registry:...",
            ),
            _path("fromExport", "--from-export", "Replay a Parquet log export instead of a store."),
            _STORE,
            _TENANT,
            Arg(
                "failOn",
                "--fail-on",
                "string",
                "Comma-separated divergence classes that fail: behavioral,presentation.",
            ),
        ),
    ),
    ToolSpec(
        "workflow_simulate",
        "workflow simulate",
        "Play a workflow scenario on a virtual clock: transitions, tasks, approvals, SLA warnings and breaches, "
        "escalations, events. Read-only mode runs on a scratch store.",
        (
            _PACKAGE,
            _path("script", "--script", "Scenario YAML (docs/workflows.md), a file path.", required=True),
            Arg("workflow", "--workflow", "string", "Workflow id (default: the first)."),
            _TENANT,
            _NOW,
        ),
        scratch_store=True,
    ),
    ToolSpec(
        "workflow_coverage",
        "workflow coverage",
        "Coverage of a workflow by scenarios: states, transitions, guard outcomes, SLA paths, timers, tasks.",
        (
            _PACKAGE,
            _path("scenarios", "--scenarios", "Directory of scenario YAML files (or one file).", required=True),
            Arg("workflow", "--workflow", "string", "Workflow id (default: the first)."),
            Arg("failUnder", "--fail-under", "number", "Status `failed` when coverage is below this percentage."),
        ),
    ),
    ToolSpec(
        "records_get",
        "records get",
        "A stored record, rendered with the package version it is pinned to.",
        (
            Arg("id", None, "string", "Record id.", required=True),
            Arg("entity", "--entity", "string", "Entity, e.g. Lead.", required=True),
            _STORE,
            _TENANT,
            Arg("locale", "--locale", "string", "Locale of messages (default: the package default)."),
        ),
    ),
    ToolSpec(
        "records_list",
        "records list",
        "Stored records by entity and id: package version, revision, last update.",
        (_ENTITY, Arg("limit", "--limit", "integer", "At most this many records."), _STORE, _TENANT),
    ),
    ToolSpec(
        "draft_list",
        "draft list",
        "Open drafts (form sessions) in a store, most recent first.",
        (_STORE, _TENANT, _ENTITY),
    ),
    ToolSpec(
        "draft_show",
        "draft show",
        "A draft: entity, pinned package version, data, last step.",
        (Arg("id", None, "string", "Draft id.", required=True), _STORE, _TENANT),
    ),
    ToolSpec(
        "registry_list",
        "registry list",
        "Published packages: latest version, scope, channels.",
        (_REGISTRY,),
    ),
    ToolSpec(
        "registry_show",
        "registry show",
        "A package's versions and channels, or one version's digest, signer and provenance.",
        (Arg("spec", None, "string", "NAME, NAME@VERSION or NAME@CHANNEL.", required=True), _REGISTRY),
    ),
    ToolSpec(
        "resolve",
        "resolve",
        "The version a channel points at (default: the latest published version).",
        (
            Arg("name", None, "string", "Package name.", required=True),
            Arg("channel", "--channel", "string", "The version this channel points at."),
            Arg("version", "--version", "string", "An exact published version."),
            _REGISTRY,
        ),
    ),
    ToolSpec(
        "keys_show",
        "keys show",
        "The configured signing key's public key and fingerprint (never the private key).",
    ),
    ToolSpec(
        "new_package",
        "new package",
        "Create a package from a template (blank, lead-lifecycle).",
        (
            Arg("name", None, "string", "Package name, e.g. LeadLifecycle.", required=True),
            Arg("template", "--template", "string", "Template: blank, lead-lifecycle."),
            _path("dir", "--dir", "Target directory (default ./NAME).", written=True),
        ),
        writes=True,
    ),
    ToolSpec(
        "records_create",
        "records create",
        "Check, calculate and validate a record, then store it pinned to its package version; status `failed` "
        "when rejected.",
        (
            _PACKAGE,
            Arg("entity", "--entity", "string", "Entity, e.g. Lead.", required=True),
            Arg("data", "--data", "string", "The record as a JSON object (text).", required=True),
            Arg("id", "--id", "string", "Record id (default: a random UUID)."),
            _STORE,
            _TENANT,
            _NOW,
        ),
        writes=True,
    ),
    ToolSpec(
        "records_update",
        "records update",
        "Merge changes (a JSON merge patch) into a record and validate it again; status `failed` when rejected.",
        (
            Arg("id", None, "string", "Record id.", required=True),
            Arg("entity", "--entity", "string", "Entity, e.g. Lead.", required=True),
            Arg("data", "--data", "string", "JSON merge patch: fields to set; null removes a field.", required=True),
            _path("package", "--package", "Move the record to this version of its package."),
            _STORE,
            _TENANT,
            _NOW,
        ),
        writes=True,
    ),
    ToolSpec(
        "publish",
        "publish",
        "Sign (with the configured key) and publish a package; refused unless it lints clean, is newer and breaks "
        "no published version.",
        (
            _PACKAGE,
            _REGISTRY,
            _path("records", "--records", "Runtime store whose records show data-dependent changes safe."),
        ),
        signs=True,
    ),
    ToolSpec(
        "promote",
        "promote",
        "Point a channel at a published version (a log entry signed with the configured key).",
        (
            Arg("spec", None, "string", "NAME@VERSION, e.g. LeadLifecycle@1.1.0.", required=True),
            Arg("to", "--to", "string", "Channel, e.g. sandbox or prod.", required=True),
            _REGISTRY,
        ),
        signs=True,
    ),
)


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The JSON Schema of a tool's arguments."""
    properties: dict[str, Any] = {}
    for arg in spec.args:
        node: dict[str, Any] = {"description": arg.description}
        if arg.kind == "array":
            node.update(type="array", items={"type": "string"})
        else:
            node["type"] = arg.kind
        if arg.kind == "integer":
            node["minimum"] = 0
        if arg.enum:
            node["enum"] = list(arg.enum)
        properties[arg.name] = node
    return {
        "type": "object",
        "properties": properties,
        "required": [arg.name for arg in spec.args if arg.required],
        "additionalProperties": False,
    }


def command_line(spec: ToolSpec, arguments: Mapping[str, Any] | None) -> list[str]:
    """The arguments of `crmctl COMMAND` for a tool call (after `--format json`), or `ArgumentError`."""
    from jsonschema import Draft202012Validator

    given = dict(arguments or {})
    errors = sorted(Draft202012Validator(input_schema(spec)).iter_errors(given), key=lambda e: list(e.path))
    if errors:
        where = [f"{'.'.join(str(p) for p in e.path) or 'arguments'}: {e.message}" for e in errors[:3]]
        raise ArgumentError(f"tool {spec.name}: " + "; ".join(where))
    options: list[str] = list(spec.fixed)
    positional: list[str] = []
    for arg in spec.args:
        value = given.get(arg.name)
        if value is None or value is False:
            continue
        values = [str(v) for v in value] if isinstance(value, list) else [_text(value)]
        if arg.flag is None:
            positional.extend(values)
        elif value is True:
            options.append(arg.flag)
        else:
            options.extend(f"{arg.flag}={v}" for v in values)
    return [*options, "--", *positional] if positional else options


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
