"""JSON data round-trips identically on both backends (the same Python values, the same canonical JSON), `?` and
`%` in keys and values are never taken for placeholders, and what a backend cannot hold as it is (PostgreSQL's
JSONB: U+0000, -0.0, a float written with a positive exponent) is refused naming the record and the field, with
nothing written."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crmctl.errors import InputError
from crmctl.runtime.eventlog import dumps
from crmctl.runtime.store import Store
from tests.runtime.store_contract.rows import draft, record

KEYS = st.one_of(st.sampled_from(["", ".", "a.b", '"', "'", "?", "%", "%s", "$", "$.x", "?|", "%(x)s"]), st.text())
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([2**63 - 1, -(2**63), 2**64 - 1, 0.1, 1e308, 5e-324, -0.0, 1e16, 2e19, 1e-7]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.sampled_from(["?", "%s", "%(x)s", "$1", "\\", '"', "\U0001f600", "\u2028", "a\x00b", "\ufeff"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
DATA = st.dictionaries(KEYS, VALUES, max_size=6)


def _jsonb_changes(value: Any) -> bool:
    """Whether PostgreSQL's JSONB would not hold `value` as it is (the refusals the backend promises)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, float):
        negative_zero = value == 0 and math.copysign(1.0, value) < 0
        return negative_zero or (abs(value) >= 1e16 and value.is_integer() and -(2**63) <= value < 2**64)
    if isinstance(value, dict):
        return any("\x00" in key or _jsonb_changes(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_jsonb_changes(item) for item in value)
    return False


def _refused(store: Store) -> bool:
    return store.engine == "postgresql"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=DATA)
@example(data={"big": [2**63 - 1, -(2**63), 2**64 - 1], "floats": [1e308, 5e-324, 0.1, 1.5, 2e19]})
@example(data={"": {"a.b": {"?": "%s", "%": "?", "$": "'"}}, "x": '\U0001f600\\"\n'})
@example(data={"z": -0.0})
@example(data={"f": 1e16})
@example(data={"k\x00": 1})
def test_records_drafts_and_instances_round_trip(any_store: Store, data: dict[str, Any]) -> None:
    store = any_store
    instance = {
        "id": "w1",
        "workflow": "flow",
        "entity": "Lead",
        "digest": record("x").package_digest,
        "package": {"name": "P", "version": "1.0.0"},
        "status": "running",
        "clock": "2026-11-26T10:00:00Z",
        "data": data,
    }
    wanted_record = replace(record("L1"), data=data)
    wanted_draft = replace(draft("d1"), data=data, state={"values": data})
    if store.engine == "postgresql" and _jsonb_changes(data):
        with pytest.raises(InputError, match=r"(?s)record acme/Lead/L1: .*nothing was written"):
            store.put_records([wanted_record], mode="upsert")
        with pytest.raises(InputError, match=r"(?s)draft acme/d1: .*nothing was written"):
            store.save_draft(wanted_draft)
        with pytest.raises(InputError, match=r"(?s)workflow instance acme/w1: .*nothing was written"):
            store.put_instances("acme", [instance])
        assert store.get_record("acme", "Lead", "L1") in (None, record("L1"))
        return
    store.put_records([wanted_record], mode="upsert")
    store.save_draft(wanted_draft)
    store.put_instances("acme", [instance])
    got = store.get_record("acme", "Lead", "L1")
    assert got is not None and dumps(got.data) == dumps(data) and got.data == data
    got_draft = store.get_draft("acme", "d1")
    assert got_draft is not None and dumps(got_draft.data) == dumps(data)
    assert dumps(got_draft.state) == dumps({"values": data})
    assert dumps(store.get_instance("acme", "w1")) == dumps(instance)
    assert [dumps(r.data) for r in store.iter_records("acme")] == [dumps(data)]
    store.put_records([record("L1")], mode="upsert")  # the next example starts from a known record


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30, math.nan, math.inf])
def test_values_without_canonical_json_are_input_errors_on_both(any_store: Store, value: Any) -> None:
    with pytest.raises(InputError, match=r"record acme/Lead/L1: .*nothing was written"):
        any_store.put_records([replace(record("L1"), data={"n": value})])
    with pytest.raises(InputError, match=r"draft acme/d1: "):
        any_store.save_draft(replace(draft("d1"), data={"n": [value]}))
    assert any_store.count_records("acme") == 0 and any_store.list_drafts("acme") == []


def test_a_refusal_names_the_field_where_it_is(any_store: Store) -> None:
    data = {"ok": 1, "deep": {"a.b": [0.5, "a\x00"]}}
    if any_store.engine == "duckdb":
        any_store.put_records([replace(record("L1"), data=data)])
        stored = any_store.get_record("acme", "Lead", "L1")
        assert stored is not None and stored.data == data
        return
    with pytest.raises(InputError, match=r'record acme/Lead/L1: deep\["a\.b"\]\[1\]: a string holds U\+0000'):
        any_store.put_records([record("L0"), replace(record("L1"), data=data)])
    assert any_store.count_records("acme") == 0


def test_a_key_too_long_for_the_database_is_an_input_error(any_store: Store) -> None:
    """A PostgreSQL index entry holds at most about 2.7 kB: a longer record id, draft id or entity (DuckDB takes
    them) is refused as input, not reported as a failure of the machine, and nothing is written."""
    long = "".join(f"{n:08x}" for n in range(1000))  # 8000 characters that do not compress
    if any_store.engine == "duckdb":
        any_store.put_records([record(long)])
        return
    for write in (lambda: any_store.put_records([record(long)]), lambda: any_store.save_draft(draft(long))):
        with pytest.raises(InputError, match=r"PostgreSQL cannot store this value.*nothing was written"):
            write()
    assert any_store.list_records("acme") == []
