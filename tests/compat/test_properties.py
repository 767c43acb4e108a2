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


@PROPS
@given(FIELDS, NAMES, FIELD_DEF)
def test_adding_a_field_is_never_breaking(fields: dict[str, Any], name: str, new_field: dict[str, Any]) -> None:
    if name in fields:
        return
    result = diff_packages(build(fields, "old"), build({**fields, name: new_field}, "new"))
    assert all(c.cls is not ChangeClass.BREAKING for c in result.changes), result.changes
    assert [c.kind.id for c in result.changes if c.cls is ChangeClass.COMPATIBLE] == ["field-added"]
    assert result.bump == "minor"


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
