"""`new_package` and `crmctl new package`: every template scaffolds a lint-clean package, atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmctl.cli.main import app
from crmctl.errors import InputError, InternalError
from crmctl.lint import lint_package
from crmctl.model.package import load_package
from crmctl.scaffold import available_templates, new_package
from crmctl.scaffold import create as create_module
from crmctl.scaffold.templates import NAME_PLACEHOLDER, templates_root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_shipped_templates() -> None:
    assert available_templates() == ["blank", "lead-lifecycle"]
    assert Path(str(templates_root())).is_dir()


@pytest.mark.parametrize("template", ["blank", "lead-lifecycle"])
def test_new_package_lints_clean_and_has_a_digest(template: str, tmp_path: Path) -> None:
    target = tmp_path / "Acme"
    result = new_package("Acme", template, target)
    assert result.root == target
    assert set(result.created) == set(_files(target))
    package = load_package(target)
    assert package.manifest is not None and package.manifest.name == "Acme"
    assert lint_package(package) == []
    for rel, data in _files(target).items():
        assert NAME_PLACEHOLDER.encode() not in data, rel
    outcome = CliRunner().invoke(app, ["package", "digest", str(target), "--format", "json"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout)["result"]["name"] == "Acme"


@pytest.mark.parametrize("template", ["blank", "lead-lifecycle"])
def test_templates_are_lint_clean_packages_themselves(template: str, repo_root: Path) -> None:
    assert lint_package(load_package(repo_root / "templates" / template)) == []


def _without_editor_header(files: dict[str, bytes]) -> dict[str, bytes]:
    """The `$schema=` line is a path relative to the file, so it differs by location; the rest must not."""
    header = b"# yaml-language-server: $schema="
    return {rel: data.split(b"\n", 1)[1] if data.startswith(header) else data for rel, data in files.items()}


def test_lead_lifecycle_template_is_the_v1_reference_package(repo_root: Path) -> None:
    template = _without_editor_header(_files(repo_root / "templates" / "lead-lifecycle"))
    reference = _without_editor_header(_files(repo_root / "packages" / "LeadLifecycle" / "v1"))
    assert template == reference, "templates/lead-lifecycle must stay a copy of packages/LeadLifecycle/v1"


def test_default_directory_is_the_name_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = new_package("Leads", "blank")
    assert result.root == tmp_path / "Leads"
    assert (tmp_path / "Leads" / "package.yaml").is_file()


def test_placeholder_is_replaced(tmp_path: Path) -> None:
    new_package("Orders", "blank", tmp_path / "o")
    text = (tmp_path / "o" / "package.yaml").read_text()
    assert 'description: "Orders: describe what this package models."' in text
    assert "name: Orders\n" in text
    assert text.startswith("# yaml-language-server: $schema=.crmctl/schemas/package.schema.json\n")


def test_empty_existing_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    new_package("X", "blank", tmp_path / "x")
    assert (tmp_path / "x" / "schema.yaml").is_file()


@pytest.mark.parametrize("name", ["", "1abc", "has space", "a/b", "x" * 65, "..", "-dash"])
def test_invalid_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a valid package name"):
        new_package(name, "blank", tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


def test_name_pattern_is_the_manifests(repo_root: Path) -> None:
    schema = json.loads((repo_root / "src/crmctl/model/schemas/package.schema.json").read_text())
    assert create_module.package_name_pattern() == schema["properties"]["name"]["pattern"]


def test_non_empty_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        new_package("T", "blank", tmp_path / "t")
    assert _files(tmp_path / "t") == {"notes.txt": b"mine"}


def test_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        new_package("T", "blank", tmp_path / "t")


def test_unknown_template_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown template 'crm'; available: blank, lead-lifecycle"):
        new_package("T", "crm", tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: Path, template: str) -> None:
        assert (root / "package.yaml").is_file()  # the staging directory was filled...
        raise InternalError("simulated crash")  # ...and then the run died

    monkeypatch.setattr(create_module, "_check_loads", broken)
    with pytest.raises(InternalError):
        new_package("T", "lead-lifecycle", tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


def test_cli_prints_what_it_created(tmp_path: Path) -> None:
    target = tmp_path / "Acme"
    outcome = CliRunner().invoke(app, ["new", "package", "Acme", "--template", "blank", "--dir", str(target)])
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert lines[0] == "created package Acme from template 'blank'"
    assert f"  created {target.as_posix()}/package.yaml" in lines
    assert lines[-1] == f"next: crmctl lint {target}"


def test_cli_edit_commands(tmp_path: Path) -> None:
    target = tmp_path / "Acme"
    new_package("Acme", "blank", target)
    runner = CliRunner()
    steps = [
        ["new", "entity", "Contact", "-p", str(target), "--description", "A person."],
        ["new", "field", "Contact.email", "-p", str(target), "--required"],
        ["new", "field", "Record.kind", "-p", str(target), "--type", "enum", "-o", "values=a,b"],
        [
            "new",
            "rule",
            "showKind",
            "-p",
            str(target),
            "--entity",
            "Record",
            "--target",
            "kind",
            "--when",
            "name != ''",
        ],
    ]
    for args in steps:
        outcome = runner.invoke(app, args)
        assert outcome.exit_code == 0, (args, outcome.output)
        assert outcome.stdout.startswith("added ")
    package = load_package(target)
    assert package.schema is not None and set(package.schema.entities) == {"Record", "Contact"}
    assert {d.code for d in lint_package(package)} <= {"UI206"}


def test_cli_refusal_exits_2(tmp_path: Path) -> None:
    from crmctl.cli.main import run

    target = tmp_path / "Acme"
    new_package("Acme", "blank", target)
    before = _files(target)
    assert run(["new", "field", "Record.kind", "-p", str(target), "--type", "enum"]) == 2
    assert _files(target) == before


def test_editor_schemas_ship_with_the_package_and_headers_resolve_to_them(tmp_path: Path) -> None:
    """Editors resolve `$schema=` relative to the file; every header must name a schema file that exists."""
    import json
    import re

    from crmctl.model.jsonschemas import shipped_schema

    root = tmp_path / "lead"
    new_package("Lead", "lead-lifecycle", root)
    yaml_files = sorted(root.rglob("*.yaml"))
    assert yaml_files
    for path in yaml_files:
        match = re.match(r"# yaml-language-server: \$schema=(\S+)\n", path.read_text())
        assert match, f"{path} has no editor header"
        schema_path = (path.parent / match.group(1)).resolve()
        kind = schema_path.name.removesuffix(".schema.json")
        assert json.loads(schema_path.read_text()) == shipped_schema(kind)
