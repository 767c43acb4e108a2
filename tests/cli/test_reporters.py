"""Reporters render any Report (lint or diff): text, json, sarif, github, junit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from crmctl.cli.reporters import FORMATS, render
from crmctl.lint import all_rules
from crmctl.model.diagnostics import Diagnostic, Location, Report, Severity

SOURCE = "rules:\n  - id: big\n    when: amount > 10\n"


def _package(name: str) -> dict[str, object]:
    return {"name": name, "version": "1.0.0", "path": f"pkgs/{name}"}


def _report() -> Report:
    return Report(
        "lint",
        [
            Diagnostic(
                "RUL301",
                "condition `amount > 10`: no overload",
                Location("Demo/rules.yaml", 3, 20),
                path="rule:big",
                fix="write 10.0",
                package="Demo",
            ),
            Diagnostic(
                "UI206",
                "Lead.x is not shown, on any step: 100%\nreally",
                Location("Demo/schema.yaml", 4, 7),
                severity=Severity.INFO,
                path="Lead.x",
                package="Demo",
            ),
            Diagnostic(
                "PKG104",
                "role 'a' is listed twice",
                Location("Other/package.yaml", 6, 16),
                severity=Severity.WARNING,
                path="manifest:roles:a",
                package="Other",
            ),
        ],
        sources={"Demo/rules.yaml": SOURCE},
        summary={"packages": [_package("Demo"), _package("Other"), _package("Clean")], "baselined": 2},
    )


def _diff_report() -> Report:
    finding = Diagnostic(
        "CMP101",
        "field Lead.email removed",
        Location("v2/schema.yaml", 2, 5),
        path="Lead.email",
        package="Demo",
        extra={"class": "breaking"},
    )
    side = {"name": "Demo", "version": "1.0.0", "digest": "jcs-sha256:" + "0" * 64, "source": "v1"}
    summary = {
        "proposed_bump": "major",
        "old": side,
        "new": {**side, "version": "2.0.0", "source": "v2"},
        "counts": {"breaking": 1},
        "changes": 1,
        "api": {"changes": 0, "counts": {"compatible": 0, "data-dependent": 0, "behavioral": 0, "breaking": 0}},
        "fail_on": ["breaking"],
        "failed": 1,
        "version_check": {"ok": True, "expected": "2.0.0", "message": "2.0.0 is a major bump"},
    }
    return Report("diff", [finding], summary=summary)


def test_json_is_the_commands_result_and_complete() -> None:
    body = json.loads(render(_report(), "json"))
    assert list(body) == ["findings", "summary"]  # the envelope around it is `crmctl.cli.contract`'s
    first = body["findings"][0]
    assert first == {
        "code": "RUL301",
        "severity": "error",
        "message": "condition `amount > 10`: no overload",
        "file": "Demo/rules.yaml",
        "line": 3,
        "column": 20,
        "path": "rule:big",
        "fix": "write 10.0",
        "package": "Demo",
        "extra": {},
    }
    assert body["summary"] == {
        "errors": 1,
        "warnings": 1,
        "infos": 1,
        "total": 3,
        "packages": [_package("Demo"), _package("Other"), _package("Clean")],
        "baselined": 2,
    }


def test_json_carries_diff_extras() -> None:
    body = json.loads(render(_diff_report(), "json"))
    assert body["findings"][0]["extra"] == {"class": "breaking"}
    summary = body["summary"]
    assert (summary["proposedBump"], summary["failOn"], summary["versionCheck"]["expected"]) == (
        "major",
        ["breaking"],
        "2.0.0",
    )
    assert (summary["records"], summary["failedByRecords"]) == (None, None)


# The parts of the SARIF 2.1.0 schema that code-scanning consumers rely on.
SARIF_SHAPE = {
    "type": "object",
    "required": ["version", "runs", "$schema"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "shortDescription"],
                                            "properties": {
                                                "shortDescription": {
                                                    "type": "object",
                                                    "required": ["text"],
                                                }
                                            },
                                        },
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ruleId", "message", "locations", "level"],
                            "properties": {
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine", "startColumn"],
                                                        "properties": {
                                                            "startLine": {"type": "integer", "minimum": 1},
                                                            "startColumn": {"type": "integer", "minimum": 1},
                                                        },
                                                    }
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


@pytest.mark.parametrize("report", [_report(), _diff_report()], ids=["lint", "diff"])
def test_sarif_structure_and_rule_index(report: Report) -> None:
    body = json.loads(render(report, "sarif"))
    jsonschema.validate(body, SARIF_SHAPE)
    run = body["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= set(all_rules())
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    if report.command == "lint":
        assert levels == {"RUL301": "error", "UI206": "note", "PKG104": "warning"}
        region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
        assert region == {"startLine": 3, "startColumn": 20}


def test_github_annotations_escape_data_and_properties() -> None:
    lines = render(_report(), "github").splitlines()
    assert lines[0] == (
        "::error file=Demo/rules.yaml,line=3,col=20,title=RUL301::condition `amount > 10`: no overload "
        "(help: write 10.0)"
    )
    assert lines[1].startswith("::notice file=Demo/schema.yaml,line=4,col=7,title=UI206::")
    assert lines[1].endswith("not shown, on any step: 100%25%0Areally")
    assert lines[2].startswith("::warning file=Other/package.yaml")


def test_junit_suite_per_package_case_per_file() -> None:
    root = ET.fromstring(render(_report(), "junit").split("\n", 1)[1])
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert sorted(suites) == ["Clean", "Demo", "Other"]
    demo = suites["Demo"]
    assert demo.get("failures") == "2"
    assert sorted(c.get("name") or "" for c in demo.iter("testcase")) == ["Demo/rules.yaml", "Demo/schema.yaml"]
    assert next(f.get("message") for f in root.iter("failure")) == "RUL301: condition `amount > 10`: no overload"
    assert list(suites["Clean"].iter("failure")) == []
    assert root.get("failures") == "3"


def test_text_groups_by_file_with_source_caret_and_help() -> None:
    text = render(_report(), "text", color=False)
    assert "\x1b[" not in text
    lines = text.splitlines()
    start = lines.index("Demo/rules.yaml")
    assert lines[start + 1] == "Demo/rules.yaml:3:20: RUL301 [error] condition `amount > 10`: no overload"
    assert lines[start + 2] == "     3 |     when: amount > 10"
    assert lines[start + 3] == "       |                    ^"
    assert lines[start + 4] == "  help: write 10.0"
    assert lines[-1] == "1 error(s), 1 warning(s), 1 info(s) (lint); baselined: 2"


def test_text_colours_only_when_asked() -> None:
    assert "\x1b[" in render(_report(), "text", color=True)


def test_every_format_renders_an_empty_report() -> None:
    for fmt in FORMATS:
        assert isinstance(render(Report("lint", []), fmt), str)
    assert render(Report("lint", []), "text").strip() == "no findings (lint)"
