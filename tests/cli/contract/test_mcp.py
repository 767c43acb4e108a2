"""The JSON contract of the commands of the `mcp` area: `new package|entity|field|rule` and `package inspect`, in
realistic cases (ok, dry run, an error), asserting on what the result says. `crmctl mcp` itself speaks MCP on
stdout, not the envelope (tests/mcp)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli import contract
from crmctl.cli.main import run

REPO = Path(__file__).resolve().parents[3]
COVERED = {"new package", "new entity", "new field", "new rule", "package inspect"}


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    code = run([*argv, "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert contract.validation_errors(document) == []
    assert document["exitCode"] == code
    return code, document


@pytest.fixture
def package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "Leads"
    code, document = _json(capsys, ["new", "package", "Leads", "--template", "lead-lifecycle", "--dir", str(root)])
    assert code == 0
    result = document["result"]
    assert (result["dryRun"], result["diff"], result["root"]) == (False, None, root.as_posix())
    assert (root / "package.yaml").as_posix() in result["created"] and result["changed"] == []
    return root


def test_new_package_dry_run_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "Demo"
    code, document = _json(capsys, ["new", "package", "Demo", "--dir", str(target), "--dry-run"])
    assert code == 0 and document["result"]["dryRun"] is True
    assert (target / "schema.yaml").as_posix() in document["result"]["created"]
    assert not target.exists()


@pytest.mark.parametrize(
    ("argv", "files", "added"),
    [
        (["new", "entity", "Contact", "--description", "A person."], ["schema.yaml"], "+  Contact:"),
        (["new", "field", "Lead.mobile", "--required"], ["schema.yaml", "localization/en.yaml"], "+      mobile:"),
        (
            ["new", "rule", "showMobile", "--entity", "Lead", "--target", "email", "--when", "true"],
            ["rules.yaml"],
            "+  - id: showMobile",
        ),
    ],
)
def test_new_dry_run_then_apply(
    package: Path, capsys: pytest.CaptureFixture[str], argv: list[str], files: list[str], added: str
) -> None:
    before = {path: path.read_bytes() for path in package.rglob("*.yaml")}
    code, document = _json(capsys, [*argv, "--package", str(package), "--dry-run"])
    preview = document["result"]
    assert (code, document["status"], preview["dryRun"]) == (0, "ok", True)
    assert preview["changed"][: len(files)] == [(package / f).as_posix() for f in files]
    assert added in preview["diff"].splitlines()
    assert f"--- a/{files[0]}" in preview["diff"]
    assert {path: path.read_bytes() for path in package.rglob("*.yaml")} == before  # nothing written

    code, document = _json(capsys, [*argv, "--package", str(package)])
    applied = document["result"]
    assert (code, applied["dryRun"], applied["diff"], applied["changed"]) == (
        0,
        False,
        preview["diff"],
        preview["changed"],
    )
    assert run(["lint", str(package)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["new", "entity", "Lead"], "entity 'Lead' already exists"),
        (["new", "field", "Lead.email"], "field Lead.email already exists"),
        (["new", "field", "Nobody.x"], "entity 'Nobody' not found"),
        (["new", "field", "Lead.x", "--type", "nonsense"], "nonsense"),
    ],
)
def test_new_errors_are_error_envelopes(
    package: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    for dry in ([], ["--dry-run"]):
        code, document = _json(capsys, [*argv, "--package", str(package), *dry])
        assert (code, document["status"], document["result"]) == (2, "error", None)
        assert message in document["problems"][-1]["message"]


def test_new_package_refuses_a_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _json(capsys, ["new", "package", "9lives", "--dir", str(tmp_path / "x")])
    assert (code, document["problems"][0]["code"]) == (2, "input-error")


def test_package_inspect_describes_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _json(capsys, ["package", "inspect", str(REPO / "packages/ClaimsIntake")])
    result = document["result"]
    assert (code, result["name"], result["version"], result["valid"]) == (0, "ClaimsIntake", "1.0.0", True)
    assert result["locales"] == ["en", "ar"] and result["defaultLocale"] == "en"
    [claim] = [e for e in result["entities"] if e["name"] == "Claim"]
    fields = {f["path"]: f for f in claim["fields"]}
    assert (fields["injuredCount"]["type"], fields["injuredCount"]["celType"]) == ("number", "int")
    assert fields["incidentDate"]["celType"] == "google.protobuf.Timestamp"
    assert fields["incidentAddress.city"]["celType"] == "string"  # fields of an object, dotted
    assert fields["witnesses"]["celType"] == "list(map(string, dyn))"
    assert fields["claimNumber"]["required"] is True
    [workflow] = result["workflows"]
    assert workflow["initial"] == "submitted"
    reject = next(t for t in workflow["transitions"] if t["id"] == "reject")
    assert reject["from"] == ["triage", "assessment", "pendingApproval"] and reject["to"] == "rejected"
    assert {s["name"] for s in workflow["states"] if s["final"]} == {"paid", "rejected", "withdrawn"}
    [form] = result["forms"]
    assert form["name"] == "default" and form["steps"][0]["id"] == "policy"
    assert "incidentAddress.city" in form["steps"][1]["fields"]
    assert {v["mode"] for v in result["validations"]} <= {"soft", "hard"} and result["validations"]
    assert result["rules"] and all(r["triggers"] for r in result["rules"])
    assert {e["name"] for e in result["events"]} >= {"ClaimPaid", "ClaimTriaged"}


def test_package_inspect_shows_aliases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import MINIMAL, write_package

    files = dict(MINIMAL)
    files["schema.yaml"] = "entities:\n  Lead:\n    fields:\n      givenName: {type: text, aliases: [firstName]}\n"
    files["localization/en.yaml"] = "labels:\n  Lead.givenName: Given name\n"
    root = write_package(tmp_path / "Demo", files)
    code, document = _json(capsys, ["package", "inspect", str(root)])
    [field] = document["result"]["entities"][0]["fields"]
    assert (code, field["path"], field["aliases"], field["required"]) == (0, "givenName", ["firstName"], False)
    run(["package", "inspect", str(root)])
    assert "givenName: text (CEL string)  was firstName" in capsys.readouterr().out


def test_package_inspect_of_a_broken_package_warns_and_shows_what_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import MINIMAL, write_package

    root = write_package(tmp_path / "Demo", {**MINIMAL, "rules.yaml": "rules:\n  - id: 1\n"})
    code, document = _json(capsys, ["package", "inspect", str(root)])
    assert (code, document["status"], document["result"]["valid"], document["result"]["rules"]) == (0, "ok", False, [])
    [warning] = document["problems"]
    assert (warning["code"], warning["severity"]) == ("structural-errors", "warning")
    assert "crmctl lint" in warning["hint"]
    assert document["result"]["entities"][0]["name"] == "Lead"


def test_package_inspect_of_nothing_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _json(capsys, ["package", "inspect", str(tmp_path / "missing")])
    assert (code, document["status"], document["result"]) == (2, "error", None)


def test_package_inspect_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["package", "inspect", str(REPO / "packages/ClaimsIntake")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ClaimsIntake 1.0.0 (global)\n")
    for line in (
        "entity Claim",
        "  injuredCount: number (CEL int)",
        "workflow claimHandling: starts in submitted;",
        "  reject: triage|assessment|pendingApproval -> rejected",
        "form default (Claim)",
        "event ClaimPaid: claimNumber, payableAmount",
    ):
        assert line in text, line


def test_new_text_dry_run_prints_the_diff(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["new", "field", "Lead.mobile", "--package", str(package), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("would have added field Lead.mobile (text) to Leads (--dry-run: nothing written)\n")
    assert f"  would change {(package / 'schema.yaml').as_posix()}" in text
    assert "+      mobile:" in text


def test_a_file_the_edit_creates_diffs_from_dev_null(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "Blank"
    assert run(["new", "package", "Blank", "--dir", str(root)]) == 0
    capsys.readouterr()
    argv = ["new", "rule", "showName", "--target", "name", "--when", "true", "--package", str(root), "--dry-run"]
    code, document = _json(capsys, argv)
    assert code == 0 and document["result"]["created"] == [(root / "rules.yaml").as_posix()]
    assert document["result"]["diff"].startswith("--- /dev/null\n+++ b/rules.yaml\n")
    assert not (root / "rules.yaml").exists()


def test_unified_diff_marks_a_missing_final_newline() -> None:
    from crmctl.model.edits import unified_diff

    assert unified_diff("a.yaml", "x: 1\n", "x: 1\n") == ""
    assert unified_diff("a.yaml", "x: 1", "x: 2") == (
        "--- a/a.yaml\n+++ b/a.yaml\n@@ -1 +1 @@\n-x: 1\n\\ No newline at end of file\n+x: 2\n"
        "\\ No newline at end of file\n"
    )
