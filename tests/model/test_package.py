"""Package discovery and structural validation against the shipped JSON Schemas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crmctl.errors import InputError
from crmctl.model.jsonschemas import ARTIFACT_MODELS, build_schema, shipped_schema
from crmctl.model.package import load_package
from tests.conftest import MINIMAL, write_package


def test_minimal_package_loads(tmp_path: Path) -> None:
    package = load_package(write_package(tmp_path / "p", MINIMAL))
    assert package.valid, package.diagnostics
    assert package.manifest is not None and package.manifest.name == "Demo"
    assert package.schema is not None and "Lead" in package.schema.entities
    assert set(package.localization) == {"en"}


def test_missing_manifest_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text("entities: {}\n")
    with pytest.raises(InputError, match=r"not a package: package\.yaml is missing"):
        load_package(tmp_path)


def test_structural_errors_point_at_the_key(tmp_path: Path) -> None:
    files = dict(MINIMAL)
    files["schema.yaml"] = (
        "entities:\n  Lead:\n    fields:\n"
        "      a: {type: texty}\n"
        "      b: {type: text, colour: red}\n"
        "      c: {type: enum}\n"
        "      d: {type: text, maxLength: 0}\n"
    )
    package = load_package(write_package(tmp_path / "p", files), label="p")
    found = sorted((str(d.location), d.code, d.message) for d in package.diagnostics)
    assert found == [
        (
            "p/schema.yaml:4:17",
            "SCH100",
            "unknown type 'texty'; expected one of: array, boolean, calculated, "
            "currency, date, datetime, enum, file, number, object, reference, text",
        ),
        (
            "p/schema.yaml:5:23",
            "SCH100",
            "unknown key 'colour'; allowed: aliases, default, deprecated, description, "
            "maxLength, multiline, required, type",
        ),
        ("p/schema.yaml:6:10", "SCH100", "'values' is required"),
        ("p/schema.yaml:7:34", "SCH100", "0 is less than the minimum of 1"),
    ]
    assert package.schema is None


def test_yaml_and_json_of_one_artifact_conflict(tmp_path: Path) -> None:
    files = {**MINIMAL, "schema.json": json.dumps({"entities": {}})}
    package = load_package(write_package(tmp_path / "p", files))
    assert [d.code for d in package.diagnostics] == ["PKG002"]


def test_blueprint_ui_example_is_valid(tmp_path: Path) -> None:
    ui = {
        "steps": [
            {"id": "personal", "fields": ["firstName", "phone"]},
            {"id": "company", "fields": ["company", "industry"]},
            {"id": "review", "mode": "summary"},
        ]
    }
    package = load_package(write_package(tmp_path / "p", {**MINIMAL, "ui.json": json.dumps(ui)}))
    assert not [d for d in package.diagnostics if d.code == "UI200"]
    assert package.ui is not None and [s.id for s in package.ui.steps or []] == ["personal", "company", "review"]


def test_symlink_leaving_the_package_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("entities: {}\n")
    root = write_package(tmp_path / "p", {k: v for k, v in MINIMAL.items() if k != "schema.yaml"})
    (root / "schema.yaml").symlink_to(outside)
    with pytest.raises(InputError, match="symlink points outside the package directory"):
        load_package(root)


def _without_schema(root: Path) -> Path:
    return write_package(root, {k: v for k, v in MINIMAL.items() if k != "schema.yaml"})


def test_a_symlink_loop_is_a_located_error(tmp_path: Path) -> None:
    root = _without_schema(tmp_path / "p")
    (root / "schema.yaml").symlink_to("loop.yaml")
    (root / "loop.yaml").symlink_to("schema.yaml")
    with pytest.raises(InputError, match=r"^[^ ]*p/schema.yaml: cannot read file: symlink loop$"):
        load_package(root)
    (root / "schema.yaml").unlink()
    (root / "schema.yaml").symlink_to("schema.yaml")
    with pytest.raises(InputError, match=r"schema\.yaml: cannot read file: symlink loop"):
        load_package(root)


def test_a_dangling_symlink_is_a_located_error(tmp_path: Path) -> None:
    root = _without_schema(tmp_path / "p")
    (root / "schema.yaml").symlink_to("missing.yaml")
    with pytest.raises(InputError, match=r"schema\.yaml: cannot read file: No such file or directory"):
        load_package(root)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    # Reading a FIFO named like an artifact waited forever for a writer; only regular files are read.
    root = _without_schema(tmp_path / "p")
    os.mkfifo(root / "schema.yaml")
    with pytest.raises(InputError, match=r"p/schema.yaml: is a FIFO; only regular files are read$"):
        load_package(root)


def test_a_symlink_to_a_fifo_or_a_device_inside_the_package_is_refused(tmp_path: Path) -> None:
    root = _without_schema(tmp_path / "p")
    os.mkfifo(root / "pipe")
    (root / "schema.yaml").symlink_to("pipe")
    with pytest.raises(InputError, match=r"schema\.yaml: is a FIFO"):
        load_package(root)


def test_other_special_files_that_are_not_artifacts_are_ignored(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", MINIMAL)
    os.mkfifo(root / "notes.txt")
    (root / "loop.yaml").symlink_to("loop.yaml")
    assert load_package(root).valid


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmctl.model import files

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 10)
    root = write_package(tmp_path / "p", MINIMAL)
    with pytest.raises(InputError, match=r"package.yaml: file is \d+ bytes; the limit is 10 bytes"):
        load_package(root)


@pytest.mark.parametrize("kind", sorted(ARTIFACT_MODELS))
def test_shipped_schemas_are_generated_from_the_models(kind: str) -> None:
    assert shipped_schema(kind) == build_schema(kind), (
        "src/crmctl/model/schemas is stale; regenerate with: python -m crmctl.model.jsonschemas"
    )


def test_a_float_where_an_integer_belongs_is_located_at_the_value(tmp_path: Path) -> None:
    """JSON Schema accepts 10.0 as an integer; the strict model does not, and explains where."""
    schema = "entities:\n  Lead:\n    fields:\n      a: {type: text, maxLength: 10.0}\n"
    package = load_package(write_package(tmp_path / "p", {**MINIMAL, "schema.yaml": schema}), label="p")
    [finding] = package.diagnostics
    assert (str(finding.location), finding.code) == ("p/schema.yaml:4:34", "SCH100")
    assert finding.message == "maxLength: Input should be a valid integer"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("x" * 5000, '"' + "x" * 56 + "..."),  # a whole file that is one plain scalar (a key, a token, a blob)
        ("- " + "y" * 5000, '["' + "y" * 55 + "..."),
        ("[" + "1, " * 2000 + "1]", "[1, 1, 1"),
    ],
)
def test_a_long_value_of_the_wrong_type_is_quoted_short(tmp_path: Path, text: str, shown: str) -> None:
    # Regression: `'<the whole file>' is not of type 'object'` quoted the entire value (a private key copied
    # into a package file ended up whole in the message, the JSON envelope and an MCP tool's answer).
    files = {**MINIMAL, "schema.yaml": text + "\n"}
    package = load_package(write_package(tmp_path / "p", files), label="p")
    [message] = [d.message for d in package.diagnostics if d.code == "SCH100"]
    assert message.startswith(shown) and message.endswith("is not of type 'object'")
    assert len(message) < 100
