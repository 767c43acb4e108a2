"""Configuration: where it is found, what it may contain, and how it changes findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.errors import InputError
from crmctl.lint import LintConfig, lint_package, load_config
from crmctl.model.config import find_config
from crmctl.model.diagnostics import Severity
from crmctl.model.package import load_package


def _codes(package: Path, config: LintConfig) -> list[str]:
    return [d.code for d in lint_package(load_package(package), config)]


def test_found_upward_in_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.crmctl]\nignore = ["RUL3"]\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = load_config(None, nested)
    assert config.ignore == ("RUL3",)
    assert config.source == tmp_path / "pyproject.toml"


def test_pyproject_without_table_is_skipped_for_a_crmctl_toml_above(tmp_path: Path) -> None:
    (tmp_path / "crmctl.toml").write_text('select = ["UI"]\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(tmp_path / "sub") == tmp_path / "crmctl.toml"
    assert load_config(None, tmp_path / "sub").select == ("UI",)


def test_crmctl_toml_accepts_tool_table(tmp_path: Path) -> None:
    path = tmp_path / "crmctl.toml"
    path.write_text('[tool.crmctl]\nseverity = { RUL301 = "warning" }\n')
    assert load_config(path, tmp_path).severity == {"RUL301": Severity.WARNING}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("select = [\n", ":2:1: cannot read configuration: invalid TOML: "),
        ("[tool]\nselect = x\n", ":2:10: cannot read configuration: invalid TOML: Invalid value"),
    ],
)
def test_a_toml_syntax_error_is_located(tmp_path: Path, text: str, where: str) -> None:
    """tomllib says "(at line 2, column 10)" inside its message; crmctl's located form puts it where editors, the
    terminal and the JSON contract (`file`, `line`, `column`) read it."""
    path = tmp_path / "crmctl.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_config(path, tmp_path)
    assert info.value.message.startswith(f"{path}{where}")
    assert "(at " not in info.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("select = [", "invalid TOML"),
        ("x = " + "[" * 100_000 + "]" * 100_000, "invalid TOML: arrays or tables nested too deeply"),
        ("x = " + "{a = " * 5_000 + "1" + "}" * 5_000, "invalid TOML: arrays or tables nested too deeply"),
        ("x = " + "1" * 5_000, "invalid TOML: an integer has more than 4300 digits"),
        ('colour = "red"', "unknown key 'colour'"),
        ('select = ["NOPE1"]', "'NOPE1' matches no rule code"),
        ("ignore = [1]", "expected a list of rule codes"),
        ('severity = { RUL301 = "fatal" }', "'fatal' is not one of error, warning, info"),
        ('per-file-ignores = "x"', "expected a table of glob"),
    ],
)
def test_bad_config_is_an_input_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "crmctl.toml"
    path.write_text(text + "\n")
    with pytest.raises(InputError) as info:
        load_config(path, tmp_path)
    assert str(path) in info.value.message
    assert message in info.value.message


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "nope.toml", tmp_path)


def test_select_ignore_and_severity_change_findings(bad_package: Path) -> None:
    assert _codes(bad_package, LintConfig()) == ["RUL301"]
    assert _codes(bad_package, LintConfig(ignore=("RUL",))) == []
    assert _codes(bad_package, LintConfig(select=("UI",))) == []
    (diag,) = lint_package(load_package(bad_package), LintConfig(severity={"RUL3": Severity.INFO}))
    assert diag.severity is Severity.INFO


def test_per_file_ignores_match_paths_inside_the_package(bad_package: Path) -> None:
    assert _codes(bad_package, LintConfig(per_file_ignores={"rules.yaml": ("RUL301",)})) == []
    assert _codes(bad_package, LintConfig(per_file_ignores={"ui.yaml": ("RUL301",)})) == ["RUL301"]


def test_cli_select_replaces_and_ignore_adds(tmp_path: Path) -> None:
    config = LintConfig(select=("UI",), ignore=("UI206",)).with_cli(["rul"], ["VAL"])
    assert config.select == ("RUL",)
    assert config.ignore == ("UI206", "VAL")
    with pytest.raises(InputError):
        LintConfig().with_cli(["XYZ"], [])


def test_exclude_skips_discovered_packages_but_not_explicit_ones(
    bad_package: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crmctl.cli.main import run

    root = bad_package.parent
    (root / "crmctl.toml").write_text(f'exclude = ["{bad_package.name}"]\n')
    monkeypatch.chdir(root)
    assert run(["lint"]) == 2  # the only package is excluded: nothing to lint
    assert "no packages found" in capsys.readouterr().err
    assert run(["lint", bad_package.name]) == 1  # named explicitly: linted
    (root / "crmctl.toml").write_text('exclude = ["elsewhere/*"]\n')
    assert run(["lint"]) == 1


def test_exclude_must_be_a_list_of_globs(tmp_path: Path) -> None:
    (tmp_path / "crmctl.toml").write_text("exclude = 3\n")
    with pytest.raises(InputError, match="exclude: expected a list of directory globs"):
        load_config(None, tmp_path)


@pytest.mark.parametrize("text", ["select = [", "registry = " + "[" * 100_000, "registry = " + "9" * 5_000, "x = 1"])
def test_lint_and_the_registry_read_one_configuration_the_same_way(tmp_path: Path, text: str) -> None:
    # registry/config.py parsed [tool.crmctl] again, with its own errors; both now read crmctl.model.config.
    from crmctl.registry.config import registry_location

    (tmp_path / "crmctl.toml").write_text(text + "\n")
    errors = []
    for read in (lambda: load_config(None, tmp_path), lambda: registry_location(None, tmp_path)):
        try:
            read()
        except InputError as exc:
            errors.append(str(exc))
        except Exception as exc:  # the registry's "no registry given" when the file is fine
            errors.append(type(exc).__name__)
    if text == "x = 1":
        assert errors[0].endswith("unknown key 'x'") and errors[1] == "UsageError"
    else:
        assert errors[0] == errors[1] and "invalid TOML" in errors[0]


def test_only_the_model_reads_toml() -> None:
    import crmctl

    source = Path(crmctl.__file__).parent
    readers = sorted(str(p.relative_to(source)) for p in source.rglob("*.py") if "tomllib" in p.read_text("utf-8"))
    assert readers == ["model/config.py"]
