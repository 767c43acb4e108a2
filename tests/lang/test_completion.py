"""Completion: golden cases on the reference packages and on broken buffers, promises stated one by one, a property
test that it never raises, and a check that every key offered is one the artifact's JSON Schema accepts there."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.lang.completion import CompletionItem, CompletionKind, complete
from crmctl.lang.facts import cel_functions
from crmctl.model.fields import EnumField
from crmctl.model.jsonschemas import validate_doc
from crmctl.model.source import SourceDoc
from tests.lang.cases import FIXTURES, MARK, buffer, check_golden, file_name, load_cases, reference

CASES = load_cases("completion_cases.yaml")


def _render(items: list[CompletionItem]) -> str:
    lines = []
    for item in items:
        insert = "" if item.insert_text == item.label else f" -> {item.insert_text!r}"
        detail = f"  ({item.detail})" if item.detail else ""
        lines.append(f"{item.kind.value} {item.label}{insert}{detail}")
    span = items[0].replace if items else None
    head = f"replaces {span.line}:{span.column}-{span.end_line}:{span.end_column}" if span else "no items"
    return "\n".join([head, *lines]) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_completion_golden(case: dict[str, Any]) -> None:
    package = reference(case["package"]) if case["package"] else None
    text, line, column = buffer(case, package)
    items = complete(package, file_name(package, case["file"]), text, line, column)
    check_golden(FIXTURES / "completion" / f"{case['name']}.txt", _render(items))


def _complete(marked: str, rel: str, package: str | None = "LeadLifecycle/v2") -> list[CompletionItem]:
    pkg = reference(package) if package else None
    text, line, column = buffer({"name": "inline", "text": marked}, pkg)
    return complete(pkg, file_name(pkg, rel), text, line, column)


def test_field_type_offers_the_twelve_types() -> None:
    items = _complete("entities:\n  Lead:\n    fields:\n      a:\n        type: " + MARK, "schema.yaml")
    types = ["text", "number", "currency", "boolean", "enum", "date", "datetime", "reference", "file", "calculated"]
    assert [i.label for i in items] == sorted([*types, "object", "array"])
    assert {i.kind for i in items} == {CompletionKind.VALUE}


def test_keys_already_present_are_not_offered_and_required_come_first() -> None:
    items = _complete("rules:\n  - id: r\n    scope: field\n    " + MARK, "rules.yaml")
    labels = [i.label for i in items]
    assert "id" not in labels and "scope" not in labels
    assert labels[:2] == ["capability", "trigger"]  # the required keys still missing
    assert items[0].insert_text == "capability: "


def test_enum_values_are_quoted_against_the_yaml_quoting() -> None:
    plain = _complete("rules:\n  - id: r\n    entity: Lead\n    when: status == " + MARK, "rules.yaml")
    single = _complete("rules:\n  - id: r\n    entity: Lead\n    when: 'status == " + MARK, "rules.yaml")
    inside = _complete("rules:\n  - id: r\n    entity: Lead\n    when: status == 'qu" + MARK, "rules.yaml")
    assert "'new'" in [i.insert_text for i in plain]
    assert '"new"' in [i.insert_text for i in single]
    assert [(i.label, i.insert_text) for i in inside] == [("qualified", "qualified")]
    replaced = inside[0].replace
    assert replaced is not None and (replaced.column, replaced.end_column) == (22, 24)  # the `qu` typed


def test_cel_names_carry_their_cel_types_and_the_functions_of_the_environment() -> None:
    items = _complete("rules:\n  - id: r\n    entity: Lead\n    when: " + MARK, "rules.yaml")
    by_label = {i.label: i for i in items}
    assert by_label["companySize"].detail == "int"
    assert by_label["annualRevenue"].detail == "double"
    assert by_label["now"].kind is CompletionKind.VARIABLE
    assert by_label["has"].kind is CompletionKind.MACRO
    assert by_label["duration"].kind is CompletionKind.FUNCTION
    pkg = reference("LeadLifecycle/v2")
    status = pkg.schema.entities["Lead"].fields["status"] if pkg.schema else None
    assert isinstance(status, EnumField)
    assert all(v in by_label["status"].documentation for v in status.values)


def test_every_candidate_function_compiles_in_the_environment() -> None:
    """The function list follows the environment: a candidate the environment refused would silently vanish."""
    names = {(f.name, f.receiver) for f in cel_functions() if not f.macro}
    assert len(names) == 33
    macros = {f.name for f in cel_functions() if f.macro}
    assert macros == {"has", "all", "exists", "exists_one", "map", "filter"}


def test_reference_names_depend_on_the_context() -> None:
    step = _complete("rules:\n  - id: r\n    scope: step\n    target: " + MARK, "rules.yaml")
    field = _complete("rules:\n  - id: r\n    entity: Lead\n    scope: field\n    target: " + MARK, "rules.yaml")
    assert [i.label for i in step] == ["company", "personal", "review"]
    assert "companySize" in [i.label for i in field] and "personal" not in [i.label for i in field]


def test_a_file_that_is_no_artifact_completes_nothing() -> None:
    assert complete(None, "/x/notes.txt", "a: ", 1, 4) == []
    assert complete(None, "/x/other.yaml", "a: ", 1, 4) == []


# --- never raises --------------------------------------------------------------------------------------------

KINDS = ["package.yaml", "schema.yaml", "ui.yaml", "rules.yaml", "validations.yaml", "workflow.yaml", "events.yaml"]
KINDS += ["localization/en.yaml"]
_ALPHABET = st.sampled_from([*"ab:- \n\t'\"[]{},#|>.=!()&", "when: ", "type: ", "entity: Lead\n", "  ", "- id: "])


@pytest.mark.parametrize("rel", KINDS)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(pieces=st.lists(_ALPHABET, max_size=40), line=st.integers(-2, 12), column=st.integers(-2, 40))
def test_complete_never_raises(rel: str, pieces: list[str], line: int, column: int) -> None:
    pkg = reference("LeadLifecycle/v2")
    text = "".join(pieces)
    items = complete(pkg, file_name(pkg, rel), text, line, column)
    assert all(isinstance(i, CompletionItem) and i.replace is not None for i in items)


@pytest.mark.parametrize("rel", KINDS)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(cut=st.integers(0, 10_000), line=st.integers(1, 400), column=st.integers(1, 120))
def test_complete_never_raises_on_truncated_reference_files(rel: str, cut: int, line: int, column: int) -> None:
    pkg = reference("LeadLifecycle/v2")
    name = file_name(pkg, rel)
    text = next(d.text for d in pkg.docs.values() if d.file == name)[:cut]
    complete(pkg, name, text, line, column)


# --- every key offered is accepted by the schema ----------------------------------------------------------------


def _unknown_keys(kind: str, data: Any) -> set[str]:
    """The keys structural validation (`validate_doc`, which follows the discriminator of field types) calls unknown."""
    findings = validate_doc(kind, SourceDoc(file="x.yaml", data=data, text=""))
    return {m.group(1) for d in findings if (m := re.match(r"unknown key '([^']*)'", d.message))}


@pytest.mark.parametrize("package", ["LeadLifecycle/v2", "ClaimsIntake"])
def test_every_key_offered_is_accepted_by_the_schema(package: str) -> None:
    """At each key of the reference files, a new line in the same mapping: every key completion offered there,
    added to that mapping, is accepted by the artifact's JSON Schema (no 'unknown key')."""
    pkg = reference(package)
    checked = 0
    for kind, doc in pkg.docs.items():
        lines = doc.text.split("\n")
        seen: set[tuple[str | int, ...]] = set()
        for number, line in enumerate(lines, start=1):
            stripped = line.lstrip(" -")
            if not stripped or stripped.startswith("#") or ":" not in stripped:
                continue
            column = len(line) - len(stripped) + 1
            at = doc.path_at(number, column)
            if at is None or not at[1] or at[0][:-1] in seen:
                continue
            mapping_path = at[0][:-1]
            seen.add(mapping_path)
            text = "\n".join([*lines[:number], " " * (column - 1), *lines[number:]])
            keys = [i.label for i in complete(pkg, doc.file, text, number + 1, column) if i.kind is CompletionKind.KEY]
            data: Any = _copy(doc.data)
            target = data
            for part in mapping_path:
                target = target[part]
            target.update(dict.fromkeys(keys))
            assert not set(keys) & _unknown_keys(kind.split("/")[0], data), (kind, number)
            checked += len(keys)
    assert checked > 100


def _copy(data: Any) -> Any:
    import copy

    return copy.deepcopy(data)


_CLAIM = "validations:\n  - id: v\n    entity: Claim\n    type: cross-field\n    message: m\n    expression: "


@pytest.mark.parametrize(
    ("expression", "present", "absent"),
    [
        ("witnesses.all(w, ‸", {"w", "claimNumber", "has"}, set()),  # the bound variable is in scope
        ("witnesses.all(w, w.na‸", {"name"}, {"claimNumber"}),
        ("witnesses.exists(w, size(w.name) > 1 && w.‸", {"name", "phone", "size"}, {"contains"}),
        ("claimNumber.all(x, x.‸", {"contains", "getHours"}, {"name"}),  # x is unknown: every method
        ("incidentAddress.city.‸", {"contains", "size"}, {"getHours", "all"}),
        ("estimatedLoss.‸", set(), {"size", "contains", "all"}),  # a double has no members
        ("unknownThing.‸", {"contains", "getHours", "size", "all"}, set()),
        ("(claimNumber + 'x').‸", {"contains", "getHours", "size"}, set()),
        ("claimType == 'a b‸", set(), {"motor", "'motor'", "claimNumber"}),  # not a value being typed
        ("claimType == 'it\\'s‸", set(), {"motor", "'motor'"}),
        ("claimType in [('x'), ‸", {"claimNumber"}, {"'motor'"}),  # not a plain list of strings
        ("claimType in ['motor', [1], ‸", {"claimNumber"}, {"'motor'"}),
        ("claimType in [‸", {"'motor'", "'travel'"}, {"claimNumber"}),
        ("size([1, [2]]) > 0 && claimType == ‸", {"'motor'"}, set()),
        ("claimType ‸", set(), {"claimNumber", "'motor'"}),
    ],
)
def test_expression_contexts(expression: str, present: set[str], absent: set[str]) -> None:
    items = _complete(_CLAIM + expression + "\n", "validations.yaml", "ClaimsIntake")
    offered = {i.insert_text for i in items}
    assert present <= offered, sorted(offered)
    assert not absent & offered, sorted(offered)
    if not present:
        assert not offered


def test_expressions_without_a_package_offer_the_library() -> None:
    items = _complete("rules:\n  - id: r\n    when: ‸", "rules.yaml", None)
    assert {"has", "size", "duration"} <= {i.label for i in items}
    assert not [i for i in items if i.kind is CompletionKind.FIELD]


def test_workflow_references_are_those_of_the_workflow_at_the_cursor() -> None:
    base = (
        "workflows:\n  - id: leadLifecycle\n    entity: Lead\n    initial: new\n    states:\n      new:\n        sla:\n"
    )
    on_breach = _complete(base + "          onBreach: ‸", "workflow.yaml")
    calendar = _complete(base + "          calendar: ‸", "workflow.yaml")
    task = _complete(base + "          onSuccess:\n            - task: ‸", "workflow.yaml")
    pkg = reference("LeadLifecycle/v2")
    flow = pkg.workflow.workflows[0] if pkg.workflow else None
    assert flow is not None
    assert [i.label for i in on_breach] == sorted(t.id for t in flow.transitions)
    assert [i.label for i in calendar] == sorted(flow.calendars)
    assert [i.label for i in task] == sorted(s.task.id for s in flow.states.values() if s.task)


def test_a_position_past_the_end_completes_at_the_end() -> None:
    pkg = reference("LeadLifecycle/v2")
    text = "rules:\n  - id: r\n    capability: "
    at_end = complete(pkg, file_name(pkg, "rules.yaml"), text, 3, 17)
    assert at_end and at_end == complete(pkg, file_name(pkg, "rules.yaml"), text, 40, 200)
    assert complete(pkg, file_name(pkg, "rules.yaml"), text, 3, 200) == at_end
