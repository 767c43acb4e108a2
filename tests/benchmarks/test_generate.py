"""benchmarks/generate_package.py: a small-scale run is a structurally valid, type-correct, deterministic package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crmctl.model.artifacts import CAPABILITIES, SCOPES, TRIGGERS, VALIDATION_TYPES
from crmctl.model.cel import CelChecker, cel_type_of
from crmctl.model.fields import FIELD_TYPES
from crmctl.model.package import Package, load_package
from tests.conftest import REPO

GENERATOR = REPO / "benchmarks" / "generate_package.py"
SCALE = "0.05"


def generate(out: Path, variant: int = 1) -> Path:
    subprocess.run(
        [sys.executable, str(GENERATOR), str(out), "--variant", str(variant), "--scale", SCALE],
        check=True,
        capture_output=True,
    )
    return out


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("bench") / "v1")


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("bench") / "v2", variant=2)


def loaded(root: Path) -> Package:
    package = load_package(root)
    assert package.valid, [str(d) for d in package.diagnostics][:5]
    return package


def test_same_arguments_give_the_same_bytes(v1: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again")
    assert tree_bytes(again) == tree_bytes(v1)


@pytest.mark.parametrize("variant", [1, 2])
def test_package_is_structurally_valid(variant: int, v1: Path, v2: Path) -> None:
    package = loaded(v1 if variant == 1 else v2)
    assert package.manifest is not None
    assert package.manifest.version == ("1.0.0" if variant == 1 else "1.1.0")
    assert len(package.localization) == 10


def test_every_kind_of_field_rule_and_validation_is_present(v1: Path) -> None:
    package = loaded(v1)
    assert package.schema and package.rules and package.validations
    entities = package.schema.entities
    assert len(entities) == 3
    assert all(len(entity.fields) == 40 for entity in entities.values())
    assert {f.type for e in entities.values() for f in e.fields.values()} == set(FIELD_TYPES)
    rules = package.rules.rules
    assert len(rules) == 60
    assert {r.capability for r in rules} == set(CAPABILITIES)
    assert {r.scope for r in rules} == set(SCOPES)
    assert {t for r in rules for t in r.triggers()} == set(TRIGGERS)
    assert len(package.validations.validations) == 30
    assert {v.type for v in package.validations.validations} == set(VALIDATION_TYPES)


def test_references_resolve_and_locales_are_complete(v1: Path) -> None:
    package = loaded(v1)
    assert package.schema and package.ui and package.rules and package.validations and package.workflow
    entities = package.schema.entities
    steps = {s.id for form in package.ui.all_forms().values() for s in form.steps}
    groups = {g.id for form in package.ui.all_forms().values() for s in form.steps for g in s.groups}
    transitions = {t.id for w in package.workflow.workflows for t in w.transitions}
    for rule in package.rules.rules:
        assert rule.entity in entities
        known = {
            "field": set(entities[rule.entity].fields),
            "step": steps,
            "component": groups,
            "workflow": transitions,
        }.get(rule.scope)
        assert rule.target is None if known is None else rule.target in known, rule.id
        assert rule.goto is None or rule.goto in steps
    ids = {v.id for v in package.validations.validations}
    assert all(set(v.validations) <= ids for v in package.validations.validations)
    keys = {v.message for v in package.validations.validations} | {r.message for r in package.rules.rules if r.message}
    for locale, loc in package.localization.items():
        assert keys <= set(loc.messages), locale
        for name, entity in entities.items():
            assert {f"{name}.{f}" for f in entity.fields} <= set(loc.labels), locale
            for field_name, definition in entity.fields.items():
                if definition.type == "enum":
                    assert set(loc.picklists[f"{name}.{field_name}"]) == set(definition.values)
        assert {f"step.{s}" for s in steps} <= set(loc.labels)
    for form in package.ui.all_forms().values():
        assert form.entity is not None
        shown = {f for s in form.steps for f in [*s.fields, *(x for g in s.groups for x in g.fields)]}
        assert shown == set(entities[form.entity].fields)


@pytest.mark.parametrize("variant", [1, 2])
def test_expressions_type_check(variant: int, v1: Path, v2: Path) -> None:
    package = loaded(v1 if variant == 1 else v2)
    assert package.schema and package.rules and package.validations and package.workflow
    entities = package.schema.entities
    checks: list[tuple[str | None, str, str]] = []
    for rule in package.rules.rules:
        if rule.when:
            checks.append((rule.entity, rule.when, "bool"))
        if rule.expression and rule.capability == "dependency":
            checks.append((rule.entity, rule.expression, "list(string)"))
        elif rule.expression and rule.entity and rule.target:
            checks.append((rule.entity, rule.expression, cel_type_of(entities[rule.entity].fields[rule.target])))
    for v in package.validations.validations:
        checks += [(v.entity, expr, "bool") for expr in (v.when, v.expression) if expr]
    for w in package.workflow.workflows:
        checks += [(w.entity, t.guard, "bool") for t in w.transitions if t.guard]
    for name, entity in entities.items():
        for definition in entity.fields.values():
            if definition.type == "calculated":
                checks.append((name, definition.expression, cel_type_of(definition)))
    wrong = []
    for entity_name, expr, expected in checks:
        result = CelChecker.for_entity(package.schema, entity_name).check(expr)
        if not result.ok or result.result_type != expected:
            wrong.append((entity_name, expr, expected, result))
    assert checks and not wrong


def test_variant_two_is_a_real_next_version(v1: Path, v2: Path) -> None:
    old, new = loaded(v1), loaded(v2)
    assert old.schema and new.schema
    added = {(e, f) for e, d in new.schema.entities.items() for f in d.fields} - {
        (e, f) for e, d in old.schema.entities.items() for f in d.fields
    }
    assert {f for _, f in added} == {"extra1", "extra2"}
    assert tree_bytes(v1).keys() == tree_bytes(v2).keys()


@pytest.mark.parametrize("variant", [1, 2])
def test_package_is_lint_clean(variant: int, v1: Path, v2: Path) -> None:
    runner = pytest.importorskip("crmctl.lint.runner", reason="crmctl lint has not landed yet")
    findings = runner.lint_package(loaded(v1 if variant == 1 else v2))
    assert [f"{d.code} {d.location}: {d.message}" for d in findings] == []
