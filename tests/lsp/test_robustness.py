"""Malformed messages and requests never kill the server: each gets an error response or an empty result, and the
next request is answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.lsp.conftest import SERVER, copy_package, open_doc, server_fixture

client = server_fixture()
pytestmark = pytest.mark.asyncio(loop_scope="module")

FAR = {"line": 10**6, "character": 10**6}


async def alive(client: LanguageClient, uri: str) -> None:
    """The server answers a hover on `uri` (with something: the first key of a package file)."""
    found = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(5, 1))
    )
    assert found is not None


class Raw:
    """A client that writes JSON-RPC frames by hand (the protocol client refuses to send malformed ones) to its own
    `crmctl lsp` process and reads the responses."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.next_id = 1000
        self.skipped: list[dict[str, object]] = []  # messages read while waiting for a response

    def frame(self, body: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def request(self, method: str, params: object) -> dict[str, object]:
        """Send a request and return its response (error or result), skipping notifications."""
        self.next_id += 1
        self.frame(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}).encode())
        while True:
            message = await asyncio.wait_for(self.read(), 30)
            if message.get("id") == self.next_id:
                return message
            self.skipped.append(message)

    async def read(self) -> dict[str, object]:
        assert self.process.stdout is not None
        length = 0
        while True:
            header = await self.process.stdout.readline()
            assert header, "the server closed its output"
            if header.lower().startswith(b"content-length:"):
                length = int(header.split(b":")[1])
            elif header == b"\r\n":
                data: dict[str, object] = json.loads(await self.process.stdout.readexactly(length))
                return data


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def raw() -> AsyncIterator[Raw]:
    process = await asyncio.create_subprocess_exec(
        *SERVER.server_command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    client = Raw(process)
    init = await client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    assert "result" in init
    client.frame(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}')
    yield client
    await client.request("shutdown", None)
    client.frame(b'{"jsonrpc": "2.0", "method": "exit"}')
    await asyncio.wait_for(process.wait(), 30)


async def raw_alive(raw: Raw, uri: str) -> None:
    answer = await raw.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 5, "character": 1}}
    )
    assert isinstance(answer.get("result"), dict), answer


async def test_a_broken_json_body_does_not_stop_the_server(raw: Raw, tmp_path: Path) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    uri = (pkg / "rules.yaml").as_uri()
    for body in (b'{"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": {', b"\xff\xfe not json"):
        raw.frame(body)
    await raw_alive(raw, uri)
    parse_errors = [m for m in raw.skipped if "error" in m and m.get("id") is None]
    assert [m["error"]["code"] for m in parse_errors] == [-32700, -32700]  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("textDocument/hover", {"textDocument": 5, "position": "start"}),
        ("textDocument/hover", {"textDocument": {"uri": "file:///x.yaml"}}),
        ("textDocument/completion", {"textDocument": {"uri": 7}, "position": {"line": "a", "character": None}}),
        ("textDocument/completion", []),
        ("textDocument/rename", {"textDocument": {"uri": "file:///x.yaml"}, "position": FAR, "newName": 12}),
        ("textDocument/prepareRename", None),
        ("textDocument/definition", {"textDocument": {}, "position": {}}),
        ("textDocument/formatting", {"textDocument": {"uri": "file:///x.yaml"}, "options": "none"}),
        ("workspace/symbol", {}),
        ("workspace/symbol", {"query": {"not": "a string"}}),  # cattrs reads it as its str(): an empty answer
    ],
)
async def test_wrong_param_types_get_an_error(raw: Raw, tmp_path: Path, method: str, params: object) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    answer = await raw.request(method, params)
    error = answer.get("error")
    assert isinstance(error, dict) or answer.get("result") == [], answer
    if isinstance(error, dict) and error["code"] == -32602:  # InvalidParams says which request it refuses
        assert method in str(error["message"])
    await raw_alive(raw, (pkg / "rules.yaml").as_uri())


async def test_positions_past_the_end_and_unknown_documents_get_empty_answers(
    client: LanguageClient, tmp_path: Path
) -> None:
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    uri = open_doc(client, pkg / "rules.yaml")
    missing = (pkg / "nowhere.yaml").as_uri()  # inside the package, neither open nor on disk
    outside = (tmp_path / "elsewhere" / "x.yaml").as_uri()
    far = lsp.Position(10**6, 10**6)
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    for target in (uri, missing, outside, "untitled:Untitled-1"):
        doc = lsp.TextDocumentIdentifier(uri=target)
        assert not await client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=far))
        assert not await client.text_document_definition_async(lsp.DefinitionParams(text_document=doc, position=far))
        context = lsp.ReferenceContext(include_declaration=True)
        refs = await client.text_document_references_async(
            lsp.ReferenceParams(context=context, text_document=doc, position=far)
        )
        assert not refs
        items = await client.text_document_completion_async(lsp.CompletionParams(text_document=doc, position=far))
        assert isinstance(items, lsp.CompletionList)
        assert not items.items or target == uri  # past the end of a package file: what the end allows
        symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(text_document=doc))
        assert bool(symbols) == (target == uri)
        assert not await client.text_document_formatting_async(lsp.DocumentFormattingParams(doc, options))
        with pytest.raises(JsonRpcException) as refused:
            await client.text_document_rename_async(lsp.RenameParams(doc, far, "x"))
        assert refused.value.code == lsp.LSPErrorCodes.RequestFailed
    await alive(client, uri)
