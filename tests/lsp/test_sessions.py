"""Adversarial editor sessions, end to end over stdio: edits in quick succession (incremental ranges over
multi-byte, astral and unusual line-separator characters, CRLF documents) whose diagnostics must equal `crmctl lint`
of the same text on disk."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from crmctl.lsp.convert import LineIndex
from tests.lsp.conftest import copy_package, open_doc, server_fixture, wait_for

client = server_fixture()
pytestmark = pytest.mark.asyncio(loop_scope="module")


def lint_on_disk(root: Path) -> dict[str, list[tuple[str, int, int]]]:
    """`crmctl lint -f json` of a package: (code, 0-based line, UTF-16 column) of each finding, per file URI."""
    done = subprocess.run(
        [sys.executable, "-m", "crmctl", "lint", "-f", "json", str(root)], capture_output=True, text=True, check=False
    )
    out: dict[str, list[tuple[str, int, int]]] = {}
    for finding in json.loads(done.stdout)["result"]["findings"]:
        path = Path(finding["file"]).resolve()
        position = LineIndex(path.read_text("utf-8")).position(finding["line"], finding["column"])
        out.setdefault(path.as_uri(), []).append((finding["code"], position.line, position.character))
    return {uri: sorted(found) for uri, found in out.items()}


def starts(diagnostics: list[lsp.Diagnostic]) -> list[tuple[str, int, int]]:
    return sorted((str(d.code), d.range.start.line, d.range.start.character) for d in diagnostics)


def change(uri: str, version: int, *edits: tuple[int, int, int, int, str]) -> lsp.DidChangeTextDocumentParams:
    return lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
        [
            lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(a, b), lsp.Position(c, d)), text=text)
            for a, b, c, d, text in edits
        ],
    )


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
async def test_edits_after_a_character_python_splits_lines_at(
    client: LanguageClient, tmp_path: Path, separator: str
) -> None:
    """LSP lines end at LF, CR and CRLF only; Python's str.splitlines also ends them at U+2028, NEL, form feed…
    (pasted labels carry them; YAML allows these three). An edit after such a character lands where the
    editor made it."""
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules = pkg / "rules.yaml"
    text = rules.read_text().replace("Show the company size only", f"Show the company{separator}size only", 1)
    uri = open_doc(client, rules, text)
    await wait_for(client, uri, lambda d: not d)
    lines = text.split("\n")
    row = next(i for i, line in enumerate(lines) if "when: company != ''" in line)
    col = utf16(lines[row][: lines[row].index("company")])
    client.text_document_did_change(change(uri, 2, (row, col, row, col + len("company"), "compny")))
    final = text.replace("when: company != ''", "when: compny != ''", 1)
    rules.write_text(final, encoding="utf-8", newline="")
    expected = lint_on_disk(pkg)[uri]
    assert expected == [("RUL301", row, col)]
    await wait_for(client, uri, lambda d: starts(list(d)) == expected)


async def test_quick_incremental_edits_of_a_crlf_document_with_astral_characters(
    client: LanguageClient, tmp_path: Path
) -> None:
    """Many changes, sent without waiting (several in one notification, several notifications), over a CRLF text
    with astral characters before the edited columns: the last diagnostics are those of `crmctl lint` of the final
    text, and nothing stale is published after them."""
    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    rules = pkg / "rules.yaml"
    text = rules.read_text().replace("Show the company size only", "Show the 𝄞 company 🎉 size only", 1)
    text = text.replace("\n", "\r\n")
    uri = open_doc(client, rules, text)
    await wait_for(client, uri, lambda d: not d)
    lines = text.split("\r\n")
    desc = next(i for i, line in enumerate(lines) if "𝄞" in line)
    when = next(i for i, line in enumerate(lines) if "when: company != ''" in line)
    at = utf16(lines[desc][: lines[desc].index("🎉")])
    cel = utf16(lines[when][: lines[when].index("company")])
    version = 1
    edits: list[tuple[int, int, int, int, str]] = [
        (desc, at, desc, at + 2, "💥"),  # replace one astral character by another
        (desc, at + 2, desc, at + 2, "é"),  # then type after it
        (when, cel, when, cel + 7, "compny"),  # break the expression
        (when, cel, when, cel + 6, "company"),  # repair it
        (when, cel, when, cel + 7, "cömpany"),  # break it with a multi-byte character
    ]
    for edit in edits:
        version += 1
        client.text_document_did_change(change(uri, version, edit))
    # one notification holding two changes, the second's range in the text after the first: insert a line, then
    # edit the line after it (positions shift by one line)
    version += 1
    client.text_document_did_change(
        change(
            uri,
            version,
            (when, 0, when, 0, "    # 𝄞 a comment\r\n"),
            (when + 1, cel + 1, when + 1, cel + 2, "ø"),  # cömpany -> cømpany
        )
    )
    final = text.replace("🎉", "💥é", 1).replace("when: company != ''", "# 𝄞 a comment\r\n    when: cømpany != ''", 1)
    rules.write_text(final, encoding="utf-8", newline="")
    expected = lint_on_disk(pkg)[uri]
    assert expected and {code for code, _, _ in expected} == {"RUL301"}
    await wait_for(client, uri, lambda d: starts(list(d)) == expected)
    await asyncio.sleep(0.5)
    assert starts(list(client.diagnostics[uri])) == expected


async def test_two_versions_of_a_package_open_at_once_keep_their_own_findings(
    client: LanguageClient, tmp_path: Path
) -> None:
    """packages/LeadLifecycle/v1 and v2 (same name): a break in one is never reported in the other, and a file
    deleted on disk (watched-files event) is checked as `crmctl lint` checks the directory."""
    v1 = copy_package("LeadLifecycle/v1", tmp_path / "packages" / "LeadLifecycle" / "v1")
    v2 = copy_package("LeadLifecycle/v2", tmp_path / "packages" / "LeadLifecycle" / "v2")
    one = open_doc(client, v1 / "rules.yaml", (v1 / "rules.yaml").read_text().replace("company !=", "compny !=", 1))
    two = open_doc(client, v2 / "rules.yaml")
    await wait_for(client, one, lambda d: {str(x.code) for x in d} == {"RUL301"})
    await wait_for(client, two, lambda d: not d)
    (v2 / "ui.yaml").unlink()
    event = lsp.FileEvent(uri=(v2 / "ui.yaml").as_uri(), type=lsp.FileChangeType.Deleted)
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(changes=[event]))
    expected = lint_on_disk(v2)
    for uri in {f.as_uri() for f in v2.rglob("*.yaml")} | set(expected):
        await wait_for(client, uri, lambda d, uri=uri: starts(list(d)) == expected.get(uri, []))
    assert {str(x.code) for x in client.diagnostics[one]} == {"RUL301"}
    assert all(not d for uri, d in client.diagnostics.items() if uri.startswith(v1.as_uri()) and uri != one)


async def test_rename_applied_in_buffers_then_undone_is_clean_again(client: LanguageClient, tmp_path: Path) -> None:
    """As an editor applies a rename: every edited file becomes an open buffer (locale files were not open); undo
    restores each buffer's text. The package is clean after the rename and after the undo, in every file."""
    from crmctl.lang.edits import TextEdit, apply_edits

    pkg = copy_package("LeadLifecycle/v1", tmp_path / "Lead")
    schema = pkg / "schema.yaml"
    schema_uri = open_doc(client, schema)
    await wait_for(client, schema_uri, lambda d: not d)
    lines = schema.read_text().split("\n")
    row = next(i for i, line in enumerate(lines) if line == "      phone:")
    at = lsp.Position(row, 8)
    edit = await client.text_document_rename_async(
        lsp.RenameParams(lsp.TextDocumentIdentifier(uri=schema_uri), at, "mobilePhone")
    )
    assert edit is not None and edit.changes is not None and len(edit.changes) > 2
    before: dict[str, str] = {}
    version = 10
    for uri, edits in edit.changes.items():
        path = Path(uri.removeprefix("file://"))
        before[uri] = path.read_text()
        core = [
            TextEdit(
                str(path),
                e.range.start.line + 1,
                e.range.start.character + 1,
                e.range.end.line + 1,
                e.range.end.character + 1,
                e.new_text,
            )
            for e in edits
        ]
        after = apply_edits(before[uri], core)
        version += 1
        if uri == schema_uri:
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
                    [lsp.TextDocumentContentChangeWholeDocument(text=after)],
                )
            )
        else:
            open_doc(client, path, after)
    everything = {f.as_uri() for f in pkg.rglob("*.yaml") if f.parent in (pkg, pkg / "localization")}
    for uri in everything:
        await wait_for(client, uri, lambda d: not d)
    for uri, text in before.items():
        version += 1
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
                [lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
    for uri in everything:
        await wait_for(client, uri, lambda d: not d)
    await asyncio.sleep(0.3)
    assert all(not client.diagnostics[uri] for uri in everything)
