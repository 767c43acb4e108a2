"""The verdict property: `crmctl diff OLD NEW --records STORE` never passes (exit 0 with the default `--fail-on`) a
change that breaks a stored record.

The oracle is not the diff's own probes but the runtime: a random record that the old version's record engine
accepts is moved to the new version as `records update --package` moves it (read with the new version's names,
then checked by the new version's engine). Whenever the new version refuses the record, the verdict must fail:
a breaking change, or a change the stored records show to break it.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from crmctl.compat import diff_packages
from crmctl.compat.moves import MoveCheck
from crmctl.compat.records_impact import RecordsCheck
from crmctl.compat.report import failed, parse_fail_on
from crmctl.model.package import Package, load_tree
from crmctl.model.regex import compile_pattern
from crmctl.model.tree import MemoryTree
from crmctl.runtime.records import RecordEngine
from tests.compat.test_records_impact import Rec

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
NAMES = ["f0", "f1", "f2", "f3"]
MANIFEST = {"name": "Prop", "scope": "global", "description": "Random.", "locales": ["en"]}
TEXTS = st.sampled_from(["", "", "a", "hello world", "x" * 12])  # empty texts often: `required` refuses them


def build(fields: dict[str, Any], version: str) -> Package | None:
    files = {
        "package.json": json.dumps({**MANIFEST, "version": version}).encode(),
        "schema.json": json.dumps({"entities": {"Lead": {"fields": fields}}}).encode(),
    }
    package = load_tree(MemoryTree(files, version))
    return package if package.valid else None


@st.composite
def field_defs(draw: st.DrawFn, depth: int = 1) -> dict[str, Any]:
    kinds = ["text", "number", "currency", "enum", "boolean", "date", "array"] + (["object"] if depth else [])
    kind = draw(st.sampled_from(kinds))
    fdef: dict[str, Any] = {"type": kind}
    if kind == "text":
        fdef.update({"maxLength": n} if (n := draw(st.none() | st.integers(1, 12))) else {})
    elif kind == "number":
        fdef.update({"integer": True} if draw(st.booleans()) else {})
        fdef.update({"scale": s} if (s := draw(st.none() | st.integers(0, 3))) is not None else {})
    elif kind == "currency":
        fdef.update(currency=draw(st.sampled_from(["EUR", "USD"])), scale=draw(st.integers(0, 3)))
    elif kind == "enum":
        fdef["values"] = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True))
    elif kind == "array":
        fdef["items"] = {"type": "text"}
        fdef.update({"maxItems": n} if (n := draw(st.none() | st.integers(1, 3))) else {})
    elif kind == "object":
        fdef["fields"] = draw(st.dictionaries(st.sampled_from(["m0", "m1"]), field_defs(depth - 1), min_size=1))
    if draw(st.booleans()):
        fdef["required"] = True
    if draw(st.booleans()) and (default := draw(values(fdef))) is not None:
        fdef["default"] = default
    return fdef


@st.composite
def values(draw: st.DrawFn, fdef: dict[str, Any]) -> Any:
    """A value of the field's type, often fitting its options, sometimes empty or absent (None)."""
    kind = fdef["type"]
    if draw(st.integers(0, 4)) == 0:
        return None
    if kind == "text":
        return draw(TEXTS)
    if kind in ("number", "currency"):
        return draw(st.sampled_from([0, 3, 12345, 2.5, 0.125, -7.75]))
    if kind == "enum":
        return draw(st.sampled_from([*fdef["values"], "d"]))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "date":
        return draw(st.sampled_from(["2024-01-31", "2026-11-26"]))
    if kind == "array":
        return draw(st.lists(TEXTS, max_size=3))
    members = {name: draw(values(sub)) for name, sub in fdef["fields"].items()}
    return {name: value for name, value in members.items() if value is not None}


@st.composite
def mutated(draw: st.DrawFn, fields: dict[str, Any]) -> dict[str, Any]:
    """One random schema change of one field (or member) of `fields`."""
    new = copy.deepcopy(fields)
    name = draw(st.sampled_from(sorted(new)))
    holder: dict[str, Any] = new
    if new[name]["type"] == "object" and draw(st.booleans()):
        holder, name = new[name]["fields"], draw(st.sampled_from(sorted(new[name]["fields"])))
    fdef = holder[name]
    change = draw(
        st.sampled_from(
            [
                "required",
                "required",
                "optional",
                "default",
                "no-default",
                "option",
                "option",
                "remove",
                "add",
                "rename",
                "rename",
                "retype",
            ]
        )
    )
    if change == "required":
        fdef["required"] = True
    elif change == "optional":
        fdef.pop("required", None)
    elif change == "default":
        fdef["default"] = draw(values(fdef))
    elif change == "no-default":
        fdef.pop("default", None)
    elif change == "option":
        option = {
            "text": "maxLength",
            "number": "scale",
            "currency": "currency",
            "enum": "values",
            "array": "maxItems",
        }.get(fdef["type"])
        if option is not None:
            fdef[option] = draw(field_defs().filter(lambda f: f["type"] == fdef["type"])).get(option)
            if fdef[option] is None:
                del fdef[option]
        elif fdef["type"] == "number":
            fdef["integer"] = not fdef.get("integer", False)
    elif change == "remove" and len(holder) > 1:
        del holder[name]
    elif change == "add":
        holder[draw(st.sampled_from(["n0", "n1"]))] = draw(field_defs(0))
    elif change == "rename":
        holder[f"{name}x"] = {**holder.pop(name), "aliases": [name]}
    elif change == "retype":
        holder[name] = draw(field_defs(0))
    return new


def check_verdict(fields: dict[str, Any], given: dict[str, Any], new_fields: dict[str, Any]) -> str:
    """Run the property on one case: 'skip' when a side is invalid or the old version refuses the record, else
    whether the record moves ('moves') or the verdict rightly fails ('fails'); an assertion when it is wrong."""
    old, new = build(fields, "1.0.0"), build(new_fields, "2.0.0")
    if old is None or new is None:
        return "skip"
    stored = RecordEngine(old, "Lead").check(given, AT)
    if not stored.ok:
        return "skip"
    result = diff_packages(old, new)
    impact = RecordsCheck(result, compile_pattern).measure([Rec("r1", stored.data, package_name="Prop")])
    verdict_fails = any(failed(change, parse_fail_on("breaking"), impact) for change in result.changes)
    engine = RecordEngine(new, "Lead")
    moved = engine.check(engine.patched(stored.data, {}), AT)
    if moved.ok:
        return "moves"
    assert verdict_fails, (result.changes, stored.data, moved.errors)
    # The move itself is refused by the check `records update --package` runs, or by a breaking change.
    refused = MoveCheck(old, new, compile_pattern).findings("Lead", stored.data)
    assert refused or any(c.cls.value == "breaking" for c in result.changes), (stored.data, moved.errors)
    return "fails"


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(st.data())
def test_a_verdict_that_passes_never_leaves_a_stored_record_the_new_version_refuses(data: st.DataObject) -> None:
    fields = data.draw(st.dictionaries(st.sampled_from(NAMES), field_defs(), min_size=1, max_size=2))
    drawn = {name: data.draw(values(fdef)) for name, fdef in fields.items()}
    given = {name: value for name, value in drawn.items() if value is not None}
    outcome = check_verdict(fields, given, data.draw(mutated(fields)))
    assume(outcome != "skip")
    event(outcome)


TEXT, LIST = {"type": "text"}, {"type": "array", "items": {"type": "text"}}
OBJ = {"type": "object", "fields": {"zip": TEXT, "city": TEXT}}
LINES = {"type": "array", "items": {"type": "object", "fields": {"sku": TEXT}}}


@pytest.mark.parametrize(
    ("fields", "given", "new_fields", "outcome"),
    [
        # A default fills a missing value only: an empty one stays, and `required` refuses it.
        ({"f0": TEXT}, {"f0": ""}, {"f0": {**TEXT, "required": True, "default": "n/a"}}, "fails"),
        ({"f0": LIST}, {"f0": []}, {"f0": {**LIST, "required": True, "default": ["x"]}}, "fails"),
        ({"f0": OBJ}, {"f0": {}}, {"f0": {**OBJ, "required": True, "default": {"city": "B"}}}, "fails"),
        (
            {"f0": OBJ},
            {"f0": {"zip": ""}},
            {"f0": {**OBJ, "fields": {"zip": {**TEXT, "required": True, "default": "0"}, "city": TEXT}}},
            "fails",
        ),
        ({"f0": TEXT}, {}, {"f0": {**TEXT, "required": True, "default": "n/a"}}, "moves"),
        # Renames with an alias at any depth carry the value over.
        (
            {"f0": OBJ},
            {"f0": {"zip": "1"}},
            {"f0": {**OBJ, "fields": {"postcode": {**TEXT, "aliases": ["zip"]}, "city": TEXT}}},
            "moves",
        ),
        (
            {"f0": LINES},
            {"f0": [{"sku": "a"}]},
            {"f0": {**LINES, "items": {"type": "object", "fields": {"code": {**TEXT, "aliases": ["sku"]}}}}},
            "moves",
        ),
        (
            {"f0": OBJ},
            {"f0": {"zip": "1"}},
            {
                "g0": {
                    **OBJ,
                    "aliases": ["f0"],
                    "fields": {"postcode": {**TEXT, "aliases": ["zip"], "required": True}, "city": TEXT},
                }
            },
            "moves",
        ),
        (
            {"f0": {"type": "enum", "values": ["a", "b"]}},
            {"f0": "b"},
            {"f0": {"type": "enum", "values": ["a"]}},
            "fails",
        ),
        ({"f0": {**TEXT, "maxLength": 9}}, {"f0": "abcdefgh"}, {"f0": {**TEXT, "maxLength": 4}}, "fails"),
    ],
)
def test_the_verdict_on_changes_that_keep_or_break_a_record(
    fields: dict[str, Any], given: dict[str, Any], new_fields: dict[str, Any], outcome: str
) -> None:
    assert check_verdict(fields, given, new_fields) == outcome
