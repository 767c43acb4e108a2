"""Rules and validations of the generated benchmark package: type-correct CEL over each entity's own fields.

Expressions only read the entity's input fields (see `_schema.INPUTS`); calculation rules write `out*` fields
and dependency rules `choice2`-`choice4`, which nothing reads, so the dependency graph stays acyclic.
"""

from __future__ import annotations

import random
from typing import Any

from _schema import Entity, rng, transition_ids

__all__ = ["build_rules", "build_validations", "message_keys"]

_PATTERNS = [
    r"^[A-Z]{2}-[0-9]{4}$",
    r"^[0-9]{5}$",
    r"^[A-Za-z][A-Za-z0-9_]{2,31}$",
    r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
    r"^[A-Z0-9]{3,8}(-[A-Z0-9]{2,4})?$",
]
_PHONE = r"^\+?[0-9][0-9 ]{5,19}$"
_PROVIDERS = ["vatLookup", "addressCheck", "emailDeliverability"]


def _condition(r: random.Random, e: Entity) -> str:
    f = e.f
    pick = r.randrange(14)
    if pick == 0:
        return f"{f(r.choice(['num1', 'num2', 'num3', 'num4']))} > {r.randint(1, 500)}.0"
    if pick == 1:
        return f"{f(r.choice(['int1', 'int2']))} >= {r.randint(1, 50)}"
    if pick == 2:
        return f"{f(r.choice(['cur1', 'cur2']))} < {r.randint(100, 100_000)}.0"
    if pick == 3:
        return f"{f('choice1')} == '{r.choice(e.enum_values('choice1'))}'"
    if pick == 4:
        return r.choice(["", "!"]) + f(r.choice(["flag1", "flag2", "flag3"]))
    if pick == 5:
        return f"{f(r.choice(['txt1', 'txt2']))} != ''"
    if pick == 6:
        return f"size({f(r.choice(['txt1', 'txt2', 'txt3']))}) > {r.randint(1, 8)}"
    if pick == 7:
        year = r.randint(2020, 2030)
        return f"{f(r.choice(['date1', 'date2', 'when1']))} < timestamp('{year}-01-01T00:00:00Z')"
    if pick == 8:
        return f"{f(r.choice(['ref1', 'ref2']))} != ''"
    if pick == 9:
        return f"size({f(r.choice(['list1', 'list2', 'list3']))}) > 0"
    if pick == 10:
        return f"'city' in {f('addr1')}"
    if pick == 11:
        return f"{f('calc1')} >= {r.randint(10, 900)}.0 || {f('calc3')}"
    if pick == 12:
        return r.choice(["role == 'manager'", "role != 'auditor'", "locale == 'de'", "step != ''"])
    return f"{f('txt3')}.startsWith('{r.choice('ABCDEF')}')"


def _when(r: random.Random, e: Entity) -> str:
    parts = [_condition(r, e) for _ in range(r.randint(1, 3))]
    if len(parts) == 1:
        return parts[0]
    op = r.choice(["&&", "||"])
    return f" {op} ".join(f"({p})" if "||" in p else p for p in parts)


def _options(r: random.Random, e: Entity, values: list[str]) -> str:
    """A `list(string)` of allowed values: a subset of the target enum, chosen by a flag."""
    wide = ", ".join(f"'{v}'" for v in values[: max(1, len(values) - 1)])
    narrow = ", ".join(f"'{v}'" for v in values[: max(1, len(values) // 2)])
    return f"{e.f(r.choice(['flag1', 'flag2']))} ? [{wide}] : [{narrow}]"


def _entity_rules(e: Entity, variant: int) -> list[dict[str, Any]]:
    r = rng("rules", e.index)
    f = e.f
    s_main, s_details, s_more, s_review = e.steps()
    rules: list[dict[str, Any]] = []

    def add(rid: str, **body: Any) -> None:
        rules.append({"id": f"{e.key}.{rid}", "entity": e.name, **body})

    for k, target in enumerate(r.sample(["num2", "txt2", "ref2", "date2", "list1", "flag2"], 3), 1):
        add(
            f"show{k}",
            scope="field",
            target=f(target),
            trigger=["onLoad", "onChange"],
            capability="visibility",
            when=_when(r, e),
        )
    add("showDetails", scope="step", target=s_details, trigger="onLoad", capability="visibility", when=_when(r, e))
    add(
        "showMoney",
        scope="component",
        target=f"{e.key}Money",
        trigger=["onLoad", "onChange"],
        capability="visibility",
        when=_when(r, e),
    )
    calcs = {
        "outNum": f"{f('num1')} * {r.randint(2, 9)}.0 + {f('num2')}",
        "outText": f"{f('txt1')} + ' / ' + {f('choice1')}",
        "outFlag": f"{f('flag1')} && {f('num3')} > {r.randint(1, 99)}.0",
        "outInt": f"{f('int1')} + {f('int2')} * {r.randint(2, 5)}",
        "outDate": f"{f('date1')} + duration('{r.choice([24, 72, 168])}h')",
    }
    triggers: list[Any] = ["onChange", ["onLoad", "onChange"], "onSave", "onValidate", "onChange"]
    for (target, expr), trigger in zip(calcs.items(), triggers, strict=True):
        body: dict[str, Any] = {"scope": "field", "target": f(target), "trigger": trigger}
        if r.random() < 0.5:
            body["when"] = _when(r, e)
        add(f"calc{target[3:]}", **body, capability="calculation", expression=expr, priority=r.randint(0, 5))
    for target in ("choice2", "choice3", "choice4"):
        add(
            f"options{target[-1]}",
            scope="field",
            target=f(target),
            trigger=r.choice(["onChange", "onLoad"]),
            capability="dependency",
            when=_when(r, e),
            expression=_options(r, e, e.enum_values(target)),
        )
    guards = [
        ("submitGuard", "global", None, "onSubmitAttempt"),
        ("leaveMain", "step", s_main, "onExitStep"),
        ("validateMore", "step", s_more, "onValidate"),
    ]
    guards.append(
        ("approveGuard", "workflow", transition_ids(e)[2], "onSave")
        if e.workflow
        else ("saveGuard", "global", None, "onSave")
    )
    for rid, scope, target, trigger in guards:
        body = {"scope": scope, **({"target": target} if target else {}), "trigger": trigger}
        add(rid, **body, capability="guard", when=_when(r, e), message=f"guard.{e.key}.{rid}")
    add(
        "skipDetails",
        scope="step",
        target=s_main,
        trigger="onExitStep",
        capability="transition",
        when=_when(r, e),
        goto=s_more,
        priority=10,
    )
    add(
        "fastReview",
        scope="step",
        target=s_details,
        trigger="onExitStep",
        capability="transition",
        when=_when(r, e),
        goto=s_review,
        priority=5,
    )
    add(
        "enterSkip",
        scope="step",
        target=s_details,
        trigger="onEnterStep",
        capability="transition",
        when=_when(r, e),
        goto=s_more,
        priority=1,
    )
    if variant >= 2:
        _change_rules(e, rules)
    return rules


def _change_rules(e: Entity, rules: list[dict[str, Any]]) -> None:
    """Variant 2: a few changed conditions and calculations, one rule dropped, new rules for new fields."""
    by_id = {rule["id"].split(".", 1)[1]: rule for rule in rules}
    if e.index < 5:
        by_id["show1"]["when"] = f"({by_id['show1']['when']}) && {e.f('flag2')}"
    if e.index in (1, 11):
        by_id["calcNum"]["expression"] = f"{e.f('num1')} * 10.0 + {e.f('num2')}"
    if e.index == 2:
        rules.remove(by_id["enterSkip"])
    if "extra1" in e.names:
        rules.append(
            {
                "id": f"{e.key}.showExtra",
                "entity": e.name,
                "scope": "field",
                "target": "extra1",
                "trigger": "onChange",
                "capability": "visibility",
                "when": f"{e.f('flag1')}",
            }
        )


def build_rules(entities: list[Entity], variant: int) -> dict[str, Any]:
    return {"rules": [rule for e in entities for rule in _entity_rules(e, variant)]}


def _entity_validations(e: Entity, variant: int) -> list[dict[str, Any]]:
    r = rng("validations", e.index)
    f = e.f
    out: list[dict[str, Any]] = []

    def add(vid: str, vtype: str, **body: Any) -> str:
        full = f"{e.key}.{vid}"
        out.append({"id": full, "entity": e.name, "type": vtype, **body, "message": f"validation.{full}"})
        return full

    req1 = add("nameRequired", "required", field=f("txt1"))
    req2 = add("refRequired", "required", mode=r.choice(["soft", "hard"]), field=f("ref1"))
    code = add("codeFormat", "regex", field=f("txt3"), pattern=r.choice(_PATTERNS), when=f"{f('txt3')} != ''")
    phone = add("phoneFormat", "regex", mode="soft", field=f("txt4"), pattern=_PHONE)
    top = r.choice([1000, 10_000, 100_000])
    if variant >= 2 and e.index == 0:
        top //= 10  # a tightened range: data-dependent
    amount = add("amountRange", "range", field=f("num1"), min=0, max=top)
    add("dateRange", "range", mode="soft", field=f("date1"), min="2000-01-01", max="2099-12-31")
    add(
        "amountsConsistent",
        "cross-field",
        expression=f"{f('num2')} <= {f('num1')} * {r.randint(2, 20)}.0",
        when=f"{f('num1')} > 0.0",
    )
    add("datesOrdered", "cross-field", mode="soft", expression=f"{f('date1')} <= {f('date2')}")
    add(
        "remoteCheck",
        "async",
        mode="soft",
        field=f("txt2"),
        provider=r.choice(_PROVIDERS),
        params={"country": r.choice(["DE", "FR", "SE", "JP"]), "timeoutMs": 2000},
    )
    operator = ("all", "any", "not")[e.index % 3]
    parts = [amount] if operator == "not" else r.sample([req1, req2, code, phone], 2)
    add("combined", "composite", operator=operator, validations=parts)
    if variant >= 2 and "extra1" in e.names:
        add("extraRequired", "required", mode="soft", field="extra1")
    return out


def build_validations(entities: list[Entity], variant: int) -> dict[str, Any]:
    return {"validations": [v for e in entities for v in _entity_validations(e, variant)]}


def message_keys(rules: dict[str, Any], validations: dict[str, Any]) -> list[str]:
    keys = [rule["message"] for rule in rules["rules"] if "message" in rule]
    return keys + [v["message"] for v in validations["validations"]]
