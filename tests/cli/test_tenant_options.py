"""Every entry of a tenant id refuses a bad one (issue 9 §3): each `--tenant` option of the CLI, before the command
runs, and the runtime and the store, before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from crmctl.cli.main import app, run
from crmctl.errors import UsageError
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Draft, Store, StoredRecord


def _tenant_commands() -> list[list[str]]:
    """Every command path of the CLI that takes `--tenant`."""
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif any("--tenant" in getattr(p, "opts", []) for p in command.params):
            found.append(path)

    walk(typer.main.get_command(app), [])
    return found


TENANT_COMMANDS = _tenant_commands()


def test_the_commands_with_tenants_are_found() -> None:
    assert len(TENANT_COMMANDS) >= 15 and ["records", "import"] in TENANT_COMMANDS and ["diff"] in TENANT_COMMANDS


@pytest.mark.parametrize("command", TENANT_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("tenant", ["", "default\n", "dеfault", "Default"])
def test_every_tenant_option_refuses_a_bad_id_before_anything_runs(
    command: list[str], tenant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "rt.duckdb"
    where = ["--records", str(store)] if command in (["diff"], ["publish"]) else ["--store", str(store)]
    package = [str(tmp_path / "package")] if command == ["publish"] else []  # its one required argument
    assert run([*command, *package, "--tenant", tenant, *where]) == 2
    assert f"crmctl: error: {tenant!r} is not a valid tenant id" in capsys.readouterr().err.replace("\\\\", "\\")
    assert not store.exists()


def test_the_store_and_the_runtime_refuse_a_bad_tenant(tmp_path: Path) -> None:
    stamp = "2026-11-26T10:00:00Z"
    with Store.open(tmp_path / "rt.duckdb") as store:
        with pytest.raises(UsageError, match="not a valid tenant id"):
            Runtime(store, "default\n")
        with pytest.raises(UsageError, match="not a valid tenant id"):
            store.append_events("Acme", [{"session": "s", "at": stamp}])
        with pytest.raises(UsageError, match="not a valid tenant id"):
            store.put_records([StoredRecord("", "Lead", "a", "P", "1.0.0", "sha256:0", {}, 1, stamp, stamp)])
        with pytest.raises(UsageError, match="not a valid tenant id"):
            store.save_draft(Draft("dеfault", "d", "Lead", "P", "1.0.0", "sha256:0", {}, {}, None, stamp))
        with pytest.raises(UsageError, match="not a valid tenant id"):
            store.put_instances(" ", [{"id": "w"}])
        assert store.tenants() == []
