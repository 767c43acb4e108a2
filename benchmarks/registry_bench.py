"""Time the package registry and check its performance targets (docs/benchmarks.md, "Registry").

    python benchmarks/registry_bench.py [--repeat 5] [--packages 100] [--versions 10] [--no-check] [--keep DIR]

Times three whole commands as fresh subprocesses (one warm-up run, then N timed runs; min and median):

- `crmctl publish packages/LeadLifecycle/v1` into a new local registry, with an empty client cache each run
  (so the first fetch is included); target < 1 s;
- `crmctl registry verify` of a registry of PACKAGES x VERSIONS published versions; target < 10 s;
- `crmctl resolve NAME --channel prod` on that registry; target < 100 ms.

The large registry is built through the Python API and one `git fast-import`, with exactly what `publish` writes
for each version (canonical.json, artifacts, digest, signature, provenance, a signed publish entry, an annotated
tag) and a signed `promote` entry per package (its highest version to `prod`): 1 + PACKAGES x (VERSIONS + 1) log
entries, one commit each, as a registry's history must be.
Every version has the content of LeadLifecycle v1 under its own name (`Bench000` ...), versions 1.0.0 to
1.<VERSIONS-1>.0, so `verify` lints every version and diffs every pair of versions of each package. The
registry must verify clean; the run exits 1 when a target is missed or a command fails, unless --no-check.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEAD_V1 = REPO / "packages" / "LeadLifecycle" / "v1"
IDENTITY = "bench@example.com"
TEMPLATE = "BenchTemplate"
TARGETS = {"publish": 1.0, "verify": 10.0, "resolve": 0.100}


@dataclass
class Timing:
    name: str
    shown: str
    times: list[float]
    error: str = ""


def _crmctl() -> list[str]:
    script = Path(sys.executable).parent / "crmctl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crmctl"]


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run([*_crmctl(), *args], capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - start, proc


def _failure(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
    return f"exit {proc.returncode}: {lines[-1][:160]}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def time_publish(root: Path, key: Path, env: dict[str, str], repeat: int) -> Timing:
    """Each run: a new registry (not timed), an empty cache, then the timed `crmctl publish`."""
    from crmctl.registry.ops import init_registry
    from crmctl.signing import SigningKey

    signing_key = SigningKey.load(key)
    timing = Timing("publish", "crmctl publish packages/LeadLifecycle/v1 (new local registry, empty cache)", [])
    for run in range(repeat + 1):
        location = root / f"publish-{run}"
        run_env = {**env, "CRMCTL_CACHE_DIR": str(root / f"publish-cache-{run}")}
        os.environ.update(run_env)
        init_registry(str(location), signing_key, IDENTITY, _now())
        shutil.rmtree(root / f"publish-cache-{run}")
        seconds, proc = _timed(["publish", str(LEAD_V1), "--registry", str(location), "--key", str(key)], run_env)
        if proc.returncode != 0:
            timing.error = _failure(proc)
            return timing
        if run:
            timing.times.append(seconds)
    return timing


def time_command(name: str, shown: str, args: list[str], env: dict[str, str], repeat: int) -> Timing:
    timing = Timing(name, shown, [])
    for run in range(repeat + 1):
        seconds, proc = _timed(args, env)
        if proc.returncode != 0:
            timing.error = _failure(proc)
            return timing
        if run:
            timing.times.append(seconds)
    return timing


def _template(root: Path, version: str) -> Path:
    """LeadLifecycle v1 renamed to TEMPLATE at `version` (the name is replaced per package later)."""
    target = root / "templates" / version
    shutil.copytree(LEAD_V1, target)
    manifest = target / "package.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace("name: LeadLifecycle", f"name: {TEMPLATE}").replace("version: 1.0.0", f"version: {version}"),
        encoding="utf-8",
    )
    return target


def build_registry(root: Path, location: str, key_path: Path, packages: int, versions: int) -> int:
    """A registry of packages x versions published versions, written as `publish` would: one commit per log entry
    (a registry's history must be; `verify` checks it), each version tagged at its commit. Built with one
    `git fast-import` instead of four git processes per commit."""
    from crmctl.model.canonical import CURRENT, bytes_digest
    from crmctl.registry.log import entry_bytes, entry_path, format_time, make_entry
    from crmctl.registry.opening import open_registry
    from crmctl.registry.ops import init_registry
    from crmctl.registry.publish import prepare
    from crmctl.registry.trust import apply_entry
    from crmctl.registry.versions import provenance_bytes
    from crmctl.registry.writing import derived_files
    from crmctl.signing import NAMESPACE_PACKAGE, SigningKey

    key = SigningKey.load(key_path)
    now = _now()
    when = format_time(now)
    init_registry(location, key, IDENTITY, now)
    opened = open_registry(location)
    state, store = opened.state, opened.store
    templates = [prepare(_template(root, f"1.{minor}.0")) for minor in range(versions)]
    stream = _FastImport(int(now.timestamp()), opened.commit)

    def append(kind: str, body: dict[str, object], files: dict[str, bytes], message: str, tag: str | None) -> None:
        entry = make_entry(state.seq + 1, state.head, kind, body, identity=IDENTITY, key=key, now=now)
        refusal = apply_entry(state, entry)
        if refusal is not None:
            raise SystemExit(f"building the registry: {refusal}")
        files = {**files, entry_path(state.seq): entry_bytes(entry)}
        if state.seq == 1 + packages * (versions + 1):
            files.update(derived_files(state))  # the head's derived files (no command reads the ones before)
        stream.commit(files, message, tag)

    for number in range(packages):
        name = f"Bench{number:03d}"
        for prepared in templates:
            canonical = _rename(prepared.canonical, name)
            digest = bytes_digest(canonical, CURRENT)
            path, tag = f"packages/{name}/{prepared.version}", f"{name}/v{prepared.version}"
            provenance = {"signer": {"identity": IDENTITY, "key": key.fingerprint()}, "time": when, "source": None}
            digest_line = (digest + "\n").encode()
            files = {
                f"{path}/canonical.json": canonical,
                f"{path}/digest": digest_line,
                f"{path}/signature.sig": key.sign(digest_line, NAMESPACE_PACKAGE).encode(),
                f"{path}/provenance.json": provenance_bytes(provenance),
                **{f"{path}/artifacts/{rel}": _rename(data, name) for rel, data in prepared.artifacts.items()},
            }
            append(
                "publish",
                {
                    "name": name,
                    "version": prepared.version,
                    "scope": prepared.scope,
                    "digest": digest,
                    "path": path,
                    "tag": tag,
                    "provenance": provenance,
                },
                files,
                f"publish {name} {prepared.version}",
                tag,
            )
        append(
            "promote",
            {"name": name, "version": templates[-1].version, "channel": "prod"},
            {},
            f"promote {name} {templates[-1].version} to prod",
            None,
        )
    store.git("fast-import", "--quiet", "--force", stdin=stream.data())
    result = store.git(
        "push",
        "--quiet",
        "--atomic",
        store.location,
        "refs/heads/bench:refs/heads/main",
        "refs/tags/*:refs/tags/*",
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"pushing the benchmark registry failed: {result.stderr.decode(errors='replace')}")
    store.tidy()
    return state.seq


def _rename(data: bytes, name: str) -> bytes:
    """The template's bytes under another package name (the name occurs nowhere else in the package)."""
    return data.replace(TEMPLATE.encode(), name.encode())


class _FastImport:
    """A `git fast-import` stream: commits on `refs/heads/bench` (from `parent`), annotated tags on them."""

    def __init__(self, stamp: int, parent: str) -> None:
        self.parts: list[bytes] = []
        self.stamp = stamp
        self.parent: str | None = parent
        self.marks = 0

    def _data(self, payload: bytes) -> None:
        self.parts += [f"data {len(payload)}\n".encode(), payload, b"\n"]

    def commit(self, files: dict[str, bytes], message: str, tag: str | None) -> None:
        self.marks += 1
        person = f"{IDENTITY} <{IDENTITY}> {self.stamp} +0000"
        header = f"commit refs/heads/bench\nmark :{self.marks}\nauthor {person}\ncommitter {person}\n"
        self.parts.append(header.encode())
        self._data(message.encode())
        if self.parent is not None:
            self.parts.append(f"from {self.parent}\n".encode())
            self.parent = None
        for path, data in sorted(files.items()):
            self.parts.append(f"M 100644 inline {path}\n".encode())
            self._data(data)
        if tag is not None:
            self.parts.append(f"tag {tag}\nfrom :{self.marks}\ntagger {person}\n".encode())
            self._data(message.encode() + b"\n")

    def data(self) -> bytes:
        return b"".join(self.parts)


def report(timings: list[Timing], repeat: int, shape: str) -> tuple[str, list[str]]:
    lines = [
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}, {_git_version()}; {repeat} timed runs per command after one warm-up.",
        f"Large registry: {shape}.",
        "",
        "| command | runs | min (s) | median (s) | target (s) | status |",
        "|---|---|---|---|---|---|",
    ]
    failures = []
    for t in timings:
        target = TARGETS[t.name]
        if t.error:
            failures.append(f"{t.shown}: {t.error}")
            lines.append(f"| `{t.shown}` | 0 | - | - | {target} | failed: {t.error} |")
            continue
        median = statistics.median(t.times)
        ok = median < target
        if not ok:
            failures.append(f"{t.shown}: median {median:.3f}s misses the {target}s target")
        lines.append(
            f"| `{t.shown}` | {len(t.times)} | {min(t.times):.3f} | {median:.3f} | {target} | "
            f"{'ok' if ok else 'MISSED'} |"
        )
    return "\n".join(lines), failures


def _git_version() -> str:
    return subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per command (after one warm-up)")
    parser.add_argument("--packages", type=int, default=100, help="packages in the large registry")
    parser.add_argument("--versions", type=int, default=10, help="versions per package in the large registry")
    parser.add_argument("--no-check", action="store_true", help="report only; exit 0 even when a target is missed")
    parser.add_argument("--keep", type=Path, help="build everything in this (new) directory and keep it")
    args = parser.parse_args(argv)

    root = args.keep or Path(tempfile.mkdtemp(prefix="crmctl-registry-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CRMCTL_CACHE_DIR": str(root / "cache"),
        "CRMCTL_STATE_DIR": str(root / "state"),
        "GIT_TERMINAL_PROMPT": "0",
    }
    env.pop("CRMCTL_REGISTRY", None)
    os.environ.update({k: env[k] for k in ("CRMCTL_CACHE_DIR", "CRMCTL_STATE_DIR")})
    try:
        from crmctl.signing import generate_key

        key = root / "key"
        generate_key(key, IDENTITY)
        timings = [time_publish(root, key, env, args.repeat)]
        os.environ.update({k: env[k] for k in ("CRMCTL_CACHE_DIR", "CRMCTL_STATE_DIR")})

        large = str(root / "large")
        started = time.perf_counter()
        entries = build_registry(root, large, key, args.packages, args.versions)
        built = time.perf_counter() - started
        shape = (
            f"{args.packages} packages x {args.versions} versions = {args.packages * args.versions:,} versions "
            f"(LeadLifecycle v1 content), {args.packages} promotions, {entries:,} log entries, "
            f"{args.packages * args.versions:,} tags; built through the API in {built:.1f} s"
        )
        timings.append(
            time_command(
                "verify",
                f"crmctl registry verify ({args.packages * args.versions:,} versions)",
                ["registry", "verify", "--registry", large],
                env,
                args.repeat,
            )
        )
        name = f"Bench{min(42, args.packages - 1):03d}"
        timings.append(
            time_command(
                "resolve",
                f"crmctl resolve {name} --channel prod",
                ["resolve", name, "--channel", "prod", "--registry", large],
                env,
                args.repeat,
            )
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    text, failures = report(timings, args.repeat, shape)
    print(text)
    if failures:
        print("\n" + "\n".join(f"- {failure}" for failure in failures))
    return 1 if failures and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
