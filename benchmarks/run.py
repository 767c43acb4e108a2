"""Time crmctl on a large generated package and check the performance targets.

    python benchmarks/run.py [--repeat 5] [--no-check] [--keep DIR]

Generates both variants of the benchmark package (see generate_package.py) into a temporary directory, then
times each command as a fresh subprocess, several times, and prints a markdown report: min and median wall
seconds per command, the slowest imports of `crmctl.cli.main`, and which heavy libraries lint and diff pull
in. Exits 1 when a target is missed, a command fails or lint/diff import duckdb or pyarrow, unless --no-check.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEAVY = ("duckdb", "pyarrow")
# Exit codes a command may end with and still count as having done its job: lint exits 1 on findings and
# diff exits 1 when a change class listed in --fail-on (breaking, by default) is present, as it is here.
ALLOWED = {"version": {0}, "lint": {0}, "diff": {0, 1}, "digest": {0}}
TARGETS = {"version": 0.150, "lint": 2.0, "diff": 1.0}


@dataclass
class Timing:
    name: str
    argv: list[str]
    times: list[float]
    code: int | None = None
    error: str = ""

    @property
    def pending(self) -> bool:
        return self.code is None or self.code not in ALLOWED[self.name]


def _crmctl() -> list[str]:
    script = Path(sys.executable).parent / "crmctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crmctl"]


def _run(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def time_command(name: str, args: list[str], repeat: int) -> Timing:
    argv = [*_crmctl(), *args]
    _, proc = _run(argv)  # warm-up: fills the OS page cache and tells whether the command exists
    timing = Timing(name, argv, [], proc.returncode)
    if timing.pending:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        missing = "ImportError: cannot import name" in proc.stderr or "No such command" in proc.stderr
        timing.error = "command not implemented yet" if missing else f"exit {proc.returncode}: {lines[-1][:160]}"
        return timing
    timing.times = [_run(argv)[0] for _ in range(repeat)]
    return timing


def import_profile(top: int) -> list[tuple[int, str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import crmctl.cli.main"], capture_output=True, text=True, check=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:top]


def heavy_imports(args: list[str]) -> tuple[list[str], str]:
    """Heavy modules loaded by running the CLI in-process with `args`, and the exit code it ended with."""
    code = (
        "import sys\nfrom crmctl.cli.main import run\n"
        f"code = run({args!r})\n"
        f"print('HEAVY', code, sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("HEAVY "):
            _, exit_code, modules = line.split(" ", 2)
            return ast.literal_eval(modules), exit_code
    return [], f"crashed ({proc.returncode})"


def package_size(root: Path) -> str:
    files = [p for p in root.rglob("*") if p.is_file()]
    data = [p.read_bytes() for p in files]
    lines = sum(d.count(b"\n") for d in data)
    return f"{len(files)} files, {sum(map(len, data)) / 1e6:.1f} MB, {lines:,} lines"


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f}"


def _shown(argv: list[str], paths: dict[str, str]) -> str:
    words = ["crmctl", *argv[len(_crmctl()) :]]
    return " ".join(paths.get(word, word) for word in words)


def report(
    timings: list[Timing],
    imports: list[tuple[int, str]],
    heavy: dict[str, tuple[list[str], str]],
    repeat: int,
    paths: dict[str, str],
    size: str,
) -> tuple[str, list[str]]:
    lines = [
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()} ({platform.python_implementation()}),"
        f" {platform.system()} {platform.machine()}; {repeat} timed runs per command after one warm-up.",
        f"Package `<v1>`: {size}.",
        "",
        "| command | runs | min (s) | median (s) | target (s) | status |",
        "|---|---|---|---|---|---|",
    ]
    failures = []
    for t in timings:
        target = TARGETS.get(t.name)
        shown = _shown(t.argv, paths)
        if t.pending:
            failures.append(f"{shown}: {t.error}")
            lines.append(f"| `{shown}` | 0 | pending | pending | {target or '-'} | pending: {t.error} |")
            continue
        median = statistics.median(t.times)
        ok = target is None or median < target
        if not ok:
            failures.append(f"{shown}: median {median:.3f}s misses the {target}s target")
        status = "ok" if ok else "MISSED"
        lines.append(
            f"| `{shown}` | {len(t.times)} | {_fmt(min(t.times))} | {_fmt(median)} | {target or '-'} | {status} |"
        )
    lines += [
        "",
        "Slowest imports of `crmctl.cli.main` (cumulative, `python -X importtime`):",
        "",
        "| module | cumulative (ms) |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {us / 1000:.1f} |" for us, name in imports]
    lines += [
        "",
        "Heavy modules loaded in-process:",
        "",
        "| command | exit | duckdb/pyarrow modules |",
        "|---|---|---|",
    ]
    for name, (modules, code) in heavy.items():
        if code not in {str(c) for c in ALLOWED[name]}:
            lines.append(f"| `crmctl {name}` | {code} | pending: the command did not run |")
            continue
        lines.append(f"| `crmctl {name}` | {code} | {', '.join(modules) or 'none'} |")
        if modules:
            failures.append(f"crmctl {name} imports {', '.join(modules)}")
    return "\n".join(lines), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="package scale passed to the generator")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    parser.add_argument("--no-check", action="store_true", help="only report; never exit non-zero on a target")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="crmctl-bench-"))
    try:
        v1, v2 = work / "v1", work / "v2"
        for out, variant in ((v1, 1), (v2, 2)):
            subprocess.run(
                [
                    sys.executable,
                    str(HERE / "generate_package.py"),
                    str(out),
                    "--variant",
                    str(variant),
                    "--scale",
                    str(args.scale),
                ],
                check=True,
                capture_output=True,
            )
        timings = [
            time_command("version", ["--version"], args.repeat),
            time_command("lint", ["lint", str(v1)], args.repeat),
            time_command("diff", ["diff", str(v1), str(v2)], args.repeat),
            time_command("digest", ["package", "digest", str(v1)], args.repeat),
        ]
        heavy = {"lint": heavy_imports(["lint", str(v1)]), "diff": heavy_imports(["diff", str(v1), str(v2)])}
        paths = {str(v1): "<v1>", str(v2): "<v2>"}
        text, failures = report(timings, import_profile(12), heavy, args.repeat, paths, package_size(v1))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    if failures:
        print("\n" + "\n".join(f"- {f}" for f in failures), file=sys.stderr)
    return 1 if failures and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
