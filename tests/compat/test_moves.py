"""Moving a record between versions: a breaking or data-dependent change that hits the record refuses the move,
naming the change; anything else moves. Properties over each kind of change, and the record path end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.compat.moves import MoveCheck
from crmctl.model.package import Package, load_tree
from crmctl.model.regex import compile_pattern
from crmctl.model.tree import MemoryTree
from crmctl.runtime.record_service import RecordService, carried
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Store

PROPS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
OTHERS = {"Account": {"fields": {"name": {"type": "text"}}}, "Partner": {"fields": {"name": {"type": "text"}}}}


def build(field: dict[str, Any], version: str, **more: dict[str, Any]) -> Package:
    schema = {"entities": {"Lead": {"fields": {"name": {"type": "text"}, "f": field, **more}}, **OTHERS}}
    manifest = {"name": "Demo", "version": version, "scope": "global", "description": "D.", "locales": ["en"]}
    files = {"package.json": json.dumps(manifest).encode(), "schema.json": json.dumps(schema).encode()}
    package = load_tree(MemoryTree(files, f"Demo@{version}"))
    assert package.valid, package.diagnostics
    return package


WORDS = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=60)
# (old field, new field, values valid under the old one, which of them the change breaks, the change's code)
BREAKING: list[tuple[dict[str, Any], dict[str, Any], st.SearchStrategy[Any], Callable[[Any], bool], str]] = [
    (
        {"type": "currency", "currency": "EUR"},
        {"type": "currency", "currency": "USD"},
        st.integers(0, 10**9),
        lambda v: True,
        "CMP134",
    ),
    ({"type": "reference", "to": "Account"}, {"type": "reference", "to": "Partner"}, WORDS, lambda v: True, "CMP125"),
    (
        {"type": "number"},
        {"type": "currency", "currency": "EUR"},
        st.integers(-(10**6), 10**6),
        lambda v: True,
        "CMP105",
    ),
    (
        {"type": "array", "items": {"type": "text"}},
        {"type": "array", "items": {"type": "number"}},
        st.lists(WORDS, max_size=3),
        lambda v: v != [],
        "CMP137",
    ),
    (
        {"type": "number", "scale": 4},
        {"type": "number", "scale": 1},
        st.integers(0, 10**6).map(lambda n: n / 1000),
        lambda v: round(v, 1) != v,
        "CMP132",
    ),
    ({"type": "text", "maxLength": 60}, {"type": "text", "maxLength": 5}, WORDS, lambda v: len(v) > 5, "CMP126"),
    (
        {"type": "enum", "values": ["a", "b", "c"]},
        {"type": "enum", "values": ["a", "b"]},
        st.sampled_from(["a", "b", "c"]),
        lambda v: v == "c",
        "CMP120",
    ),
    ({"type": "text"}, {"type": "text", "required": True}, st.sampled_from(["x", ""]), lambda v: v == "", "CMP106"),
]
COMPATIBLE: list[tuple[dict[str, Any], dict[str, Any], st.SearchStrategy[Any]]] = [
    ({"type": "text", "maxLength": 5}, {"type": "text", "maxLength": 60}, WORDS.map(lambda w: w[:5])),
    ({"type": "enum", "values": ["a"]}, {"type": "enum", "values": ["a", "b"]}, st.just("a")),
    ({"type": "text", "required": True}, {"type": "text"}, WORDS),
    ({"type": "text"}, {"type": "text", "default": "x"}, WORDS),
    ({"type": "text"}, {"type": "text", "required": True, "default": "x"}, WORDS),
    ({"type": "number", "scale": 1}, {"type": "number", "scale": 4}, st.integers(0, 1000).map(lambda n: n / 10)),
    (
        {"type": "currency", "currency": "EUR"},
        {"type": "currency", "currency": "EUR", "description": "Revenue."},
        st.integers(0, 10**6),
    ),
]


@PROPS
@given(st.data())
def test_a_breaking_or_data_dependent_change_refuses_exactly_the_records_it_hits(data: st.DataObject) -> None:
    old_field, new_field, values, hit, code = data.draw(st.sampled_from(BREAKING))
    value = data.draw(values)
    check = MoveCheck(build(old_field, "1.0.0"), build(new_field, "2.0.0"), compile_pattern)
    found = check.findings("Lead", {"name": "n", "f": value})
    assert [(f["code"], f["field"].removesuffix("[]")) for f in found] == ([(code, "f")] if hit(value) else [])
    without = [f["code"] for f in check.findings("Lead", {"name": "n"})]
    assert without == (["CMP106"] if code == "CMP106" else [])  # only "lack a value" hits a record without it


@PROPS
@given(st.data())
def test_a_compatible_change_never_refuses_a_move(data: st.DataObject) -> None:
    old_field, new_field, values = data.draw(st.sampled_from(COMPATIBLE))
    check = MoveCheck(build(old_field, "1.0.0"), build(new_field, "1.1.0"))
    assert check.findings("Lead", {"name": "n", "f": data.draw(values)}) == []


def test_a_required_field_added_without_default_refuses_records_without_it() -> None:
    check = MoveCheck(
        build({"type": "text"}, "1.0.0"), build({"type": "text"}, "2.0.0", g={"type": "text", "required": True})
    )
    (finding,) = check.findings("Lead", {"name": "n"})
    assert (finding["code"], finding["field"]) == ("CMP143", "g")
    assert "hint: declare a `default`" in finding["message"]


def test_carried_is_what_a_patch_leaves_in_place() -> None:
    stored = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}
    assert carried(stored, {"a": 5, "b": {"c": None}, "x": 1}) == {"b": {"d": 3}, "e": [1]}
    assert carried(stored, {"b": 7}) == {"a": 1, "e": [1]}


def test_the_record_path_refuses_before_writing_and_moves_otherwise(tmp_path: Path) -> None:
    eur = build({"type": "currency", "currency": "EUR"}, "1.0.0")
    usd = build({"type": "currency", "currency": "USD"}, "2.0.0")

    def check(old: Package, new: Package, entity: str, data: Any) -> list[dict[str, Any]]:
        return MoveCheck(old, new).findings(entity, data)

    with Store.open(tmp_path / "rt.duckdb") as store:
        service = RecordService(Runtime(store, "t1"))
        assert service.create(eur, "Lead", "a", {"name": "n", "f": 100}, AT).ok
        refused = service.update("Lead", "a", {"name": "m"}, AT, package=usd, move_check=check)
        assert not refused.ok and [e["code"] for e in refused.result.errors] == ["CMP134"]
        stored = store.get_record("t1", "Lead", "a")
        assert stored is not None and stored.data == {"name": "n", "f": 100.0} and stored.revision == 1
        assert service.update("Lead", "a", {"name": "m"}, AT, move_check=check).ok  # no move: no check
        moved = service.update("Lead", "a", {"f": 108}, AT, package=usd, move_check=check)
        assert moved.ok and moved.record is not None and moved.record.package_version == "2.0.0"
