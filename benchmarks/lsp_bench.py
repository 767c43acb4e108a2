"""Time the language server through its real transport: `crmctl lsp` as a subprocess, driven over stdio by a
pygls client (pytest-lsp's), as an editor would (docs/benchmarks.md, "Language server").

    python benchmarks/lsp_bench.py [--edits 50] [--starts 5] [--scale 1.0] [--no-check] [--completions 60]
                                   [--completion-only]

- startup: process start to the `initialize` answer, median of STARTS fresh servers;
- diagnostics after an edit: a `didChange` of rules.yaml (a comment line added at its end, so the file is parsed
  again and the whole package linted) until the `publishDiagnostics` of that file arrives, EDITS times, with
  debounce 0 so that the figure is the server's work (an editor adds the debounce, 150 ms by default), on
  LeadLifecycle v1 and on the generated 2,000-field package;
- memory: the server's resident set size after the first edit and after the last (what the server keeps must not
  grow over an editing session).

Targets (exit 1 when missed, unless --no-check): p95 < 150 ms on LeadLifecycle, p95 < 1 s on the large package.

Completion (`--completions N`, 0 to skip; `--completion-only` skips the rest): rules.yaml open with a rule being
typed at its end, once its diagnostics have arrived (no check runs during the measurement), N
`textDocument/completion` requests in turn at three places: a CEL expression with a one-letter prefix (`when: t`),
the same with an empty prefix (every field, function and macro), and a YAML key on a new line of the rule; each
timed from the request to its answer. Target: p95 < 50 ms on both packages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pytest_lsp.client import make_test_lsp_client

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGETS = {"LeadLifecycle": 0.150, "2,000 fields": 1.0}
SERVER = [sys.executable, "-m", "crmctl", "lsp", "--stdio"]


async def _start() -> tuple[Any, float]:
    client = make_test_lsp_client()
    client.diagnostics = _Counting()
    start = time.perf_counter()
    await client.start_io(*SERVER)
    await client.initialize_session(
        lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), initialization_options={"debounceMs": 0})
    )
    return client, time.perf_counter() - start


async def _stop(client: Any) -> None:
    await client.shutdown_session()
    await client.stop()


class _Counting(dict[str, Any]):
    """The client's diagnostics store, counting the notifications per URI (an empty result is always the same
    empty tuple, so identity cannot tell two apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.count: dict[str, int] = {}

    def __setitem__(self, uri: str, value: Any) -> None:
        self.count[uri] = self.count.get(uri, 0) + 1
        super().__setitem__(uri, value)


async def _published(client: Any, uri: str, before: int) -> None:
    """Until the `before + 1`-th publishDiagnostics for `uri` has arrived."""
    while client.diagnostics.count.get(uri, 0) <= before:
        await asyncio.sleep(0.001)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - not Linux


def _edited(text: str, i: int) -> str:
    """rules.yaml with a comment line added at its end (a different text each time: the file is parsed again and
    the whole package linted, as after a keystroke)."""
    return f"{text}# edit {i}\n"


async def edits(pkg: Path, count: int) -> tuple[list[float], tuple[float, float], int]:
    """Seconds from each didChange to the edited file's diagnostics; the server's RSS (MB) after the first and the
    last edit; findings at the end."""
    client, _ = await _start()
    try:
        rules = pkg / "rules.yaml"
        uri, text = rules.as_uri(), rules.read_text(encoding="utf-8")
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text))
        )
        await _published(client, uri, 0)
        times: list[float] = []
        first_rss = float("nan")
        for i in range(count):
            before = client.diagnostics.count.get(uri, 0)
            start = time.perf_counter()
            client.text_document_did_change(
                lsp.DidChangeTextDocumentParams(
                    lsp.VersionedTextDocumentIdentifier(version=i + 2, uri=uri),
                    [lsp.TextDocumentContentChangeWholeDocument(text=_edited(text, i))],
                )
            )
            await _published(client, uri, before)
            times.append(time.perf_counter() - start)
            if i == 0:
                first_rss = _rss_mb(client._server.pid)
            print(f"{pkg.name}: edit {i + 1}/{count}: {times[-1] * 1000:.0f} ms", file=sys.stderr, flush=True)
        rss = _rss_mb(client._server.pid)
        findings = sum(len(d) for d in client.diagnostics.values())
        return times, (first_rss, rss), findings
    finally:
        await _stop(client)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _child(*args: str) -> Any:
    """Run one measurement in a fresh interpreter (a pygls client does not start twice in one event loop)."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


async def _child_main(kind: str, arg: str) -> Any:
    if kind == "completion":
        path, entity, count = json.loads(arg)
        return await completions(Path(path), entity, count)
    if kind == "startup":
        client, seconds = await _start()
        await _stop(client)
        return seconds
    times, rss, findings = await edits(Path(arg), int(kind))
    return {"times": times, "rss": rss, "findings": findings}


def run(args: argparse.Namespace) -> int:
    startups = [_child("startup", "") for _ in range(args.starts)]
    work = Path(tempfile.mkdtemp(prefix="crmctl-lsp-bench-"))
    try:
        lead = Path(shutil.copytree(REPO / "packages" / "LeadLifecycle" / "v1", work / "LeadLifecycle"))
        large = work / "large"
        subprocess.run(
            [sys.executable, str(HERE / "generate_package.py"), str(large), "--scale", str(args.scale)],
            check=True,
            capture_output=True,
        )
        rows = []
        missed = []
        for name, pkg in (("LeadLifecycle", lead), ("2,000 fields", large)):
            found = _child(str(args.edits), str(pkg))
            times = found["times"]
            p50, p95 = _pct(times, 0.5), _pct(times, 0.95)
            ms = [f"{t * 1000:.0f}" for t in (p50, p95, max(times))]
            rss = " → ".join(f"{mb:.0f}" for mb in found["rss"])
            rows.append(f"| {name} | {len(times)} | {' | '.join(ms)} | {rss} | {found['findings']} |")
            if p95 > TARGETS[name]:
                missed.append(f"{name}: p95 {p95 * 1000:.0f} ms > {TARGETS[name] * 1000:.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Python {platform.python_version()}, {platform.machine()}, {platform.system()}\n")
    median, fastest = statistics.median(startups) * 1000, min(startups) * 1000
    print(f"startup (start to initialize answer), median of {args.starts}: {median:.0f} ms (min {fastest:.0f})\n")
    print("| package | edits | p50 ms | p95 ms | max ms | server RSS MB (first → last edit) | findings |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    for line in missed:
        print(f"\nTARGET MISSED: {line}")
    return 1 if missed and not args.no_check else 0


# --- completion -------------------------------------------------------------------------------------------------

COMPLETION_TARGET = 0.050
COMPLETION_ENTITY = {"LeadLifecycle": "Lead", "2,000 fields": "Entity01"}


async def completions(pkg: Path, entity: str, count: int) -> dict[str, Any]:
    """Seconds per completion request and the number of items (min, median, max), a rule being typed in rules.yaml."""
    client, _ = await _start()
    try:
        rules = pkg / "rules.yaml"
        uri = rules.as_uri()
        text = rules.read_text(encoding="utf-8")
        text += f"  - id: bench.typing\n    entity: {entity}\n    when: t\n    "
        last = text.count("\n")  # the 0-based line of the key being started
        places = [lsp.Position(last - 1, 11), lsp.Position(last - 1, 10), lsp.Position(last, 4)]
        client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text))
        )
        await _published(client, uri, 0)
        times: list[float] = []
        items: list[int] = []
        for i in range(count):
            params = lsp.CompletionParams(lsp.TextDocumentIdentifier(uri=uri), places[i % len(places)])
            start = time.perf_counter()
            result = await client.text_document_completion_async(params)
            times.append(time.perf_counter() - start)
            items.append(len(result.items) if isinstance(result, lsp.CompletionList) else len(result or []))
        return {"times": times, "items": [min(items), statistics.median(items), max(items)]}
    finally:
        await _stop(client)


def run_completion(args: argparse.Namespace) -> int:
    """The completion figures (a table for docs/benchmarks.md); 1 when a target is missed."""
    if args.completions <= 0:
        return 0
    work = Path(tempfile.mkdtemp(prefix="crmctl-lsp-completion-"))
    try:
        lead = Path(shutil.copytree(REPO / "packages" / "LeadLifecycle" / "v1", work / "LeadLifecycle"))
        large = work / "large"
        subprocess.run(
            [sys.executable, str(HERE / "generate_package.py"), str(large), "--scale", str(args.scale)],
            check=True,
            capture_output=True,
        )
        rows, missed = [], []
        for name, pkg in (("LeadLifecycle", lead), ("2,000 fields", large)):
            found = _child("completion", json.dumps([str(pkg), COMPLETION_ENTITY[name], args.completions]))
            times = found["times"]
            p50, p95 = _pct(times, 0.5), _pct(times, 0.95)
            ms = " | ".join(f"{t * 1000:.1f}" for t in (p50, p95, max(times)))
            rows.append(f"| {name} | {len(times)} | {ms} | {' / '.join(f'{n:.0f}' for n in found['items'])} |")
            if p95 > COMPLETION_TARGET:
                missed.append(f"completion on {name}: p95 {p95 * 1000:.1f} ms > {COMPLETION_TARGET * 1000:.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| completion | requests | p50 ms | p95 ms | max ms | items min / median / max |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    for line in missed:
        print(f"\nTARGET MISSED: {line}")
    return 1 if missed and not args.no_check else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--completions", type=int, default=60)
    parser.add_argument("--completion-only", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child_main(*args.child))))
        return 0
    code = 0 if args.completion_only else run(args)
    return max(code, run_completion(args))


if __name__ == "__main__":
    sys.exit(main())
