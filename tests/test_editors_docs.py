"""docs/editors.md: every config snippet parses, the commands it names exist, the schema mappings are complete.

Commands are checked against one list kept here, COMMANDS. `crmctl lsp` is added by another branch of issue 11
(i11-lsp): while the command line does not have it yet, its check skips and says so; once merged it is asserted
like the others. Any `crmctl <command>` the page names must be in COMMANDS, so a new mention cannot go unchecked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer

from crmctl.cli.main import app
from crmctl.model.jsonschemas import ARTIFACT_MODELS, DOCUMENT_MODELS, schema_file_name
from crmctl.model.source import parse_text

DOC = Path(__file__).resolve().parents[1] / "docs" / "editors.md"
TEXT = DOC.read_text("utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)

# Every crmctl command the page names; the value says which branch adds it when it is not on main yet.
COMMANDS: dict[str, str | None] = {
    "lsp": "i11-lsp",
    "schema export": None,
    "new": None,
    "new package": None,
    "lint": None,
    "simulate": None,
    "workflow simulate": None,
    "workflow coverage": None,
}


def snippets(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(TEXT) if lang == language]


def _lookup(words: list[str]) -> Any:
    """The click command at `words` in crmctl's command line (typer's groups have `.commands`), or None."""
    command: Any = typer.main.get_command(app)
    for word in words:
        if not hasattr(command, "commands"):
            return None
        command = command.commands.get(word)
    return command


def test_the_page_has_snippets_in_each_language() -> None:
    counts = {lang: len(snippets(lang)) for lang in ("toml", "json", "lua", "yaml", "sh")}
    assert all(counts.values()), counts


@pytest.mark.parametrize("body", snippets("toml"))
def test_toml_snippets_parse(body: str) -> None:
    tomllib.loads(body)


@pytest.mark.parametrize("body", snippets("json"))
def test_json_snippets_parse(body: str) -> None:
    json.loads(body)


@pytest.mark.parametrize("body", snippets("yaml"))
def test_yaml_snippets_load(body: str) -> None:
    parse_text(body, "snippet.yaml")


@pytest.mark.parametrize("body", snippets("lua"))
def test_lua_snippets_compile(body: str, tmp_path: Path) -> None:
    luac = next((found for name in ("luac", "luac5.4", "luac5.3", "luac5.1") if (found := shutil.which(name))), None)
    if luac is None:
        pytest.skip("no Lua compiler (luac) on PATH to syntax-check the Lua snippets; `apt-get install lua5.4` has one")
    source = tmp_path / "snippet.lua"
    source.write_text(body, encoding="utf-8")
    result = subprocess.run([luac, "-p", str(source)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_luac_rejects_broken_lua(tmp_path: Path) -> None:
    """The Lua check can fail: luac -p refuses a snippet with a missing `end`."""
    luac = shutil.which("luac") or shutil.which("luac5.4")
    if luac is None:
        pytest.skip("no Lua compiler (luac) on PATH")
    source = tmp_path / "broken.lua"
    source.write_text(snippets("lua")[0].replace("end,", ",", 1), encoding="utf-8")
    assert subprocess.run([luac, "-p", str(source)], capture_output=True, check=False).returncode != 0


def _named_commands() -> set[str]:
    """`crmctl X Y` in inline code, shell lines and JSON tasks; `'crmctl', 'lsp'` in Lua; `command` + `args` in TOML."""
    words = re.findall(r"""(?:`|^|"command": ")crmctl ([a-z][a-z-]*(?: [a-z][a-z-]*)?)""", TEXT, re.MULTILINE)
    words += re.findall(r"""['"]crmctl['"],\s*['"]([a-z-]+)['"]""", TEXT)
    for body in snippets("toml"):
        for server in tomllib.loads(body).get("language-server", {}).values():
            if server.get("command") == "crmctl":
                words.append(" ".join(server.get("args", [])))
    named = set()
    for phrase in words:
        parts = phrase.split()
        command = parts[:2] if hasattr(_lookup(parts[:1]), "commands") else parts[:1]
        named.add(" ".join(command))
    return named


def test_every_command_the_page_names_is_listed() -> None:
    named = _named_commands()
    assert named - set(COMMANDS) == set()
    assert {"lsp", "schema export"} <= named


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_listed_commands_exist(command: str) -> None:
    found = _lookup(command.split())
    if found is None and COMMANDS[command] is not None:
        pytest.skip(f"`crmctl {command}` is added by branch {COMMANDS[command]}, not merged here yet")
    assert found is not None, f"docs/editors.md names `crmctl {command}`, which the command line does not have"


def test_lsp_accepts_stdio_when_present() -> None:
    """Editors pass `--stdio` (vscode-languageclient does); the page promises it is accepted."""
    lsp = _lookup(["lsp"])
    if lsp is None:
        pytest.skip("`crmctl lsp` is added by branch i11-lsp, not merged here yet")
    assert any("--stdio" in getattr(param, "opts", ()) for param in lsp.params)


def test_schema_mappings_cover_exactly_the_shipped_artifact_schemas() -> None:
    shipped = {schema_file_name(kind) for kind in (*ARTIFACT_MODELS, *DOCUMENT_MODELS)}
    mappings = [json.loads(body) for body in snippets("json")]
    yaml_maps = [m["yaml.schemas"] for m in mappings if "yaml.schemas" in m]
    yaml_maps += [m["lsp"]["yaml-language-server"]["settings"]["yaml"]["schemas"] for m in mappings if "lsp" in m]
    yaml_maps += [
        tomllib.loads(body)["language-server"]["yaml-language-server"]["config"]["yaml"]["schemas"]
        for body in snippets("toml")
        if "yaml-language-server.config" in body
    ]
    yaml_maps += [dict(re.findall(r"\['([^']+)'\] = '([^']+)'", body)) for body in snippets("lua") if "yamlls" in body]
    assert len(yaml_maps) == 4  # VS Code, Zed, Helix, Neovim
    for mapping in yaml_maps:
        assert {Path(schema).name for schema in mapping} == shipped
        for schema, pattern in mapping.items():
            kind = Path(schema).name.removesuffix(".schema.json")
            assert kind in pattern or {"script": "scripts/", "scenario": "scenarios/"}[kind] in pattern, schema


def test_modeline_example_matches_what_scaffold_writes() -> None:
    from crmctl.scaffold._documents import schema_header

    assert schema_header("schema") in TEXT
    assert schema_header("localization/en").split("=", 1)[1].strip() in TEXT
