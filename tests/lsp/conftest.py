"""End-to-end harness: `python -m crmctl lsp` as a real subprocess, driven over stdio by pytest-lsp's client.

Each test module shares one server (a start costs about a second); tests open documents of their own copies of the
reference packages, so they do not see each other's buffers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "fixtures" / "lsp"

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "crmctl", "lsp", "--stdio"])


def server_fixture() -> object:
    """A module-scoped client connected to a freshly started, initialized server (debounce 0)."""

    @pytest_lsp.fixture(config=SERVER, scope="module")
    async def client(lsp_client: LanguageClient) -> object:
        params = lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(
                general=lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf16]),
                text_document=lsp.TextDocumentClientCapabilities(
                    completion=lsp.CompletionClientCapabilities(
                        completion_item=lsp.ClientCompletionItemOptions(documentation_format=[lsp.MarkupKind.Markdown])
                    ),
                    hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.Markdown]),
                    document_symbol=lsp.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
                    rename=lsp.RenameClientCapabilities(prepare_support=True),
                ),
            ),
            initialization_options={"debounceMs": 0},
        )
        await lsp_client.initialize_session(params)
        yield
        await lsp_client.shutdown_session()

    return client


def copy_package(src: str, dest: Path) -> Path:
    shutil.copytree(REPO / "packages" / src, dest)
    return dest


def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(
                uri=uri, language_id="yaml", version=1, text=path.read_text() if text is None else text
            )
        )
    )
    return uri


def replace_text(client: LanguageClient, uri: str, text: str, version: int = 2) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def wait_for(
    client: LanguageClient,
    uri: str,
    check: Callable[[Sequence[lsp.Diagnostic]], bool],
    timeout: float = 20,
) -> Sequence[lsp.Diagnostic]:
    """The diagnostics of `uri` once `check` holds for them (polled; fails after `timeout` seconds)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        found = client.diagnostics.get(uri)
        if found is not None and check(found):
            return found
        if loop.time() > end:
            raise AssertionError(f"diagnostics of {uri} never matched; last: {found}")
        await asyncio.sleep(0.02)


def codes(diagnostics: Sequence[lsp.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


def as_data(diagnostics: dict[str, Sequence[lsp.Diagnostic]], base: Path) -> dict[str, list[dict[str, object]]]:
    """Diagnostics as golden data: URIs relative to `base`, each diagnostic's range, code, severity, message."""
    out: dict[str, list[dict[str, object]]] = {}
    prefix = base.as_uri() + "/"
    for uri, found in sorted(diagnostics.items()):
        if not uri.startswith(prefix):
            continue
        out[uri[len(prefix) :]] = [
            {
                "range": [d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character],
                "code": d.code,
                "severity": int(d.severity or 0),
                "message": d.message,
                "href": (d.code_description.href.rsplit("/", 1)[-1] if d.code_description else None),
            }
            for d in found
        ]
    return out


def check_golden(name: str, data: object) -> None:
    expected = GOLDEN / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("CRMCTL_UPDATE_GOLDEN"):
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8"), f"regenerate with CRMCTL_UPDATE_GOLDEN=1 ({expected})"
