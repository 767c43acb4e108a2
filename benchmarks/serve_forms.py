"""Time the form preview's round trip: `crmctl serve` as a process, driven over HTTP by one keep-alive client as the
browser renderer drives it (docs/benchmarks.md, "Form preview").

    python benchmarks/serve_forms.py [--events 1000] [--no-check]

A session of LeadLifecycle v1 is opened, then EVENTS `change` events are sent one after the other, as typing
sends them: the annual revenue digit by digit (a calculated score and, past 100 billion, a soft warning), the
company size (the industry options), the first name (nothing but the draft). Each is timed from the request to
the parsed answer: the engine's step, the draft and the log entry written in one store transaction, the HTTP
round trip. Target: p95 < 20 ms (exit 1 when missed, unless --no-check). Also reported: the server process's CPU
time per event (user + system), which a busy machine does not inflate as it does wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "packages" / "LeadLifecycle" / "v1"
TARGET_P95 = 0.020


def _typing(count: int) -> Iterator[dict[str, Any]]:
    """`count` change events as a person types into three fields in turn."""
    revenue = "250000000000"
    for i in range(count):
        turn = i % 3
        if turn == 0:
            digits = revenue[: 1 + (i // 3) % len(revenue)]
            yield {"type": "change", "field": "annualRevenue", "value": float(digits)}
        elif turn == 1:
            yield {"type": "change", "field": "companySize", "value": 1 + (i * 7) % 400}
        else:
            yield {"type": "change", "field": "firstName", "value": "Ada"[: 1 + i % 3]}


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process `pid` used so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _envelope(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON envelope `crmctl serve -f json` prints once listening (indented or not)."""
    assert proc.stdout is not None
    text = ""
    while line := proc.stdout.readline():
        text += line
        try:
            return dict(json.loads(text))
        except json.JSONDecodeError:
            continue
    raise RuntimeError(f"crmctl serve printed no envelope: {text!r}")


def run(events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "crmctl", "serve", str(PACKAGE), "--store", f"{scratch}/sandbox.duckdb"]
        proc = subprocess.Popen(
            [*command, "--port", "0", "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            url = _envelope(proc)["result"]["url"]
            # No Nagle delay on the client's writes, as browsers do: httpx writes the headers and the body apart,
            # and the second write would wait for the server's delayed ACK (about 40 ms on Linux).
            nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            with httpx.Client(base_url=url, timeout=10, transport=nodelay) as client:
                opened = client.post("/_sandbox/forms", json={"package": "LeadLifecycle"})
                opened.raise_for_status()
                session = opened.json()["session"]
                client.post(f"/_sandbox/forms/{session}/events", json={"type": "next"}).raise_for_status()
                client.post(
                    f"/_sandbox/forms/{session}/events", json={"type": "change", "field": "company", "value": "ACME"}
                ).raise_for_status()
                samples = []
                cpu = _cpu_seconds(proc.pid)
                for event in _typing(events):
                    start = time.perf_counter()
                    answer = client.post(f"/_sandbox/forms/{session}/events", json=event)
                    answer.json()
                    samples.append(time.perf_counter() - start)
                    answer.raise_for_status()
                cpu = _cpu_seconds(proc.pid) - cpu
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
    return {
        "events": events,
        "p50_ms": round(_percentile(samples, 0.50) * 1000, 2),
        "p95_ms": round(_percentile(samples, 0.95) * 1000, 2),
        "p99_ms": round(_percentile(samples, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "server_cpu_ms_per_event": round(cpu / events * 1000, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--no-check", action="store_true", help="report without failing on a missed target")
    args = parser.parse_args()
    result = run(args.events)
    print(json.dumps(result))
    missed = result["p95_ms"] >= TARGET_P95 * 1000
    if missed:
        print(f"form event round trip p95 {result['p95_ms']} ms >= {TARGET_P95 * 1000:.0f} ms", file=sys.stderr)
    return 1 if missed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
