"""The reference packages under packages/: lint clean, compatible history, and full coverage of the format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crmctl.cli.main import app
from crmctl.compat import ChangeClass, diff_packages
from crmctl.lint import lint_package
from crmctl.model.artifacts import CAPABILITIES, SCOPES, TRIGGERS, VALIDATION_TYPES, UiArtifact
from crmctl.model.fields import FIELD_TYPES, ArrayField, ObjectField
from crmctl.model.package import Package, load_package

REPO = Path(__file__).resolve().parents[2]
PACKAGES = REPO / "packages"
REFERENCE = ["LeadLifecycle/v1", "LeadLifecycle/v2", "ClaimsIntake"]
SHIPPED_SCHEMAS = Path(__file__).resolve().parents[2] / "src" / "crmctl" / "model" / "schemas"

# Blueprint §7, verbatim.
BLUEPRINT_UI_EXAMPLE = """
{
  "steps": [
    { "id": "personal", "fields": ["firstName", "phone"] },
    { "id": "company", "fields": ["company", "industry"] },
    { "id": "review", "mode": "summary" }
  ]
}
"""


def _load(rel: str) -> Package:
    return load_package(PACKAGES / rel, label=f"packages/{rel}")


def test_every_package_under_packages_is_a_reference_package() -> None:
    found = sorted(p.parent.relative_to(PACKAGES).as_posix() for p in PACKAGES.rglob("package.yaml"))
    assert found == sorted(REFERENCE)


@pytest.mark.parametrize("rel", REFERENCE)
def test_reference_package_lints_clean(rel: str) -> None:
    package = _load(rel)
    assert package.valid
    assert [f"{d.location}: {d.code} {d.message}" for d in lint_package(package)] == []


@pytest.mark.parametrize("rel", REFERENCE)
def test_every_file_names_its_json_schema(rel: str) -> None:
    """Headers point at the repository's shipped schemas by relative path, so editors here resolve them."""
    for path in sorted((PACKAGES / rel).rglob("*.yaml")):
        folder = path.parent.name
        kind = {"localization": "localization", "scenarios": "scenario", "scripts": "script"}.get(folder, path.stem)
        first = path.read_text(encoding="utf-8").splitlines()[0]
        prefix = "# yaml-language-server: $schema="
        assert first.startswith(prefix), path
        target = (path.parent / first.removeprefix(prefix)).resolve()
        assert target == (SHIPPED_SCHEMAS / f"{kind}.schema.json").resolve(), path
        assert target.is_file(), path


@pytest.mark.parametrize("rel", REFERENCE)
def test_digest(rel: str) -> None:
    outcome = CliRunner().invoke(app, ["package", "digest", str(PACKAGES / rel)])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.startswith("jcs-sha256:")


def test_v1_to_v2_is_a_compatible_minor_release() -> None:
    result = diff_packages(_load("LeadLifecycle/v1"), _load("LeadLifecycle/v2"))
    assert result.by_class(ChangeClass.BREAKING) == []
    assert result.by_class(ChangeClass.DATA_DEPENDENT) == []
    assert result.bump == "minor"
    kinds = {c.kind.id for c in result.changes}
    assert {"field-renamed-with-alias", "field-added", "rule-added", "locale-added"} <= kinds


def test_v1_to_v2_reports_no_change_for_what_only_follows_the_phone_rename() -> None:
    # v2 renames phone to mobilePhone with an alias and rewrites the rule condition, the form and the labels to
    # the new name: none of that is a change. What stays behavioral is what v2 really changes.
    result = diff_packages(_load("LeadLifecycle/v1"), _load("LeadLifecycle/v2"))
    behavioral = {(c.kind.id, c.path) for c in result.by_class(ChangeClass.BEHAVIORAL)}
    assert behavioral == {
        ("rule-added", "rule:preferredLanguageFromLocale"),
        ("rule-added", "rule:showConsent"),
        ("rule-added", "rule:showLinkedinUrl"),
        ("soft-validation-added", "validation:linkedinUrlFormat"),
        ("ui-field-added", "ui:default.step:company.consentMarketing"),
        ("ui-field-added", "ui:default.step:company.lastContactedAt"),
        ("ui-field-added", "ui:default.step:personal.linkedinUrl"),
        ("ui-field-added", "ui:default.step:personal.preferredLanguage"),
        ("ui-layout-changed", "ui:default.step:company"),  # the new `consent` group
        ("role-view-changed", "ui:default.role:salesRep"),  # lastContactedAt is read-only for sales reps
        ("transition-changed", "workflow:leadLifecycle.transition:qualify"),  # a second approver
        ("sla-changed", "workflow:leadLifecycle.state:new"),  # 1bd/2bd became 2bd/3bd
        ("task-added", "workflow:leadLifecycle.state:contacted.task:qualificationDecision"),
        ("calendar-changed", "workflow:leadLifecycle.calendar:business"),  # Berlin hours and holidays
    }
    assert not any("phone" in c.path.lower() for c in result.by_class(ChangeClass.BEHAVIORAL))
    moved = [c.message for c in result.changes if c.kind.id == "localization-key-moved"]
    assert moved == [
        "labels.Lead.phone moved to labels.Lead.mobilePhone in locale de with the field's rename, and its text changed",
        "labels.Lead.phone moved to labels.Lead.mobilePhone in locale en with the field's rename, and its text changed",
    ]


def test_v1_to_v2_diff_command_exits_0() -> None:
    outcome = CliRunner().invoke(app, ["diff", str(PACKAGES / "LeadLifecycle/v1"), str(PACKAGES / "LeadLifecycle/v2")])
    assert outcome.exit_code == 0, outcome.output


def test_v2_renames_phone_through_an_alias() -> None:
    v2 = _load("LeadLifecycle/v2")
    assert v2.schema is not None and v2.manifest is not None
    lead = v2.schema.entities["Lead"].fields
    assert "phone" not in lead
    assert lead["mobilePhone"].aliases == ["phone"]
    assert v2.manifest.version == "1.1.0"
    assert v2.manifest.locales == ["en", "de", "fr"]


def test_blueprint_ui_example_validates_and_v1_realises_it() -> None:
    example = UiArtifact.model_validate(json.loads(BLUEPRINT_UI_EXAMPLE))
    v1 = _load("LeadLifecycle/v1")
    assert v1.ui is not None and v1.ui.steps is not None
    steps = {s.id: s for s in v1.ui.steps}
    assert example.steps is not None
    assert [s.id for s in v1.ui.steps] == [s.id for s in example.steps]
    for step in example.steps:
        shown = set(steps[step.id].fields) | {f for g in steps[step.id].groups for f in g.fields}
        assert set(step.fields) <= shown
        assert steps[step.id].mode == step.mode


# --- ClaimsIntake covers the whole format -------------------------------------------------------------------


def _field_types(fields: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for fdef in fields.values():
        found.add(fdef.type)
        inner = fdef
        while isinstance(inner, ArrayField):
            inner = inner.items
            found.add(inner.type)
        if isinstance(inner, ObjectField):
            found |= _field_types(inner.fields)
    return found


@pytest.fixture(scope="module")
def claims() -> Package:
    return _load("ClaimsIntake")


def test_claims_uses_every_field_type(claims: Package) -> None:
    assert claims.schema is not None
    used = set().union(*(_field_types(e.fields) for e in claims.schema.entities.values()))
    assert set(FIELD_TYPES) <= used, f"missing field types: {set(FIELD_TYPES) - used}"


def test_claims_uses_every_trigger_scope_and_capability(claims: Package) -> None:
    assert claims.rules is not None
    rules = claims.rules.rules
    assert set(TRIGGERS) <= {t for r in rules for t in r.triggers()}
    assert set(SCOPES) <= {r.scope for r in rules}
    assert set(CAPABILITIES) <= {r.capability for r in rules}


def test_claims_uses_every_validation_type_mode_and_operator(claims: Package) -> None:
    assert claims.validations is not None
    validations = claims.validations.validations
    assert set(VALIDATION_TYPES) <= {v.type for v in validations}
    assert {"soft", "hard"} <= {v.mode for v in validations}
    assert {"all", "any", "not"} <= {v.operator for v in validations if v.type == "composite"}


def test_claims_workflow_has_approval_chains_slas_and_timers(claims: Package) -> None:
    assert claims.workflow is not None
    transitions = [t for w in claims.workflow.workflows for t in w.transitions]
    approvals = [t.approval for t in transitions if t.approval is not None]
    assert any(a.mode == "sequential" and len(a.approvers) > 1 for a in approvals)
    assert any(a.mode == "parallel" and a.quorum is not None and a.quorum < len(a.approvers) for a in approvals)
    slas = [s.sla for w in claims.workflow.workflows for s in w.states.values() if s.sla is not None]
    assert any(s.calendar == "business" and s.escalateTo for s in slas)
    assert any(s.onBreach for s in slas)
    assert [t for w in claims.workflow.workflows for t in w.timers]
    emitted = {e for t in transitions for e in t.emits}
    assert claims.events is not None and emitted == set(claims.events.events)


def test_claims_has_an_rtl_locale_with_every_plural_form(claims: Package) -> None:
    rtl = [loc for loc in claims.localization.values() if loc.direction == "rtl"]
    assert rtl
    assert any(set(forms) == {"zero", "one", "two", "few", "many", "other"} for forms in rtl[0].plurals.values())
