"""Field defaults in the model: type-checked where declared (located), in the JSON Schema, in the digest only
when set, and filled into record data by the one `DefaultFiller`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crmctl.model.canonical import digest
from crmctl.model.defaults import filled_default, filler_for
from crmctl.model.fields import SchemaArtifact, check_default, number_digits
from crmctl.model.jsonschemas import shipped_schema
from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree

MANIFEST = "name: Deals\nversion: 1.0.0\nscope: global\ndescription: D.\nlocales: [en]\n"


def package(fields: str) -> Package:
    schema = "entities:\n  Deal:\n    fields:\n" + "".join(f"      {line}\n" for line in fields.splitlines())
    files = {"package.yaml": MANIFEST, "schema.yaml": schema}
    return load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "p"))


@pytest.mark.parametrize(
    "field",
    [
        'a: {type: text, default: "x", maxLength: 1}',
        "a: {type: text, default: ''}",
        "a: {type: number, default: 2.5}",
        "a: {type: number, integer: true, default: -3}",
        "a: {type: number, precision: 4, scale: 2, default: 12.25}",
        "a: {type: currency, currency: JPY, scale: 0, default: 500}",
        "a: {type: currency, currency: EUR, default: 9.99}",
        "a: {type: boolean, default: false}",
        "a: {type: enum, values: [x, y], default: y}",
        'a: {type: date, default: "2024-02-29"}',
        'a: {type: datetime, default: "2024-02-29T23:00:00+01:00"}',
        "a: {type: array, items: {type: text}, maxItems: 2, default: [p, q]}",
        "a: {type: array, items: {type: enum, values: [p, q]}, default: []}",
        "a: {type: object, fields: {b: {type: text, required: true, default: z}, c: {type: number}}, default: {}}",
        "a: {type: object, fields: {b: {type: text, required: true}}, default: {b: k}}",
        "a: {type: array, items: {type: object, fields: {b: {type: number, default: 1}}}, default: [{}]}",
        "a: {type: object, fields: {b: {type: number}}, default: {b: null}}",
    ],
)
def test_a_default_that_fits_its_field_loads(field: str) -> None:
    loaded = package(field)
    assert loaded.valid, loaded.diagnostics


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("a: {type: text, default: 5}", "has the wrong type; expected null or string"),
        ('a: {type: text, maxLength: 2, default: "abc"}', "the default has 3 characters; maxLength is 2"),
        ("a: {type: number, integer: true, default: 1.5}", "must be a whole number (the field is `integer`)"),
        ("a: {type: number, default: true}", "has the wrong type; expected integer or null or number"),
        ("a: {type: number, precision: 3, default: 1234}", "has 4 digits; precision is 3"),
        ("a: {type: currency, currency: EUR, default: 1.005}", "has 3 digits after the point; scale is 2"),
        ("a: {type: currency, currency: JPY, scale: 0, default: 1.5}", "has 1 digit after the point; scale is 0"),
        ("a: {type: boolean, default: 'yes'}", "has the wrong type; expected boolean or null"),
        ("a: {type: enum, values: [x, y], default: z}", "the default 'z' is not one of the values (x, y)"),
        ('a: {type: date, default: "2023-02-29"}', "must be a date written YYYY-MM-DD"),
        ('a: {type: date, default: "2023-02-01T00:00:00Z"}', "must be a date written YYYY-MM-DD"),
        ('a: {type: datetime, default: "2023-02-01T00:00:00"}', "with an offset"),
        ('a: {type: datetime, default: "2023-02-01"}', "with an offset"),
        ("a: {type: array, items: {type: text}, maxItems: 1, default: [p, q]}", "the default has 2 items"),
        ("a: {type: array, items: {type: number}, default: [1, x]}", "the default's item 1 must be a number"),
        ("a: {type: array, items: {type: text}, default: [null]}", "item 0 is null"),
        ("a: {type: array, items: {type: text, default: x}}", "an item of a list is never absent"),
        ("a: {type: object, fields: {b: {type: text}}, default: {c: 1}}", "a member 'c' the object does not declare"),
        ("a: {type: object, fields: {b: {type: boolean}}, default: {b: 1}}", "the default's b must be true or false"),
        ("a: {type: object, fields: {b: {type: text, required: true}}, default: {}}", "required member 'b'"),
        (
            "a: {type: object, fields: {b: {type: text, required: true, default: x}}, default: {b: ''}}",
            "required member 'b'",
        ),
        (
            "a: {type: array, items: {type: object, fields: {b: {type: object, fields: {c: {type: number, required: "
            "true}}}}}, default: [{b: {}}]}",
            "the default's item 0's b has no value for the required member 'c'",
        ),
        ("a: {type: text, required: true, default: ''}", "is empty, which a required field refuses"),
        ("a: {type: array, items: {type: text}, required: true, default: []}", "is empty, which a required field"),
        ("a: {type: reference, to: Deal, default: x}", "unknown key 'default'"),
        ("a: {type: file, default: x}", "unknown key 'default'"),
        ("a: {type: calculated, resultType: text, expression: \"'a'\", default: x}", "unknown key 'default'"),
    ],
)
def test_a_default_that_does_not_fit_is_refused_at_its_location(field: str, message: str) -> None:
    loaded = package(field)
    found = [(str(d.location), d.code, d.message) for d in loaded.diagnostics]
    assert len(found) == 1, found
    location, code, text = found[0]
    assert code == "SCH100"
    assert message in text
    assert location.startswith("p/schema.yaml:4:")  # the field's line, at the default (or the offending key)


def test_the_default_is_located_at_its_value() -> None:
    loaded = package("a: {type: enum, values: [x, y], default: z}")
    assert str(loaded.diagnostics[0].location) == "p/schema.yaml:4:48"
    assert loaded.diagnostics[0].message == "default: the default 'z' is not one of the values (x, y)"


def test_a_currency_fields_default_is_located_at_the_default_not_at_its_currency_code() -> None:
    """A currency field has a key named like its type (`currency: JPY`): the error is still the default's."""
    loaded = package("a: {type: currency, currency: JPY, scale: 0, default: 1.5}")
    assert str(loaded.diagnostics[0].location) == "p/schema.yaml:4:61"
    assert loaded.diagnostics[0].message == "default: the default 1.5 has 1 digit after the point; scale is 0"


def test_a_default_is_in_the_digest_only_when_set() -> None:
    plain = package("a: {type: text}")
    explicit_null = package("a: {type: text, default: null}")
    with_default = package("a: {type: text, default: x}")
    other_default = package("a: {type: text, default: y}")
    assert digest(plain) == digest(explicit_null)
    assert len({digest(plain), digest(with_default), digest(other_default)}) == 3
    falsy = package("a: {type: boolean, default: false}")
    assert digest(falsy) != digest(package("a: {type: boolean}"))  # false is a default, not "unset"


def test_every_defaultable_type_declares_default_in_the_json_schema() -> None:
    defs = shipped_schema("schema")["$defs"]
    with_default = sorted(name for name, body in defs.items() if "default" in body.get("properties", {}))
    assert with_default == [
        "ArrayField",
        "BooleanField",
        "CurrencyField",
        "DateField",
        "DatetimeField",
        "EnumField",
        "NumberField",
        "ObjectField",
        "TextField",
    ]
    assert "default" not in defs["ReferenceField"]["properties"]


def fields_of(text: str) -> Any:
    schema = SchemaArtifact.model_validate(json.loads(text), strict=True)
    return schema.entities["E"].fields


FIELDS = fields_of(
    json.dumps(
        {
            "entities": {
                "E": {
                    "fields": {
                        "plain": {"type": "text"},
                        "region": {"type": "enum", "values": ["emea", "amer"], "default": "emea"},
                        "code": {"type": "text", "aliases": ["oldCode"], "default": "X"},
                        "address": {
                            "type": "object",
                            "fields": {"city": {"type": "text"}, "country": {"type": "text", "default": "DE"}},
                        },
                        "billing": {
                            "type": "object",
                            "fields": {"country": {"type": "text", "default": "FR"}},
                            "default": {},
                        },
                        "lines": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "fields": {
                                    "sku": {"type": "text"},
                                    "qty": {"type": "number", "integer": True, "default": 1},
                                },
                            },
                        },
                        "tags": {"type": "array", "items": {"type": "text"}, "default": ["new"]},
                    }
                }
            }
        }
    )
)


def test_the_filler_fills_what_has_no_value_and_keeps_every_value() -> None:
    fill = filler_for(FIELDS)
    assert fill is not None
    assert fill({}) == {"region": "emea", "code": "X", "billing": {"country": "FR"}, "tags": ["new"]}
    given = {
        "plain": "p",
        "region": None,
        "code": "",
        "address": {"city": "B"},
        "lines": [{"sku": "a"}, {"sku": "b", "qty": 5}],
        "tags": [],
    }
    assert fill(given) == {
        "plain": "p",
        "region": "emea",
        "code": "",
        "address": {"city": "B", "country": "DE"},
        "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 5}],
        "tags": [],
        "billing": {"country": "FR"},
    }
    assert given["address"] == {"city": "B"}  # never changed in place
    assert "code" not in fill({"oldCode": "Y"})  # a value under an alias is a value
    assert fill({"address": {"country": None}})["address"] == {"country": "DE"}


def test_filled_defaults_are_fresh_copies() -> None:
    fill = filler_for(FIELDS)
    assert fill is not None
    first = fill({})
    first["tags"].append("mutated")
    first["billing"]["country"] = "mutated"
    assert fill({})["tags"] == ["new"]
    assert fill({})["billing"] == {"country": "FR"}
    assert filled_default(FIELDS["billing"]) == {"country": "FR"}
    assert filled_default(FIELDS["plain"]) is None


def test_no_filler_without_defaults() -> None:
    assert filler_for(fields_of('{"entities": {"E": {"fields": {"a": {"type": "text"}}}}}')) is None
    assert check_default(FIELDS["plain"]) is None


def test_number_digits() -> None:
    assert number_digits(0.1) == (1, 1)
    assert number_digits(12.25) == (4, 2)
    assert number_digits(1200) == (4, 0)
    assert number_digits(0) == (0, 0)
