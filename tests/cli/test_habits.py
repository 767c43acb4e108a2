"""The habits every command shares (`crmctl.cli.habits`): --quiet/--verbose, --color with NO_COLOR and FORCE_COLOR,
and shell completion (scripts for bash, zsh and fish; dynamic candidates; never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli import console, habits
from crmctl.cli.main import click_app, run
from tests.conftest import MINIMAL, REPO, write_package

Capture = pytest.CaptureFixture[str]
LEAD_V1 = REPO / "packages" / "LeadLifecycle" / "v1"
LEAD_V2 = REPO / "packages" / "LeadLifecycle" / "v2"
ANSI = "\x1b["
BAD_SCHEMA = "entities:\n  Lead:\n    fields:\n      firstName: {type: text, required: true}\n      x: {type: nope}\n"


def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    commands = getattr(command, "commands", None)
    if commands is None:
        return [(path, command)]
    return [leaf for name, sub in commands.items() for leaf in _leaves(sub, (*path, name))]


@pytest.fixture(autouse=True)
def _fresh_settings() -> Any:
    console.reset()
    yield
    console.reset()


# --- every command ---------------------------------------------------------------------------------------------


def test_every_command_takes_quiet_verbose_and_color() -> None:
    leaves = _leaves(click_app())
    assert len(leaves) > 40
    for path, command in leaves:
        spellings = {opt for param in command.params for opt in getattr(param, "opts", ())}
        assert {"-q", "--quiet", "-v", "--verbose", "--color"} <= spellings, " ".join(path)


@pytest.mark.parametrize("args", [["rules"], ["registry", "list"], ["store", "info"], ["completion", "bash"]])
def test_quiet_and_verbose_together_are_a_usage_error(args: list[str], capsys: Capture) -> None:
    assert run([*args, "-q", "-v"]) == 2
    assert "--quiet and --verbose cannot be used together" in capsys.readouterr().err


def test_a_bad_color_choice_is_a_usage_error(capsys: Capture) -> None:
    assert run(["rules", "--color", "sometimes"]) == 2
    err = capsys.readouterr().err
    assert "'sometimes' is not one of 'auto', 'always', 'never'" in err
    assert "Value error" not in err  # typer's validation library speaking, not ours


def test_a_bad_choice_says_it_plainly_in_text_and_in_json(capsys: Capture) -> None:
    assert run(["rules", "--format", "xml"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--format' / '-f': 'xml' is not one of" in err
    assert "Value error" not in err
    assert run(["rules", "--color", "bogus", "-f", "json"]) == 2
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert problem["message"].startswith("Invalid value for '--color': 'bogus' is not one of")


def test_settings_do_not_leak_from_one_command_line_to_the_next(tmp_path: Path, capsys: Capture) -> None:
    package = write_package(tmp_path / "pkg", {**MINIMAL, "schema.yaml": MINIMAL["schema.yaml"].replace("  ", "    ")})
    assert run(["fmt", str(package), "-q", "--color", "always"]) == 0
    assert console.quiet() and console.color_choice() == "always"
    assert run(["fmt", str(package)]) == 0
    assert not console.quiet() and console.color_choice() == "auto"
    assert "already formatted" in capsys.readouterr().err


# --- quiet and verbose -----------------------------------------------------------------------------------------


def test_quiet_drops_the_notes_and_keeps_the_results(tmp_path: Path, capsys: Capture) -> None:
    package = write_package(tmp_path / "pkg", {**MINIMAL, "schema.yaml": "entities:\n    Lead:\n      fields: {}\n"})
    assert run(["fmt", "--check", str(package)]) == 1
    captured = capsys.readouterr()
    assert "would reformat" in captured.out and "1 file(s) would be reformatted" in captured.err
    assert run(["fmt", "--check", "-q", str(package)]) == 1
    captured = capsys.readouterr()
    assert "would reformat" in captured.out and captured.err == ""


def test_quiet_drops_the_baseline_note(tmp_path: Path, capsys: Capture) -> None:
    package = write_package(tmp_path / "pkg", MINIMAL)
    baseline = tmp_path / "baseline.json"
    assert run(["lint", str(package), "--write-baseline", str(baseline), "--quiet"]) == 0
    assert baseline.is_file() and "wrote" not in capsys.readouterr().err
    assert run(["lint", str(package), "--write-baseline", str(baseline)]) == 0
    assert "wrote" in capsys.readouterr().err


def test_quiet_keeps_errors_and_the_json_envelope(tmp_path: Path, capsys: Capture) -> None:
    assert run(["package", "digest", str(tmp_path / "missing"), "-q", "-f", "json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "error" and "crmctl: error" in captured.err
    assert run(["package", "digest", str(LEAD_V1), "-q", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["name"] == "LeadLifecycle"


def test_verbose_says_what_was_used_and_how_long_it_took(tmp_path: Path, capsys: Capture) -> None:
    config = tmp_path / "crmctl.toml"
    config.write_text("[tool.crmctl]\n", encoding="utf-8")
    assert run(["lint", str(LEAD_V1), "--config", str(config), "-v"]) == 0
    err = capsys.readouterr().err
    assert f"crmctl: configuration: {config}" in err
    assert "crmctl: lint took " in err
    from crmctl.runtime.store import Store

    store = tmp_path / "rt.duckdb"
    Store.open(store).close()
    assert run(["draft", "list", "--store", str(store), "--verbose"]) == 0
    assert f"crmctl: store: {store}" in capsys.readouterr().err
    assert run(["draft", "list", "--store", str(store)]) == 0
    assert "crmctl: " not in capsys.readouterr().err


def test_verbose_without_a_configuration_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["rules", "-v"]) == 0
    assert "crmctl: configuration: none found (defaults)" in capsys.readouterr().err


def test_verbose_names_the_registry(tmp_path: Path, capsys: Capture) -> None:
    location = tmp_path / "nowhere"
    assert run(["registry", "list", "--registry", str(location), "-v"]) == 2
    assert f"crmctl: registry: {location}" in capsys.readouterr().err


def test_progress_is_hidden_under_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[bool] = []
    monkeypatch.setattr(console, "SHOW_PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)

    class Bars:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            shown.append(True)

        def start(self) -> None: ...
        def stop(self) -> None: ...
        def add_task(self, *args: Any, **kwargs: Any) -> int:
            return 0

        def update(self, *args: Any, **kwargs: Any) -> None: ...

    import rich.progress

    monkeypatch.setattr(rich.progress, "Progress", Bars)
    console.configure(quiet=True)
    with console.progress("x") as update:
        update(1, 2)
    assert shown == []
    console.configure(quiet=False)
    with console.progress("x") as update:
        update(1, 2)
    assert shown == [True]


# --- colour ----------------------------------------------------------------------------------------------------


class _Tty:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


# (--color, NO_COLOR, FORCE_COLOR, TERM, stdout is a terminal) -> colour
MATRIX = [
    ("auto", "", "", "xterm", True, True),
    ("auto", "", "", "xterm", False, False),
    ("auto", "1", "", "xterm", True, False),  # NO_COLOR
    ("auto", "", "1", "xterm", False, True),  # FORCE_COLOR colours a pipe
    ("auto", "", "0", "xterm", False, True),  # any non-empty value (force-color.org)
    ("auto", "1", "1", "xterm", True, False),  # NO_COLOR beats FORCE_COLOR
    ("auto", "", "", "dumb", True, False),  # TERM=dumb
    ("auto", "", "1", "dumb", False, True),  # FORCE_COLOR beats TERM=dumb
    ("always", "1", "", "dumb", False, True),  # --color beats everything
    ("never", "", "1", "xterm", True, False),
    ("never", "", "", "xterm", True, False),
]


@pytest.mark.parametrize(("choice", "no_color", "force", "term", "tty", "expected"), MATRIX)
def test_the_colour_matrix(
    monkeypatch: pytest.MonkeyPatch, choice: str, no_color: str, force: str, term: str, tty: bool, expected: bool
) -> None:
    monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.setenv("FORCE_COLOR", force)
    monkeypatch.setenv("TERM", term)
    monkeypatch.setattr(sys, "stdout", _Tty(tty))
    console.configure(color=choice)
    assert console.color_enabled() is expected
    assert console.use_color("text") is expected
    assert console.use_color("json") is False
    assert console.plain_terminal() is (not expected and (choice == "never" or bool(no_color) or term == "dumb"))


def test_an_unknown_colour_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="one of auto, always, never"):
        console.configure(color="sometimes")


def test_color_enabled_on_a_stream_without_isatty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert console.color_enabled(object()) is False


@pytest.mark.parametrize(
    ("choice", "env", "coloured"),
    [
        ("always", {"NO_COLOR": "1"}, True),
        ("never", {"NO_COLOR": "", "FORCE_COLOR": "1"}, False),
        ("auto", {"NO_COLOR": "", "FORCE_COLOR": "1"}, True),
        ("auto", {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        ("auto", {"NO_COLOR": ""}, False),  # a test's capture is no terminal
    ],
)
def test_rich_console_follows_the_colour_decision(
    monkeypatch: pytest.MonkeyPatch, choice: str, env: dict[str, str], coloured: bool
) -> None:
    import io

    from rich.text import Text

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    console.configure(color=choice)
    buffer = io.StringIO()
    console.rich_console(file=buffer).print(Text("hi", style="red"))
    assert (ANSI in buffer.getvalue()) is coloured


def test_lint_colours_its_findings_as_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    package = write_package(tmp_path / "pkg", {**MINIMAL, "schema.yaml": BAD_SCHEMA})
    assert run(["lint", str(package)]) == 1
    assert ANSI not in capsys.readouterr().out  # NO_COLOR=1 in the tests' environment
    assert run(["lint", str(package), "--color", "always"]) == 1
    assert ANSI in capsys.readouterr().out
    assert run(["lint", str(package), "--color", "always", "-f", "json"]) == 1
    assert ANSI not in capsys.readouterr().out  # JSON never has colour
    monkeypatch.setenv("NO_COLOR", "")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert run(["lint", str(package)]) == 1
    assert ANSI in capsys.readouterr().out
    assert run(["lint", str(package), "--color", "never"]) == 1
    assert ANSI not in capsys.readouterr().out


# --- completion scripts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", habits.SHELLS)
def test_completion_prints_the_script_of_each_shell(shell: str, capsys: Capture) -> None:
    assert run(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "_CRMCTL_COMPLETE" in script and "crmctl" in script
    assert {"bash": "complete -o default -F", "zsh": "#compdef crmctl", "fish": "complete --command crmctl"}[
        shell
    ] in script
    if shell == "zsh":
        assert script.startswith("#compdef crmctl\n")  # zsh reads it on the first line only


def test_completion_of_an_unknown_shell_is_a_usage_error(capsys: Capture) -> None:
    assert run(["completion", "tcsh"]) == 2
    assert "tcsh" in capsys.readouterr().err
    with pytest.raises(Exception, match="no completion for shell 'powershell'"):
        habits.completion_script(click_app(), "powershell")


def _complete(monkeypatch: pytest.MonkeyPatch, capsys: Capture, line: str, shell: str = "bash") -> list[str]:
    """What `shell` would be offered for `line` (the cursor at its end): crmctl run as the script runs it."""
    with monkeypatch.context() as patch:
        patch.setenv("_CRMCTL_COMPLETE", f"complete_{shell}")
        if shell == "bash":
            patch.setenv("COMP_WORDS", line)
            patch.setenv("COMP_CWORD", str(len(line.split(" ")) - 1))
        else:
            patch.setenv("_TYPER_COMPLETE_ARGS", line)
            patch.setenv("_TYPER_COMPLETE_FISH_ACTION", "get-args")
        code = run([])
    captured = capsys.readouterr()
    assert code == 0, captured
    assert captured.err == "" and "Traceback" not in captured.out
    return [line for line in captured.out.splitlines() if line]  # no candidates: an empty line


def test_commands_and_options_complete(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    assert "completion" in _complete(monkeypatch, capsys, "crmctl comp")
    assert _complete(monkeypatch, capsys, "crmctl lint --qu") == ["--quiet"]
    assert _complete(monkeypatch, capsys, "crmctl lint --color ") == ["auto", "always", "never"]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """packages/{crm,sales} (packages), packages/notes (no package.yaml), broken (a schema that is not YAML)."""
    write_package(tmp_path / "packages" / "crm", MINIMAL)
    schema = "entities:\n  Account:\n    fields:\n      name: {type: text}\n      size: {type: integer}\n"
    write_package(tmp_path / "packages" / "sales", {**MINIMAL, "schema.yaml": schema})
    (tmp_path / "packages" / "notes").mkdir()
    write_package(tmp_path / "broken", {**MINIMAL, "schema.yaml": "entities: [\n  {"})
    write_package(tmp_path / ".hidden", MINIMAL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_package_directories_complete(tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    assert _complete(monkeypatch, capsys, "crmctl lint ") == ["broken", "packages/crm", "packages/sales"]
    assert _complete(monkeypatch, capsys, "crmctl lint packages/s") == ["packages/sales"]
    assert _complete(monkeypatch, capsys, "crmctl diff packages/crm packages/") == ["packages/crm", "packages/sales"]
    assert _complete(monkeypatch, capsys, "crmctl new entity X -p pack") == ["packages/crm", "packages/sales"]
    assert _complete(monkeypatch, capsys, "crmctl lint .h") == [".hidden"]
    assert _complete(monkeypatch, capsys, "crmctl lint nothing/") == []  # the shell offers files instead


def test_entity_names_complete_from_the_package_named_so_far(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    assert _complete(monkeypatch, capsys, "crmctl simulate packages/sales --entity ") == ["Account"]
    assert _complete(monkeypatch, capsys, "crmctl new rule r1 -p packages/crm --entity L") == ["Lead"]
    assert _complete(monkeypatch, capsys, "crmctl records create packages/sales -e A") == ["Account"]
    monkeypatch.chdir(tree / "packages" / "crm")
    assert _complete(monkeypatch, capsys, "crmctl records list -e ") == ["Lead"]  # the current directory


def test_entity_fields_complete(tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    assert _complete(monkeypatch, capsys, "crmctl new field -p packages/sales Acc") == ["Account."]
    assert _complete(monkeypatch, capsys, "crmctl new rule r1 -p packages/sales --target Account.") == [
        "Account.name",
        "Account.size",
        "Account.",
    ]


@pytest.mark.parametrize(
    "line",
    [
        "crmctl simulate broken --entity ",
        "crmctl new field -p broken ",
        "crmctl simulate missing --entity ",
        "crmctl draft show --store missing.duckdb ",
        "crmctl replay --store broken/package.yaml --session ",
        "crmctl resolve Demo --channel ",
        "crmctl promote Demo@1.0.0 --registry nowhere --to ",
        "crmctl draft show --store 'bad tenant!' --tenant 'bad tenant!' ",
        "crmctl lint --format nope --baseline ",
        'crmctl lint "unclosed',
    ],
)
def test_nothing_to_complete_is_no_candidates_never_an_error(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture, line: str
) -> None:
    assert _complete(monkeypatch, capsys, line) == []


def test_rule_codes_complete(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    from crmctl.lint import all_rules

    codes = _complete(monkeypatch, capsys, "crmctl lint --select ")
    assert codes == list(all_rules())
    assert _complete(monkeypatch, capsys, "crmctl lint --ignore val40") == [c for c in codes if c.startswith("VAL40")]
    explained = _complete(monkeypatch, capsys, "crmctl explain CMP1")
    assert explained and all(code.startswith("CMP1") for code in explained)


def test_zsh_and_fish_complete_with_help(monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> None:
    zsh = "\n".join(_complete(monkeypatch, capsys, "crmctl explain RUL30", shell="zsh"))
    assert zsh.startswith("_arguments") and '"RUL301"' in zsh
    fish = _complete(monkeypatch, capsys, "crmctl explain RUL30", shell="fish")
    assert any(line.startswith("RUL301\t") for line in fish)


def test_session_and_draft_ids_complete_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    store = str(tmp_path / "rt.duckdb")
    script = tmp_path / "half.yaml"
    script.write_text(
        "now: 2026-11-26T09:00:00Z\nevents:\n  - change: {field: firstName, value: Ada}\n  - quit: {}\n",
        encoding="utf-8",
    )
    for session in ("s1", "s2"):
        assert run(["simulate", str(LEAD_V1), "--script", str(script), "--store", store, "--session", session]) == 0
    capsys.readouterr()
    assert _complete(monkeypatch, capsys, f"crmctl draft show --store {store} ") == ["s1", "s2"]
    assert _complete(monkeypatch, capsys, f"crmctl draft resume --store {store} s2") == ["s2"]
    assert _complete(monkeypatch, capsys, f"crmctl replay --store {store} --session s") == ["s1", "s2"]
    assert _complete(monkeypatch, capsys, f"crmctl draft show --store {store} --tenant other ") == []


def test_channels_complete_from_the_configured_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    from crmctl.signing import generate_key

    monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(tmp_path / "state"))
    key = generate_key(tmp_path / "keys" / "alice", "alice@example.com")
    registry = str(tmp_path / "reg")
    signed = ["--registry", registry, "--key", str(key.path)]
    assert run(["registry", "init", registry, "--key", str(key.path), "--identity", "alice@example.com"]) == 0
    assert run(["publish", str(LEAD_V1), *signed]) == 0
    assert run(["publish", str(LEAD_V2), *signed]) == 0
    assert run(["promote", "LeadLifecycle@1.0.0", "--to", "stable", *signed]) == 0
    assert run(["promote", "LeadLifecycle@1.1.0", "--to", "beta", *signed]) == 0
    capsys.readouterr()
    shutil.rmtree(tmp_path / "cache")
    shutil.rmtree(tmp_path / "state")
    assert _complete(monkeypatch, capsys, f"crmctl resolve LeadLifecycle -r {registry} --channel ") == [
        "beta",
        "stable",
    ]
    monkeypatch.setenv("CRMCTL_REGISTRY", registry)  # the configured registry
    assert _complete(monkeypatch, capsys, "crmctl promote LeadLifecycle@1.0.0 --to s") == ["stable"]
    assert _complete(monkeypatch, capsys, "crmctl resolve Other --channel ") == ["beta", "stable"]
    # read-only: a TAB neither mirrored the registry into the cache nor pinned its head (trust on first use)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "state").exists()
    assert _complete(monkeypatch, capsys, f"crmctl resolve X -r {tmp_path / 'keys'} --channel ") == []  # no registry


def test_completion_is_fast_enough_to_type_with(tree: Path) -> None:
    """One completion is one crmctl start: it must not load the heavy libraries it does not need."""
    env = {**os.environ, "_CRMCTL_COMPLETE": "complete_bash", "COMP_WORDS": "crmctl lint ", "COMP_CWORD": "2"}
    heavy = ("duckdb", "pyarrow", "git", "cryptography", "cel_expr_python", "jsonschema")
    code = f"import sys\nfrom crmctl.cli.main import run\nrun([])\nprint(sorted(set(sys.modules) & set({heavy!r})))"
    probe = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False, cwd=tree)
    lines = probe.stdout.splitlines()
    assert lines[-1] == "[]", probe
    assert "packages/crm" in lines


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_through_the_script(tree: Path, capsys: Capture) -> None:
    """A real bash sources the script and asks for candidates as it would on <TAB>."""
    assert run(["completion", "bash"]) == 0
    script = tree / "crmctl.bash"
    script.write_text(capsys.readouterr().out, encoding="utf-8")
    crmctl = Path(sys.executable).parent / "crmctl"
    driver = (
        f'crmctl() {{ "{crmctl}" "$@"; }}; source {script}; '
        "COMP_WORDS=(crmctl lint --select RUL30); COMP_CWORD=3; _crmctl_completion crmctl; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{crmctl.parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "--norc", "-c", driver], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "RUL301" in done.stdout.split()


# --- the signing key's order, as documented (docs/registry.md) ---------------------------------------------------


def test_keys_show_prints_the_key_publish_would_sign_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    """`keys show` used to prefer `keys generate`'s default key over CRMCTL_KEY and `signing-key`: the order is
    --key, CRMCTL_KEY, signing-key, the generated default, ~/.ssh/id_ed25519."""
    from crmctl.registry.config import default_key_path, signing_key_path
    from crmctl.signing import generate_key

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    home = Path(os.environ["HOME"])
    ssh = generate_key(home / ".ssh" / "id_ed25519", "ssh@example.com")
    assert signing_key_path(None) == ssh.path
    generated = generate_key(default_key_path(), "default@example.com")
    assert default_key_path() == tmp_path / "xdg" / "crmctl" / "keys" / "id_ed25519"
    configured = generate_key(tmp_path / "configured", "configured@example.com")
    (tmp_path / "crmctl.toml").write_text('[tool.crmctl]\nsigning-key = "configured"\n', encoding="utf-8")
    from_env = generate_key(tmp_path / "env", "env@example.com")
    monkeypatch.setenv("CRMCTL_KEY", str(from_env.path))
    for expected, undo in ((from_env, "CRMCTL_KEY"), (configured, "config"), (generated, "default"), (ssh, "")):
        assert run(["keys", "show", "-f", "json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown.get("result", shown)["path"] == str(expected.path)  # the envelope, once keys show has it
        if undo == "CRMCTL_KEY":
            monkeypatch.delenv("CRMCTL_KEY")
        elif undo == "config":
            (tmp_path / "crmctl.toml").unlink()
        elif undo == "default":
            default_key_path().unlink()


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script(tmp_path: Path, capsys: Capture) -> None:
    assert run(["completion", "zsh"]) == 0
    script = tmp_path / "_crmctl"
    script.write_text(capsys.readouterr().out, encoding="utf-8")
    driver = f"autoload -U compinit; compinit -u; source {script}; whence -w _crmctl_completion"
    done = subprocess.run(["zsh", "-f", "-c", driver], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "function" in done.stdout, done.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_through_the_script(tmp_path: Path, capsys: Capture) -> None:
    assert run(["completion", "fish"]) == 0
    script = tmp_path / "crmctl.fish"
    script.write_text(capsys.readouterr().out, encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    driver = f"source {script}; complete -C 'crmctl lint --select RUL30'"
    done = subprocess.run(["fish", "--no-config", "-c", driver], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "RUL301" in done.stdout


def _two_drafts(store: Path, tmp_path: Path) -> None:
    script = tmp_path / "half.yaml"
    script.write_text(
        "now: 2026-11-26T09:00:00Z\nevents:\n  - change: {field: firstName, value: Ada}\n  - quit: {}\n",
        encoding="utf-8",
    )
    for session in ("s1", "s2"):
        assert (
            run(["simulate", str(LEAD_V1), "--script", str(script), "--store", str(store), "--session", session]) == 0
        )


@pytest.mark.parametrize("found_by", ["project-root", "env", "config"])
def test_draft_ids_complete_from_the_store_the_command_would_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture, found_by: str
) -> None:
    """The id completers find the store as every runtime command does (`resolve_store`): from a subdirectory of
    the project, through CRMCTL_STORE and `store` in [tool.crmctl]; they used `.crm/runtime.duckdb` of the current
    directory, so `crmctl draft show <TAB>` offered nothing in a subdirectory or with a configured store."""
    root = tmp_path / "project"
    sub = root / "deep"
    sub.mkdir(parents=True)
    (root / ".git").mkdir()
    store = {"project-root": root / ".crm" / "runtime.duckdb", "env": tmp_path / "env.duckdb"}.get(
        found_by, root / "data" / "crm.duckdb"
    )
    if found_by == "env":
        monkeypatch.setenv("CRMCTL_STORE", str(store))
    if found_by == "config":
        (root / "crmctl.toml").write_text('store = "data/crm.duckdb"\n', encoding="utf-8")
    _two_drafts(store, tmp_path)
    capsys.readouterr()
    monkeypatch.chdir(sub)
    assert _complete(monkeypatch, capsys, "crmctl draft show ") == ["s1", "s2"]
    assert _complete(monkeypatch, capsys, "crmctl replay --session s") == ["s1", "s2"]
    assert not (sub / ".crm").exists()  # completion reads, never creates


def test_completion_with_a_broken_configuration_offers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    (tmp_path / "crmctl.toml").write_text("store = 3\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _complete(monkeypatch, capsys, "crmctl draft show ") == []
    assert list(tmp_path.iterdir()) == [tmp_path / "crmctl.toml"]


def test_peeking_at_a_registry_never_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`registry.store.Store.peek`, what the channel completer reads: None for a remote registry, a directory that
    is no git repository, a missing file, and a git that hangs or is missing."""
    import subprocess as sp

    from crmctl.registry.store import Store

    assert Store("https://example.invalid/registry.git").peek("index.json") is None
    assert Store(str(tmp_path)).peek("index.json") is None

    def hangs(*_args: Any, **_kwargs: Any) -> Any:
        raise sp.TimeoutExpired("git", 5)

    monkeypatch.setattr(sp, "run", hangs)
    assert Store(str(tmp_path)).peek("index.json") is None


# --- the habits before the command: `crmctl -q lint`, `crmctl --color never diff` --------------------------------


def test_the_habits_before_the_command(tmp_path: Path, capsys: Capture) -> None:
    """cargo, ruff and docker take their output options before the command too; crmctl said "No such option"."""
    package = write_package(tmp_path / "pkg", {**MINIMAL, "schema.yaml": "entities:\n    Lead:\n      fields: {}\n"})
    assert run(["-q", "fmt", "--check", str(package)]) == 1
    captured = capsys.readouterr()
    assert "would reformat" in captured.out and captured.err == ""  # the command's default did not undo -q
    assert run(["--verbose", "rules"]) == 0
    assert "crmctl: rules took" in capsys.readouterr().err
    assert run(["-q", "rules", "-v"]) == 2
    assert "--quiet and --verbose cannot be used together" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["before", "after"])
def test_color_before_or_after_the_command(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    package = write_package(tmp_path / "pkg", {**MINIMAL, "schema.yaml": BAD_SCHEMA})
    argv = (
        ["--color", "always", "lint", str(package)]
        if where == "before"
        else ["lint", str(package), "--color", "always"]
    )
    assert run(argv) == 1
    assert ANSI in capsys.readouterr().out
    assert run([*argv, "-f", "json"]) == 1  # JSON never has colour, and the envelope names the command
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == "lint" and ANSI not in json.dumps(document)


def test_the_command_path_skips_the_value_of_color() -> None:
    from crmctl.cli.main import command_path

    assert command_path(["--color", "always", "draft", "list"]) == "draft list"
    assert command_path(["-q", "--color", "never", "registry", "signer", "add", "x"]) == "registry signer add"
    assert command_path(["draft", "show", "--color", "always", "list"]) == "draft show"
