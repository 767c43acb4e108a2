"""In-place edits: golden before/after files, refusals that leave every file byte-identical, lint-clean results."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from crmctl.errors import InputError
from crmctl.lint import lint_package
from crmctl.model.diagnostics import Severity
from crmctl.model.package import load_package
from crmctl.scaffold import ScaffoldResult, add_entity, add_field, add_rule

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("CRMCTL_REGEN_GOLDEN") == "1"

Edit = Callable[[Path], ScaffoldResult]

CASES: dict[str, tuple[str, Edit]] = {
    "add_entity": ("base", lambda p: add_entity(p, "Account", "A customer account.")),
    "add_field_text": (
        "base",
        lambda p: add_field(p, "Lead.email", "text", options=["maxLength=254"], description="Work e-mail."),
    ),
    "add_field_enum_required": (
        "base",
        lambda p: add_field(p, "Company.tier", "enum", True, ["values=gold,silverPlus"]),
    ),
    "add_field_reference": ("base", lambda p: add_field(p, "Lead.employer", "reference", options=["to=Company"])),
    "add_field_object": (
        "base",
        lambda p: add_field(p, "Lead.address", "object", options=["fields=street,zip:number"]),
    ),
    "add_rule_visibility": (
        "base",
        lambda p: add_rule(
            p, "showFirstName", entity="Lead", target="firstName", trigger="onLoad,onChange", when="lastName != ''"
        ),
    ),
    "add_rule_guard": (
        "base",
        lambda p: add_rule(
            p,
            "bigAmountsNeedPhone",
            entity="Lead",
            capability="guard",
            scope="step",
            target="person",
            trigger="onExitStep",
            when="amount < 10000.0 || phone != ''",
        ),
    ),
    "add_rule_transition": (
        "base",
        lambda p: add_rule(
            p,
            "skipToCheck",
            entity="Lead",
            capability="transition",
            scope="step",
            target="person",
            trigger="onExitStep",
            when="amount < 10.0",
            goto="check",
        ),
    ),
    "json_add_field": ("base_json", lambda p: add_field(p, "Ticket.priority", "enum", options=["values=low,high"])),
    "json_add_entity": ("base_json", lambda p: add_entity(p, "Customer")),
    "json_add_rule": (
        "base_json",
        lambda p: add_rule(p, "showBody", target="body", when="subject != ''"),
    ),
}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _copy(base: str, tmp_path: Path) -> Path:
    target = tmp_path / "pkg"
    shutil.copytree(GOLDEN / base, target)
    return target


@pytest.mark.parametrize("case", sorted(CASES))
def test_edit_matches_golden(case: str, tmp_path: Path) -> None:
    base, edit = CASES[case]
    package = _copy(base, tmp_path)
    before = _files(package)
    result = edit(package)
    after = _files(package)
    touched = {rel for rel in after if before.get(rel) != after[rel]}
    assert touched == set(result.changed) | set(result.created)
    expected_dir = GOLDEN / case
    if REGENERATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel in touched:
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_bytes(after[rel])
    expected = _files(expected_dir)
    assert set(expected) == touched, "a different set of files changed than the golden case records"
    for rel, data in expected.items():
        assert after[rel].decode() == data.decode(), rel
    # The edit leaves a package that still lints without errors or warnings; a new entity has no fields yet,
    # which lint points out (SCH112) until the first `crmctl new field`.
    findings = lint_package(load_package(package))
    allowed = {"SCH112"} if case.endswith("add_entity") else set()
    assert [d.code for d in findings if d.severity is not Severity.INFO and d.code not in allowed] == []


def test_untouched_lines_are_byte_identical(tmp_path: Path) -> None:
    package = _copy("base", tmp_path)
    original = (package / "schema.yaml").read_text()
    add_field(package, "Lead.email", "text")
    edited = (package / "schema.yaml").read_text()
    # Every original line survives in order; the only new lines are the field's.
    remaining = iter(edited.splitlines())
    assert all(line in remaining for line in original.splitlines())
    assert edited.startswith("# yaml-language-server: $schema=https://crmctl.dev/schemas/v1/schema.schema.json\n")


REFUSALS: dict[str, tuple[Edit, str]] = {
    "enum_without_values": (lambda p: add_field(p, "Lead.tier", "enum"), "needs option values="),
    "unknown_type": (lambda p: add_field(p, "Lead.x", "strnig"), "unknown field type 'strnig'"),
    "unknown_option": (lambda p: add_field(p, "Lead.x", "text", options=["to=Company"]), "unknown option 'to'"),
    "bad_option_syntax": (lambda p: add_field(p, "Lead.x", "text", options=["maxLength"]), "not KEY=VALUE"),
    "bad_option_value": (lambda p: add_field(p, "Lead.x", "text", options=["maxLength=long"]), "whole number"),
    "bad_currency": (lambda p: add_field(p, "Lead.x", "currency", options=["currency=euro"]), "currency"),
    "duplicate_field": (lambda p: add_field(p, "Lead.phone", "text"), "already exists"),
    "alias_reused": (lambda p: add_field(p, "Lead.telephone", "text"), "former name (alias)"),
    "entity_not_found": (lambda p: add_field(p, "Contact.email", "text"), "entity 'Contact' not found"),
    "not_entity_dot_field": (lambda p: add_field(p, "email", "text"), "expected ENTITY.FIELD"),
    "bad_field_name": (lambda p: add_field(p, "Lead.e-mail", "text"), "not a valid field name"),
    "reference_to_unknown": (
        lambda p: add_field(p, "Lead.acct", "reference", options=["to=Account"]),
        "unknown entity",
    ),
    "duplicate_entity": (lambda p: add_entity(p, "Company"), "entity 'Company' already exists"),
    "bad_entity_name": (lambda p: add_entity(p, "9Lives"), "not a valid entity name"),
    "duplicate_rule": (
        lambda p: add_rule(p, "showPhone", entity="Lead", target="phone", when="true"),
        "already exists",
    ),
    "rule_needs_entity": (lambda p: add_rule(p, "r", target="phone", when="true"), "several entities"),
    "rule_unknown_entity": (lambda p: add_rule(p, "r", entity="Nope", target="x", when="true"), "'Nope' not found"),
    "rule_unknown_field": (lambda p: add_rule(p, "r", entity="Lead", target="fax", when="true"), "does not exist"),
    "rule_unknown_step": (
        lambda p: add_rule(p, "r", entity="Lead", scope="step", target="nope", when="true"),
        "no step 'nope'",
    ),
    "rule_unknown_group": (
        lambda p: add_rule(p, "r", entity="Lead", scope="component", target="nope", when="true"),
        "no group 'nope'",
    ),
    "rule_bad_trigger": (lambda p: add_rule(p, "r", entity="Lead", target="phone", trigger="onClick"), "trigger"),
    "rule_bad_scope": (lambda p: add_rule(p, "r", entity="Lead", scope="page", target="phone"), "scope"),
    "rule_missing_target": (lambda p: add_rule(p, "r", entity="Lead", scope="field"), "needs a target"),
    "transition_without_goto": (
        lambda p: add_rule(p, "r", entity="Lead", capability="transition", scope="step", target="person"),
        "goto",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_input_is_refused_and_changes_nothing(case: str, tmp_path: Path) -> None:
    edit, message = REFUSALS[case]
    package = _copy("base", tmp_path)
    before = _files(package)
    with pytest.raises(InputError) as excinfo:
        edit(package)
    assert message in excinfo.value.message
    assert _files(package) == before


def test_not_a_package(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a package"):
        add_entity(tmp_path, "Lead")
    with pytest.raises(InputError, match="no such package directory"):
        add_entity(tmp_path / "missing", "Lead")


def test_rules_file_is_created_with_header(tmp_path: Path) -> None:
    package = _copy("base", tmp_path)
    (package / "rules.yaml").unlink()
    result = add_rule(package, "showPhone", entity="Lead", target="phone", when="amount > 1.0")
    assert result.created == ("rules.yaml",)
    text = (package / "rules.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=.crmctl/schemas/rules.schema.json\n")
    assert load_package(package).valid


def test_field_in_array_of_enums_gets_label_but_no_picklist(tmp_path: Path) -> None:
    package = _copy("base", tmp_path)
    add_field(package, "Lead.tags", "array", options=["items=enum", "values=a,b", "maxItems=3"])
    loaded = load_package(package)
    assert loaded.schema is not None
    tags = loaded.schema.entities["Lead"].fields["tags"]
    assert tags.model_dump(exclude_defaults=True) == {
        "type": "array",
        "maxItems": 3,
        "items": {"type": "enum", "values": ["a", "b"]},
    }
    assert loaded.localization["de"].labels["Lead.tags"] == "Tags"
    assert "Lead.tags" not in loaded.localization["de"].picklists
    assert [d for d in lint_package(loaded) if d.severity is not Severity.INFO] == []


def test_edits_keep_the_reference_package_lint_clean(repo_root: Path, tmp_path: Path) -> None:
    package = tmp_path / "lead"
    shutil.copytree(repo_root / "packages" / "LeadLifecycle" / "v1", package)
    add_entity(package, "Account", "A customer account.")
    add_field(package, "Account.name", "text", True)
    add_field(package, "Account.segment", "enum", options=["values=smb,midMarket,enterprise"])
    add_field(package, "Lead.account", "reference", options=["to=Account"])
    add_field(package, "Lead.budget", "currency", options=["currency=EUR"])
    add_field(package, "Lead.headcount", "number", options=["integer=true"])
    add_field(
        package,
        "Lead.budgetPerHead",
        "calculated",
        options=["expression=budget / double(headcount)", "resultType=number"],
    )
    add_rule(package, "showBudget", entity="Lead", target="budget", when="company != ''")
    add_rule(
        package,
        "budgetNeeded",
        entity="Lead",
        capability="guard",
        scope="global",
        trigger="onSubmitAttempt",
        when="budget > 0.0",
    )
    findings = lint_package(load_package(package))
    # Only the reminder that new fields are not on any form step yet (UI206, info) remains.
    assert {d.code for d in findings} <= {"UI206"}
    assert all(d.severity is Severity.INFO for d in findings)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("deep: " + "[" * 30_000 + "]" * 30_000 + "\n", "nesting is deeper than 64 levels"),
        ("big: " + "1" * 5_000 + "\n", "integer has 5000 digits; the limit is 4300"),
    ],
)
def test_a_file_past_the_loader_limits_is_refused_before_editing(tmp_path: Path, tail: str, message: str) -> None:
    # The round-trip reader recursed past Python's limit (a RecursionError traceback) or converted the integer.
    package = _copy("base", tmp_path)
    schema = package / "schema.yaml"
    schema.write_text(schema.read_text() + tail)
    before = schema.read_bytes()
    with pytest.raises(InputError, match=f"^schema.yaml:\\d+:\\d+: {message}"):
        add_field(package, "Lead.email", "text")
    assert schema.read_bytes() == before
