"""Properties of renames and references over random packages built in memory.

* Renaming fields with aliases and rewriting every reference (CEL in rules, validations, calculated fields, guards,
  SLA conditions and `set` values; paths in targets, UI, role views, payloads, workflow assignments; labels) is no
  change beyond the renames; the same rename plus one genuine edit reports that edit.
* Removing steps, groups, transitions, validations, events and roles reports one `stale-reference` per place that
  still names a removed one, and none once those places are gone too.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.compat import ChangeClass, diff_packages
from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree
from tests.model._cel_renames import NEW, OLD, Names, Render, bools, field_defs, strings

PROPS = settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANIFEST = {"name": "Prop", "scope": "global", "description": "Random.", "locales": ["en"], "roles": ["sales"]}


def build(files: dict[str, Any], label: str, version: str = "1.0.0") -> Package:
    data = {"package.json": {**MANIFEST, "version": version}, **files}
    package = load_tree(MemoryTree({name: json.dumps(doc).encode() for name, doc in data.items()}, label))
    assert package.valid, package.diagnostics
    return package


# --- renames --------------------------------------------------------------------------------------------------

Exprs = dict[str, Render]
EXPRESSIONS = st.fixed_dictionaries(
    {
        "show": bools(2),
        "check": bools(2),
        "when": bools(1),
        "guard": bools(2),
        "pause": bools(1),
        "calc": bools(1),
        "zip": strings(1),
        "set": strings(1),
    }
)


def lead_package(N: Names, e: Exprs) -> dict[str, Any]:
    """Every kind of field reference, spelled with the names `N`."""
    a, zip_path = N["a"], f"{N['o']}.{N['o.zip']}"
    fields = {**field_defs(N), "calc": {"type": "calculated", "expression": e["calc"](N), "resultType": "boolean"}}
    rules = [
        {
            "id": "show",
            "scope": "field",
            "target": a,
            "trigger": "onChange",
            "capability": "visibility",
            "when": e["show"](N),
        },
        {
            "id": "zip",
            "scope": "field",
            "target": zip_path,
            "trigger": "onChange",
            "capability": "calculation",
            "expression": e["zip"](N),
        },
    ]
    validations = [
        {"id": "aFormat", "type": "regex", "field": a, "pattern": "[a-z]*", "message": "err.a"},
        {"id": "check", "type": "cross-field", "expression": e["check"](N), "when": e["when"](N), "message": "err.c"},
    ]
    ui = {
        "steps": [{"id": "main", "fields": [a, zip_path, N["items"], N["n"]]}],
        "roles": {"sales": {"readOnly": [a], "hidden": [zip_path]}},
    }
    workflow = {
        "workflows": [
            {
                "id": "flow",
                "initial": "open",
                "states": {
                    "open": {
                        "sla": {"id": "s", "breachAfter": "2d", "pause": e["pause"](N)},
                        "task": {"id": "decide", "assign": {"field": a}, "outcomes": {"ok": "close"}},
                    },
                    "done": {"final": True},
                },
                "transitions": [
                    {
                        "id": "close",
                        "from": "open",
                        "to": "done",
                        "guard": e["guard"](N),
                        "approval": {"approverField": a},
                        "actions": [{"set": {a: e["set"](N)}, "emit": "Closed"}],
                    }
                ],
            }
        ]
    }
    return {
        "schema.json": {"entities": {"Lead": {"fields": fields}}},
        "rules.json": {"rules": rules},
        "validations.json": {"validations": validations},
        "ui.json": ui,
        "workflow.json": workflow,
        "events.json": {"events": {"Closed": {"payload": [a, zip_path]}}},
        "localization/en.json": {
            "labels": {f"Lead.{a}": "A", "Lead.calc": "Calc"},
            "messages": {"err.a": "A", "err.c": "C"},
        },
    }


RENAMED = {"field-renamed-with-alias", "localization-key-moved"}


@PROPS
@given(EXPRESSIONS)
def test_a_rename_that_every_reference_follows_is_no_other_change(e: Exprs) -> None:
    result = diff_packages(build(lead_package(OLD, e), "old"), build(lead_package(NEW, e), "new", "1.1.0"))
    assert {c.kind.id for c in result.changes} == RENAMED, [
        c.message for c in result.changes if c.kind.id not in RENAMED
    ]
    assert all(c.cls is ChangeClass.COMPATIBLE for c in result.changes)
    assert sum(c.kind.id == "field-renamed-with-alias" for c in result.changes) == 5  # a, o, o.zip, items, items[].sku


def _negate(text: str) -> str:
    return f"!({text})"


# (what is edited, how, the kind that must be reported)
EDITS = [
    ("rules.json", lambda d: d["rules"][0].update(when=_negate(d["rules"][0]["when"])), "rule-condition-changed"),
    (
        "rules.json",
        lambda d: d["rules"][1].update(expression=d["rules"][1]["expression"] + " + 'x'"),
        "rule-expression-changed",
    ),
    (
        "validations.json",
        lambda d: d["validations"][1].update(expression=_negate(d["validations"][1]["expression"])),
        "validation-changed",
    ),
    ("ui.json", lambda d: d["steps"][0]["fields"].pop(0), "ui-field-removed"),
    ("ui.json", lambda d: d["roles"]["sales"]["hidden"].clear(), "role-view-changed"),
    (
        "workflow.json",
        lambda d: d["workflows"][0]["transitions"][0].update(
            guard=_negate(d["workflows"][0]["transitions"][0]["guard"])
        ),
        "transition-guard-changed",
    ),
    (
        "workflow.json",
        lambda d: d["workflows"][0]["states"]["open"]["sla"].update(
            pause=_negate(d["workflows"][0]["states"]["open"]["sla"]["pause"])
        ),
        "sla-changed",
    ),
    (
        "workflow.json",
        lambda d: d["workflows"][0]["transitions"][0]["approval"].update(approverField="n"),
        "transition-changed",
    ),
    ("events.json", lambda d: d["events"]["Closed"]["payload"].pop(), "event-payload-field-removed"),
    (
        "schema.json",
        lambda d: d["entities"]["Lead"]["fields"]["calc"].update(
            expression=_negate(d["entities"]["Lead"]["fields"]["calc"]["expression"])
        ),
        "calculated-expression-changed",
    ),
]


@PROPS
@given(EXPRESSIONS, st.sampled_from(EDITS))
def test_a_genuine_change_made_with_a_rename_is_still_reported(e: Exprs, edit: Any) -> None:
    doc, change, expected = edit
    files = lead_package(NEW, e)
    change(files[doc])
    result = diff_packages(build(lead_package(OLD, e), "old"), build(files, "new", "1.1.0"))
    reported = [c for c in result.changes if c.kind.id == expected]
    assert reported, [c.kind.id for c in result.changes]
    assert {c.kind.id for c in result.changes} - RENAMED == {expected}
    assert all(c.location is not None and c.location.file.startswith("new/") for c in reported)


# --- stale references ---------------------------------------------------------------------------------------

STEPS = ["s0", "s1", "s2"]
GROUPS = ["g0", "g1"]
TRANSITIONS = ["t0", "t1", "t2"]
VALIDATIONS = ["v0", "v1", "v2"]
EVENTS = ["e0", "e1"]
ROLES = ["r0", "r1"]
TARGETS = [
    *[("step", s) for s in STEPS],
    *[("group", g) for g in GROUPS],
    *[("transition", t) for t in TRANSITIONS],
    *[("validation", v) for v in VALIDATIONS],
    *[("event", e) for e in EVENTS],
    *[("role", r) for r in ROLES],
]
Ref = tuple[str, str, str]  # (kind, target, how it is referenced)
REFS: list[Ref] = (
    [("step", s, how) for s in STEPS for how in ("target", "goto")]
    + [("group", g, "target") for g in GROUPS]
    + [("transition", t, how) for t in TRANSITIONS for how in ("target", "timer", "outcome")]
    + [("validation", v, "member") for v in VALIDATIONS]
    + [("event", e, how) for e in EVENTS for how in ("emits", "emit")]
    + [("role", r, how) for r in ROLES for how in ("step", "approver")]
)


def graph_package(removed: set[tuple[str, str]], refs: list[Ref]) -> dict[str, Any]:
    """Steps, groups, transitions, validations, events and roles (less `removed`), named from the places `refs`."""

    def alive(kind: str, names: list[str]) -> list[str]:
        return [n for n in names if (kind, n) not in removed]

    rules: list[dict[str, Any]] = []
    for n, (kind, target, how) in enumerate(refs):
        base = {"id": f"r{n}", "trigger": "onChange", "when": "true"}
        if kind == "step" and how == "goto":
            rules.append({**base, "scope": "step", "target": "main", "capability": "transition", "goto": target})
        elif kind in ("step", "group", "transition") and how == "target":
            scope = {"step": "step", "group": "component", "transition": "workflow"}[kind]
            rules.append({**base, "scope": scope, "target": target, "capability": "visibility"})
    ref = {(k, t, h) for k, t, h in refs}
    groups = [{"id": g, "fields": ["name"]} for g in alive("group", GROUPS)]
    roles = [r for r in ROLES if ("role", r, "step") in ref]
    steps = [{"id": "main", "fields": ["name"], "groups": groups, "roles": roles}]
    steps += [{"id": s, "fields": ["name"]} for s in alive("step", STEPS)]
    transitions = [{"id": t, "from": "open", "to": "done"} for t in alive("transition", TRANSITIONS)]
    transitions.append(
        {
            "id": "keep",
            "from": "open",
            "to": "done",
            "emits": [e for e in EVENTS if ("event", e, "emits") in ref],
            "actions": [{"emit": e} for e in EVENTS if ("event", e, "emit") in ref],
            "approval": {"approvers": [r for r in ROLES if ("role", r, "approver") in ref] or ["sales"]},
        }
    )
    timers = [
        {"id": f"timer{t}", "state": "open", "after": "1d", "transition": t}
        for t in TRANSITIONS
        if ("transition", t, "timer") in ref
    ]
    outcomes = {f"o{t}": t for t in TRANSITIONS if ("transition", t, "outcome") in ref} or {"ok": "keep"}
    validations: list[dict[str, Any]] = [
        {"id": v, "type": "required", "field": "name", "message": "m"} for v in alive("validation", VALIDATIONS)
    ]
    members = [v for v in VALIDATIONS if ("validation", v, "member") in ref]
    if members:
        validations.append(
            {"id": "all", "type": "composite", "operator": "all", "validations": members, "message": "m"}
        )
    return {
        "package.json": {**MANIFEST, "version": "1.0.0", "roles": ["sales", *alive("role", ROLES)]},
        "schema.json": {"entities": {"Lead": {"fields": {"name": {"type": "text"}}}}},
        "ui.json": {"steps": steps},
        "rules.json": {"rules": rules},
        "validations.json": {"validations": validations},
        "events.json": {"events": {e: {} for e in alive("event", EVENTS)}},
        "workflow.json": {
            "workflows": [
                {
                    "id": "flow",
                    "initial": "open",
                    "timers": timers,
                    "transitions": transitions,
                    "states": {
                        "open": {"task": {"id": "decide", "assign": {"role": "sales"}, "outcomes": outcomes}},
                        "done": {"final": True},
                    },
                }
            ]
        },
    }


def _build(files: dict[str, Any], label: str) -> Package:
    package = load_tree(MemoryTree({name: json.dumps(doc).encode() for name, doc in files.items()}, label))
    assert package.valid, package.diagnostics
    return package


@PROPS
@given(st.lists(st.sampled_from(REFS), unique=True), st.sets(st.sampled_from(TARGETS), min_size=1))
def test_every_place_still_naming_a_removed_item_is_one_stale_reference(refs: list[Ref], removed: set[Any]) -> None:
    old = _build(graph_package(set(), refs), "old")
    result = diff_packages(old, _build(graph_package(removed, refs), "new"))
    stale = [c for c in result.changes if c.kind.id == "stale-reference"]
    assert len(stale) == sum((kind, target) in removed for kind, target, _ in refs), [c.message for c in stale]
    assert all(c.cls is ChangeClass.BREAKING and c.new is not None and c.new.file.startswith("new/") for c in stale)
    for kind, target in removed:
        if any((k, t) == (kind, target) for k, t, _ in refs):
            assert any(c.message.endswith(f"references {kind} {target}, which no longer exists") for c in stale)


@PROPS
@given(st.lists(st.sampled_from(REFS), unique=True), st.sets(st.sampled_from(TARGETS), min_size=1))
def test_removing_an_item_with_every_place_naming_it_leaves_no_stale_reference(
    refs: list[Ref], removed: set[Any]
) -> None:
    kept = [r for r in refs if (r[0], r[1]) not in removed]
    result = diff_packages(_build(graph_package(set(), refs), "old"), _build(graph_package(removed, kept), "new"))
    assert [c.message for c in result.changes if c.kind.id == "stale-reference"] == []


# --- removed members of objects and of list items --------------------------------------------------------------

GONE_NAMES: Names = {**OLD, "o.zip": "zipGone", "items.sku": "skuGone"}
PATH_REFS = {"o.zip": 4, "items.sku": 0}  # rule target, UI step, role view and event payload name o.zip


@PROPS
@given(EXPRESSIONS, st.sampled_from(sorted(PATH_REFS)))
def test_every_place_still_naming_a_removed_member_is_one_stale_reference(e: Exprs, member: str) -> None:
    """The oracle is the renderer, not the diff's walk: an expression reads the member exactly when rendering it
    with another name for that member changes its text (literals and comprehension variables never do)."""
    files = lead_package(OLD, e)
    new_files = json.loads(json.dumps(files))
    fields = new_files["schema.json"]["entities"]["Lead"]["fields"]
    parent, name = member.split(".")
    holder = fields[parent]["fields"] if parent == "o" else fields[parent]["items"]["fields"]
    del holder[name]
    result = diff_packages(build(files, "old"), build(new_files, "new", "2.0.0"))
    path = f"Lead.{parent}.{name}" if parent == "o" else f"Lead.{parent}[].{name}"
    stale = [c for c in result.changes if c.kind.id == "stale-reference"]
    assert all(c.path == path for c in stale), [c.message for c in stale]
    reading = sum(render(OLD) != render({**OLD, member: GONE_NAMES[member]}) for render in e.values())
    assert len(stale) == PATH_REFS[member] + reading, [c.message for c in stale]
    assert [c.kind.id for c in result.changes if c.kind.id != "stale-reference"] == ["field-removed"]


# --- dead ends ----------------------------------------------------------------------------------------------

STATES = ["a", "b", "c", "d"]
EDGES = st.lists(st.tuples(st.sampled_from(STATES), st.sampled_from(STATES)), max_size=6, unique=True)


def flow_package(edges: list[tuple[str, str]], final: set[str]) -> Package:
    transitions = [{"id": f"t{src}{dst}", "from": src, "to": dst} for src, dst in edges]
    states = {s: {"final": True} if s in final else {} for s in STATES}
    files = {
        "package.json": {**MANIFEST, "version": "1.0.0"},
        "schema.json": {"entities": {"Lead": {"fields": {"name": {"type": "text"}}}}},
        "workflow.json": {"workflows": [{"id": "f", "initial": "a", "states": states, "transitions": transitions}]},
    }
    return _build(files, "p")


@PROPS
@given(EDGES, st.sets(st.sampled_from(STATES)), st.data())
def test_a_dead_end_is_reported_exactly_where_lint_starts_to_see_one(edges: Any, final: set[str], data: Any) -> None:
    from crmctl.lint import LintConfig, lint_package

    kept = data.draw(st.lists(st.sampled_from(edges), unique=True) if edges else st.just([]))
    new_final = data.draw(st.sets(st.sampled_from(STATES)))
    old, new = flow_package(edges, final), flow_package(kept, new_final)

    def dead(package: Package) -> set[str]:
        found = lint_package(package, LintConfig(select=("WF506",)))
        return {d.path.rsplit(":", 1)[1] for d in found if d.code == "WF506"}

    reported = {c.path.rsplit(":", 1)[1] for c in diff_packages(old, new).changes if c.kind.id == "state-left-dead-end"}
    assert reported == dead(new) - dead(old)
