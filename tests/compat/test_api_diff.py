"""The records API section of `crmctl diff`: consistent with the record classes, over random package pairs.

The generators are the verdict property's (`field_defs`, `mutated`: one random schema change of one field or
member); the oracle is the record-level classification the differ already makes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crmctl.compat import Change, ChangeClass, diff_packages
from crmctl.compat.kinds import KINDS
from crmctl.compat.semver import propose_bump
from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree
from tests.compat._cli import invoke
from tests.compat.test_verdict_property import NAMES, build, field_defs, mutated

# Record kinds whose change the document always shows as an API break at the same path.
SHOWN_AS_BREAKS = {
    "field-removed",
    "entity-removed",
    "required-field-added",
    "currency-changed",
    "reference-target-changed",
    "calculated-result-type-changed",
}


def related(api_path: str, record_path: str) -> bool:
    """The same field, one inside the other (a member, an array's items), or the entity of an operation."""
    if api_path == record_path:
        return True
    return any(a.startswith(b) and a[len(b)] in ".[" for a, b in ((api_path, record_path), (record_path, api_path)))


def check_consistent(changes: list[Change], api: list[Change]) -> None:
    for change in api:
        explaining = [r for r in changes if related(change.path, r.path)]
        assert explaining, f"{change.kind.id} {change.path} has no record change behind it: {changes}"
        strictest = max(r.cls.rank for r in explaining)
        assert change.cls.rank <= strictest, (change, explaining)
        if all(r.cls is ChangeClass.COMPATIBLE for r in explaining):
            assert change.cls is ChangeClass.COMPATIBLE, (change, explaining)
    for record in changes:
        if record.kind.id in SHOWN_AS_BREAKS:
            assert any(a.cls is ChangeClass.BREAKING and related(a.path, record.path) for a in api), (
                f"{record.kind.id} {record.path} breaks no client: {api}"
            )
        if record.kind.id in {"field-type-changed", "array-items-type-changed", "field-renamed-with-alias"}:
            assert any(a.path == record.path for a in api), (record, api)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_api_changes_agree_with_the_record_classes(data: st.DataObject) -> None:
    fields = data.draw(st.dictionaries(st.sampled_from(NAMES), field_defs(), min_size=1, max_size=3))
    old, new = build(fields, "1.0.0"), build(data.draw(mutated(fields)), "1.0.0")
    assume(old is not None and new is not None)
    assert old is not None and new is not None
    result = diff_packages(old, new)
    check_consistent(result.changes, result.api)
    assert all(c.kind.section == "api" for c in result.api)
    # The API changes count in the bump and the verdict, and never raise them above the package's own changes.
    assert result.bump == propose_bump(result.changes, "1.0.0")


def package(schema: dict[str, Any]) -> Package:
    files = {
        "package.json": json.dumps(
            {"name": "Api", "version": "1.0.0", "scope": "global", "description": "d", "locales": ["en"]}
        ).encode(),
        "schema.json": json.dumps(schema).encode(),
    }
    loaded = load_tree(MemoryTree(files, "p"))
    assert loaded.valid, loaded.diagnostics
    return loaded


LEAD = {"entities": {"Lead": {"fields": {"name": {"type": "text", "required": True}}}}}


def api_of(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
    result = diff_packages(package(old), package(new))
    check_consistent(result.changes, result.api)
    return [(c.kind.id, c.cls.value, c.path) for c in result.api]


def fields(**defs: Any) -> dict[str, Any]:
    return {"entities": {"Lead": {"fields": {"name": {"type": "text", "required": True}, **defs}}}}


def test_a_package_diffed_with_itself_changes_no_api() -> None:
    assert api_of(LEAD, LEAD) == []


def test_description_and_deprecation_change_no_api() -> None:
    described = fields(note={"type": "text", "description": "Why.", "deprecated": True})
    assert api_of(fields(note={"type": "text"}), described) == []


def test_a_required_property_added_with_a_default_is_an_optional_one_for_clients() -> None:
    assert api_of(LEAD, fields(tier={"type": "text", "required": True, "default": "b"})) == [
        ("api-property-added", "compatible", "Lead.tier")
    ]


def test_a_property_made_optional_is_a_note_for_readers_and_nothing_for_writers() -> None:
    optional = {"entities": {"Lead": {"fields": {"name": {"type": "text"}}}}}
    assert api_of(LEAD, optional) == [("api-response-widened", "compatible", "Lead.name")]


def test_integer_to_decimal_widens_responses_and_decimal_to_integer_narrows_requests() -> None:
    whole, decimal = fields(n={"type": "number", "integer": True}), fields(n={"type": "number"})
    assert api_of(whole, decimal) == [("api-response-widened", "compatible", "Lead.n")]
    assert api_of(decimal, whole) == [("api-request-narrowed", "data-dependent", "Lead.n")]


def test_text_to_enum_narrows_requests_and_back_widens_responses() -> None:
    text, enum = fields(s={"type": "text"}), fields(s={"type": "enum", "values": ["a"]})
    assert api_of(text, enum) == [("api-request-narrowed", "data-dependent", "Lead.s")]
    assert api_of(enum, text) == [("api-response-widened", "compatible", "Lead.s")]


def test_a_renamed_member_of_array_items_is_followed_through_its_alias() -> None:
    lines = {"type": "array", "items": {"type": "object", "fields": {"sku": {"type": "text", "maxLength": 9}}}}
    renamed = {
        "type": "array",
        "items": {"type": "object", "fields": {"code": {"type": "text", "maxLength": 5, "aliases": ["sku"]}}},
    }
    assert api_of(fields(lines=lines), fields(lines=renamed)) == [
        ("api-request-narrowed", "data-dependent", "Lead.lines[].code"),
        ("api-property-renamed", "compatible", "Lead.lines[].code"),
    ]


def test_removing_an_entity_removes_its_four_operations_in_one_change() -> None:
    two = {"entities": {**LEAD["entities"], "Note": {"fields": {"body": {"type": "text"}}}}}
    result = diff_packages(package(two), package(LEAD))
    [change] = result.api
    assert (change.kind.id, change.path) == ("api-operation-removed", "Note")
    for operation in ("createNote", "getNote", "listNote", "updateNote"):
        assert operation in change.message


def test_every_api_kind_is_explained_and_in_the_api_section() -> None:
    api_kinds = [k for k in KINDS if k.id.startswith("api-")]
    assert api_kinds and all(k.code.startswith("CMP9") and k.section == "api" for k in api_kinds)
    assert all(k.section == "package" for k in KINDS if k not in api_kinds)


def case(name: str) -> tuple[str, str]:
    from tests.compat.test_golden import CASES

    return str(CASES / name / "old"), str(CASES / name / "new")


def test_text_output_has_a_records_api_section() -> None:
    result = invoke("diff", *case("field_removed"))
    assert result.code == 1
    section = result.out[result.out.index("records API (2):") :]
    assert "CMP903 api-response-property-removed [breaking] Lead.headcount" in section
    assert "1 change: 1 breaking, 0 data-dependent, 0 behavioral, 0 compatible (and 2 to the records API)" in result.out


def test_json_output_marks_the_section_and_counts_it() -> None:
    result = invoke("diff", *case("max_length_reduced"), "-f", "json")
    envelope = json.loads(result.out)
    summary = envelope["result"]["summary"]
    assert summary["api"] == {
        "changes": 1,
        "counts": {"compatible": 0, "data-dependent": 1, "behavioral": 0, "breaking": 0},
    }
    assert summary["counts"]["data-dependent"] == 1 and summary["changes"] == 1  # the API's are counted apart
    sections = {f["code"]: f["extra"]["section"] for f in envelope["result"]["findings"]}
    assert sections == {"CMP126": "package", "CMP908": "api"}


def test_a_data_dependent_api_change_fails_only_with_fail_on() -> None:
    assert invoke("diff", *case("max_length_reduced")).code == 0
    failing = invoke("diff", *case("max_length_reduced"), "--fail-on", "data-dependent", "-f", "github")
    assert failing.code == 1
    assert "title=CMP908::[data-dependent] requests accept fewer values for Lead.email" in failing.out


def test_markdown_and_sarif_carry_the_api_changes() -> None:
    markdown = invoke("diff", *case("enum_value_added"), "-f", "markdown").out
    assert "#### Records API (1)" in markdown
    assert "api-response-widened Lead.status (compatible)" in markdown
    sarif = json.loads(invoke("diff", *case("enum_value_added"), "-f", "sarif").out)
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"]: r["properties"]["section"] for r in results} == {"CMP121": "package", "CMP905": "api"}


def test_explain_knows_the_api_kinds() -> None:
    result = invoke("explain", "CMP909")
    assert result.code == 0
    assert "api-required-property-added" in result.out
    assert "section: records API" in result.out
