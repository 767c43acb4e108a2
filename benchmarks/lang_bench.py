"""Time completion and hover (crmctl.lang) on LeadLifecycle and on the 2,000-field package (docs/benchmarks.md).

    python benchmarks/lang_bench.py [--large DIR] [--positions 400] [--no-check]

Without `--large`, the large package is generated into a temporary directory (benchmarks/generate_package.py).
Each package is loaded once, as the language server holds it. Cursor positions are spread evenly over the lines
of every artifact file (at the end of the line: a value or key being typed, inside expressions too); for each
position, completion runs on the buffer with a half-typed key inserted below the line (a buffer that differs
from the loaded package, as while typing), and hover on the loaded file at the middle of the line's text.

Reported: the first call (which computes the package's facts once), then p50 and p95 in milliseconds over the
positions. The target, completion p95 < 50 ms on every package, fails the run with exit 1 unless --no-check.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmctl.model.package import Package

TARGET_MS = 50.0
ROOT = Path(__file__).resolve().parents[1]


def _positions(package: Package, count: int) -> list[tuple[str, str, int, int]]:
    """(file, buffer text, line, column) evenly spread over the lines of every file."""
    docs = sorted(package.docs.values(), key=lambda d: d.file)
    lines_total = sum(d.text.count("\n") + 1 for d in docs)
    step = max(1, lines_total // count)
    out: list[tuple[str, str, int, int]] = []
    seen = 0
    for doc in docs:
        lines = doc.text.split("\n")
        for number, line in enumerate(lines, start=1):
            seen += 1
            if seen % step:
                continue
            out.append((doc.file, doc.text, number, len(line) + 1))
    return out


def _typing(text: str, line: int) -> tuple[str, int, int]:
    """`text` with a half-typed key on a new line below `line`, indented like it; the cursor after the key."""
    lines = text.split("\n")
    current = lines[line - 1]
    indent = " " * (len(current) - len(current.lstrip(" -")))
    lines.insert(line, indent + "de")
    return "\n".join(lines), line + 1, len(indent) + 3


def _clear_value(text: str, line: int) -> tuple[str, int, int]:
    """`text` with the value of `line`'s key removed (or the line unchanged when it has none), the cursor after
    `key: `: where values, references and expression names are offered."""
    lines = text.split("\n")
    current = lines[line - 1]
    head, colon, _ = current.partition(": ")
    if colon and not current.lstrip().startswith("#"):
        lines[line - 1] = head + colon
    return "\n".join(lines), line, len(lines[line - 1]) + 1


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def bench(name: str, path: Path, count: int) -> dict[str, float]:
    from crmctl.lang.completion import complete
    from crmctl.lang.hover import hover
    from crmctl.model.package import load_package

    package = load_package(path, str(path))
    positions = _positions(package, count)
    rules = package.docs.get("rules") or next(iter(package.docs.values()))
    first_line = next((n for n, t in enumerate(rules.text.split("\n"), 1) if "when: " in t), 1)
    start = time.perf_counter()
    complete(package, rules.file, *_clear_value(rules.text, first_line))
    first = time.perf_counter() - start
    keys: list[float] = []
    values: list[float] = []
    hovers: list[float] = []
    offered = 0
    for file, text, line, column in positions:
        edited, edit_line, edit_column = _typing(text, line)
        start = time.perf_counter()
        complete(package, file, edited, edit_line, edit_column)
        keys.append(time.perf_counter() - start)
        edited, edit_line, edit_column = _clear_value(text, line)
        start = time.perf_counter()
        offered += len(complete(package, file, edited, edit_line, edit_column))
        values.append(time.perf_counter() - start)
        start = time.perf_counter()
        hover(package, file, line, max(1, column // 2))
        hovers.append(time.perf_counter() - start)
    figures = {"first": first * 1000, "positions": len(positions), "items": offered / len(positions)}
    for label, samples in (("key", keys), ("value", values), ("hover", hovers)):
        figures[f"{label} p50"], figures[f"{label} p95"] = _ms(samples)
    print(
        f"{name:<16} first {figures['first']:6.1f} ms | key p50 {figures['key p50']:5.2f} p95 {figures['key p95']:5.2f}"
        f" | value p50 {figures['value p50']:5.2f} p95 {figures['value p95']:5.2f} | hover p50"
        f" {figures['hover p50']:5.2f} p95 {figures['hover p95']:5.2f} ms | {len(positions)} positions,"
        f" {figures['items']:.1f} values offered on average"
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=Path, help="the generated 2,000-field package (generated when omitted)")
    parser.add_argument("--positions", type=int, default=400, help="cursor positions per package")
    parser.add_argument("--no-check", action="store_true", help="report only; do not fail on a missed target")
    args = parser.parse_args(argv)
    results = {"LeadLifecycle/v2": bench("LeadLifecycle/v2", ROOT / "packages/LeadLifecycle/v2", args.positions)}
    with tempfile.TemporaryDirectory() as tmp:
        large = args.large
        if large is None:
            large = Path(tmp) / "large"
            subprocess.run([sys.executable, str(ROOT / "benchmarks/generate_package.py"), str(large)], check=True)
        results["2,000 fields"] = bench("2,000 fields", large, args.positions)
    missed = [name for name, f in results.items() if max(f["key p95"], f["value p95"]) >= TARGET_MS]
    if missed and not args.no_check:
        print(f"completion p95 target ({TARGET_MS:.0f} ms) missed on: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
