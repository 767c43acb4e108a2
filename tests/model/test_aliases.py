"""model.aliases: record data read with current field names, at every depth, and data naming a field twice refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from crmctl.model.aliases import NamedTwice, renamer_for
from crmctl.model.fields import FieldDef

FIELDS: dict[str, Any] = {
    "name": {"type": "text"},
    "area": {"type": "enum", "values": ["a", "b"], "aliases": ["region", "zone"]},
    "addr": {
        "type": "object",
        "aliases": ["address"],
        "fields": {
            "postcode": {"type": "text", "aliases": ["zip"]},
            "geo": {"type": "object", "fields": {"lat": {"type": "number", "aliases": ["latitude"]}}},
        },
    },
    "lines": {"type": "array", "items": {"type": "object", "fields": {"code": {"type": "text", "aliases": ["sku"]}}}},
    "grid": {
        "type": "array",
        "items": {
            "type": "array",
            "items": {"type": "object", "fields": {"v": {"type": "number", "aliases": ["value"]}}},
        },
    },
}
DEFS = {name: TypeAdapter(FieldDef).validate_python(fdef) for name, fdef in FIELDS.items()}
RENAME = renamer_for(DEFS)


def test_no_former_name_anywhere_means_no_renamer() -> None:
    plain = {"a": {"type": "text"}, "o": {"type": "object", "fields": {"b": {"type": "text"}}}}
    assert renamer_for({n: TypeAdapter(FieldDef).validate_python(f) for n, f in plain.items()}) is None


def test_former_names_become_current_names_at_every_depth_and_unknown_keys_stay() -> None:
    assert RENAME is not None
    given = {
        "zone": "a",
        "address": {"zip": "1", "geo": {"latitude": 2.5}},
        "lines": [{"sku": "x"}, None],
        "grid": [[{"value": 1}], []],
        "other": {"zip": 1},
    }
    assert RENAME(given) == {
        "area": "a",
        "addr": {"postcode": "1", "geo": {"lat": 2.5}},
        "lines": [{"code": "x"}, None],
        "grid": [[{"v": 1}], []],
        "other": {"zip": 1},
    }
    assert RENAME({"addr": "not an object", "lines": "not a list"}) == {"addr": "not an object", "lines": "not a list"}


@pytest.mark.parametrize(
    ("data", "field", "keys"),
    [
        ({"region": "a", "zone": "b"}, "area", ("region", "zone")),
        ({"addr": {"postcode": "1"}, "address": {}}, "addr", ("addr", "address")),
        ({"addr": {"geo": {"lat": 1, "latitude": 2}}}, "addr.geo.lat", ("lat", "latitude")),
        ({"grid": [[], [{"v": 1}, {"value": 1, "v": 2}]]}, "grid[1][1].v", ("value", "v")),
    ],
)
def test_naming_a_field_twice_is_refused_with_its_path(data: dict[str, Any], field: str, keys: tuple[str, str]) -> None:
    assert RENAME is not None
    with pytest.raises(NamedTwice) as caught:
        RENAME(data)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"keys {keys[0]!r} and {keys[1]!r} name the same field {field!r}")


def test_paths_follow_former_names_through_objects() -> None:
    assert RENAME is not None
    assert RENAME.path("address.zip") == "addr.postcode"
    assert RENAME.path("addr.geo.latitude") == "addr.geo.lat"
    assert RENAME.path("region") == "area"
    assert RENAME.path("name.zip") == "name.zip"
    assert RENAME.path("unknown.zip") == "unknown.zip"


SPELLINGS = {
    "area": ["area", "region", "zone"],
    "postcode": ["postcode", "zip"],
    "lat": ["lat", "latitude"],
    "code": ["code", "sku"],
}


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_spelling_of_each_field_reads_as_the_current_name(data: st.DataObject) -> None:
    """Data written with any mix of current and former names reads as the same data with the current names."""

    def spell(name: str) -> str:
        return str(data.draw(st.sampled_from(SPELLINGS.get(name, [name]))))

    lat = data.draw(st.floats(allow_nan=False))
    codes = data.draw(st.lists(st.text(max_size=3), max_size=4))
    current = {"area": "a", "addr": {"postcode": "1", "geo": {"lat": lat}}, "lines": [{"code": c} for c in codes]}
    written = {
        spell("area"): "a",
        data.draw(st.sampled_from(["addr", "address"])): {spell("postcode"): "1", "geo": {spell("lat"): lat}},
        "lines": [{spell("code"): c} for c in codes],
    }
    assert RENAME is not None
    assert RENAME(written) == current
    assert RENAME(current) == current
