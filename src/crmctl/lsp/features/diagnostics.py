"""Diagnostics as you type: the lint findings of the whole package of each open document, and its compatibility
findings against the configured baseline, published per file of the package, debounced.

A buffer that does not parse gets one diagnostic at the parser's position; the rest of the package is checked with
that file's last version that parsed (`crmctl.lsp.workspace`), so the other files keep their findings.

The check (load, lint, compatibility) runs off the event loop, in one worker thread, so that completion, hover and
the other requests are answered while a large package is being checked. One thread, not a pool: checks run one at
a time and in the order they were started, so the workspace's kept documents and models, the baselines and the CEL
library are never used by two checks at once, and a check never sees a half-changed buffer (it loads from a
snapshot taken on the event loop). Publishing happens back on the event loop, and a result is dropped when a
result computed from newer buffers has already been published for its package.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from crmctl.errors import CrmctlError
from crmctl.lsp.convert import LineIndex, apply_change, file_uri, to_lsp_diagnostic
from crmctl.lsp.workspace import Loaded, package_dir
from crmctl.model.diagnostics import Diagnostic, Location, Severity

if TYPE_CHECKING:
    from crmctl.lsp.server import CrmctlServer, State
    from crmctl.model.package import Package

__all__ = ["CheckResult", "check_package", "code_href", "register", "schedule"]

log = logging.getLogger("crmctl.lsp")

_AT = re.compile(r"(\d+):(\d+): (.*)", re.DOTALL)


@dataclass
class CheckResult:
    """One check of a package: what was loaded, the findings per file (core objects, for code actions), the text
    each file had, and the files diagnostics were published for."""

    loaded: Loaded
    findings: dict[str, list[Diagnostic]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)
    # the version of the buffers the check loaded (`Workspace.version`) and those buffers
    version: int = 0
    buffers: dict[Path, str] = field(default_factory=dict)


@cache
def _docs_dir() -> Path | None:
    """docs/ of the source checkout crmctl runs from (the rule catalogue is there), None for an installed wheel."""
    candidate = Path(__file__).resolve().parents[4] / "docs"
    return candidate if (candidate / "lint-rules.md").is_file() else None


def code_href(code: str) -> str | None:
    """Where a code is documented: its section of docs/lint-rules.md, the change kinds of docs/compatibility.md.
    `crmctl explain CODE` prints the same text for a lint rule."""
    docs = _docs_dir()
    if docs is None or not re.fullmatch(r"[A-Z0-9]+", code):
        return None
    if code.startswith("CMP"):
        return f"{(docs / 'compatibility.md').as_uri()}#change-kinds"
    return f"{(docs / 'lint-rules.md').as_uri()}#{code.lower()}"


def _error_finding(exc: CrmctlError, default_file: str) -> Diagnostic:
    """A load error (`file:line:col: message` or `file: message`) as a finding at its position."""
    text = str(exc)
    hint = getattr(exc, "hint", None)
    file, line, column, message = default_file, 1, 1, text
    head, sep, rest = text.partition(": ")
    name, _, position = head.partition(":")
    if sep and name.startswith("/"):
        file, message = name, rest
        at = _AT.fullmatch(f"{position}: {rest}") if position else None
        if at:
            line, column, message = int(at.group(1)), int(at.group(2)), at.group(3)
    if hint:
        message = f"{message}\n{hint}"
    return Diagnostic("input", message, Location(file, line, column), severity=Severity.ERROR)


def check_package(state: State, root: Path, snapshot: tuple[int, dict[Path, str]] | None = None) -> CheckResult:
    """Load and check one package from a snapshot of the buffers (default: as they are now); never raises for bad
    input."""
    from crmctl.lint.runner import lint_package

    version, buffers = snapshot if snapshot is not None else state.workspace.snapshot()
    loaded = state.workspace.load(root, buffers)
    result = CheckResult(loaded, version=version, buffers=buffers)
    manifest = loaded.manifest_file
    if loaded.error is not None:
        finding = _error_finding(loaded.error, manifest)
        target = finding.location.file if finding.location.file.startswith(str(root)) else manifest
        result.findings[target] = [finding]
        return result
    for file, exc in loaded.parse_errors.items():
        result.findings[file] = [_error_finding(exc, file)]
    package = loaded.package
    if package is None:
        return result
    findings = lint_package(package, loaded.config)
    if loaded.config.baseline and not loaded.parse_errors:
        findings.extend(_compat(state, root, loaded.config.baseline, package))
    for doc in package.docs.values():
        result.texts[doc.file] = doc.text
        if doc.file not in loaded.parse_errors:
            result.findings.setdefault(doc.file, [])
    for diag in findings:
        file = diag.location.file
        if file in loaded.parse_errors:
            continue  # found on the stand-in (last parsed) version; the parse error is what this buffer shows
        if file not in result.texts:
            diag = replace(diag, message=f"{diag.location}: {diag.message}", location=Location(manifest))
            file = manifest
        result.findings.setdefault(file, []).append(diag)
    return result


def _compat(state: State, root: Path, spec: str, package: Package) -> list[Diagnostic]:
    """The compatibility findings against `spec`; the baseline package is loaded once per package and source."""
    from crmctl.compat.classify import diff_packages
    from crmctl.lang.compat_findings import compat_findings

    if not package.valid:
        return []  # structural errors are already reported; a diff of a broken package classifies noise
    manifest = package.docs["package"].file
    baseline = state.baselines.get((root, spec))
    if baseline is None:
        baseline = _open_baseline(root, spec)
        state.baselines[(root, spec)] = baseline
    if isinstance(baseline, CrmctlError):
        return [_baseline_problem(spec, baseline, manifest)]
    try:
        return compat_findings(diff_packages(baseline, package), spec)
    except CrmctlError as exc:
        return [_baseline_problem(spec, exc, manifest)]


def _open_baseline(root: Path, spec: str) -> Package | CrmctlError:
    from crmctl.compat.sources import open_source
    from crmctl.model.package import load_tree
    from crmctl.registry import open_registry_ref

    try:
        if not re.match(r"[a-z]+:", spec) and not Path(spec).is_absolute():
            spec = str(root / spec)  # a directory or archive is relative to the package
        schemes = {"registry": lambda ref: open_registry_ref(ref, None, start=root)}
        return load_tree(open_source(spec, anchor=root, schemes=schemes))
    except CrmctlError as exc:
        return exc


def _baseline_problem(spec: str, exc: CrmctlError, manifest: str) -> Diagnostic:
    hint = getattr(exc, "hint", None)
    message = f"baseline {spec} cannot be compared against: {exc}" + (f"\n{hint}" if hint else "")
    return Diagnostic("baseline", message, Location(manifest), severity=Severity.WARNING)


def publish(ls: CrmctlServer, root: Path, result: CheckResult | None = None) -> CheckResult | None:
    """Publish the diagnostics of a check of `root` (default: one made now); files of the last check that have
    none now are cleared. A result older than the one published last (made from older buffers) is dropped:
    None."""
    state = ls.state
    if result is None:
        result = check_package(state, root)
    previous = state.results.get(root)
    if previous is not None and previous.version > result.version:
        return None
    docs = {d.file: d for d in result.loaded.package.docs.values()} if result.loaded.package else {}
    for file, findings in result.findings.items():
        diagnostics: list[lsp.Diagnostic] = []
        if findings:  # a file without findings needs no line index (indexing all of them cost 20 ms a check)
            index = LineIndex(_current_text(file, result), ls.encoding)
            doc = docs.get(file) if file not in result.loaded.parse_errors else None
            diagnostics = [to_lsp_diagnostic(d, doc, index, code_href(d.code)) for d in findings]
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=file_uri(file), diagnostics=diagnostics))
        result.published.add(file)
    if previous is not None and (result.loaded.package is not None or result.loaded.error is not None):
        for file in sorted(previous.published - result.published):
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=file_uri(file), diagnostics=[]))
    if result.loaded.package is None and previous is not None:
        result.published |= previous.published
    state.results[root] = result
    return result


def _current_text(file: str, result: CheckResult) -> str:
    """The text the check saw for `file`, against which its positions are converted."""
    buffer = result.buffers.get(Path(file))
    if buffer is not None:
        return buffer
    if file in result.texts:
        return result.texts[file]
    try:
        return Path(file).read_text("utf-8", errors="replace")
    except OSError:
        return ""


def schedule(ls: CrmctlServer, root: Path) -> None:
    """Check `root` once no change has come for the debounce delay (a newer change restarts the wait)."""
    state = ls.state
    pending = state.pending.pop(root, None)
    if pending is not None:
        pending.cancel()
    state.pending[root] = asyncio.ensure_future(_later(ls, root, state.settings.debounce_ms / 1000))


_worker: ThreadPoolExecutor | None = None


def _checks() -> ThreadPoolExecutor:
    """The one thread checks run in (made on first use, so that a server that never checks starts none)."""
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmctl-check")
    return _worker


# Set by `crmctl.lsp.server.serve`: only a server process owns its heap (tests run the features in theirs).
FREEZE_HEAP = False


def _settle_heap() -> None:
    """After a package's first load: collect, then freeze what survives out of the cyclic collector's sight.

    The documents, models and baselines of a loaded package live as long as the server; on the 2,000-field package
    they are about half a million objects, and a full collection walking them took 0.3–0.4 s, triggered by an edit
    every few edits. Frozen, they are still freed by reference counting when replaced; the few reference cycles of a
    parsed document (about 1,300 objects of ruamel's for rules.yaml) are then never freed, so this is done once per
    package: what it can leak is bounded by the first load."""
    import gc

    gc.collect()
    gc.freeze()


async def _later(ls: CrmctlServer, root: Path, delay: float) -> None:
    await asyncio.sleep(delay)
    # From here on the check is not cancelled by a newer change: its result is newer than the one published, and
    # under continuous typing cancelling it would publish nothing at all.
    ls.state.pending.pop(root, None)
    try:
        snapshot = ls.state.workspace.snapshot()
        first = root not in ls.state.results
        result = await asyncio.get_running_loop().run_in_executor(_checks(), check_package, ls.state, root, snapshot)
        publish(ls, root, result)
        if first and FREEZE_HEAP and result.loaded.package is not None:
            await asyncio.get_running_loop().run_in_executor(_checks(), _settle_heap)
    except Exception as exc:  # a bug must not stop the server: report it and keep serving
        ls.report_server_error(exc, lsp.PublishDiagnosticsParams)


def _root_of(uri: str) -> tuple[Path, Path] | None:
    path = to_fs_path(uri)
    if not path or not uri.startswith("file:"):
        return None
    file = Path(path)
    root = package_dir(file)
    return (file, root) if root is not None else None


def register(server: CrmctlServer) -> None:
    # The server keeps the buffers itself (`Workspace.buffers`), applying each change with LSP's line breaks
    # (`crmctl.lsp.convert.apply_change`), not pygls's documents.
    def _changed(ls: CrmctlServer, uri: str, text: str | None = None) -> None:
        found = _root_of(uri)
        if found is None:
            return
        file, root = found
        if text is not None:
            ls.state.workspace.open(file, text)
        schedule(ls, root)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CrmctlServer, params: lsp.DidOpenTextDocumentParams) -> None:
        _changed(ls, params.text_document.uri, params.text_document.text)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CrmctlServer, params: lsp.DidChangeTextDocumentParams) -> None:
        found = _root_of(params.text_document.uri)
        text = ls.state.workspace.buffers.get(found[0]) if found is not None else None
        if text is None:
            return  # never opened (pygls logs it): there is no buffer to change
        for change in params.content_changes:
            text = apply_change(text, change, ls.encoding)
        _changed(ls, params.text_document.uri, text)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CrmctlServer, params: lsp.DidSaveTextDocumentParams) -> None:
        _changed(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CrmctlServer, params: lsp.DidCloseTextDocumentParams) -> None:
        found = _root_of(params.text_document.uri)
        if found is not None:
            ls.state.workspace.close(found[0])
            schedule(ls, found[1])

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: CrmctlServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        roots: set[Path] = set()
        for event in params.changes:
            path = to_fs_path(event.uri)
            if not path:
                continue
            ls.state.workspace.forget(path)
            roots |= {root for root in ls.state.results if Path(path).is_relative_to(root)}
        for root in sorted(roots):
            schedule(ls, root)
