"""One store for every runtime command, found like the configuration: --store > CRMCTL_STORE > `store` in
[tool.crmctl] > .crm/runtime.duckdb at the project root (config file's directory, else git root, else cwd)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.cli.inputs import resolve_store
from crmctl.cli.main import run
from crmctl.errors import InputError, UsageError
from tests.conftest import REPO

V1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
SCRIPT = "now: 2026-11-26T09:00:00Z\nevents:\n  - change: {field: firstName, value: Ada}\n  - quit: {}\n"


def _project(tmp_path: Path, marker: str, text: str = "") -> tuple[Path, Path]:
    root = tmp_path / "project"
    sub = root / "deep" / "er"
    sub.mkdir(parents=True)
    if marker == ".git":
        (root / ".git").mkdir()
    else:
        (root / marker).write_text(text, encoding="utf-8")
    return root, sub


@pytest.mark.parametrize(
    ("marker", "text"),
    [
        ("crmctl.toml", ""),
        ("pyproject.toml", "[tool.crmctl]\n"),
        (".git", ""),
    ],
)
def test_simulate_in_a_subdirectory_uses_the_project_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str, text: str
) -> None:
    root, sub = _project(tmp_path, marker, text)
    script = tmp_path / "s.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    monkeypatch.chdir(sub)
    assert run(["simulate", V1, "--script", str(script), "--session", "s1"]) == 0
    assert (root / ".crm" / "runtime.duckdb").is_file()
    assert not (sub / ".crm").exists()  # the bug: a second store beside the current directory
    monkeypatch.chdir(root)
    assert run(["draft", "show", "s1"]) == 0  # the same store from the root


def test_a_pyproject_without_the_table_is_no_project_marker(tmp_path: Path) -> None:
    _root, sub = _project(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    assert resolve_store(None, sub) == sub / ".crm" / "runtime.duckdb"


def test_without_any_marker_the_current_directory(tmp_path: Path) -> None:
    assert resolve_store(None, tmp_path) == tmp_path / ".crm" / "runtime.duckdb"


def test_configured_store_is_relative_to_the_config_file(tmp_path: Path) -> None:
    root, sub = _project(tmp_path, "crmctl.toml", 'store = "data/crm.duckdb"\n')
    assert resolve_store(None, sub) == root / "data" / "crm.duckdb"


def test_configured_absolute_store(tmp_path: Path) -> None:
    target = tmp_path / "abs.duckdb"
    _root, sub = _project(tmp_path, "pyproject.toml", f'[tool.crmctl]\nstore = "{target}"\n')
    assert resolve_store(None, sub) == target


def test_precedence_flag_then_env_then_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, sub = _project(tmp_path, "crmctl.toml", 'store = "from-config.duckdb"\n')
    assert resolve_store(None, sub) == root / "from-config.duckdb"
    monkeypatch.setenv("CRMCTL_STORE", str(tmp_path / "from-env.duckdb"))
    assert resolve_store(None, sub) == tmp_path / "from-env.duckdb"
    assert resolve_store(Path("flag.duckdb"), sub) == Path("flag.duckdb")
    monkeypatch.setenv("CRMCTL_STORE", "")  # empty: as if unset
    assert resolve_store(None, sub) == root / "from-config.duckdb"


@pytest.mark.parametrize("value", ['""', "3", '"  "'])
def test_a_bad_configured_store_is_an_input_error(tmp_path: Path, value: str) -> None:
    _root, sub = _project(tmp_path, "crmctl.toml", f"store = {value}\n")
    with pytest.raises(InputError, match="store: expected a non-empty string"):
        resolve_store(None, sub)


def test_env_store_is_used_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "env.duckdb"
    monkeypatch.setenv("CRMCTL_STORE", str(store))
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "s.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    assert run(["simulate", V1, "--script", str(script), "--session", "s1"]) == 0
    assert store.is_file() and not (tmp_path / ".crm").exists()
    capsys.readouterr()
    for argv in (["draft", "list"], ["store", "info"], ["log", "verify"], ["records", "list"], ["events", "list"]):
        assert run(argv) == 0, argv
    assert "s1" in capsys.readouterr().out


def test_a_missing_store_names_the_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, sub = _project(tmp_path, "crmctl.toml", "")
    monkeypatch.chdir(sub)
    assert run(["draft", "list"]) == 2
    assert f"{root / '.crm' / 'runtime.duckdb'}: no runtime store here" in capsys.readouterr().err


def test_lint_accepts_the_store_key(tmp_path: Path) -> None:
    from crmctl.lint.config import load_config

    (tmp_path / "crmctl.toml").write_text('store = "x.duckdb"\n', encoding="utf-8")
    load_config(None, tmp_path)  # no "unknown key"


OPENERS = (
    ["draft", "list"],
    ["store", "info"],
    ["store", "migrate"],
    ["log", "verify"],
    ["records", "list"],
    ["events", "list"],
    ["replay"],
)


@pytest.mark.parametrize("argv", OPENERS, ids=" ".join)
def test_verbose_names_the_store_every_command_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """--verbose says which store was used (`store migrate` opened it by itself and said nothing)."""
    store = tmp_path / "env.duckdb"
    monkeypatch.setenv("CRMCTL_STORE", str(store))
    script = tmp_path / "s.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    assert run(["simulate", V1, "--script", str(script), "--session", "s1"]) == 0
    capsys.readouterr()
    assert run([*argv, "-v"]) == 0
    assert f"crmctl: store: {store}\n" in capsys.readouterr().err


@pytest.mark.parametrize("blank", [" ", "\t", "  \n"])
def test_a_blank_env_store_is_refused_not_a_file_named_blank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], blank: str
) -> None:
    monkeypatch.setenv("CRMCTL_STORE", blank)
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "s.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    assert run(["simulate", V1, "--script", str(script)]) == 2
    assert "CRMCTL_STORE is blank" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


@pytest.mark.parametrize("where", ["flag", "env", "config-slash", "config-dir"])
def test_a_store_that_names_a_directory_is_refused_not_created_as_a_file(
    tmp_path: Path, where: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`store = "data/"` made a file named `data`; `--store DIR` said only that regular files are read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    args = ["store", "migrate"]  # a command that writes
    if where == "flag":
        args += ["--store", str(tmp_path / "existing")]
    elif where == "env":
        monkeypatch.setenv("CRMCTL_STORE", "fresh/")
    else:
        value = "fresh/" if where == "config-slash" else "existing"
        (tmp_path / "crmctl.toml").write_text(f'[tool.crmctl]\nstore = "{value}"\n', encoding="utf-8")
    assert run(args) == 2
    assert "is a directory, not a store file" in capsys.readouterr().err
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["existing", *(["crmctl.toml"] if where.startswith("config") else [])]
    )


def test_a_url_scheme_in_capitals_is_one_libpq_understands() -> None:
    """libpq reads only `postgresql://` and `postgres://` in lower case: `POSTGRESQL://...` failed at connect with
    'missing "=" after ... in connection info string' (review of issue 14)."""
    from crmctl.cli.inputs import resolve_store
    from crmctl.runtime.storage.locator import StoreURL

    for spelled, url in [
        ("POSTGRESQL://u@h/db", "postgresql://u@h/db"),
        ("Postgres://u@h/DB?sslmode=Require", "postgres://u@h/DB?sslmode=Require"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ]:
        assert resolve_store(spelled) == StoreURL(url)


def test_a_blank_store_flag_is_refused_not_a_file_named_blank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["store", "info", "--store", "  "]) == 2
    assert "blank" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spelled", ["postgresql:u@h/db", "postgres:/h/db", "PostgreSQL:db"])
def test_a_url_without_its_slashes_is_refused_not_a_file(spelled: str) -> None:
    """`postgresql:db` would have become a DuckDB file named so in the current directory (review of issue 14)."""
    with pytest.raises(UsageError, match="postgresql://"):
        resolve_store(spelled)
