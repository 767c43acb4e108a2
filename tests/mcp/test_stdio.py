"""`crmctl mcp` over stdio, as an MCP client starts it: a separate process speaking JSON-RPC on stdin/stdout."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from crmctl.cli import contract
from tests.mcp.conftest import envelope_of, run_async

# The server, with `package inspect` patched to write to file descriptor 1 the three ways a command could: Python's
# print, a raw write from C-level code, and a child process inheriting the descriptor. None may reach the protocol.
NOISY = """
import os, subprocess, sys
import crmctl.cli.commands.package as package
real = package.run_inspect
def noisy(*args):
    print("noise from print")
    os.write(1, b"noise from fd 1\\n")
    subprocess.run(["echo", "noise from a child"], check=True)
    return real(*args)
package.run_inspect = noisy
from crmctl.cli.main import run
sys.exit(run(sys.argv[1:]))
"""


def _over_stdio(
    project: Path, args: list[str], scenario: Callable[[Any], Awaitable[None]], errlog: Path, env: dict[str, str]
) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    parameters = StdioServerParameters(command=sys.executable, args=args, cwd=project, env=env)

    async def main() -> None:
        with errlog.open("w", encoding="utf-8") as stderr:
            async with stdio_client(parameters, errlog=stderr) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                await scenario(session)

    run_async(main)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def test_over_stdio_tools_resources_and_refusals(project: Path, tmp_path: Path) -> None:
    async def scenario(session: Any) -> None:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert "package_inspect" in tools and "new_field" not in tools
        assert tools["lint"].output_schema == contract.command_schema("lint")
        document = envelope_of(await session.call_tool("package_inspect", {"package": "Leads"}))
        assert (document["status"], document["result"]["name"]) == ("ok", "Leads")
        preview = envelope_of(await session.call_tool("new_entity_preview", {"name": "Contact", "package": "Leads"}))
        assert "+  Contact:" in preview["result"]["diff"]
        refused = await session.call_tool("new_entity", {"name": "Contact", "package": "Leads"})
        assert refused.is_error and refused.structured_content["problems"][0]["code"] == "not-allowed"
        bad = await session.call_tool("package_inspect", {"path": "Leads"})
        assert bad.is_error and bad.structured_content["problems"][0]["code"] == "usage-error"
        uris = {str(r.uri) for r in (await session.list_resources()).resources}
        assert "crmctl://catalogue/lint-rules" in uris
        assert (project / "Leads" / "package.yaml").resolve().as_uri() in uris

    _over_stdio(project, ["-m", "crmctl", "mcp"], scenario, tmp_path / "stderr.txt", _env())
    assert "Contact" not in (project / "Leads" / "schema.yaml").read_text("utf-8")


def test_over_stdio_with_writes_a_field_is_added(project: Path, tmp_path: Path) -> None:
    async def scenario(session: Any) -> None:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert {"new_field", "records_create"} <= tools and "publish" not in tools  # no signing key configured
        arguments = {"target": "Lead.mobile", "package": "Leads"}
        applied = envelope_of(await session.call_tool("new_field", arguments))
        assert applied["result"]["changed"][0] == "Leads/schema.yaml"

    _over_stdio(project, ["-m", "crmctl", "mcp", "--allow-writes"], scenario, tmp_path / "stderr.txt", _env())
    assert "mobile:" in (project / "Leads" / "schema.yaml").read_text("utf-8")


def test_nothing_a_command_prints_reaches_the_protocol_stream(project: Path, tmp_path: Path) -> None:
    async def scenario(session: Any) -> None:
        for _ in range(2):
            document = envelope_of(await session.call_tool("package_inspect", {"package": "Leads"}))
            assert document["status"] == "ok"

    errlog = tmp_path / "stderr.txt"
    _over_stdio(project, ["-c", NOISY, "mcp"], scenario, errlog, _env())
    said = errlog.read_text("utf-8")
    assert "noise from fd 1" in said and "noise from a child" in said
