"""Record create throughput of the sandbox's records API over HTTP (docs/benchmarks.md#records-api).

    python benchmarks/serve_records.py [--records 2000] [--clients 4] [--seed 7]

Starts `crmctl serve packages/LeadLifecycle/v1` as its own process (uvicorn, a fresh DuckDB store in a temporary
directory, `--port 0`), then POSTs LeadLifecycle v1 leads (the import benchmark's generator: every lead valid,
about a tenth with a soft warning) to `/api/LeadLifecycle/records/Lead`: RECORDS one after another from one
keep-alive client, then RECORDS split over CLIENTS concurrent clients (threads, one connection each). Each create
is validated by the record engine, written with its log entry in one transaction, and answered with the record.
Figures are records per second of wall time and the p50/p95 latency of a create; no target fails the run (the
issue asks for the figure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
from import_bench import leads

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "packages" / "LeadLifecycle" / "v1"
PATH = "/api/LeadLifecycle/records/Lead"


def _serve(store: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "crmctl", "serve", str(PACKAGE), "--store", str(store), "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--no-reload", "--format", "json"],
        cwd=store.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    text = ""
    while True:  # the envelope, printed once listening (indented when stdout is no terminal: read to its end)
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"crmctl serve stopped: {proc.wait()}")
        text += line
        try:
            envelope = json.loads(text)
        except json.JSONDecodeError:
            continue
        return proc, str(envelope["result"]["url"]).rstrip("/")


def _create(client: httpx.Client, batch: list[dict[str, Any]], latencies: list[float]) -> None:
    for lead in batch:
        started = time.perf_counter()
        response = client.post(PATH, json=lead)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise SystemExit(f"create failed: {response.status_code} {response.text}")


def _run(url: str, rows: list[dict[str, Any]], clients: int) -> tuple[float, list[float]]:
    shares = [rows[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in shares]
    sessions = [httpx.Client(base_url=url, timeout=30) for _ in shares]
    threads = [
        threading.Thread(target=_create, args=(session, share, spent))
        for session, share, spent in zip(sessions, shares, latencies, strict=True)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for session in sessions:
        session.close()
    return elapsed, [t for spent in latencies for t in spent]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows = leads(args.records, args.seed)
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print("| clients | records | seconds | records/s | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _serve(Path(tmp) / "sandbox.duckdb")
        try:
            _run(url, leads(50, args.seed + 1), 1)  # warm up: engine compiled, connections open
            for clients in (1, args.clients):
                elapsed, spent = _run(url, rows, clients)
                p50, p95 = statistics.median(spent), statistics.quantiles(spent, n=20)[18]
                print(
                    f"| {clients} | {len(rows):,} | {elapsed:.2f} | {len(rows) / elapsed:,.0f} "
                    f"| {p50 * 1000:.1f} | {p95 * 1000:.1f} |"
                )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
