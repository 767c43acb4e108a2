"""The server's incremental checks against a fresh load: whatever the workspace reuses between edits (parsed
documents, validated models), the findings are those of loading and linting the same files from scratch; what it
keeps stays bounded over a long session; checks run off the event loop and an older result never replaces a newer
one."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from crmctl.lint.runner import lint_package
from crmctl.lsp.convert import file_uri
from crmctl.lsp.features import diagnostics as diagnostics_feature
from crmctl.lsp.features.diagnostics import check_package, publish, register
from crmctl.lsp.server import CrmctlServer
from crmctl.lsp.workspace import Workspace
from crmctl.model.package import load_tree
from crmctl.model.tree import DirTree, MemoryTree
from tests.lsp.test_checks import FakeServer

REPO = Path(__file__).resolve().parents[2]
LEAD = REPO / "packages" / "LeadLifecycle" / "v1"
FIELDS = ["firstName", "email", "phone", "company", "industry", "companySize", "score"]
EXPRESSIONS = ["company != ''", "companyy != ''", "score > 'x'", "1 +", "size(company) > 2"]
BROKEN = "entities: [\n  - {unterminated: 'x\n"


def _edit(texts: dict[str, str], op: tuple[str, str, int]) -> None:
    """Apply one edit to the buffer texts (relative path → text)."""
    kind, name, n = op
    schema, rules, en = texts["schema.yaml"], texts["rules.yaml"], texts["localization/en.yaml"]
    if kind == "add-field":
        texts["schema.yaml"] = schema.replace("    fields:\n", f"    fields:\n      extra{n}:\n        type: text\n", 1)
    elif kind == "remove-field":
        lines = schema.splitlines(keepends=True)
        if f"      {name}:\n" in lines:
            start = lines.index(f"      {name}:\n")
            end = start + 1
            while end < len(lines) and (lines[end].startswith("        ") or not lines[end].strip()):
                end += 1
            texts["schema.yaml"] = "".join(lines[:start] + lines[end:])
    elif kind == "rename-field":
        texts["schema.yaml"] = schema.replace(f"      {name}:\n", f"      {name}{n}:\n", 1)
    elif kind == "expression":
        texts["rules.yaml"] = rules.replace("when: company != ''", f"when: {EXPRESSIONS[n % len(EXPRESSIONS)]!r}", 1)
    elif kind == "remove-label":
        texts["localization/en.yaml"] = re.sub(rf"(?m)^  Lead\.{name}: .*\n", "", en)
    elif kind == "break":
        texts[name] = BROKEN
    else:  # repair: back to the text on disk
        texts[name] = (LEAD / name).read_text(encoding="utf-8")


OPS = st.one_of(
    st.tuples(
        st.sampled_from(["add-field", "remove-field", "rename-field"]), st.sampled_from(FIELDS), st.integers(0, 9)
    ),
    st.tuples(st.just("expression"), st.just(""), st.integers(0, 4)),
    st.tuples(st.just("remove-label"), st.sampled_from(FIELDS), st.just(0)),
    st.tuples(
        st.sampled_from(["break", "repair"]), st.sampled_from(["schema.yaml", "rules.yaml", "ui.yaml"]), st.just(0)
    ),
)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=1, max_size=6))
def test_incremental_findings_equal_a_fresh_load(ops: list[tuple[str, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(LEAD, Path(tmp) / "Lead"))
        ws = Workspace()
        names = ["schema.yaml", "rules.yaml", "ui.yaml", "localization/en.yaml"]
        texts = {rel: (root / rel).read_text(encoding="utf-8") for rel in names}
        good = dict(texts)  # each file's last text that parsed: what stands in for a broken buffer
        ws.load(root)
        for op in ops:
            _edit(texts, op)
            loaded = ws.load(root, {root / rel: text for rel, text in texts.items()})
            assert loaded.package is not None
            broken = {rel for rel in texts if f"{root}/{rel}" in loaded.parse_errors}
            assert broken == {rel for rel, text in texts.items() if text == BROKEN}
            good.update({rel: text for rel, text in texts.items() if rel not in broken})
            files = {rel: (root / rel).read_bytes() for rel in DirTree(root).files()}
            files.update({rel: text.encode() for rel, text in good.items()})
            fresh = load_tree(MemoryTree(files, str(root)))
            fresh.root = root
            assert lint_package(loaded.package, loaded.config) == lint_package(fresh, loaded.config), op


def test_what_the_workspace_keeps_stays_bounded(tmp_path: Path) -> None:
    root = Path(shutil.copytree(LEAD, tmp_path / "Lead"))
    ws = Workspace()
    ws.load(root)
    files = len(ws._parsed)
    schema = (root / "schema.yaml").read_text(encoding="utf-8")
    for i in range(40):
        # an edit of a file, and a new file of the package that comes and goes (an unsaved buffer closed)
        added = f"    fields:\n      f{i}:\n        type: text\n"
        ws.open(root / "schema.yaml", schema.replace("    fields:\n", added))
        ws.open(root / "localization" / f"x{i}.yaml", "labels: {}\n")
        ws.load(root)
        ws.close(root / "localization" / f"x{i}.yaml")
    ws.load(root)
    assert len(ws._parsed) == files and len(ws._validated) == files
    # a file deleted on disk is dropped too
    ws.forget(f"{root}/ui.yaml")
    assert f"{root}/ui.yaml" not in ws._parsed and f"{root}/ui.yaml" not in ws._validated


def test_an_unchanged_document_is_not_validated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crmctl.model.package as package_module

    root = Path(shutil.copytree(LEAD, tmp_path / "Lead"))
    ws = Workspace()
    ws.load(root)
    validated: list[str] = []
    real = package_module.validate_artifact

    def counting(base: str, doc: Any, name: str, sink: list[Any]) -> Any:
        validated.append(doc.file)
        return real(base, doc, name, sink)

    monkeypatch.setattr(package_module, "validate_artifact", counting)
    ws.open(root / "rules.yaml", (root / "rules.yaml").read_text() + "# edited\n")
    assert ws.load(root).package is not None
    assert validated == [f"{root}/rules.yaml"]
    # a document with findings keeps them when reused
    ws.open(root / "ui.yaml", "forms: 3\n")
    first = ws.load(root).package
    second = ws.load(root).package
    assert first is not None and second is not None and first.diagnostics and first.diagnostics == second.diagnostics


def _lead_server(tmp_path: Path) -> tuple[FakeServer, Path]:
    root = Path(shutil.copytree(LEAD, tmp_path / "Lead"))
    ls = FakeServer()
    ls.state.settings.debounce_ms = 0
    register(cast(CrmctlServer, ls))
    return ls, root


def _change(ls: FakeServer, path: Path, text: str) -> None:
    if path not in ls.state.workspace.buffers:
        item = lsp.TextDocumentItem(uri=file_uri(str(path)), language_id="yaml", version=0, text=path.read_text())
        ls.handlers[lsp.TEXT_DOCUMENT_DID_OPEN](ls, lsp.DidOpenTextDocumentParams(item))
    versioned = lsp.VersionedTextDocumentIdentifier(version=0, uri=file_uri(str(path)))
    whole = lsp.TextDocumentContentChangeWholeDocument(text=text)
    ls.handlers[lsp.TEXT_DOCUMENT_DID_CHANGE](ls, lsp.DidChangeTextDocumentParams(versioned, [whole]))


async def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_the_check_runs_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ls, root = _lead_server(tmp_path)
    release = threading.Event()
    started = threading.Event()
    threads: list[str] = []
    real = diagnostics_feature.check_package

    def slow(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(30)
        return real(*args)

    monkeypatch.setattr(diagnostics_feature, "check_package", slow)
    try:
        _change(ls, root / "rules.yaml", (root / "rules.yaml").read_text())
        await _until(started.is_set)
        # the loop keeps serving while the check is blocked
        ticks = 0
        for _ in range(5):
            await asyncio.sleep(0.001)
            ticks += 1
        assert ticks == 5 and not ls.published
    finally:
        release.set()
    await _until(lambda: file_uri(str(root / "rules.yaml")) in ls.published)
    assert threads and threads[0].startswith("crmctl-check") and threading.current_thread().name not in threads


@pytest.mark.asyncio
async def test_the_last_text_wins_under_continuous_typing(tmp_path: Path) -> None:
    ls, root = _lead_server(tmp_path)
    rules = root / "rules.yaml"
    text = rules.read_text()
    uri = file_uri(str(rules))
    for i in range(8):
        # an invalid expression while typing, valid at the end
        _change(ls, rules, text.replace("when: company != ''", f"when: company != ''{' &&' if i < 7 else ''}", 1))
        await asyncio.sleep(0.002 * (i % 3))
    await _until(lambda: not ls.state.pending and ls.state.results.get(root) is not None)
    await _until(lambda: ls.state.results[root].version == ls.state.workspace.version)
    assert ls.published[uri] == []


def test_an_older_result_never_replaces_a_newer_one(tmp_path: Path) -> None:
    ls, root = _lead_server(tmp_path)
    rules = root / "rules.yaml"
    uri = file_uri(str(rules))
    ls.state.workspace.open(rules, rules.read_text().replace("when: company != ''", "when: companyy != ''", 1))
    older = check_package(ls.state, root)
    ls.state.workspace.open(rules, rules.read_text())
    newer = check_package(ls.state, root)
    assert older.version < newer.version and older.findings[str(rules)]
    assert publish(cast(CrmctlServer, ls), root, newer) is newer
    assert publish(cast(CrmctlServer, ls), root, older) is None
    assert ls.published[uri] == [] and ls.state.results[root] is newer


@pytest.mark.asyncio
async def test_the_heap_is_frozen_once_per_package_in_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    ls, root = _lead_server(tmp_path)
    frozen: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(len(ls.published)))
    monkeypatch.setattr(diagnostics_feature, "FREEZE_HEAP", True)
    rules = root / "rules.yaml"
    for i in range(3):
        _change(ls, rules, rules.read_text() + f"# {i}\n")
        await _until(lambda: bool(ls.state.results) and ls.state.results[root].version == ls.state.workspace.version)
    await _until(lambda: bool(frozen))
    # after the first check was published, and only then
    assert frozen and frozen[0] > 0 and len(frozen) == 1
