"""`crmctl lint`, `crmctl rules` and `crmctl explain` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmctl.cli.main import app, run
from tests.conftest import write_package
from tests.lint.conftest import LABELS, PACKAGE, SCHEMA


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env={"NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def test_findings_exit_1_with_location(bad_package: Path) -> None:
    code, out, _ = _invoke(["lint", str(bad_package)])
    assert code == 1
    assert f"{bad_package}/rules.yaml:6:18: RUL301 [error]" in out
    assert "help: CEL has no implicit int/double conversion" in out
    assert "       |                  ^" in out


def test_clean_package_exits_0(tmp_path: Path) -> None:
    root = write_package(
        tmp_path / "ok",
        {
            "package.yaml": PACKAGE,
            "schema.yaml": SCHEMA,
            "localization/en.yaml": LABELS,
            "ui.yaml": "steps:\n  - {id: main, fields: [email, amount]}\n",
        },
    )
    code, out, _ = _invoke(["lint", str(root)])
    assert (code, out.strip()) == (0, "no findings (lint)")


def test_warnings_alone_exit_0(bad_package: Path) -> None:
    (bad_package / "rules.yaml").write_text(
        "rules:\n  - {id: big, scope: global, trigger: onLoad, capability: visibility, when: 'amount > 10.0'}\n"
    )
    (bad_package / "package.yaml").write_text(PACKAGE.replace("locales: [en]", "locales: [en, en]"))
    code, out, _ = _invoke(["lint", str(bad_package), "-f", "json"])
    assert [(f["code"], f["severity"]) for f in json.loads(out)["result"]["findings"]] == [("PKG104", "warning")]
    assert code == 0


def test_severity_override_from_config_changes_exit(bad_package: Path, tmp_path: Path) -> None:
    config = tmp_path / "crmctl.toml"
    config.write_text('[tool.crmctl]\nseverity = { RUL301 = "warning" }\n')
    code, out, _ = _invoke(["lint", str(bad_package), "--config", str(config), "-f", "json"])
    assert code == 0
    assert json.loads(out)["result"]["findings"][0]["severity"] == "warning"


def test_lint_without_paths_discovers_packages(bad_package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bad_package.parent / "node_modules" / "x").mkdir(parents=True)
    (bad_package.parent / "node_modules" / "x" / "package.yaml").write_text("not: a crm package\n")
    monkeypatch.chdir(bad_package.parent)
    code, out, _ = _invoke(["lint", "-f", "json"])
    assert code == 1
    body = json.loads(out)["result"]
    assert body["summary"]["packages"] == [{"name": "Demo", "version": "1.0.0", "path": "Demo"}]
    assert body["findings"][0]["file"] == "Demo/rules.yaml"


def test_baseline_round_trip(bad_package: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, _, err = _invoke(["lint", str(bad_package), "--write-baseline", str(baseline)])
    assert code == 1 and "wrote 1 finding(s)" in err
    code, out, _ = _invoke(["lint", str(bad_package), "--baseline", str(baseline), "-f", "json"])
    assert code == 0
    body = json.loads(out)["result"]
    assert body["findings"] == [] and body["summary"]["baselined"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lint", "/no/such/dir"], "no such package directory"),
        (["lint", "{pkg}", "--select", "BOGUS"], "'BOGUS' matches no rule code"),
        (["lint", "{pkg}", "--baseline", "/no/such/baseline.json"], "cannot read baseline"),
        (["explain", "XYZ999"], "unknown code 'XYZ999'"),
    ],
)
def test_usage_and_input_errors_exit_2(
    bad_package: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run([a.format(pkg=bad_package) for a in args]) == 2
    assert message in capsys.readouterr().err


def test_broken_yaml_exits_2(bad_package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (bad_package / "rules.yaml").write_text("rules: [\n")
    assert run(["lint", str(bad_package)]) == 2
    assert "rules.yaml:2:1: invalid YAML" in capsys.readouterr().err


def test_rules_lists_catalogue_as_text_and_json() -> None:
    code, out, _ = _invoke(["rules"])
    assert code == 0
    assert any(line.startswith("RUL301   rule-expression-invalid") for line in out.splitlines())
    code, out, _ = _invoke(["rules", "--format", "json"])
    rules = {r["code"]: r for r in json.loads(out)["result"]["rules"]}
    assert rules["UI206"]["severity"] == "info" and rules["SCH100"]["structural"] is True


def test_explain_prints_documentation() -> None:
    code, out, _ = _invoke(["explain", "rul301"])
    assert code == 0
    for part in ("RUL301 rule-expression-invalid", "severity: error", "Why:", "Bad:", "Good:", "Fix:"):
        assert part in out


def test_files_as_arguments_lint_their_package_and_report_only_those_files(bad_package: Path) -> None:
    """pre-commit and editors pass changed files; each is checked in the context of its whole package."""
    code, out, _ = _invoke(["lint", str(bad_package / "rules.yaml"), "--format", "json"])
    assert code == 1
    files = {f["file"] for f in json.loads(out)["result"]["findings"]}
    assert files == {f"{bad_package}/rules.yaml"}
    code, out, _ = _invoke(["lint", str(bad_package / "package.yaml"), "--format", "json"])
    assert (code, json.loads(out)["result"]["findings"]) == (0, [])


def test_a_file_outside_any_package_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stray = tmp_path / "notes.yaml"
    stray.write_text("a: 1\n")
    assert run(["lint", str(stray)]) == 2
    assert "not inside a package" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("CMP101", ["CMP101 field-removed", "class: breaking (crmctl diff fails on it by default)", "semver: major"]),
        ("cmp705", ["CMP705 localization-text-changed", "never fails on it", "semver: patch (text only)"]),
        ("CMP104", ["class: breaking", "semver: major"]),
    ],
)
def test_explain_covers_diff_change_codes(code: str, expected: list[str]) -> None:
    status, out, _ = _invoke(["explain", code])
    assert status == 0
    for line in expected:
        assert line in out


def test_explain_unknown_change_code_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["explain", "CMP999"]) == 2
    assert "unknown code 'CMP999'" in capsys.readouterr().err
