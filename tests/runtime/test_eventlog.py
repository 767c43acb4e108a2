"""Hash-chained event log: canonical JSON, linking, and detection of every kind of tampering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crmctl.runtime.eventlog import GENESIS, ChainProblem, dumps, entry_hash, link, verify_chain


def chain(n: int, tenant: str | None = "acme") -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        body: dict[str, Any] = {
            "session": f"s{seq % 3}",
            "at": "2026-11-26T10:00:00Z",
            "kind": "set",
            "field": "amount",
            "value": seq * 10.0,
        }
        if tenant is not None:
            body["tenant"] = tenant
        entries.append(link(body, seq, prev))
        prev = entries[-1]["hash"]
    return entries


def first(problems: list[ChainProblem]) -> tuple[int | None, int, str]:
    assert problems, "tampering went unnoticed"
    return problems[0].seq, problems[0].position, problems[0].code


def test_dumps_is_canonical_and_keeps_floats() -> None:
    assert dumps({"b": 40.0, "a": "é", "c": [1, None, True]}) == '{"a":"é","b":40.0,"c":[1,null,true]}'
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})


def test_link_chains_and_hash_ignores_hash_key() -> None:
    one = link({"x": 1}, 1, GENESIS)
    assert one["seq"] == 1 and one["prev"] == GENESIS
    assert one["hash"] == entry_hash(one) == entry_hash({"x": 1, "seq": 1, "prev": GENESIS})
    assert one["hash"].startswith("sha256:") and len(one["hash"]) == 71
    two = link({"x": 1}, 2, one["hash"])
    assert two["hash"] != one["hash"]


@pytest.mark.parametrize("key", ["seq", "prev", "hash"])
def test_link_refuses_chain_keys_in_body(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        link({key: 1}, 1, GENESIS)


def test_untampered_chain_of_1000_verifies() -> None:
    entries = chain(1000)
    assert verify_chain(entries) == []
    assert verify_chain(entries, expected_head=entries[-1]["hash"]) == []
    assert verify_chain([]) == []


def test_edited_field_is_log001_at_that_entry() -> None:
    entries = chain(10)
    entries[4]["value"] = 1_000_000.0
    problems = verify_chain(entries)
    assert first(problems) == (5, 4, "LOG001")
    assert len(problems) == 1


def test_edit_with_recomputed_hash_breaks_the_next_link() -> None:
    entries = chain(10)
    entries[4]["value"] = 1.0
    entries[4]["hash"] = entry_hash(entries[4])
    assert first(verify_chain(entries)) == (6, 5, "LOG002")


def test_deleted_entry_is_a_gap_at_the_entry_after_it() -> None:
    entries = chain(10)
    del entries[4]
    problems = verify_chain(entries)
    assert first(problems) == (6, 4, "LOG003")
    assert {p.code for p in problems} == {"LOG002", "LOG003"}
    assert all(p.position == 4 for p in problems)


def test_inserted_forged_entry_with_recomputed_hash_is_detected() -> None:
    entries = chain(10)
    forged = link({"tenant": "acme", "session": "evil", "at": "2026-11-26T10:00:00Z"}, 5, entries[3]["hash"])
    entries.insert(4, forged)
    # The forgery itself is well formed; the original entry 5 after it no longer fits.
    assert first(verify_chain(entries)) == (5, 5, "LOG003")
    assert "LOG002" in {p.code for p in verify_chain(entries)}


def test_swapped_entries_are_detected_at_the_first_of_them() -> None:
    entries = chain(10)
    entries[4], entries[5] = entries[5], entries[4]
    problems = verify_chain(entries)
    assert first(problems) == (6, 4, "LOG003")
    assert {p.position for p in problems} <= {4, 5, 6}


def test_truncation_is_found_only_against_the_expected_head() -> None:
    entries = chain(10)
    head = entries[-1]["hash"]
    short = entries[:7]
    assert verify_chain(short) == []
    assert first(verify_chain(short, expected_head=head)) == (7, 6, "LOG004")
    problems = verify_chain([], expected_head=head)
    assert first(problems) == (None, 0, "LOG004")
    assert "empty" in problems[0].message


def test_appended_entry_is_found_against_the_expected_head() -> None:
    entries = chain(5)
    head = entries[-1]["hash"]
    entries.append(link({"tenant": "acme"}, 6, head))
    assert first(verify_chain(entries, expected_head=head)) == (6, 5, "LOG004")


@pytest.mark.parametrize(
    ("entry", "seq"),
    [
        ("not an object", None),
        ({"prev": GENESIS, "hash": GENESIS}, None),
        ({"seq": True, "prev": "", "hash": ""}, None),
        ({"seq": 1, "hash": GENESIS}, 1),
        ({"seq": 1, "prev": GENESIS, "hash": 7}, 1),
    ],
)
def test_malformed_entries_are_log005(entry: Any, seq: int | None) -> None:
    assert first(verify_chain([entry])) == (seq, 0, "LOG005")


def test_non_canonical_content_is_log005() -> None:
    entry = link({"tenant": "acme"}, 1, GENESIS)
    entry["value"] = float("inf")
    assert first(verify_chain([entry])) == (1, 0, "LOG005")


def test_tenants_have_separate_chains() -> None:
    a, b = chain(5, "a"), chain(5, "b")
    interleaved = [entry for pair in zip(a, b, strict=True) for entry in pair]
    assert verify_chain(interleaved) == []
    heads = {"a": a[-1]["hash"], "b": b[-1]["hash"]}
    assert verify_chain(interleaved, expected_head=heads) == []
    problems = verify_chain(interleaved[:-1], expected_head=heads)
    assert first(problems) == (4, 7, "LOG004")
    assert "tenant b" in problems[0].message
    assert first(verify_chain(a, expected_head={"a": heads["a"], "c": GENESIS})) == (None, 5, "LOG004")
    # A single hash is the head of the log as a whole, i.e. of its last entry's chain.
    assert verify_chain(interleaved, expected_head=heads["b"]) == []
    assert first(verify_chain(interleaved, expected_head=heads["a"])) == (5, 9, "LOG004")


def test_entries_without_tenant_form_one_chain() -> None:
    entries = chain(4, tenant=None)
    assert verify_chain(entries, expected_head=entries[-1]["hash"]) == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
bodies = st.dictionaries(st.sampled_from(["session", "at", "kind", "value", "note"]), json_values, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(bodies=st.lists(bodies, min_size=1, max_size=4), data=st.data())
def test_any_single_byte_change_that_still_parses_is_detected(
    bodies: list[dict[str, Any]], data: st.DataObject
) -> None:
    entries: list[Any] = []
    prev = GENESIS
    for seq, body in enumerate(bodies, start=1):
        entries.append(link({**body, "tenant": "acme"}, seq, prev))
        prev = entries[-1]["hash"]
    target = data.draw(st.integers(0, len(entries) - 1), label="entry")
    raw = bytearray(dumps(entries[target]).encode("utf-8"))
    index = data.draw(st.integers(0, len(raw) - 1), label="byte")
    # Printable ASCII most often keeps the JSON parseable; any other byte is drawn too.
    new = data.draw((st.integers(0x20, 0x7E) | st.integers(0, 255)).filter(lambda b: b != raw[index]), label="value")
    raw[index] = new
    try:
        changed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        assume(False)
        return
    # A change that parses to the same value (1e5 → 1E5) is not tampering with the content.
    assume(json.dumps(changed, sort_keys=True) != json.dumps(entries[target], sort_keys=True))
    entries[target] = changed
    assert verify_chain(entries, expected_head=prev) != []
