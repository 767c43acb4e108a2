"""Entities, fields, forms, workflows and events of the generated benchmark package.

Every random choice draws from a generator seeded by (stage, entity), never from the clock, so both variants and
every scale produce the same bytes run after run, and variant 2 differs from variant 1 only where it means to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROLES", "SEED", "Entity", "build_entities", "build_events", "build_forms", "build_workflows", "rng"]

SEED = 20260126
ROLES = ["sales", "manager", "admin", "auditor"]
_WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda"]
_CURRENCIES = ["EUR", "USD", "GBP", "JPY", "SEK", "PLN", "CHF"]
_MIME = ["application/pdf", "image/png", "image/jpeg", "text/csv"]

# Fields read by rules, validations and calculated fields. `choice2`-`choice4` are only written (dependency
# targets) and `out*` only computed (calculation targets), so no expression graph can ever form a cycle.
INPUTS = [
    "num1",
    "num2",
    "num3",
    "num4",
    "int1",
    "int2",
    "cur1",
    "cur2",
    "txt1",
    "txt2",
    "txt3",
    "txt4",
    "flag1",
    "flag2",
    "flag3",
    "choice1",
    "date1",
    "date2",
    "when1",
    "ref1",
    "ref2",
    "list1",
    "list2",
    "list3",
    "addr1",
    "calc1",
    "calc2",
    "calc3",
    "calc4",
]


def rng(stage: str, index: int = 0) -> random.Random:
    return random.Random(f"{SEED}:{stage}:{index}")


@dataclass
class Entity:
    index: int
    name: str
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # actual name → field definition
    names: dict[str, str] = field(default_factory=dict)  # layout name → actual name (renames in variant 2)
    workflow: bool = False

    @property
    def key(self) -> str:
        return self.name[0].lower() + self.name[1:]

    def f(self, base: str) -> str:
        return self.names[base]

    def enum_values(self, base: str) -> list[str]:
        return list(self.fields[self.names[base]]["values"])

    def steps(self) -> list[str]:
        return [f"{self.key}{s}" for s in ("Main", "Details", "More", "Review")]


def _entity_fields(r: random.Random, idx: int, count: int) -> dict[str, dict[str, Any]]:
    other = [(idx + 1) % count, (idx + 7) % count if (idx + 7) % count != idx else (idx + 2) % count]
    ref = [f"Entity{o + 1:02d}" for o in other]
    k1, k2 = r.choice([1.5, 2.0, 2.5, 3.0]), r.choice([0.19, 0.07, 0.21])
    fields: dict[str, dict[str, Any]] = {
        "num1": {"type": "number", "precision": 12, "scale": 2, "description": "Primary amount."},
        "num2": {"type": "number"},
        "num3": {"type": "number", "scale": 4},
        "num4": {"type": "number"},
        "int1": {"type": "number", "integer": True, "description": "A whole count."},
        "int2": {"type": "number", "integer": True},
        "cur1": {"type": "currency", "currency": r.choice(_CURRENCIES)},
        "cur2": {"type": "currency", "currency": r.choice(_CURRENCIES), "scale": 4},
        "txt1": {"type": "text", "required": True, "maxLength": 80, "description": "Display name."},
        "txt2": {"type": "text", "maxLength": 120},
        "txt3": {"type": "text", "maxLength": 16, "description": "A short code."},
        "txt4": {"type": "text", "maxLength": 32, "description": "A phone number."},
        "txt5": {"type": "text", "multiline": True},
        "txt6": {"type": "text"},
        "flag1": {"type": "boolean"},
        "flag2": {"type": "boolean"},
        "flag3": {"type": "boolean"},
    }
    for i in range(1, 5):
        fields[f"choice{i}"] = {"type": "enum", "values": r.sample(_WORDS, r.randint(3, 6))}
    fields |= {
        "date1": {"type": "date"},
        "date2": {"type": "date"},
        "when1": {"type": "datetime", "description": "When it happened (UTC)."},
        "ref1": {"type": "reference", "to": ref[0]},
        "ref2": {"type": "reference", "to": ref[1]},
        "doc1": {"type": "file", "accept": r.sample(_MIME, 2), "maxSizeBytes": 10_485_760},
        "calc1": {"type": "calculated", "resultType": "number", "expression": f"num1 * {k1} + num2"},
        "calc2": {"type": "calculated", "resultType": "currency", "expression": f"cur1 * {k2}"},
        "calc3": {"type": "calculated", "resultType": "boolean", "expression": "num3 > num4"},
        "calc4": {"type": "calculated", "resultType": "number", "expression": "double(int1) * num3 - num4 / 2.0"},
        "addr1": {
            "type": "object",
            "fields": {
                "street": {"type": "text", "maxLength": 120},
                "city": {"type": "text", "maxLength": 80},
                "zip": {"type": "text", "maxLength": 10},
                "geo": {"type": "object", "fields": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
            },
        },
        "list1": {"type": "array", "items": {"type": "text", "maxLength": 40}, "maxItems": 20},
        "list2": {"type": "array", "items": {"type": "number"}},
        "list3": {"type": "array", "items": {"type": "reference", "to": ref[0]}, "maxItems": 50},
        "outNum": {"type": "number", "description": "Computed by a calculation rule."},
        "outText": {"type": "text"},
        "outFlag": {"type": "boolean"},
        "outInt": {"type": "number", "integer": True},
        "outDate": {"type": "date"},
    }
    return fields


def _apply_variant2(e: Entity) -> None:
    """The next version: additions and aliases everywhere it is safe, and a couple of breaking changes."""
    i = e.index
    fields = e.fields
    if i % 10 == 3:  # rename with alias: compatible
        renamed = {"type": "text", "multiline": True, "aliases": ["txt5"]}
        e.fields = fields = {
            ("notes" if k == "txt5" else k): (renamed if k == "txt5" else v) for k, v in fields.items()
        }
        e.names["txt5"] = "notes"
    if i == 4:  # removed field: breaking
        del fields["doc1"]
        del e.names["doc1"]
    if i == 6:  # retyped field: breaking
        fields["txt6"] = {"type": "number", "description": "Now a number."}
    if i == 8:  # enum value removed: breaking
        fields["choice4"] = {**fields["choice4"], "values": fields["choice4"]["values"][:-1]}
    if i == 9:  # optional field made required: data-dependent
        fields["flag3"] = {**fields["flag3"], "required": True}
    if i % 5 == 1:
        fields["txt2"] = {**fields["txt2"], "description": "Secondary name (clarified in 1.1)."}
    if i < 10:  # added fields: compatible
        fields["extra1"] = {"type": "text", "maxLength": 60, "description": "Added in 1.1."}
        fields["extra2"] = {"type": "enum", "values": ["low", "medium", "high"]}
        e.names |= {"extra1": "extra1", "extra2": "extra2"}


LAYOUT = tuple(_entity_fields(random.Random(0), 0, 2))


def build_entities(count: int, variant: int) -> list[Entity]:
    entities = []
    for idx in range(count):
        fields = _entity_fields(rng("fields", idx), idx, count)
        e = Entity(idx, f"Entity{idx + 1:02d}", fields, {k: k for k in fields}, workflow=idx % 2 == 0)
        if variant >= 2:
            _apply_variant2(e)
        entities.append(e)
    return entities


def _form(e: Entity) -> dict[str, Any]:
    grouped = ("cur1", "cur2", "calc2", "addr1", "ref1", "ref2")
    layout = [b for b in LAYOUT if b not in grouped]
    third = len(layout) // 3
    added = [b for b in e.names if b not in LAYOUT]

    def present(bases: list[str] | tuple[str, ...]) -> list[str]:
        return [e.names[b] for b in bases if b in e.names]

    main, details = present(layout[:third]), present(layout[third : 2 * third])
    more = present(layout[2 * third :] + added)
    money, address = present(grouped[:3]), present(grouped[3:])
    s_main, s_details, s_more, s_review = e.steps()
    hidden = [n for n in (e.names.get("txt5"), e.names.get("doc1")) if n]
    return {
        "entity": e.name,
        "steps": [
            {
                "id": s_main,
                "fields": main,
                "groups": [{"id": f"{e.key}Money", "fields": money, "columns": 3}],
                "columns": 2,
            },
            {
                "id": s_details,
                "fields": details,
                "groups": [{"id": f"{e.key}Address", "fields": address, "columns": 2}],
            },
            {"id": s_more, "fields": more, "roles": ["manager", "admin"] if e.index % 3 == 0 else []},
            {"id": s_review, "mode": "summary"},
        ],
        "roles": {
            "sales": {"readOnly": [e.f(c) for c in ("calc1", "calc2", "calc3", "calc4")]},
            "auditor": {"hidden": hidden, "readOnly": [e.f("txt1"), e.f("num1")]},
        },
    }


def build_forms(entities: list[Entity]) -> dict[str, Any]:
    return {"forms": {e.name: _form(e) for e in entities}}


def transition_ids(e: Entity) -> list[str]:
    return [f"{e.key}{t}" for t in ("Submit", "Review", "Approve", "Reject", "Close")]


def _workflow(e: Entity, variant: int) -> dict[str, Any]:
    r = rng("workflow", e.index)
    t_submit, t_review, t_approve, t_reject, t_close = transition_ids(e)
    sequential = r.random() < 0.5
    approval: dict[str, Any] = (
        {"mode": "sequential", "approvers": ["manager", "admin"]}
        if sequential
        else {"mode": "parallel", "approvers": ["manager", "admin", "auditor"], "quorum": 2}
    )
    threshold = r.choice([100.0, 500.0, 1000.0])
    transitions: list[dict[str, Any]] = [
        {
            "id": t_submit,
            "from": "draft",
            "to": "submitted",
            "roles": ["sales", "manager"],
            "emits": [f"{e.name}Submitted"],
        },
        {"id": t_review, "from": "submitted", "to": "review", "guard": f"{e.f('txt1')} != ''"},
        {
            "id": t_approve,
            "from": "review",
            "to": "approved",
            "guard": f"{e.f('num1')} >= {threshold} || role == 'admin'",
            "approval": approval,
            "emits": [f"{e.name}Approved"],
        },
        {"id": t_reject, "from": ["submitted", "review"], "to": "rejected", "emits": [f"{e.name}Rejected"]},
        {"id": t_close, "from": "approved", "to": "closed", "emits": [f"{e.name}Closed"]},
    ]
    if variant >= 2 and e.index % 4 == 0:
        transitions.append({"id": f"{e.key}Withdraw", "from": "draft", "to": "rejected", "roles": ["sales"]})
    return {
        "id": f"{e.key}Lifecycle",
        "entity": e.name,
        "initial": "draft",
        "states": {
            "draft": {"description": "Being written."},
            "submitted": {"description": "Waiting for review."},
            "review": {
                "sla": {
                    "id": f"{e.key}ReviewSla",
                    "warnAfter": "3bd",
                    "breachAfter": "5bd",
                    "calendar": "business",
                    "escalateTo": "manager",
                    "onBreach": t_reject,
                }
            },
            "approved": {},
            "closed": {"final": True},
            "rejected": {"final": True},
        },
        "transitions": transitions,
        "timers": [
            {"id": f"{e.key}AutoReview", "state": "submitted", "after": f"{r.randint(2, 9)}d", "transition": t_review}
        ],
    }


def build_workflows(entities: list[Entity], variant: int) -> dict[str, Any]:
    return {"workflows": [_workflow(e, variant) for e in entities if e.workflow]}


def build_events(entities: list[Entity]) -> dict[str, Any]:
    """Events of the entities with a workflow: each one is emitted by a transition, as the runtime requires."""
    events: dict[str, Any] = {}
    for e in (e for e in entities if e.workflow):
        events[f"{e.name}Submitted"] = {
            "description": f"A {e.name} was submitted.",
            "entity": e.name,
            "payload": [e.f("txt1"), e.f("num1")],
        }
        events[f"{e.name}Approved"] = {"entity": e.name, "payload": [e.f("txt1"), e.f("calc1")]}
        events[f"{e.name}Rejected"] = {"entity": e.name, "payload": [e.f("txt1")]}
        events[f"{e.name}Closed"] = {"entity": e.name, "payload": [e.f("txt1"), e.f("ref1"), f"{e.f('addr1')}.city"]}
    return {"events": events}
