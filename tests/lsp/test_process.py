"""The server as a process: how it ends (exit codes, stdin closed) and what reaches its stdout (protocol frames only,
whatever else the process or its children write)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "processId": None}}
SHUTDOWN = {"jsonrpc": "2.0", "id": 2, "method": "shutdown"}
EXIT = {"jsonrpc": "2.0", "method": "exit"}


def frame(message: object) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def frames(out: bytes) -> list[dict[str, object]]:
    """The messages of a protocol stream; fails on anything that is not a frame."""
    messages = []
    while out:
        head, sep, rest = out.partition(b"\r\n\r\n")
        assert sep, f"not a frame: {out[:80]!r}"
        lengths = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
        assert len(lengths) == 1, f"not a frame header: {head[:80]!r}"
        size = int(lengths[0].split(b":")[1])
        messages.append(json.loads(rest[:size]))
        out = rest[size:]
    return messages


def run(messages: list[object], code: str = "from crmctl.cli.main import app; app()") -> tuple[int, bytes, bytes]:
    argv = [sys.executable, "-c", code, "lsp", "--stdio"]
    done = subprocess.run(argv, input=b"".join(frame(m) for m in messages), capture_output=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        ([INIT, SHUTDOWN, EXIT], 0),  # the orderly end
        ([INIT, EXIT], 1),  # exit without shutdown: the protocol asks for 1
        ([INIT, SHUTDOWN], 0),  # stdin closed after shutdown
        ([INIT], 1),  # stdin closed by a client that died: no hang, an abnormal end
    ],
)
def test_exit_codes_follow_the_protocol(messages: list[object], code: int) -> None:
    returncode, out, _ = run(messages)
    assert returncode == code
    assert [m.get("id") for m in frames(out)] == [m.get("id") for m in messages if "id" in m]


def test_nothing_but_frames_reaches_stdout() -> None:
    """A child process or C code writing to file descriptor 1 (not through sys.stdout) while the server runs."""
    code = (
        "import os, sys\n"
        "from crmctl.lsp import server\n"
        "build = server.build_server\n"
        "def noisy():\n"
        "    os.system('echo child-noise')\n"
        "    os.write(1, b'fd-noise\\n')\n"
        "    print('print-noise')\n"
        "    return build()\n"
        "server.build_server = noisy\n"
        "sys.exit(server.serve())\n"
    )
    returncode, out, err = run([INIT, SHUTDOWN, EXIT], code)
    assert returncode == 0
    assert [m.get("id") for m in frames(out)] == [1, 2]
    for noise in (b"child-noise", b"fd-noise", b"print-noise"):
        assert noise in err
