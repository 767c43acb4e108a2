"""Where diff findings are annotated: a removal lands on a line of the new files, not only the old ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.compat.classify import diff_packages
from crmctl.model.package import load_package
from tests.conftest import MINIMAL, write_package

TWO_FIELDS = (
    "entities:\n  Lead:\n    fields:\n      firstName: {type: text, required: true}\n      email: {type: text}\n"
)


def test_removed_field_is_anchored_at_the_entity_fields_key_of_the_new_file(tmp_path: Path) -> None:
    old = load_package(write_package(tmp_path / "old", {**MINIMAL, "schema.yaml": TWO_FIELDS}), label="old")
    new = load_package(write_package(tmp_path / "new", MINIMAL), label="new")
    [removed] = [c for c in diff_packages(old, new).changes if c.kind.id == "field-removed"]
    assert str(removed.old) == "old/schema.yaml:5:7"
    assert str(removed.location) == "new/schema.yaml:3:5"  # the `fields:` key of Lead


def test_removed_artifact_falls_back_to_the_old_location(tmp_path: Path) -> None:
    ui = "steps:\n  - id: personal\n    fields: [firstName]\n"
    old = load_package(write_package(tmp_path / "old", {**MINIMAL, "ui.yaml": ui}), label="old")
    new = load_package(write_package(tmp_path / "new", MINIMAL), label="new")
    [removed] = [c for c in diff_packages(old, new).changes if c.kind.id == "form-removed"]
    assert removed.anchor is None
    assert str(removed.location).startswith("old/ui.yaml:")


def test_a_picklist_of_a_removed_field_is_one_stale_reference_not_one_per_value(tmp_path: Path) -> None:
    schema = (
        "entities:\n  Lead:\n    fields:\n      firstName: {type: text}\n      stage: {type: enum, values: [a, b, c]}\n"
    )
    labels = "picklists:\n  Lead.stage: {a: A, b: B, c: C}\n"
    old = load_package(write_package(tmp_path / "old", {**MINIMAL, "schema.yaml": schema}), label="old")
    new_files = {**MINIMAL, "localization/en.yaml": MINIMAL["localization/en.yaml"] + labels}
    new = load_package(write_package(tmp_path / "new", new_files), label="new")
    stale = [c for c in diff_packages(old, new).changes if c.kind.id == "stale-reference"]
    assert [(c.path, str(c.location)) for c in stale] == [("Lead.stage", "new/localization/en.yaml:4:15")]


def test_plugged_in_schemes_open_sides_and_unknown_ones_stay_paths(tmp_path: Path) -> None:
    from crmctl.compat.sources import resolve_sides
    from crmctl.model.tree import DirTree

    root = write_package(tmp_path / "pkg", MINIMAL)
    opened: list[str] = []

    def opener(rest: str) -> DirTree:
        opened.append(rest)
        return DirTree(root, f"registry:{rest}")

    old, new = resolve_sides(
        str(root), None, against="registry:Demo@prod", merge_base=False, schemes={"registry": opener}
    )
    assert (opened, old.label, new.label) == (["Demo@prod"], "registry:Demo@prod", str(root))


def test_git_refs_without_git_are_an_environment_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmctl.compat.gitrefs import open_git_tree
    from crmctl.errors import EnvironmentFailure

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentFailure, match="git is not installed"):
        open_git_tree("git:HEAD", tmp_path)
