"""Which values are expressions and references: the tables of crmctl.lang.context checked against the walkers that
already enumerate them (`crmctl.compat.field_refs`, `LintContext.expressions`), on the reference packages and a
small generated package, so that a new expression-valued key or field reference cannot be missed silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.compat.field_refs import field_refs
from crmctl.lang.context import artifact_kind, expression_role, reference_at, schema_keys, schema_values
from crmctl.lint.context import LintContext
from crmctl.model.package import Package, load_package
from tests.benchmarks.test_generate import generate
from tests.lang.cases import reference


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Package:
    root = generate(tmp_path_factory.mktemp("lang") / "small")
    return load_package(root)


def _packages(generated: Package) -> list[Package]:
    return [reference("LeadLifecycle/v1"), reference("LeadLifecycle/v2"), reference("ClaimsIntake"), generated]


def test_every_expression_is_known_as_one(generated: Package) -> None:
    for pkg in _packages(generated):
        for ref in field_refs(pkg):
            if ref.cel:
                assert expression_role(ref.doc, ref.json_path) is not None, (pkg.label, ref.doc, ref.json_path)
        for expr in LintContext(pkg).expressions():
            assert expression_role(expr.kind, expr.json_path) is not None, (pkg.label, expr.json_path)


def test_every_field_reference_is_known_as_one(generated: Package) -> None:
    for pkg in _packages(generated):
        for ref in field_refs(pkg):
            if ref.cel:
                continue
            if ref.is_key:
                assert reference_at(ref.doc, ref.json_path[:-1], key=True) == "field", ref.json_path
            else:
                assert reference_at(ref.doc, ref.json_path, key=False) in ("field", "target"), ref.json_path


def test_values_that_are_not_expressions_or_references() -> None:
    assert expression_role("rules", ("rules", 0, "description")) is None
    assert reference_at("rules", ("rules", 0, "description"), key=False) is None
    assert reference_at("localization/de", ("labels",), key=True) == "label-key"


@pytest.mark.parametrize(
    ("file", "kind"),
    [
        ("/ws/P/schema.yaml", "schema"),
        ("/ws/P/localization/de.yml", "localization/de"),
        ("/ws/P/scripts/capture.yaml", "script"),
        ("/ws/P/scenarios/x.json", "scenario"),
        ("C:\\ws\\P\\rules.yaml", "rules"),
        ("/ws/P/localization.yaml", None),
        ("/ws/P/notes.md", None),
        ("/ws/P/other.yaml", None),
    ],
)
def test_artifact_kind_from_the_file_name(file: str, kind: str | None) -> None:
    assert artifact_kind(None, file) == kind


def test_schema_values_and_keys_at_paths_the_schema_does_not_have() -> None:
    assert schema_values("rules", ()) == []
    assert schema_values("rules", ("nope", "deeper")) == []
    assert schema_keys("rules", ("rules", 0, "nope"), {}) == []
    assert schema_keys("nokind", (), {}) == []
    assert [k for k, _ in schema_values("ui", ("steps", 0, "mode"))] == ["edit", "summary"]
    assert [k for k, _ in schema_values("package", ("scope",))] == []  # a pattern, not a list
    script = [k.name for k in schema_keys("script", (), {})]
    assert script  # scripts are completed from their own schema


def test_reference_files_name_themselves(tmp_path: Path) -> None:
    pkg = reference("LeadLifecycle/v2")
    for kind, doc in pkg.docs.items():
        assert artifact_kind(pkg, doc.file) == kind
