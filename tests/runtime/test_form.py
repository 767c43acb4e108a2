"""The compiled form model: steps and groups, rule order, calculation order, caching and field paths."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crmctl.model.package import Package, load_package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.form import FormError, FormModel, field_at, set_field

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
LEADS_V1 = load_package(PACKAGES / "LeadLifecycle" / "v1")
CLAIMS = load_package(PACKAGES / "ClaimsIntake")


def tiny(files: dict[str, str]) -> Package:
    base = {
        "package.yaml": "name: Tiny\nversion: 1.0.0\nscope: global\ndescription: Tiny.\nlocales: [en]\n",
        "localization/en.yaml": "labels: {}\n",
    }
    return load_tree(MemoryTree({k: v.encode() for k, v in {**base, **files}.items()}, "Tiny"))


def test_lead_model_layout() -> None:
    model = FormModel.build(LEADS_V1)
    assert (model.entity, model.form_name, model.name, model.version) == ("Lead", "default", "LeadLifecycle", "1.0.0")
    assert [s.id for s in model.steps] == ["personal", "company", "review"]
    assert model.step_fields["company"] == (
        "company",
        "industry",
        "companySize",
        "annualRevenue",
        "source",
        "owner",
        "nextFollowUp",
    )
    assert model.group_fields["sizing"] == ("companySize", "annualRevenue")
    assert model.field_group["owner"] == "pipeline"
    assert model.field_step["annualRevenue"] == "company"
    assert model.form_fields[:4] == ("firstName", "lastName", "email", "phone")
    assert "score" not in model.form_fields
    assert [c.name for c in model.calculated] == ["score"]
    assert model.options("industry") == ["software", "manufacturing", "finance", "healthcare", "retail", "other"]
    assert model.options("firstName") is None
    assert model.step("review") is not None
    assert model.step("nowhere") is None


def test_nested_object_paths_are_flattened() -> None:
    model = FormModel.build(CLAIMS)
    assert "incidentAddress" in model.fields
    assert "incidentAddress.city" in model.fields
    assert model.field_group["incidentAddress.city"] == "location"
    assert model.field_step["incidentAddress.city"] == "incident"


def test_rules_sorted_by_priority_then_file_order() -> None:
    model = FormModel.build(LEADS_V1)
    exit_rules = [r.id for r in model.rules_for("onExitStep")]
    # partnerSkipsCompany has priority 10, contactChannelRequired the default (0 is the lowest): file order.
    priorities = {r.id: r.rule.priority for r in model.rules_for("onExitStep")}
    assert exit_rules == sorted(exit_rules, key=lambda i: (priorities[i], exit_rules.index(i)))
    assert model.rules_for("onNothing") == ()
    # Multi-trigger rules are listed under each of their triggers.
    assert "showCompanySize" in [r.id for r in model.rules_for("onLoad")]
    assert "showCompanySize" in [r.id for r in model.rules_for("onChange")]


def test_rule_priority_orders_against_file_order() -> None:
    rules = """\
rules:
  - {id: late, scope: global, trigger: onLoad, capability: visibility, target: x, when: 'true', priority: 5}
  - {id: early, scope: global, trigger: onLoad, capability: visibility, target: x, when: 'true', priority: 1}
  - {id: tie, scope: global, trigger: onLoad, capability: visibility, target: x, when: 'true', priority: 5}
"""
    package = tiny(
        {
            "schema.yaml": "entities:\n  T:\n    fields:\n      x: {type: text}\n",
            "ui.yaml": "entity: T\nsteps:\n  - id: s\n    fields: [x]\n",
            "rules.yaml": rules,
        }
    )
    model = FormModel.build(package)
    assert [r.id for r in model.rules_for("onLoad")] == ["early", "late", "tie"]
    assert model.rules_for("onLoad")[0].reads == frozenset()


def test_rule_reads_and_steps() -> None:
    model = FormModel.build(LEADS_V1)
    by_id = {r.id: r for rules in model.rules.values() for r in rules}
    assert by_id["contactChannelRequired"].reads == {"email", "phone"}
    assert model.rule_step(by_id["contactChannelRequired"]) == "personal"  # scope step
    assert model.rule_step(by_id["showCompanySize"]) == "company"  # scope field
    assert model.rule_step(by_id["showSizingGroup"]) == "company"  # scope component
    assert model.rule_step(by_id["bigAccountsByManagers"]) is None  # global


def test_calculation_order_and_cycles() -> None:
    schema = """\
entities:
  T:
    fields:
      c: {type: calculated, resultType: number, expression: "b + a"}
      b: {type: calculated, resultType: number, expression: "a * 2.0"}
      a: {type: calculated, resultType: number, expression: "x + 1.0"}
      d: {type: calculated, resultType: number, expression: "x"}
      x: {type: number}
"""
    ui = "entity: T\nsteps:\n  - id: s\n    fields: [x]\n"
    model = FormModel.build(tiny({"schema.yaml": schema, "ui.yaml": ui}))
    assert [c.name for c in model.calculated] == ["a", "b", "c", "d"]
    assert model.calculated[2].reads == {"a", "b"}
    cyclic = schema.replace('"x + 1.0"', '"c + 1.0"')
    with pytest.raises(FormError, match="cycle: a → c → a"):
        FormModel.build(tiny({"schema.yaml": cyclic, "ui.yaml": ui}))
    with pytest.raises(FormError, match="cycle"):
        FormModel.build(tiny({"schema.yaml": schema.replace('"x"', '"d + 1.0"'), "ui.yaml": ui}))


def test_models_are_cached_by_digest() -> None:
    assert FormModel.build(LEADS_V1) is FormModel.build(LEADS_V1)
    assert FormModel.build(LEADS_V1, entity="Lead") is FormModel.build(LEADS_V1)


def test_form_errors() -> None:
    with pytest.raises(FormError, match="no entity 'Nope'"):
        FormModel.build(LEADS_V1, entity="Nope", form="default")
    with pytest.raises(FormError, match="no form 'wizard'"):
        FormModel.build(LEADS_V1, form="wizard")
    with pytest.raises(FormError, match="no form edits entity 'User'"):
        FormModel.build(LEADS_V1, entity="User")
    with pytest.raises(FormError, match="no UI"):
        FormModel.build(replace(LEADS_V1, ui=None))
    with pytest.raises(FormError, match="no schema"):
        FormModel.build(replace(LEADS_V1, schema=None))


def test_validation_reads() -> None:
    model = FormModel.build(CLAIMS)
    assert model.validation_reads["vehicleRegistrationFormat"] == {"vehicleRegistration"}
    assert model.validation_reads["deductibleBelowLoss"] == {"deductible", "estimatedLoss"}
    assert "estimatedLoss" in model.validation_reads["evidenceProvided"]


def test_field_at_and_set_field() -> None:
    data = {"a": 1, "o": {"b": 2}}
    assert field_at(data, "a") == 1
    assert field_at(data, "o.b") == 2
    assert field_at(data, "o.c") is None
    assert field_at(data, "a.b") is None
    assert set_field(data, "o.c", 3) == {"a": 1, "o": {"b": 2, "c": 3}}
    assert data == {"a": 1, "o": {"b": 2}}, "set_field copies"
    assert set_field(data, "o.b", None) == {"a": 1}
    assert set_field(data, "a", None) == {"o": {"b": 2}}
    assert set_field({}, "n.m", 1) == {"n": {"m": 1}}
    assert set_field({"a": 5}, "a.b", 1) == {"a": {"b": 1}}


def test_a_composite_reads_what_its_nested_members_read() -> None:
    package = tiny(
        {
            "schema.yaml": "entities:\n  T:\n    fields:\n      a: {type: text}\n      b: {type: text}\n",
            "ui.yaml": "entity: T\nsteps:\n  - id: one\n    fields: [a, b]\n",
            "validations.yaml": """\
validations:
  - {id: outer, type: composite, mode: soft, operator: all, validations: [inner], message: m.outer}
  - {id: inner, type: composite, operator: any, validations: [aSet, bSet], message: m.inner}
  - {id: aSet, type: required, field: a, message: m.a}
  - {id: bSet, type: required, field: b, message: m.b}
""",
        }
    )
    reads = FormModel.build(package).validation_reads
    assert reads["inner"] == {"a", "b"}
    assert reads["outer"] == {"a", "b"}  # inner is declared after outer
