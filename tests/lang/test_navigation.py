"""The symbol index and navigation: definitions, references, outline and workspace symbols.

Golden results (tests/fixtures/lang/<package>.txt) list, per reference package, each file's outline and every
reference of every symbol with its exact span; regenerate with `CRMCTL_UPDATE_GOLDEN=1 pytest tests/lang` and
review the diff. Independently of the goldens, every span must hold exactly the name it claims, and navigating
from any reference must land on the definition.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crmctl.lang.navigation import SymbolNode, definition, document_symbols, references, symbol_at, workspace_symbols
from crmctl.lang.symbols import build_index, index_for
from crmctl.model.cel import ComparedLiteral, compared_literals
from crmctl.model.diagnostics import Location
from crmctl.model.package import Package, load_package, load_tree
from crmctl.model.scalar_spans import exact_span
from crmctl.model.tree import MemoryTree

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "fixtures" / "lang"
PACKAGES = ["LeadLifecycle/v1", "LeadLifecycle/v2", "ClaimsIntake"]


def _load(name: str) -> Package:
    return load_package(REPO / "packages" / name, ".")


def _text(package: Package, span: Location) -> str:
    doc = next(d for d in package.docs.values() if d.file == span.file)
    assert span.end_line == span.line, span
    assert span.end_column is not None
    return doc.line_text(span.line)[span.column - 1 : span.end_column - 1]


def _where(span: Location) -> str:
    return f"{span.file}:{span.line}:{span.column}-{span.end_line}:{span.end_column}"


def _outline(nodes: list[SymbolNode], depth: int, out: list[str]) -> None:
    for node in nodes:
        s = node.symbol
        detail = f" ({s.detail})" if s.detail else ""
        out.append(
            f"{'  ' * depth}{s.kind} {s.name}{detail} @ {_where(s.name_span)} body {_where(s.body_span)}".rstrip()
        )
        _outline(node.children, depth + 1, out)


def render(package: Package) -> str:
    index = index_for(package)
    out: list[str] = ["# outline"]
    for doc in sorted(package.docs.values(), key=lambda d: d.file):
        out.append(f"## {doc.file}")
        _outline(document_symbols(package, doc.file), 0, out)
    out.append("# references")
    for key in sorted(index.definitions):
        refs = sorted(index.references.get(key, []), key=lambda r: (r.span.file, r.span.line, r.span.column))
        out.append(f"{' '.join(key)}: {len(refs)}")
        out.extend(f"  {_where(r.span)}{' cel' if r.cel else ''}{'' if r.exact else ' INEXACT'}" for r in refs)
    unresolved = sorted(set(index.references) - set(index.definitions))
    out.append("# references to nothing defined")
    out.extend(" ".join(key) for key in unresolved)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", PACKAGES)
def test_golden_outline_and_references(name: str) -> None:
    expected = GOLDEN / f"{name.replace('/', '-')}.txt"
    actual = render(_load(name))
    if os.environ.get("CRMCTL_UPDATE_GOLDEN"):
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8"), f"regenerate with CRMCTL_UPDATE_GOLDEN=1 ({expected})"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_span_holds_exactly_the_name(name: str) -> None:
    package = _load(name)
    index = index_for(package)
    assert index.symbols
    for symbol in index.symbols:
        assert _text(package, symbol.name_span) == symbol.name, symbol
    for key, refs in index.references.items():
        for ref in refs:
            assert ref.exact, ref
            assert _text(package, ref.span) == key[-1], ref


@pytest.mark.parametrize("name", PACKAGES)
def test_navigation_from_any_name_lands_on_the_symbol(name: str) -> None:
    package = _load(name)
    index = index_for(package)
    for key, refs in index.references.items():
        defs = sorted((s.name_span for s in index.definitions.get(key, [])), key=_where)
        everything = sorted([*defs, *(r.span for r in refs)], key=_where)
        for ref in refs:
            for line, column in ((ref.span.line, ref.span.column), (ref.span.line, ref.span.end_column or 0)):
                assert symbol_at(package, ref.span.file, line, column) == key
                assert sorted(definition(package, ref.span.file, line, column), key=_where) == defs
                assert sorted(references(package, ref.span.file, line, column), key=_where) == everything
        for span in defs:
            only_refs = references(package, span.file, span.line, span.column, include_declaration=False)
            assert sorted(only_refs, key=_where) == sorted((r.span for r in refs), key=_where)


def test_a_position_on_nothing_gives_nothing() -> None:
    package = _load("LeadLifecycle/v2")
    assert definition(package, "schema.yaml", 1, 1) == []  # a comment
    assert references(package, "schema.yaml", 1, 1) == []
    assert definition(package, "no-such-file.yaml", 3, 3) == []
    assert document_symbols(package, "no-such-file.yaml") == []


def test_the_outline_nests_fields_members_steps_groups_and_workflow_parts() -> None:
    claims = _load("ClaimsIntake")
    [entity] = [n for n in document_symbols(claims, "schema.yaml") if n.symbol.name == "Claim"]
    address = next(n for n in entity.children if n.symbol.name == "incidentAddress")
    assert [c.symbol.name for c in address.children] == ["street", "postalCode", "city", "country"]
    witnesses = next(n for n in entity.children if n.symbol.name == "witnesses")
    assert witnesses.children and all(c.symbol.container == "Claim.witnesses" for c in witnesses.children)
    lead = _load("LeadLifecycle/v2")
    steps = document_symbols(lead, "ui.yaml")
    company = next(n for n in steps if n.symbol.name == "company")
    assert [g.symbol.name for g in company.children] == ["sizing", "pipeline", "consent"]
    [flow] = document_symbols(lead, "workflow.yaml")
    kinds = [c.symbol.kind for c in flow.children]
    assert kinds.count("state") == 4 and kinds.count("transition") == 3 and "timer" in kinds
    contacted = next(c for c in flow.children if c.symbol.name == "contacted")
    assert [c.symbol.kind for c in contacted.children] == ["task"]
    for node in [*steps, flow, entity]:
        _assert_nested(node)


def _assert_nested(node: SymbolNode) -> None:
    """Every child's range lies inside its parent's, and every name inside its own range (as LSP requires)."""
    s = node.symbol
    assert (s.body_span.line, s.body_span.column) <= (s.name_span.line, s.name_span.column)
    for child in node.children:
        c = child.symbol.body_span
        assert (s.body_span.line, s.body_span.column) <= (c.line, c.column)
        assert (c.end_line, c.end_column) <= (s.body_span.end_line, s.body_span.end_column)
        _assert_nested(child)


def test_workspace_symbols_rank_exact_prefix_substring_then_fuzzy() -> None:
    packages = [_load("LeadLifecycle/v2"), _load("ClaimsIntake")]
    found = workspace_symbols(packages, "email")
    assert found[0].name == "email"
    exact = [s.qualified for s in found if s.name == "email"]
    assert found[: len(exact)] == [s for s in found if s.name == "email"]
    assert {"Lead.email", "User.email", "Adjuster.email"} <= set(exact)
    found = workspace_symbols(packages, "mobph")
    # the field by its name, then its alias `phone` by its qualified name `Lead.mobilePhone.phone`
    assert [(s.kind, s.name) for s in found] == [("field", "mobilePhone"), ("alias", "phone")]
    assert [s.qualified for s in workspace_symbols(packages, "lead.mob")] == [
        "Lead.mobilePhone",
        "Lead.mobilePhone.phone",
    ]
    assert workspace_symbols(packages, "zzzz-nothing") == []
    everything = workspace_symbols(packages, "")
    assert len(everything) == sum(len(index_for(p).symbols) for p in packages)


def test_the_index_is_built_once_per_package_object() -> None:
    package = _load("LeadLifecycle/v1")
    assert index_for(package) is index_for(package)
    assert build_index(package) is not index_for(package)


# --- CEL inside every kind of scalar ---------------------------------------------------------------------------

_MANIFEST = b"name: P\nversion: 1.0.0\nscope: global\ndescription: d\nlocales: [en]\ndefaultLocale: en\n"


def package_of(files: dict[str, str], label: str = ".") -> Package:
    data = {"package.yaml": _MANIFEST, **{k: v.encode() for k, v in files.items()}}
    return load_tree(MemoryTree(data, label))


SCHEMA = """\
entities:
  Lead:
    fields:
      phone: {type: text}
      phoneType: {type: text}
      address:
        type: object
        fields:
          city: {type: text}
      lines:
        type: array
        items:
          type: object
          fields:
            sku: {type: text}
  User:
    fields:
      phone: {type: text}
"""

RULES = """\
rules:
  - id: plain
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: phoneType == 'phone' && phone != ''
    message: m
  - id: double
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: "phone != \\"phone\\" && address.city == 'x'"
    message: m
  - id: single
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: 'phone != ''phone'' && address[''city''] != '''''
    message: m
  - id: folded
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: >-
      phoneType != ''
      && lines.exists(l, l.sku == 'phone')
      && phone != ''
    message: m
  - id: literal
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: |
      // phone in a comment is no reference
      phone != ''
        && address.city != ''
    message: m
  - id: multi
    entity: Lead
    scope: global
    trigger: onSave
    capability: guard
    when: phone != ''
      && lines.all(x, x.sku != '')
    message: m
"""


def _refs(package: Package, key: tuple[str, ...]) -> list[tuple[int, int, bool]]:
    spans = [r for r in index_for(package).references.get(key, []) if r.doc == "rules"]
    return sorted((r.span.line, r.span.column, r.cel) for r in spans)


def test_cel_identifiers_are_located_exactly_in_every_scalar_style() -> None:
    package = package_of({"schema.yaml": SCHEMA, "rules.yaml": RULES})
    assert package.valid, package.diagnostics
    lines = RULES.splitlines()
    phone = _refs(package, ("field", "Lead", "phone"))
    # plain, double-quoted, single-quoted (its `''phone''` literal is no reference), folded (third line),
    # literal (second line; the comment is no reference), multi-line plain (first line)
    assert [line for line, _, _ in phone] == [7, 14, 21, 31, 40, 48]
    for line, column, cel in phone:
        assert cel
        assert lines[line - 1][column - 1 : column - 1 + 5] == "phone"
    assert _refs(package, ("field", "Lead", "phoneType")) == [(7, 11, True), (29, 7, True)]
    city = _refs(package, ("field", "Lead", "address", "city"))
    assert [(line, lines[line - 1][col - 1 : col + 3]) for line, col, _ in city] == [
        (14, "city"),
        (21, "city"),  # address[''city''] in a single-quoted scalar: the member inside the quotes
        (41, "city"),
    ]
    sku = _refs(package, ("field", "Lead", "lines", "sku"))
    assert [line for line, _, _ in sku] == [30, 49]
    assert ("field", "User", "phone") not in index_for(package).references


def test_a_name_spelled_with_an_escape_is_kept_but_marked_inexact() -> None:
    rules = RULES.replace('"phone != \\"phone\\" && address.city', '"ph\\u006Fne != \\"phone\\" && address.city')
    assert rules != RULES
    package = package_of({"schema.yaml": SCHEMA, "rules.yaml": rules})
    refs = [r for r in index_for(package).references[("field", "Lead", "phone")] if r.span.line == 14]
    assert [r.exact for r in refs] == [False]
    assert refs[0].span.end_line == 14  # the whole scalar


def test_json_packages_are_indexed_with_exact_spans_inside_quotes() -> None:
    schema = '{"entities": {"Lead": {"fields": {\n  "phone": {"type": "text"},\n  "name": {"type": "text"}}}}}\n'
    rules = (
        '{"rules": [{"id": "r", "entity": "Lead", "scope": "field", "target": "name", "trigger": "onSave",\n'
        '  "capability": "visibility", "when": "phone != \\"phone\\""}]}\n'
    )
    package = package_of({"schema.json": schema, "rules.json": rules})
    assert package.valid, package.diagnostics
    [symbol] = index_for(package).definitions[("field", "Lead", "phone")]
    assert (symbol.name_span.line, symbol.name_span.column, symbol.name_span.end_column) == (2, 4, 9)
    [ref] = index_for(package).references[("field", "Lead", "phone")]
    assert (ref.span.line, ref.span.column, ref.exact) == (2, 40, True)
    assert definition(package, "rules.json", 2, 42) == [symbol.name_span]


def test_exact_span_of_a_quoted_key() -> None:
    package = package_of({"schema.yaml": 'entities:\n  Lead:\n    fields:\n      "phone": {type: text}\n'})
    span, exact = exact_span(package.docs["schema"], ("entities", "Lead", "fields", "phone"), "phone", key=True)
    assert exact and (span.line, span.column, span.end_column) == (4, 8, 13)


def test_step_and_role_ids_compared_in_cel_are_references() -> None:
    package = load_package(REPO / "packages" / "LeadLifecycle" / "v2", ".")
    refs = index_for(package).references[("role", "salesManager")]
    [cel] = [r for r in refs if r.cel]
    assert (cel.span.file, cel.span.line) == ("rules.yaml", 78)
    assert definition(package, "rules.yaml", 78, cel.span.column + 2) == [
        index_for(package).definitions[("role", "salesManager")][0].name_span
    ]
    found = compared_literals("step == 'a' || 'b' != role || role in ['c', x, 'd' + 'e'] || x.step == 'f'", CTX)
    assert [(c.variable, c.value) for c in found] == [("step", "a"), ("role", "b"), ("role", "c")]
    assert compared_literals("step.size() == 1 || role == r'g'", CTX) == [ComparedLiteral("role", "g", 30, 1)]


CTX = frozenset({"step", "role"})


def test_named_forms_nest_their_steps_and_a_broken_package_still_indexes_what_it_can() -> None:
    schema = (
        "entities:\n  Lead:\n    fields:\n      phone: {type: text}\n  Deal:\n    fields:\n      phone: {type: text}\n"
    )
    ui = (
        "forms:\n  intake:\n    entity: Lead\n    steps:\n      - id: main\n        fields: [phone, nosuch.member]\n"
        "        groups:\n          - id: extra\n            fields: [phone]\n"
    )
    rules = (
        "rules:\n  - id: noEntity\n    scope: global\n    trigger: onSave\n    capability: guard\n"
        "    when: phone != ''\n    message: m\n"
    )
    package = package_of({"schema.yaml": schema, "ui.yaml": ui, "rules.yaml": rules})
    [form] = document_symbols(package, "ui.yaml")
    assert (form.symbol.kind, form.symbol.name) == ("form", "intake")
    [step] = form.children
    assert (step.symbol.name, [g.symbol.name for g in step.children]) == ("main", ["extra"])
    index = index_for(package)
    assert [r.span.line for r in index.references[("field", "Lead", "phone")]] == [6, 9]
    assert ("field", "Deal", "phone") not in index.references  # the rule names no entity among two: unresolved
    assert not any(key[2] == "nosuch" for key in index.references if key[0] == "field")
