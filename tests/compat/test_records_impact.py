"""Answering data-dependent changes from stored records: the pure analysis over in-memory packages and records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.compat import DiffResult, diff_packages
from crmctl.compat.record_probes import is_blank, number_digits
from crmctl.compat.records_impact import RecordImpact, RecordsCheck
from crmctl.model.package import Package, load_tree
from crmctl.model.ranges import in_range
from crmctl.model.regex import compile_pattern
from crmctl.model.tree import MemoryTree

MANIFEST = {"name": "Demo", "version": "1.0.0", "scope": "global", "description": "Records.", "locales": ["en"]}
BASE: dict[str, Any] = {
    "name": {"type": "text", "maxLength": 50},
    "phone": {"type": "text"},
    "status": {"type": "enum", "values": ["new", "open", "lost"]},
    "amount": {"type": "number"},
    "legacy": {"type": "text", "aliases": ["oldLegacy"]},
    "address": {"type": "object", "fields": {"city": {"type": "text"}}},
    "lines": {"type": "array", "items": {"type": "object", "fields": {"sku": {"type": "text", "maxLength": 8}}}},
}
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Rec:
    id: str
    data: dict[str, Any]
    package_version: str = "1.0.0"
    entity: str = "Lead"
    package_name: str = "Demo"
    tenant: str = field(default="t1", compare=False)


def build(
    fields: dict[str, Any],
    label: str,
    *,
    validations: list[dict[str, Any]] | None = None,
    version: str = "1.0.0",
    entities: dict[str, Any] | None = None,
) -> Package:
    files = {
        "package.json": json.dumps({**MANIFEST, "version": version}).encode(),
        "schema.json": json.dumps({"entities": {"Lead": {"fields": fields}, **(entities or {})}}).encode(),
    }
    if validations is not None:
        files["validations.json"] = json.dumps({"validations": validations}).encode()
    package = load_tree(MemoryTree(files, label))
    assert package.valid, package.diagnostics
    return package


def diff(new_fields: dict[str, Any], **kwargs: Any) -> DiffResult:
    return diff_packages(build(BASE, "old"), build(new_fields, "new", version="2.0.0", **kwargs))


def impacts(result: DiffResult, records: list[Rec], limit: int = 10) -> dict[str, RecordImpact]:
    measured = RecordsCheck(result, compile_pattern).measure(records, limit=limit)
    return {f"{i.change.kind.id} {i.change.path}": i for i in measured.impacts}


RECORDS = [
    Rec("lead-1", {"name": "Ann", "phone": "1", "status": "lost", "amount": 1.5, "address": {"city": "Oslo"}}),
    Rec("lead-2", {"name": "Bob", "status": "new", "amount": 2, "address": {}}, "1.1.0"),
    Rec("lead-3", {"name": "A very long name indeed", "phone": "", "status": "lost", "amount": 2.25}, "1.1.0"),
    Rec("lead-4", {"name": "Cy", "oldLegacy": "x", "lines": [{"sku": "ABCDEFGH"}, {"sku": "AB"}]}),
    Rec("other-1", {"name": "Other package, never counted"}, package_name="Other"),
]


def test_made_required_counts_records_without_a_value_by_version_with_examples() -> None:
    result = diff({**BASE, "phone": {"type": "text", "required": True}})
    found = impacts(result, RECORDS)["field-made-required Lead.phone"]
    assert (found.affected, found.total) == (3, 4)
    assert found.by_version == {"1.0.0": 1, "1.1.0": 2}
    assert found.examples == ["lead-2", "lead-3", "lead-4"]
    assert found.describe() == "3 of 4 Lead records lack a value (1.0.0: 1, 1.1.0: 2); e.g. lead-2, lead-3, lead-4"


def test_examples_are_capped_and_the_ellipsis_says_there_are_more() -> None:
    result = diff({**BASE, "phone": {"type": "text", "required": True}})
    found = impacts(result, RECORDS, limit=1)["field-made-required Lead.phone"]
    assert found.examples == ["lead-2"]
    assert found.describe().endswith("; e.g. lead-2, …")


def test_nested_required_field_counts_only_records_that_have_the_object() -> None:
    result = diff({**BASE, "address": {"type": "object", "fields": {"city": {"type": "text", "required": True}}}})
    found = impacts(result, RECORDS)["field-made-required Lead.address.city"]
    assert (found.affected, found.examples) == (1, ["lead-2"])


def test_enum_value_removed_counts_records_holding_it() -> None:
    result = diff({**BASE, "status": {"type": "enum", "values": ["new", "open"]}})
    found = impacts(result, RECORDS)["enum-value-removed Lead.status"]
    assert (found.affected, found.examples, found.question) == (2, ["lead-1", "lead-3"], "hold 'lost'")


def test_max_length_reduced_also_inside_array_items() -> None:
    lines = {"type": "array", "items": {"type": "object", "fields": {"sku": {"type": "text", "maxLength": 4}}}}
    result = diff({**BASE, "name": {"type": "text", "maxLength": 3}, "lines": lines})
    found = impacts(result, RECORDS)
    assert found["max-length-reduced Lead.name"].examples == ["lead-3"]
    assert found["max-length-reduced Lead.lines[].sku"].examples == ["lead-4"]


def test_number_made_integer_counts_fractional_values_only() -> None:
    result = diff({**BASE, "amount": {"type": "number", "integer": True}})
    assert impacts(result, RECORDS)["number-made-integer Lead.amount"].examples == ["lead-1", "lead-3"]


def test_scale_and_precision_reduced() -> None:
    old = build({**BASE, "amount": {"type": "number", "precision": 10, "scale": 4}}, "old")
    result = diff_packages(old, build({**BASE, "amount": {"type": "number", "precision": 2, "scale": 1}}, "new"))
    found = impacts(result, RECORDS)
    assert found["scale-reduced Lead.amount"].examples == ["lead-3"]
    assert found["precision-reduced Lead.amount"].examples == ["lead-3"]


def test_removed_field_counts_values_stored_under_an_alias_too() -> None:
    fields = {k: v for k, v in BASE.items() if k != "legacy"}
    found = impacts(diff(fields), RECORDS)["field-removed Lead.legacy"]
    assert (found.affected, found.question, found.examples) == (1, "carry a value", ["lead-4"])


def test_entity_removed_counts_every_record_of_it() -> None:
    old = build(BASE, "old", entities={"Deal": {"fields": {"n": {"type": "text"}}}})
    result = diff_packages(old, build(BASE, "new"))
    records = [*RECORDS, Rec("deal-1", {}, entity="Deal"), Rec("deal-2", {"n": "x"}, entity="Deal")]
    check = RecordsCheck(result)
    assert check.entities == ["Deal"]
    found = impacts(result, records)["entity-removed Deal"]
    assert (found.affected, found.total, found.question) == (2, 2, "are orphaned")


def test_added_hard_validations_are_evaluated_or_marked_unchecked() -> None:
    validations = [
        {
            "id": "nameShape",
            "entity": "Lead",
            "type": "regex",
            "field": "name",
            "pattern": "[A-Z][a-z]+",
            "message": "err.name",
        },
        {
            "id": "amountRange",
            "entity": "Lead",
            "type": "range",
            "field": "amount",
            "min": 0,
            "max": 2,
            "message": "err.amount",
        },
        {
            "id": "crossCheck",
            "entity": "Lead",
            "type": "cross-field",
            "expression": "amount > 0.0",
            "message": "err.cross",
        },
    ]
    found = impacts(diff(BASE, validations=validations), RECORDS)
    assert found["hard-validation-added validation:nameShape"].examples == ["lead-3"]
    assert found["hard-validation-added validation:amountRange"].examples == ["lead-3"]
    cross = found["hard-validation-added validation:crossCheck"]
    assert not cross.checked and cross.affected == 0
    assert cross.describe().startswith("not checked against 4 stored Lead records: cross-field validations")


def test_no_records_and_unrelated_changes() -> None:
    result = diff({**BASE, "phone": {"type": "text", "required": True}, "extra": {"type": "text"}})
    measured = RecordsCheck(result).measure([])
    assert [i.change.kind.id for i in measured.impacts] == ["field-made-required"]
    assert measured.impacts[0].describe() == "no stored Lead records"
    assert measured.as_dict()["records"] == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, (0, 0)),
        (1200, (4, 0)),
        (0.1, (1, 1)),
        (12.345, (5, 3)),
        (0.0012, (4, 4)),
        (-3.5, (2, 1)),
        (float("inf"), (0, 0)),
    ],
)
def test_number_digits(value: float, expected: tuple[int, int]) -> None:
    assert number_digits(value) == expected


VALUES = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
)
ROWS = st.lists(st.tuples(st.sampled_from(["1.0.0", "1.2.0", "0.9.1"]), VALUES), max_size=25)


@PROPS
@given(ROWS, st.integers(0, 5))
def test_counts_add_up_and_examples_are_the_first_affected_ids(rows: list[tuple[str, Any]], limit: int) -> None:
    result = diff({**BASE, "phone": {"type": "text", "required": True}})
    records = [Rec(f"r{i:03}", {"phone": v}, version) for i, (version, v) in enumerate(rows)]
    found = impacts(result, records, limit)["field-made-required Lead.phone"]
    blank = [r for r in records if is_blank(r.data["phone"])]
    assert found.total == len(records)
    assert found.affected == len(blank) == sum(found.by_version.values())
    assert found.examples == [r.id for r in blank][:limit]
    assert list(found.by_version) == sorted(found.by_version, key=lambda v: tuple(map(int, v.split("."))))


@PROPS
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12), st.integers(1, 12))
def test_scale_check_agrees_with_rounding(value: float, scale: int) -> None:
    from decimal import Decimal, localcontext

    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    with localcontext() as ctx:
        ctx.prec = 1000  # floats reach 1e308: round exactly
        assert (number_digits(value)[1] > scale) == (exact != round(exact, scale))


@pytest.mark.parametrize(
    ("value", "low", "high", "ok"),
    [
        (5, 0, 10, True),
        (11, 0, 10, False),
        ("2026-01-02T10:00:00Z", "2026-01-01", None, True),
        ("2025-12-31", "2026-01-01", None, False),
        ([1, 20], None, 10, False),
        (True, 0, 0, True),
    ],
)
def test_in_range(value: Any, low: Any, high: Any, ok: bool) -> None:
    assert in_range(value, low, high) is ok  # one function serves the runtime and compat (crmctl.model.ranges)


def test_required_field_added_counts_every_record_and_member_only_where_its_object_is() -> None:
    result = diff(
        {
            **BASE,
            "region": {"type": "text", "required": True},
            "address": {
                "type": "object",
                "fields": {"city": {"type": "text"}, "zip": {"type": "text", "required": True}},
            },
        }
    )
    found = impacts(result, RECORDS)
    assert (found["required-field-added Lead.region"].affected, found["required-field-added Lead.region"].total) == (
        4,
        4,
    )
    assert found["required-field-added Lead.address.zip"].examples == ["lead-1", "lead-2"]


def test_default_removed_or_changed_counts_the_records_that_read_it() -> None:
    with_default = {**BASE, "phone": {"type": "text", "default": "+1"}}
    changed = diff_packages(
        build(with_default, "old"), build({**BASE, "phone": {"type": "text", "default": "+2"}}, "new", version="2.0.0")
    )
    removed = diff_packages(build(with_default, "old"), build(BASE, "new", version="2.0.0"))
    for result, kind in ((changed, "default-changed"), (removed, "default-removed")):
        found = impacts(result, RECORDS)[f"{kind} Lead.phone"]
        assert found.question == "have no value (they read the default)"
        assert found.examples == ["lead-2", "lead-4"]  # lead-3's "" is a value


@pytest.mark.parametrize(
    ("field", "default", "hit"),
    [
        ({"type": "text"}, "n/a", ["lead-3"]),
        ({"type": "array", "items": {"type": "text"}}, ["x"], ["lead-e"]),
        ({"type": "object", "fields": {"city": {"type": "text"}}}, {"city": "Oslo"}, ["lead-2"]),
    ],
)
def test_a_field_that_can_be_empty_made_required_with_a_default_counts_its_empty_values(
    field: dict[str, Any], default: Any, hit: list[str]
) -> None:
    """A default fills only a missing value: a stored "" / [] / {} stays, and `required` refuses it. So the change is
    field-made-required (data-dependent), counting exactly the empty values, not the missing ones."""
    name = {"text": "phone", "array": "tags", "object": "address"}[field["type"]]
    old = {**BASE, name: field}
    result = diff_packages(
        build(old, "old"), build({**old, name: {**field, "required": True, "default": default}}, "new", version="2.0.0")
    )
    assert [(c.kind.id, c.cls.value) for c in result.changes if c.kind.id != "default-added"] == [
        ("field-made-required", "data-dependent")
    ]
    records = [*RECORDS, Rec("lead-e", {"name": "E", "tags": []})]
    found = impacts(result, records)[f"field-made-required Lead.{name}"]
    assert (found.question, found.examples) == ("hold an empty value", hit)


def test_a_field_that_cannot_be_empty_made_required_with_a_default_stays_compatible() -> None:
    made = {**BASE, "status": {**BASE["status"], "required": True, "default": "new"}}
    result = diff_packages(build(BASE, "old"), build(made, "new", version="2.0.0"))
    assert sorted((c.kind.id, c.cls.value) for c in result.changes) == [
        ("default-added", "compatible"),
        ("field-made-required-with-default", "compatible"),
    ]


def test_a_new_validation_is_checked_on_the_record_as_the_new_version_reads_it() -> None:
    """A record without a value reads the new version's default, which the new validation then checks."""
    new = {**BASE, "phone": {"type": "text", "default": "none"}}
    rules = [
        {"id": "digits", "type": "regex", "field": "phone", "pattern": "[0-9]+", "message": "m"},
        {"id": "given", "type": "required", "field": "phone", "message": "m"},
    ]
    result = diff_packages(build(BASE, "old"), build(new, "new", version="2.0.0", validations=rules))
    found = impacts(result, RECORDS)
    # lead-2 and lead-4 have no phone: they read "none", which fails the pattern; lead-3's "" is a value.
    assert found["hard-validation-added validation:digits"].examples == ["lead-2", "lead-4"]
    assert found["hard-validation-added validation:given"].examples == ["lead-3"]  # only "" is blank now


def test_probes_read_a_value_under_the_name_either_version_gives_it_at_any_depth() -> None:
    """A rename with an alias made together with a breaking change: the stored records spell the old names."""
    rest = {name: fdef for name, fdef in BASE.items() if name != "address"}
    fee = {"type": "currency", "currency": "EUR"}
    old = {**rest, "address": {"type": "object", "fields": {"city": {"type": "text"}, "fee": fee}}}
    new = {
        **rest,
        "addr": {
            "type": "object",
            "aliases": ["address"],
            "fields": {"city": {"type": "text"}, "charge": {"type": "currency", "currency": "USD", "aliases": ["fee"]}},
        },
    }
    result = diff_packages(build(old, "old"), build(new, "new", version="2.0.0"))
    records = [
        Rec("r1", {"name": "a", "address": {"fee": 100}}),
        Rec("r2", {"name": "b", "address": {"city": "X"}}),
        Rec("r3", {"name": "c", "addr": {"charge": 5}}),
    ]
    found = impacts(result, records)["currency-changed Lead.addr.charge"]
    assert found.examples == ["r1", "r3"]
