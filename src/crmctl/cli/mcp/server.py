"""The MCP server (the official SDK's low-level `Server`): tools from `tools.TOOLS`, resources from `resources`.

`build_server` makes the server for a policy (`Policy`: writes allowed or not, the signing key, the working
directory); `serve` runs it over stdio. A tool call runs its command in a worker thread (`runner.run_json`, one
at a time) and answers with the envelope twice: as `structuredContent` (checked by clients against the tool's
`outputSchema`, the command's envelope schema) and as JSON text for clients that only read text. `isError` is
true when the command ended in an error (status `error`, `internal-error`, `interrupted`); a command that ran
and said no (lint findings, a refused publish: status `failed`) is a result, not an error.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl import __version__
from crmctl.cli.mcp.runner import Entry, Outcome, error_outcome, run_json
from crmctl.cli.mcp.tools import TOOLS, Arg, ArgumentError, ToolSpec, command_line, input_schema

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server

__all__ = ["Policy", "build_server", "call", "configured_signing_key", "serve", "tools_for"]

INSTRUCTIONS = (
    "crmctl authors, checks, diffs and publishes metadata packages of a CRM platform. Each tool runs one crmctl "
    "command and returns its JSON envelope ({command, status, exitCode, result, problems}). Work loop: "
    "package_inspect, then new_*_preview to see an edit, new_* to apply it (when writes are allowed), lint until "
    "clean, diff against the committed version (against: git:HEAD), simulate the form with a script. Never edit a "
    "published version: bump the version in package.yaml. Resources: artifacts, JSON Schemas, rule and change "
    "catalogues, the package format (crmctl://docs/package-format)."
)


@dataclass(frozen=True)
class Policy:
    """What the server may do: write (files, stores) at all, and sign with which key (None: no publish/promote).
    `root` is the working directory the commands run in and whose packages are listed as resources."""

    allow_writes: bool = False
    signing_key: Path | None = None
    root: Path = Path()


def configured_signing_key(start: Path) -> Path | None:
    """The signing key the user configured for crmctl: CRMCTL_KEY, `signing-key` in [tool.crmctl], or the key
    `crmctl keys generate` made; not an SSH login key found by default (~/.ssh/id_ed25519). None when there is none."""
    from crmctl.errors import CrmctlError
    from crmctl.registry.config import signing_key_path

    try:
        path = signing_key_path(None, start)
    except CrmctlError:
        return None
    if path == Path.home() / ".ssh" / "id_ed25519" or not path.is_file():
        return None
    return path


def tools_for(policy: Policy) -> list[ToolSpec]:
    """The tools a server with `policy` offers, as it offers them (store arguments where writes are allowed)."""
    offered = []
    for spec in TOOLS:
        if spec.writes and not policy.allow_writes:
            continue
        if spec.signs and (not policy.allow_writes or policy.signing_key is None):
            continue
        if spec.scratch_store and policy.allow_writes:
            store = Arg(
                "store",
                "--store",
                "string",
                "Runtime store to record the session in (default: a scratch store; nothing persists).",
                written=True,
            )
            spec = replace(spec, args=(*spec.args, store))
        offered.append(spec)
    return offered


def call(entry: Entry, policy: Policy, name: str, arguments: dict[str, Any] | None) -> Outcome:
    """Run tool `name` with `arguments` under `policy` through the CLI's `entry` (synchronously; the server runs it
    in a worker thread)."""
    spec = next((s for s in tools_for(policy) if s.name == name), None)
    if spec is None:
        writing = next((s for s in TOOLS if s.name == name), None)
        if writing is None:
            return error_outcome("", "unknown-tool", f"no tool {name!r}", 2)
        if not policy.allow_writes:
            why, hint = (
                "this server is read-only",
                "the user starts it with `crmctl mcp --allow-writes` to allow writes",
            )
        else:
            why = "it signs and no signing key is configured"
            hint = "the user configures one: CRMCTL_KEY, signing-key in [tool.crmctl], or `crmctl keys generate`"
        return error_outcome(writing.command, "not-allowed", f"tool {name} is not available: {why}", 2, hint=hint)
    try:
        args = command_line(spec, arguments)
    except ArgumentError as exc:
        return error_outcome(spec.command, "usage-error", str(exc), 2)
    outside = _written_outside(spec, policy, arguments or {})
    if outside is not None:
        hint = "give a path inside the directory the server was started in (its working directory)"
        return error_outcome(spec.command, "not-allowed", outside, 2, hint=hint)
    if spec.signs and policy.signing_key is not None:
        args = [f"--key={policy.signing_key}", *args]
    if spec.scratch_store and not (arguments or {}).get("store"):
        with tempfile.TemporaryDirectory(prefix="crmctl-mcp-") as scratch:
            return run_json(entry, spec.command, [f"--store={Path(scratch) / 'scratch.duckdb'}", *args])
    return run_json(entry, spec.command, args)


def _written_outside(spec: ToolSpec, policy: Policy, arguments: dict[str, Any]) -> str | None:
    """Why a tool that writes would write outside the server's working directory (`..`, an absolute path, a
    symlink out), or None. Reading tools read what the user can read; writes stay in the project."""
    if spec.read_only and not (spec.scratch_store and policy.allow_writes):
        return None
    inside = policy.root.resolve()
    for arg in spec.args:
        value = arguments.get(arg.name)
        if arg.written and isinstance(value, str) and value:
            target = (policy.root / value).resolve()
            if not target.is_relative_to(inside):
                return f"tool {spec.name}: {arg.name} {value!r} is outside the working directory {inside}"
    return None


def build_server(policy: Policy, entry: Entry) -> Server[Any]:
    """The server for `policy`, running commands through the CLI's `entry` (`crmctl.cli.main.run`)."""
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    from crmctl.cli.contract import command_schema
    from crmctl.cli.mcp import resources

    offered = tools_for(policy)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=spec.name,
                    title=f"crmctl {spec.command}{' --dry-run' if '--dry-run' in spec.fixed else ''}",
                    description=spec.description,
                    input_schema=input_schema(spec),
                    output_schema=command_schema(spec.command),
                    annotations=types.ToolAnnotations(
                        read_only_hint=spec.read_only,
                        destructive_hint=False,
                        idempotent_hint=spec.read_only,
                    ),
                )
                for spec in offered
            ]
        )

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        outcome = await anyio.to_thread.run_sync(call, entry, policy, params.name, params.arguments)
        document = outcome.envelope
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(document, indent=2, ensure_ascii=False))],
            structured_content=document,
            is_error=document["status"] not in ("ok", "failed"),
        )

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        entries = await anyio.to_thread.run_sync(resources.list_resources, policy.root)
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=e.uri, name=e.name, description=e.description, mime_type=e.mime_type)
                for e in entries
            ]
        )

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        def read() -> types.ReadResourceResult:
            entry = resources.read_resource(policy.root, str(params.uri))
            return types.ReadResourceResult(
                contents=[types.TextResourceContents(uri=entry.uri, mime_type=entry.mime_type, text=entry.read())]
            )

        try:
            return await anyio.to_thread.run_sync(read)
        except (resources.ResourceNotFound, OSError) as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=str(exc)) from None

    return Server(
        "crmctl",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


def serve(policy: Policy, entry: Entry) -> int:
    """Serve MCP over stdin/stdout until the client closes stdin. The SDK's stdio transport owns copies of both
    and points file descriptor 1 at stderr (0 at the null device) while it serves, so nothing a command, C code
    or a child process (git) prints can corrupt the protocol stream; the commands themselves print into a
    captured sink (`runner`)."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server(policy, entry)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)
    return 0
