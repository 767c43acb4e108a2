"""Properties of the classifier over small random packages built in memory (no files on disk)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.compat import ChangeClass, diff_packages
from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree

NAMES = st.from_regex(r"[a-z][a-zA-Z0-9]{0,11}", fullmatch=True)
MANIFEST = {"name": "Prop", "version": "1.0.0", "scope": "global", "description": "Random.", "locales": ["en"]}

FIELD = st.one_of(
    st.builds(lambda n: {"type": "text", **({"maxLength": n} if n else {})}, st.none() | st.integers(1, 500)),
    st.builds(lambda i: {"type": "number", "integer": i}, st.booleans()),
    st.builds(lambda c: {"type": "currency", "currency": c}, st.sampled_from(["EUR", "USD", "JPY"])),
    st.just({"type": "boolean"}),
    st.just({"type": "date"}),
    st.just({"type": "datetime"}),
    st.builds(lambda vs: {"type": "enum", "values": vs}, st.lists(NAMES, min_size=1, max_size=4, unique=True)),
    st.just({"type": "reference", "to": "Lead"}),
)
FIELD_DEF = st.tuples(FIELD, st.booleans()).map(lambda t: {**t[0], **({"required": True} if t[1] else {})})
FIELDS = st.dictionaries(NAMES, FIELD_DEF, min_size=1, max_size=8)
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(fields: dict[str, Any], label: str) -> Package:
    files = {
        "package.json": json.dumps(MANIFEST).encode(),
        "schema.json": json.dumps({"entities": {"Lead": {"fields": fields}}}).encode(),
    }
    package = load_tree(MemoryTree(files, label))
    assert package.valid, package.diagnostics
    return package


@PROPS
@given(FIELDS)
def test_diff_of_a_package_with_itself_is_empty(fields: dict[str, Any]) -> None:
    assert diff_packages(build(fields, "old"), build(fields, "new")).changes == []


SAMPLE_DEFAULTS = {
    "text": "x",
    "currency": 10,
    "boolean": True,
    "date": "2024-01-31",
    "datetime": "2024-01-31T09:00:00Z",
}


def a_default(fdef: dict[str, Any]) -> Any:
    """A value that fits `fdef` (None for a reference, which has no default)."""
    if fdef["type"] == "number":
        return 3 if fdef["integer"] else 2.5
    if fdef["type"] == "enum":
        return fdef["values"][-1]
    return SAMPLE_DEFAULTS.get(fdef["type"])


@PROPS
@given(FIELDS, NAMES, FIELD_DEF, st.booleans())
def test_adding_a_field_breaks_only_when_it_is_required_without_default(
    fields: dict[str, Any], name: str, new_field: dict[str, Any], with_default: bool
) -> None:
    if name in fields:
        return
    default = a_default(new_field) if with_default else None
    if default is not None:
        new_field = {**new_field, "default": default}
    result = diff_packages(build(fields, "old"), build({**fields, name: new_field}, "new"))
    assert [c.kind.id for c in result.changes if c.cls is ChangeClass.COMPATIBLE] == ["field-added"]
    if new_field.get("required") and default is None:
        assert [(c.kind.id, c.cls) for c in result.changes if c.cls is not ChangeClass.COMPATIBLE] == [
            ("required-field-added", ChangeClass.BREAKING)
        ]
        assert result.bump == "major"
    else:
        assert len(result.changes) == 1
        assert result.bump == "minor"


@PROPS
@given(FIELDS, st.data())
def test_a_default_is_classified_by_how_it_changed(fields: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(fields)))
    default = a_default(fields[name])
    if default is None:
        return
    with_default = {**fields, name: {**fields[name], "default": default}}
    added = diff_packages(build(fields, "old"), build(with_default, "new"))
    removed = diff_packages(build(with_default, "old"), build(fields, "new"))
    assert [(c.kind.id, c.cls) for c in added.changes] == [("default-added", ChangeClass.COMPATIBLE)]
    assert [(c.kind.id, c.cls) for c in removed.changes] == [("default-removed", ChangeClass.DATA_DEPENDENT)]


@PROPS
@given(FIELDS, st.data())
def test_removing_a_field_is_always_breaking(fields: dict[str, Any], data: st.DataObject) -> None:
    victim = data.draw(st.sampled_from(sorted(fields)))
    rest = {k: v for k, v in fields.items() if k != victim}
    if not rest:
        rest = {"zzKeep" if victim != "zzKeep" else "zzOther": {"type": "boolean"}}
        fields = {**fields, **rest}
    result = diff_packages(build(fields, "old"), build(rest, "new"))
    removed = [c for c in result.changes if c.kind.id == "field-removed" and c.path == f"Lead.{victim}"]
    assert removed and removed[0].cls is ChangeClass.BREAKING
    assert result.bump == "major"


@PROPS
@given(FIELDS, st.data())
def test_retyping_a_field_is_always_breaking(fields: dict[str, Any], data: st.DataObject) -> None:
    victim = data.draw(st.sampled_from(sorted(fields)))
    new_def = data.draw(FIELD_DEF.filter(lambda f: f["type"] != fields[victim]["type"]))
    result = diff_packages(build(fields, "old"), build({**fields, victim: new_def}, "new"))
    kinds = {(c.kind.id, c.path, c.cls) for c in result.changes}
    assert ("field-type-changed", f"Lead.{victim}", ChangeClass.BREAKING) in kinds
