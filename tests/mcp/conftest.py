"""Fixtures of the MCP server's tests: a project (a git repository holding a committed package) and a client
session with the server in process, over the SDK's memory streams."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from crmctl.cli import contract
from crmctl.cli.main import run
from crmctl.cli.mcp.server import Policy, build_server


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """A git repository with the lead-lifecycle template as package `Leads`, committed; the working directory."""
    monkeypatch.chdir(tmp_path)
    assert run(["new", "package", "Leads", "--template", "lead-lifecycle"]) == 0
    capsys.readouterr()
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "Leads 1.0.0"]):
        subprocess.run(["git", *argv], cwd=tmp_path, check=True)
    yield tmp_path


def on_contract(command: str) -> bool:
    """Whether `command` prints the JSON envelope yet (its result schema ships); other branches of issue 12
    move the remaining commands onto the contract, and the tests that use them run for real from then on."""
    return contract._result_schema(contract.command_slug(command)) is not None


def require_contract(command: str) -> None:
    if not on_contract(command):
        pytest.xfail(f"`crmctl {command}` is not on the JSON contract on this branch yet")


def envelope_of(result: Any) -> dict[str, Any]:
    """The envelope a tool answered, checked: the structured content, the same JSON as text, valid against the
    command's schema."""
    document = result.structured_content
    assert isinstance(document, dict)
    [text] = result.content
    assert json.loads(text.text) == document
    assert contract.validation_errors(document) == [], document
    assert result.is_error is (document["status"] not in ("ok", "failed"))
    return document


Session = Any


@asynccontextmanager
async def connected(policy: Policy) -> AsyncIterator[Session]:
    """A client session (the SDK's `ClientSession`) with a server for `policy`, in process."""
    from mcp.client.session import ClientSession
    from mcp.shared.memory import create_client_server_memory_streams

    server = build_server(policy, run)
    streams = create_client_server_memory_streams()
    async with streams as (client_streams, server_streams), anyio.create_task_group() as tg:

        async def serve() -> None:
            await server.run(
                server_streams[0], server_streams[1], server.create_initialization_options(), raise_exceptions=True
            )

        tg.start_soon(serve)
        async with ClientSession(*client_streams) as session:
            await session.initialize()
            yield session
        tg.cancel_scope.cancel()


def in_session(policy: Policy, scenario: Callable[[Session], Awaitable[None]]) -> None:
    """Run `scenario(session)` against a server for `policy`."""

    async def main() -> None:
        async with connected(policy) as session:
            await scenario(session)

    run_async(main)


def run_async(main: Callable[[], Awaitable[None]]) -> None:
    """`anyio.run(main)`, raising what the test raised rather than the task groups around it."""
    try:
        anyio.run(main)
    except BaseExceptionGroup as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        raise leaf from None
