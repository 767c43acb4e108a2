"""The control plane's commands on the JSON contract: every one run with `-f json` in realistic cases (ok, a
failure with its answer, an error), asserting on the result's content; the suite's CRMCTL_CONTRACT_CHECK=1 checks
every envelope against its command's schema before it is printed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli import contract
from crmctl.cli.main import run
from crmctl.signing import SigningKey
from tests.conftest import MINIMAL, REPO, write_package
from tests.registry.conftest import LEAD_V1, LEAD_V2, NOW, make_key

COVERED = {
    "lint",
    "fmt",
    "diff",
    "rules",
    "explain",
    "schema export",
    "keys generate",
    "keys show",
    "registry init",
    "registry list",
    "registry show",
    "registry log",
    "registry verify",
    "registry signer add",
    "registry signer remove",
    "registry signer list",
    "publish",
    "promote",
    "resolve",
}

Capture = pytest.CaptureFixture[str]


def call(capsys: Capture, *argv: str) -> tuple[int, dict[str, Any], str]:
    code = run([*argv, "-f", "json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert contract.validation_errors(document) == []
    assert document["exitCode"] == code
    return code, document, captured.err


def ok(capsys: Capture, *argv: str) -> dict[str, Any]:
    code, document, _ = call(capsys, *argv)
    assert (code, document["status"]) == (0, "ok"), document
    result: dict[str, Any] = document["result"]
    return result


def error(capsys: Capture, *argv: str, code: str = "user-error") -> dict[str, Any]:
    exit_code, document, _ = call(capsys, *argv)
    assert (exit_code, document["status"], document["result"]) == (2, "error", None)
    problem: dict[str, Any] = document["problems"][-1]
    assert problem["code"] == code
    return problem


@pytest.fixture(autouse=True)
def registry_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CRMCTL_KEY", raising=False)


@pytest.fixture
def alice(tmp_path: Path) -> SigningKey:
    return make_key(tmp_path, "alice")


@pytest.fixture
def registry(tmp_path: Path, alice: SigningKey, monkeypatch: pytest.MonkeyPatch) -> str:
    """An initialised registry named by CRMCTL_REGISTRY, alice's key as CRMCTL_KEY."""
    from crmctl.registry.ops import init_registry

    location = str(tmp_path / "reg")
    init_registry(location, alice, "alice@example.com", NOW)
    monkeypatch.setenv("CRMCTL_REGISTRY", location)
    monkeypatch.setenv("CRMCTL_KEY", str(alice.path))
    return location


# --- lint, fmt, diff -----------------------------------------------------------------------------------------------


def test_lint(capsys: Capture, tmp_path: Path) -> None:
    result = ok(capsys, "lint", str(LEAD_V1))
    assert result["findings"] == []
    assert result["summary"] == {
        "errors": 0,
        "warnings": 0,
        "infos": 0,
        "total": 0,
        "packages": [{"name": "LeadLifecycle", "version": "1.0.0", "path": str(LEAD_V1)}],
        "baselined": None,
    }
    broken = write_package(tmp_path / "Broken", {**MINIMAL, "rules.yaml": "rules:\n  - id: x\n    capability: nope\n"})
    code, document, _ = call(capsys, "lint", str(broken))
    assert (code, document["status"]) == (1, "failed")
    finding = document["result"]["findings"][0]
    assert finding["severity"] == "error" and finding["file"].endswith("rules.yaml") and finding["line"] >= 1
    assert document["result"]["summary"]["errors"] >= 1
    error(capsys, "lint", str(tmp_path / "nowhere"), code="input-error")


def test_lint_baseline_is_counted(capsys: Capture, tmp_path: Path) -> None:
    broken = write_package(tmp_path / "Broken", {**MINIMAL, "rules.yaml": "rules:\n  - id: x\n    capability: nope\n"})
    baseline = tmp_path / "baseline.json"
    assert run(["lint", str(broken), "--write-baseline", str(baseline)]) == 1
    capsys.readouterr()
    result = ok(capsys, "lint", str(broken), "--baseline", str(baseline))
    assert result["findings"] == [] and result["summary"]["baselined"] >= 1


def test_fmt(capsys: Capture, tmp_path: Path) -> None:
    package = write_package(tmp_path / "Demo", dict(MINIMAL))
    (package / "schema.yaml").write_text("entities:\n    Lead:\n        fields:\n            a: {type: text}\n")
    code, document, _ = call(capsys, "fmt", "--diff", str(package))
    assert (code, document["status"]) == (1, "failed")
    result = document["result"]
    assert result["mode"] == "diff"
    [changed] = [f for f in result["files"] if f["changed"]]
    assert changed["file"].endswith("schema.yaml") and changed["diff"].startswith("--- a/")
    assert result["summary"] == {"changed": 1, "unchanged": len(result["files"]) - 1, "errors": 0}
    written = ok(capsys, "fmt", str(package))
    assert written["mode"] == "write" and [f["changed"] for f in written["files"]].count(True) == 1
    assert ok(capsys, "fmt", "--check", str(package))["summary"]["changed"] == 0
    (package / "ui.yaml").write_text("forms: [unclosed\n")
    code, document, err = call(capsys, "fmt", "--check", str(package))
    assert (code, document["status"]) == (2, "error")
    assert document["result"]["summary"]["errors"] == 1  # the other files are still reported
    [problem] = document["problems"]
    assert problem["code"] == "input-error" and problem["file"].endswith("ui.yaml") and problem["line"] >= 1
    assert err == ""  # one document, no second error envelope


def test_fmt_standard_input(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    text = "entities:\n    Lead:\n        fields: {}\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    result = ok(capsys, "fmt", "-", "--stdin-filename", "schema.yaml")
    [file] = result["files"]
    assert file["changed"] and file["content"] == "entities:\n  Lead:\n    fields: {}\n"


def test_diff(capsys: Capture, tmp_path: Path) -> None:
    result = ok(capsys, "diff", str(LEAD_V1), str(LEAD_V2))
    summary = result["summary"]
    assert summary["proposedBump"] == "minor" and summary["failOn"] == ["breaking"] and summary["failed"] == 0
    assert summary["old"]["version"] == "1.0.0" and summary["new"]["digest"].startswith("jcs-sha256:")
    assert summary["versionCheck"]["ok"] is True and summary["records"] is None
    assert summary["failedByRecords"] is None
    assert all(f["extra"]["class"] for f in result["findings"])
    removed = shutil.copytree(LEAD_V1, tmp_path / "removed")
    schema = (removed / "schema.yaml").read_text(encoding="utf-8")
    without_phone = re.sub(r"\n      phone:\n(        [^\n]*\n)+", "\n", schema, count=1)
    assert without_phone != schema
    (removed / "schema.yaml").write_text(without_phone, encoding="utf-8")
    code, document, _ = call(capsys, "diff", str(LEAD_V1), str(removed))
    assert (code, document["status"]) == (1, "failed")
    assert document["result"]["summary"]["proposedBump"] == "major"
    assert any(f["extra"]["class"] == "breaking" for f in document["result"]["findings"])
    error(capsys, "diff", str(LEAD_V1), str(tmp_path / "nowhere"), code="input-error")


# --- rules, explain, schema export ---------------------------------------------------------------------------------


def test_rules(capsys: Capture) -> None:
    rules = ok(capsys, "rules")["rules"]
    assert {"code": "PKG010", "name": "ignore-without-reason"}.items() <= rules[1].items()
    assert len({r["code"] for r in rules}) == len(rules) > 50


@pytest.mark.parametrize(
    ("code", "family", "name", "severity", "headings"),
    [
        ("RUL301", "lint-rule", "rule-expression-invalid", "error", ["Why", "Bad", "Good", "Fix"]),
        ("rul301", "lint-rule", "rule-expression-invalid", "error", ["Why", "Bad", "Good", "Fix"]),
        ("CMP101", "change-kind", "field-removed", None, ["Class", "Semver", "Why"]),
        ("REG303", "registry-problem", "", "error", ["Where"]),
        ("LOG001", "event-log-problem", "", "error", ["Where"]),
    ],
)
def test_explain(capsys: Capture, code: str, family: str, name: str, severity: str | None, headings: list[str]) -> None:
    result = ok(capsys, "explain", code)
    assert (result["code"], result["family"], result["name"], result["severity"]) == (
        code.upper(),
        family,
        name,
        severity,
    )
    assert [s["heading"] for s in result["sections"]] == headings and all(s["text"] for s in result["sections"])
    assert result["summary"]


@pytest.mark.parametrize("code", ["REG999", "CMP999", "LOG999", "XYZ123", ""])
def test_explain_unknown_code_is_a_usage_error_with_a_hint(capsys: Capture, code: str) -> None:
    problem = error(capsys, "explain", code, code="usage-error")
    assert "no such code" in problem["message"] and "crmctl rules" in problem["hint"]


def test_every_registry_and_event_log_code_is_explained(capsys: Capture) -> None:
    """Every REGnnn / LOGnnn the source raises has an explanation (REG303 had none)."""
    used = set()
    for path in (REPO / "src" / "crmctl").rglob("*.py"):
        used |= set(re.findall(r"\b(?:REG|LOG)[0-9]{3}\b", path.read_text(encoding="utf-8")))
    assert {"REG303", "LOG001"} <= used
    for code in sorted(used):
        assert run(["explain", code]) == 0, code
    capsys.readouterr()


def test_schema_export(capsys: Capture, tmp_path: Path) -> None:
    result = ok(capsys, "schema", "export", str(tmp_path / "out"))
    files = [Path(f) for f in result["files"]]
    assert result["directory"] == str(tmp_path / "out")
    assert all(f.is_file() for f in files)
    assert tmp_path / "out" / "commands" / "lint.schema.json" in files
    assert tmp_path / "out" / "report.schema.json" not in files  # retired: commands/lint and commands/diff
    (tmp_path / "file").write_text("")
    error(capsys, "schema", "export", str(tmp_path / "file"), code="input-error")


# --- keys ----------------------------------------------------------------------------------------------------------


def test_keys(capsys: Capture, tmp_path: Path) -> None:
    key = tmp_path / "k"
    generated = ok(capsys, "keys", "generate", str(key), "--identity", "a@example.com")
    assert generated["path"] == str(key) and generated["publicKey"].startswith("ssh-ed25519 ")
    assert generated["fingerprint"].startswith("SHA256:")
    assert "PRIVATE" not in json.dumps(generated)
    assert ok(capsys, "keys", "show", str(key)) == generated
    error(capsys, "keys", "generate", str(key), "--identity", "a@example.com", code="input-error")
    error(capsys, "keys", "show", str(tmp_path / "missing"), code="input-error")


# --- the registry --------------------------------------------------------------------------------------------------


def test_registry_init(capsys: Capture, tmp_path: Path, alice: SigningKey) -> None:
    result = ok(capsys, "registry", "init", str(tmp_path / "r"), "--key", str(alice.path), "--identity", "a@b.example")
    assert (result["status"], result["seq"], result["findings"], result["dataDependent"]) == ("written", 1, [], None)
    assert result["head"].startswith("sha256:") and len(result["commit"]) == 40
    error(capsys, "registry", "init", str(tmp_path / "r2"), "--key", str(tmp_path / "none"), code="usage-error")


def test_publish_promote_resolve_and_reads(capsys: Capture, registry: str) -> None:
    published = ok(capsys, "publish", str(LEAD_V1))
    assert (published["status"], published["seq"], published["findings"]) == ("written", 2, [])
    assert ok(capsys, "publish", str(LEAD_V1))["status"] == "unchanged"
    assert ok(capsys, "publish", str(LEAD_V2))["seq"] == 3
    promoted = ok(capsys, "promote", "LeadLifecycle@1.1.0", "--to", "prod")
    assert (promoted["status"], promoted["message"]) == ("written", "promote LeadLifecycle 1.1.0 to prod")
    resolved = ok(capsys, "resolve", "LeadLifecycle", "--channel", "prod")
    assert (resolved["name"], resolved["version"], resolved["channel"]) == ("LeadLifecycle", "1.1.0", "prod")
    listed = ok(capsys, "registry", "list")["packages"]
    assert listed == [
        {
            "name": "LeadLifecycle",
            "scope": "global",
            "latest": "1.1.0",
            "versions": ["1.0.0", "1.1.0"],
            "channels": {"prod": "1.1.0"},
        }
    ]
    package = ok(capsys, "registry", "show", "LeadLifecycle")
    assert package["kind"] == "package" and [v["version"] for v in package["versions"]] == ["1.0.0", "1.1.0"]
    version = ok(capsys, "registry", "show", "LeadLifecycle@prod")
    assert (version["kind"], version["version"], version["channels"]) == ("version", "1.1.0", ["prod"])
    assert version["tag"] == "LeadLifecycle/v1.1.0" and version["dataDependent"] is None
    assert version["provenance"]["signer"]["identity"] == "alice@example.com"
    entries = ok(capsys, "registry", "log")["entries"]
    assert [(e["seq"], e["type"], e["problem"]) for e in entries] == [
        (1, "init", None),
        (2, "publish", None),
        (3, "publish", None),
        (4, "promote", None),
    ]
    assert all("signature" not in e for e in entries)
    verified = ok(capsys, "registry", "verify")
    assert (verified["ok"], verified["seq"], verified["versions"], verified["findings"]) == (True, 4, 2, [])
    error(capsys, "registry", "show", "Nope", code="user-error")
    error(capsys, "promote", "LeadLifecycle", "--to", "prod", code="usage-error")


def test_refused_publish_lists_its_reasons_once(capsys: Capture, registry: str, tmp_path: Path) -> None:
    assert run(["publish", str(LEAD_V2)]) == 0
    capsys.readouterr()
    code, document, _ = call(capsys, "publish", str(LEAD_V1))
    assert (code, document["status"]) == (1, "failed")
    result = document["result"]
    assert result["status"] == "refused" and (result["seq"], result["head"], result["commit"]) == (None, None, None)
    assert "REG302" in [f["code"] for f in result["findings"]]
    assert result["findings"][0] == {
        "code": "REG302",
        "severity": "error",
        "message": "version 1.0.0 is not higher than the published 1.1.0",
        "subject": "LeadLifecycle@1.0.0",
    }
    assert run(["publish", str(LEAD_V1)]) == 1
    text = capsys.readouterr().out
    assert text.count("refused") == 1, text  # "refused: X: publish refused (1 problem)" before
    count = len(result["findings"])
    assert text.startswith(f"refused: LeadLifecycle@1.0.0: {count} problems\n  LeadLifecycle@1.0.0: REG302 ")
    error(capsys, "publish", str(tmp_path / "nowhere"), code="input-error")


def test_verify_lists_registry_problems_as_findings(capsys: Capture, registry: str) -> None:
    import subprocess

    assert run(["publish", str(LEAD_V1)]) == 0
    capsys.readouterr()
    clone = Path(registry).parent / "clone"
    subprocess.run(["git", "clone", "-q", registry, str(clone)], check=True)
    index = clone / "index.json"
    index.write_text(index.read_text(encoding="utf-8").replace("jcs-sha256:", "jcs-sha256:0"), encoding="utf-8")
    git = ["git", "-C", str(clone), "-c", "user.email=m@example.com", "-c", "user.name=m"]
    subprocess.run([*git, "commit", "-qam", "tamper"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True)
    code, document, _ = call(capsys, "registry", "verify")
    assert (code, document["status"]) == (1, "failed")
    result = document["result"]
    assert result["ok"] is False and "REG401" in {f["code"] for f in result["findings"]}
    assert all(f["severity"] == "error" and f["subject"] for f in result["findings"])
    assert document["problems"] == []  # what verify found is its answer, not a problem running it


def test_signers(capsys: Capture, registry: str, tmp_path: Path) -> None:
    bob = make_key(tmp_path, "bob")
    pub = str(tmp_path / "keys" / "bob.pub")
    added = ok(capsys, "registry", "signer", "add", "bob@example.com", "--public-key", pub, "--scope", "tenant:a")
    assert (added["status"], added["seq"]) == ("written", 2)
    signers = ok(capsys, "registry", "signer", "list")["signers"]
    assert [(s["identity"], s["admin"], s["scopes"], s["removed"]) for s in signers] == [
        ("alice@example.com", True, ["*"], None),
        ("bob@example.com", False, ["tenant:a"], None),
    ]
    assert signers[1]["fingerprint"] == bob.fingerprint() and signers[1]["publicKey"].startswith("ssh-ed25519 ")
    # bob is no admin: his signer change is refused with the reason as a finding
    code, document, _ = call(
        capsys, "registry", "signer", "remove", "alice@example.com", "--reason", "x", "--key", str(bob.path)
    )
    assert (code, document["result"]["status"]) == (1, "refused")
    assert [f["code"] for f in document["result"]["findings"]] == ["REG105"]
    removed = ok(capsys, "registry", "signer", "remove", "bob@example.com", "--reason", "left")
    assert removed["status"] == "written"
    assert ok(capsys, "registry", "signer", "list")["signers"][1]["removed"].endswith("Z")
    error(
        capsys,
        "registry",
        "signer",
        "add",
        "x@example.com",
        "--public-key",
        "nonsense",
        "--scope",
        "global",
        code="input-error",
    )


def test_reads_without_a_registry_are_errors(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMCTL_REGISTRY", raising=False)
    for argv in (["registry", "list"], ["registry", "log"], ["registry", "verify"], ["registry", "signer", "list"]):
        problem = error(capsys, *argv, code="usage-error")
        assert "registry" in problem["message"]


# --- resolve's fast path (no click) --------------------------------------------------------------------------------


def test_resolve_fast_path_prints_the_same_envelope(
    capsys: Capture, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmctl.cli.commands import registry as command

    assert run(["publish", str(LEAD_V1)]) == 0
    capsys.readouterr()
    fast = ok(capsys, "resolve", "LeadLifecycle")
    code = run(["resolve", "LeadLifecycle", "--format=json"])  # `--format=json`: parse_resolve answers it too
    slow_document = json.loads(capsys.readouterr().out)
    assert code == 0 and slow_document["command"] == "resolve" and slow_document["result"] == fast
    monkeypatch.setattr(command, "parse_resolve", lambda args: None)  # the typer command
    assert ok(capsys, "resolve", "LeadLifecycle") == fast


def test_resolve_fast_path_errors_are_json(capsys: Capture, registry: str) -> None:
    code, document, err = call(capsys, "resolve", "Nope")
    assert (code, document["command"], document["status"], document["result"]) == (2, "resolve", "error", None)
    assert "Nope" in document["problems"][0]["message"] and "crmctl: error:" in err
    code, document, _ = call(capsys, "resolve", "LeadLifecycle", "-c", "prod", "-V", "1.0.0")
    assert (code, document["command"], document["problems"][0]["code"]) == (2, "resolve", "usage-error")
