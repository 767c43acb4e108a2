"""Renames through aliases (crmctl.compat.renames), what diff says about labels that follow them, and where the
new stale references and dead ends are annotated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.compat import diff_packages
from crmctl.compat.renames import alias_pairs, field_renames, follow_renames, old_path, rename_path
from crmctl.model.fields import SchemaArtifact
from crmctl.model.package import load_package

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "compat"


def _diff(case: str) -> Any:
    return diff_packages(load_package(CASES / case / "old", "old"), load_package(CASES / case / "new", "new"))


def test_labels_say_whether_they_moved_or_the_new_name_already_had_one() -> None:
    messages = {c.path: c.message for c in _diff("label_target_already_existed").changes}
    assert messages["l10n:en:labels.Lead.phone"] == (
        "labels.Lead.phone was dropped from locale en with the field's rename; labels.Lead.mobilePhone already "
        "existed and has another text, which users now see instead"
    )
    assert messages["l10n:en:labels.Lead.fax"] == (
        "labels.Lead.fax was dropped from locale en with the field's rename; labels.Lead.faxNumber already existed "
        "and has the same text"
    )
    assert messages["l10n:en:labels.Lead.pager"] == (
        "labels.Lead.pager moved to labels.Lead.pagerNumber in locale en with the field's rename, and its text changed"
    )
    assert not any("moved" in m for p, m in messages.items() if p != "l10n:en:labels.Lead.pager")


def test_a_label_moving_with_its_text_says_nothing_about_the_text() -> None:
    [moved] = [c for c in _diff("label_follows_rename").changes if c.path == "l10n:en:labels.Lead.phone"]
    assert moved.message == "labels.Lead.phone moved to labels.Lead.mobilePhone in locale en with the field's rename"


def test_stale_references_are_annotated_where_the_reference_is() -> None:
    stale = {
        (c.message.split(" still")[0], str(c.location))
        for c in _diff("stale_step_reference").changes
        if c.kind.id == "stale-reference"
    }
    assert stale == {
        ("rule:showDeal (target)", "new/rules.yaml:5:13"),
        ("rule:skipToDeal (goto)", "new/rules.yaml:16:11"),
    }
    [role_key] = [c for c in _diff("stale_role_reference").changes if c.message.startswith("ui:default.role:director")]
    assert str(role_key.location) == "new/ui.yaml:6:3"  # the key of the role view, not its value


def test_a_dead_end_names_the_transitions_that_used_to_leave_the_state() -> None:
    [dead] = [c for c in _diff("transition_removal_dead_end").changes if c.kind.id == "state-left-dead-end"]
    assert dead.message == (
        "state open of workflow leadFlow is a dead end: it is not final and no transition leaves it any more "
        "(before: win, lose)"
    )
    assert str(dead.location) == "new/workflow.yaml:7:5"
    assert dead.hint == "keep a transition out of the state, or mark it `final: true`"


def test_the_old_side_is_seen_through_the_renames_but_keeps_its_files() -> None:
    old = load_package(CASES / "rename_follows_every_reference" / "old", "old")
    new = load_package(CASES / "rename_follows_every_reference" / "new", "new")
    view = follow_renames(old, new)
    assert view.docs is old.docs
    assert view.workflow == new.workflow and view.rules == new.rules and view.ui == new.ui
    assert view.schema is not None and "phone" in view.schema.entities["Lead"].fields  # the old names stay
    assert follow_renames(old, old) is old


def test_paths_follow_renames_through_objects_and_lists_and_back() -> None:
    renames = field_renames(*(_schema(f) for f in (OLD_FIELDS, NEW_FIELDS)))["Lead"]
    for before, after in [
        ("o.zip", "addr.postal"),
        ("lines.sku", "items.code"),
        ("o.k", "addr.k"),
        ("x", "x"),
        ("o.nope.zip", "addr.nope.zip"),
    ]:
        assert rename_path(renames, before) == after
        assert old_path(renames, after) == before


OLD_FIELDS = {
    "o": {"type": "object", "fields": {"zip": {"type": "text"}, "k": {"type": "text"}}},
    "lines": {"type": "array", "items": {"type": "object", "fields": {"sku": {"type": "text"}}}},
    "x": {"type": "text"},
}
NEW_FIELDS = {
    "addr": {
        "type": "object",
        "aliases": ["o"],
        "fields": {"postal": {"type": "text", "aliases": ["zip"]}, "k": {"type": "text"}},
    },
    "items": {
        "type": "array",
        "aliases": ["lines"],
        "items": {"type": "object", "fields": {"code": {"type": "text", "aliases": ["sku"]}}},
    },
    "x": {"type": "text"},
}


def _schema(fields: dict[str, Any]) -> SchemaArtifact:
    return SchemaArtifact.model_validate({"entities": {"Lead": {"fields": fields}}})


OLD_NAMES = st.sets(st.sampled_from(["a", "b", "c", "d"]), min_size=1)
NEW_FIELDS_ALIASES = st.dictionaries(
    st.sampled_from(["c", "d", "x", "y", "z"]), st.lists(st.sampled_from(["a", "b", "c", "d", "x"]), max_size=3)
)


@settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OLD_NAMES, NEW_FIELDS_ALIASES)
def test_alias_pairs_are_the_renames_the_schema_diff_reports(old: set[str], new: dict[str, list[str]]) -> None:
    # `alias_pairs` and schema_diff's pairing must agree, or a rename would be reported that references do not follow.
    before = _schema({name: {"type": "text"} for name in old})
    after = _schema(
        {name: {"type": "text", "aliases": aliases} for name, aliases in new.items()} or {"q": {"type": "text"}}
    )
    expected = alias_pairs(before.entities["Lead"].fields, after.entities["Lead"].fields)
    result = diff_packages(load_package_from({"schema": before}), load_package_from({"schema": after}))
    reported = {c.path.removeprefix("Lead.") for c in result.changes if c.kind.id == "field-renamed-with-alias"}
    assert reported == set(expected)


def load_package_from(models: dict[str, Any]) -> Any:
    from crmctl.model.package import load_tree
    from crmctl.model.tree import MemoryTree

    manifest = {"name": "P", "version": "1.0.0", "scope": "global", "description": "d", "locales": ["en"]}
    files = {"package.json": json.dumps(manifest).encode(), "schema.json": models["schema"].model_dump_json().encode()}
    return load_tree(MemoryTree(files, "p"))


def _package(fields: dict[str, Any], when: str, label: str) -> Any:
    from crmctl.model.package import load_tree
    from crmctl.model.tree import MemoryTree

    manifest = {"name": "P", "version": "1.0.0", "scope": "global", "description": "d", "locales": ["en"]}
    rule = {"id": "r", "scope": "global", "trigger": "onChange", "capability": "visibility", "when": when}
    files = {
        "package.json": manifest,
        "schema.json": {"entities": {"Lead": {"fields": fields}}},
        "rules.json": {"rules": [rule]},
    }
    return load_tree(MemoryTree({name: json.dumps(doc).encode() for name, doc in files.items()}, label))


def test_a_rename_into_a_comprehension_variable_name_is_never_taken_for_no_change() -> None:
    # `a` becomes `x`; inside `exists(x, ...)` the name x is the variable, so `x == x` is not what `x == a` was.
    old = _package(
        {"a": {"type": "text"}, "tags": {"type": "array", "items": {"type": "text"}}}, "tags.exists(x, x == a)", "old"
    )
    renamed = {"x": {"type": "text", "aliases": ["a"]}, "tags": {"type": "array", "items": {"type": "text"}}}
    result = diff_packages(old, _package(renamed, "tags.exists(x, x == x)", "new"))
    assert "rule-condition-changed" in {c.kind.id for c in result.changes}


def test_an_offered_value_removed_from_a_renamed_enum_is_stale() -> None:
    offer = {"id": "o", "scope": "field", "trigger": "onChange", "capability": "dependency"}

    def package(field: str, values: list[str], label: str) -> Any:
        aliases = {"aliases": ["status"]} if field != "status" else {}
        pkg = _package({field: {"type": "enum", "values": values, **aliases}}, "true", label)
        assert pkg.rules is not None
        rule = pkg.rules.rules[0].model_copy(update={**offer, "target": field, "expression": "['open', 'lost']"})
        pkg.rules = pkg.rules.model_copy(update={"rules": [rule]})
        return pkg

    result = diff_packages(package("status", ["open", "lost"], "old"), package("stage", ["open"], "new"))
    stale = [(c.path, c.message) for c in result.changes if c.kind.id == "stale-reference"]
    assert stale == [("Lead.stage:lost", "rule:o still offers 'lost' for Lead.stage, a value the new version removed")]


def test_a_field_renamed_back_to_its_alias_keeps_both_names_readable() -> None:
    """`mobilePhone {aliases: [phone]}` renamed back to `phone {aliases: [mobilePhone]}`: records written under
    `phone` are read as the field itself, so the alias `phone` was not removed (regression: CMP108 said so)."""
    from crmctl.model.package import load_tree
    from crmctl.model.tree import MemoryTree

    manifest = b"name: P\nversion: 1.0.0\nscope: global\ndescription: d\nlocales: [en]\ndefaultLocale: en\n"

    def package(schema: str) -> Any:
        return load_tree(MemoryTree({"package.yaml": manifest, "schema.yaml": schema.encode()}, "p"))

    old = package("entities:\n  Lead:\n    fields:\n      mobilePhone: {type: text, aliases: [phone]}\n")
    new = package("entities:\n  Lead:\n    fields:\n      phone: {type: text, aliases: [mobilePhone]}\n")
    changes = diff_packages(old, new).changes
    assert [c.kind.id for c in changes if c.cls.value in ("breaking", "data-dependent")] == []
    dropped = package("entities:\n  Lead:\n    fields:\n      phone: {type: text, aliases: [other]}\n")
    assert "field-renamed-without-alias" in {c.kind.id for c in diff_packages(old, dropped).changes}
