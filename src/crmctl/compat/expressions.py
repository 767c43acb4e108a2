"""Every CEL expression of a package, and re-checking them against the old and the new schema."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmctl.compat.change import Collector
    from crmctl.compat.schema_diff import SchemaDelta
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = ["ExprSite", "check_expressions", "entity_of", "expression_sites", "names_in"]


@dataclass(frozen=True)
class ExprSite:
    """One expression: `key` matches it across versions; `label` is the semantic path shown to people."""

    key: tuple[str, ...]
    label: str
    entity: str | None
    expr: str
    doc: str
    json_path: JsonPath


def entity_of(pkg: Package, explicit: str | None) -> str | None:
    """The entity an artifact reads: the explicit one, else the package's only entity."""
    if explicit:
        return explicit
    entities = pkg.schema.entities if pkg.schema else {}
    return next(iter(entities)) if len(entities) == 1 else None


@cache
def names_in(expr: str) -> frozenset[str]:
    from crmctl.model.cel import referenced_names

    return frozenset(referenced_names(expr))


def expression_sites(pkg: Package) -> list[ExprSite]:
    sites: list[ExprSite] = []
    for i, rule in enumerate(pkg.rules.rules if pkg.rules else []):
        ent = entity_of(pkg, rule.entity)
        for prop in ("when", "expression"):
            expr = getattr(rule, prop)
            if expr:
                sites.append(ExprSite(("rule", rule.id, prop), f"rule:{rule.id}", ent, expr, "rules",
                                      ("rules", i, prop)))  # fmt: skip
    for i, val in enumerate(pkg.validations.validations if pkg.validations else []):
        ent = entity_of(pkg, val.entity)
        for prop in ("expression", "when"):
            expr = getattr(val, prop)
            if expr:
                sites.append(ExprSite(("validation", val.id, prop), f"validation:{val.id}", ent, expr,
                                      "validations", ("validations", i, prop)))  # fmt: skip
    for ename, entity in (pkg.schema.entities if pkg.schema else {}).items():
        for fname, fdef in entity.fields.items():
            if fdef.type == "calculated":
                sites.append(ExprSite(("calculated", ename, fname), f"{ename}.{fname}", ename, fdef.expression,
                                      "schema", ("entities", ename, "fields", fname, "expression")))  # fmt: skip
    for i, wf in enumerate(pkg.workflow.workflows if pkg.workflow else []):
        ent = entity_of(pkg, wf.entity)
        for k, tr in enumerate(wf.transitions):
            if tr.guard:
                sites.append(ExprSite(("guard", wf.id, tr.id), f"workflow:{wf.id}.transition:{tr.id}", ent,
                                      tr.guard, "workflow", ("workflows", i, "transitions", k, "guard")))  # fmt: skip
    return sites


def check_expressions(c: Collector, delta: SchemaDelta, old_sites: list[ExprSite], new_sites: list[ExprSite]) -> None:
    """Report expressions that compiled against the old schema and no longer do, or changed result type.

    Each expression is checked once per side, and only when something it reads changed: its text, its entity, or
    the definition of a field it names. Expressions naming a removed field are already reported as stale
    references and are not reported twice.
    """
    from crmctl.model.cel import CelChecker

    old_schema, new_schema = c.old_pkg.schema, c.new_pkg.schema
    old_entities = old_schema.entities if old_schema else {}
    new_entities = new_schema.entities if new_schema else {}
    checkers: dict[tuple[str, str | None], CelChecker] = {}

    def checker(side: str, entity: str | None) -> CelChecker:
        hit = checkers.get((side, entity))
        if hit is None:
            hit = checkers[(side, entity)] = CelChecker.for_entity(old_schema if side == "old" else new_schema, entity)
        return hit

    old_by_key = {s.key: s for s in old_sites}
    for site in new_sites:
        before = old_by_key.get(site.key)
        if before is None or site.entity is None or before.entity is None:
            continue
        names = names_in(site.expr)
        if names & delta.gone.get(site.entity, set()):
            continue
        if before.expr == site.expr and before.entity == site.entity:
            old_fields = old_entities.get(site.entity)
            new_fields = new_entities.get(site.entity)
            if old_fields is None or new_fields is None:
                continue
            if all(old_fields.fields.get(n) == new_fields.fields.get(n) for n in names):
                continue
        was = checker("old", before.entity).check(before.expr)
        now = checker("new", site.entity).check(site.expr)
        if not was.ok:
            continue
        if not now.ok:
            first = now.errors[0].message if now.errors else "type error"
            c.add("expression-no-longer-compiles", site.label,
                  f"{site.label}: {site.key[-1] if site.key[0] != 'calculated' else 'expression'} no longer "
                  f"type-checks against the new schema: {first}",
                  old=(before.doc, before.json_path), new=(site.doc, site.json_path), key=False)  # fmt: skip
        elif now.result_type != was.result_type:
            c.add("expression-type-changed", site.label,
                  f"{site.label}: expression type changed from {was.result_type} to {now.result_type}",
                  old=(before.doc, before.json_path), new=(site.doc, site.json_path), key=False)  # fmt: skip
