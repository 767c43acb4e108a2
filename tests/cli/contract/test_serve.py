"""`crmctl serve` as a command: its one envelope (printed once listening), how it stops (Ctrl-C, SIGTERM: exit 0,
store closed) and how it refuses to start (port in use, store held, two versions of a package: exit 2)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from crmctl.cli import contract
from crmctl.cli.main import run
from crmctl.runtime.store import Store
from tests.cli.contract.schema_rules import naming_violations
from tests.conftest import MINIMAL, write_package
from tests.web.server import LEAD_V1, LEAD_V2, Process, serve_process

COVERED = {"serve"}


def _stopped(process: Process, sig: signal.Signals) -> tuple[int, str, str]:
    process.proc.send_signal(sig)
    code = process.proc.wait(15)
    assert process.proc.stdout is not None and process.proc.stderr is not None
    return code, process.proc.stdout.read(), process.proc.stderr.read()


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert run(["serve", *argv, "--format", "json"]) == 2
    captured = capsys.readouterr()
    document: dict[str, Any] = json.loads(captured.out)  # exactly one document
    assert contract.validation_errors(document) == [] and document["status"] == "error"
    assert "Traceback" not in captured.err
    return document


def test_the_schema_follows_the_naming_convention() -> None:
    assert list(naming_violations(contract.command_schema("serve"))) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_one_envelope_once_listening_and_a_clean_stop(tmp_path: Path, sig: signal.Signals) -> None:
    store = tmp_path / "sandbox.duckdb"
    with serve_process([str(LEAD_V1), "--store", str(store)], tmp_path) as process:
        document = process.envelope
        assert contract.validation_errors(document) == []
        assert (document["command"], document["status"], document["exitCode"]) == ("serve", "ok", 0)
        result = document["result"]
        assert result["url"] == f"http://127.0.0.1:{result['port']}/" == result["openUrl"]
        assert (result["tokenRequired"], result["token"], result["store"]) == (False, None, str(store))
        assert [(p["name"], p["version"], p["errors"]) for p in result["packages"]] == [("LeadLifecycle", "1.0.0", 0)]
        with process.running.client() as client:
            assert client.get("/_sandbox/packages").status_code == 200
        code, rest, err = _stopped(process, sig)
    # Ctrl-C is how a server is stopped, not a failure: 0, nothing more on stdout, no traceback
    assert (code, rest) == (0, "")
    assert "Traceback" not in err and "interrupted" not in err
    with Store.open(store) as reopened:  # closed: another process can open it at once
        assert reopened.path == store


def test_a_failure_after_the_envelope_is_said_on_stderr_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from crmctl.cli.commands import serve

    class Broken:
        def handle_exit(self, sig: int, frame: Any) -> None:
            raise AssertionError("no signal expected")

        def run(self, sockets: Any) -> None:
            raise RuntimeError("the event loop broke")

    monkeypatch.setattr(serve, "_server", lambda app: Broken())
    assert run(["serve", str(LEAD_V1), "--store", str(tmp_path / "s.duckdb"), "--port", "0", "-f", "json"]) == 3
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # one document: the listening one, not an error after it
    assert document["status"] == "ok"
    assert "internal error" in captured.err and "the event loop broke" in captured.err


def test_a_port_in_use_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        document = _error(capsys, [str(LEAD_V1), "--store", str(tmp_path / "s.duckdb"), "--port", str(port)])
    [problem] = document["problems"]
    assert "port is in use" in problem["message"] and "--port 0" in problem["hint"]
    assert not (tmp_path / "s.duckdb").exists()  # refused before the store was touched


def test_a_store_held_by_another_process_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    Store.open(store).close()
    hold = f"import duckdb, sys; c = duckdb.connect({str(store)!r}); print('held'); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        document = _error(capsys, [str(LEAD_V1), "--store", str(store), "--port", "0"])
    finally:
        holder.communicate("")
    message = document["problems"][0]["message"]
    assert str(store) in message and "Traceback" not in message


def test_two_versions_of_one_package_are_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = _error(capsys, [str(LEAD_V1), str(LEAD_V2), "--store", str(tmp_path / "s.duckdb"), "--port", "0"])
    [problem] = document["problems"]
    assert problem["code"] == "usage-error" and "LeadLifecycle" in problem["message"]
    with Store.open(tmp_path / "s.duckdb"):  # the store was closed on the way out
        pass


def test_a_missing_package_is_an_input_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = _error(capsys, [str(tmp_path / "nowhere"), "--port", "0"])
    assert "no package here" in document["problems"][0]["message"]


def test_a_package_that_does_not_load_is_served_with_its_findings(tmp_path: Path) -> None:
    broken = write_package(tmp_path / "Broken", {**MINIMAL, "schema.yaml": "entities: {Lead: {fields: 3}}\n"})
    with serve_process([str(broken), "--store", str(tmp_path / "s.duckdb")], tmp_path) as process:
        [warning] = process.envelope["problems"]
        assert (warning["code"], warning["severity"]) == ("package-does-not-lint", "warning")
        [served] = process.envelope["result"]["packages"]
        assert served["version"] is None and served["errors"] > 0
        with process.running.client() as client:
            listed = client.get("/_sandbox/packages").json()["packages"]
        assert listed[0]["errors"] == served["errors"]


def test_a_wildcard_host_generates_a_token_and_accepts_any_host_name(tmp_path: Path) -> None:
    with serve_process([str(LEAD_V1), "--store", str(tmp_path / "s.duckdb"), "--host", "0.0.0.0"], tmp_path) as p:
        result = p.envelope["result"]
        token = result["token"]
        assert result["tokenRequired"] and len(token) >= 32
        assert result["openUrl"] == f"{result['url']}?token={token}"
        local = f"http://127.0.0.1:{result['port']}/"
        with httpx.Client(base_url=local, timeout=10) as client:
            assert client.get("/_sandbox/packages").status_code == 401
            bearer = {"authorization": f"Bearer {token}"}
            for name in ("my-laptop.local", "192.168.1.20", f"127.0.0.1:{result['port']}"):
                assert client.get("/_sandbox/packages", headers={**bearer, "host": name}).status_code == 200


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_given_token_is_required_even_on_loopback(tmp_path: Path, how: str) -> None:
    args = [str(LEAD_V1), "--store", str(tmp_path / "s.duckdb")]
    env = {"CRMCTL_SERVE_TOKEN": "s3cret-from-env"} if how == "environment" else {}
    if how == "option":
        args += ["--token", "s3cret-from-option"]
    with serve_process(args, tmp_path, env=env) as process:
        result = process.envelope["result"]
        assert result["token"] == f"s3cret-from-{how.removesuffix('ironment')}"
        with httpx.Client(base_url=result["url"], timeout=10) as client:
            assert client.get("/_sandbox/packages").status_code == 401
        with process.running.client() as client:
            assert client.get("/_sandbox/packages").status_code == 200


def test_text_mode_says_where_it_listens_on_stderr(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "crmctl", "serve", str(LEAD_V1), "--store", str(tmp_path / "s.duckdb")]
    proc = subprocess.Popen([*command, "--port", "0", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert line.startswith("crmctl sandbox: http://127.0.0.1:")  # even under --quiet
    assert (proc.returncode, out) == (0, "")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--version"], ["lint", str(LEAD_V1)]])
def test_other_commands_do_not_import_the_web_plane(argv: list[str]) -> None:
    code = (
        f"import sys; from crmctl.cli.main import run; run({argv!r});"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'starlette', 'uvicorn', 'httpx2', 'crmctl.web'}"
        " or m.startswith('crmctl.web')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
