"""`crmctl diff OLD NEW`: exit codes, --fail-on, formats, summary and usage errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.compat._cli import invoke

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compat"


def case(name: str) -> tuple[str, str]:
    return str(FIXTURES / name / "old"), str(FIXTURES / name / "new")


def test_identical_packages_report_no_changes() -> None:
    result = invoke("diff", *case("identical"))
    assert result.code == 0
    assert "no changes" in result.out
    assert "proposed bump: none" in result.out


def test_text_output_groups_by_class_and_proposes_a_bump() -> None:
    result = invoke("diff", *case("workflow_changed"))
    assert result.code == 1
    out = result.out
    assert out.index("breaking (2):") < out.index("behavioral (5):") < out.index("compatible (1):")
    assert "8 changes: 2 breaking, 0 data-dependent, 5 behavioral, 1 compatible" in out
    assert "proposed bump: major" in out
    assert "result: FAIL (2 changes in failing classes: breaking)" in out


@pytest.mark.parametrize(
    ("name", "fail_on", "code"),
    [
        ("rules_changed", "breaking", 0),
        ("rules_changed", "behavioral", 1),
        ("field_made_required", "behavioral", 0),
        ("field_made_required", "data-dependent", 1),
        ("field_added", "data-dependent,behavioral", 0),
        ("field_removed", "", 1),
    ],
)
def test_fail_on_classes(name: str, fail_on: str, code: int) -> None:
    assert invoke("diff", *case(name), "--fail-on", fail_on).code == code


def test_unknown_fail_on_class_is_a_usage_error() -> None:
    result = invoke("diff", *case("identical"), "--fail-on", "breaking,cosmic")
    assert result.code == 2
    assert "unknown change class 'cosmic'" in result.err


def test_json_report_carries_classes_and_summary() -> None:
    result = invoke("diff", *case("field_renamed_without_alias"), "--format", "json")
    assert result.code == 1
    body = json.loads(result.out)["result"]
    summary = body["summary"]
    assert summary["proposedBump"] == "major"
    assert summary["old"]["version"] == "1.0.0" and summary["old"]["digest"].startswith("jcs-sha256:")
    # The rename without alias; the records API's restatements of it (headcount gone, companySize new) are
    # counted in their own section, not again among the package's changes.
    assert summary["counts"] == {"compatible": 0, "data-dependent": 0, "behavioral": 0, "breaking": 1}
    assert summary["api"]["changes"] == 3 and summary["api"]["counts"]["breaking"] == 2
    assert summary["versionCheck"]["expected"] == "2.0.0"
    (first,) = [f for f in body["findings"] if f["extra"]["section"] == "package"]
    assert first["code"] == "CMP104"
    assert first["severity"] == "error"
    assert first["extra"]["class"] == "breaking"
    assert first["extra"]["kind"] == "field-renamed-without-alias"
    assert first["fix"] == "add `aliases: [headcount]` to Lead.companySize to keep old records readable"


def test_severities_follow_fail_on() -> None:
    body = json.loads(invoke("diff", *case("validations_changed"), "-f", "json").out)["result"]
    severities = {d["code"]: d["severity"] for d in body["findings"]}
    assert severities["CMP401"] == "warning"  # data-dependent, not failing
    assert severities["CMP402"] == "warning"  # behavioral
    body = json.loads(invoke("diff", *case("validations_changed"), "-f", "json", "--fail-on", "data-dependent").out)[
        "result"
    ]
    severities = {d["code"]: d["severity"] for d in body["findings"]}
    assert severities["CMP401"] == "error"
    compatible = json.loads(invoke("diff", *case("field_added"), "-f", "json").out)["result"]["findings"]
    assert [(d["code"], d["severity"]) for d in compatible] == [("CMP102", "info"), ("CMP910", "info")]


def test_old_new_and_against_together_is_a_usage_error() -> None:
    old, new = case("identical")
    result = invoke("diff", old, new, "--against", old)
    assert result.code == 2
    assert "not both" in result.err


def test_single_path_without_against_is_a_usage_error() -> None:
    result = invoke("diff", case("identical")[0])
    assert result.code == 2
    assert "--against" in result.err


def test_structurally_invalid_package_asks_for_lint(tmp_path: Path) -> None:
    old, _ = case("identical")
    broken = tmp_path / "broken"
    shutil.copytree(old, broken)
    (broken / "schema.yaml").write_text("entities:\n  Lead:\n    fields: {a: {type: nope}}\n")
    result = invoke("diff", old, str(broken))
    assert result.code == 2
    assert "not structurally valid" in result.err
    assert "crmctl lint" in result.err


def test_missing_directory_exits_2(tmp_path: Path) -> None:
    result = invoke("diff", case("identical")[0], str(tmp_path / "nope"))
    assert result.code == 2


@pytest.mark.parametrize("fmt", ["sarif", "github", "junit"])
def test_every_reporter_format_renders_a_diff(fmt: str) -> None:
    result = invoke("diff", *case("field_removed"), "--format", fmt)
    assert result.code == 1
    assert "CMP101" in result.out
