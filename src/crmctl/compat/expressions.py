"""Re-checking every CEL expression of a package against the old and the new schema."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from crmctl.compat.field_refs import FieldRef, field_refs

if TYPE_CHECKING:
    from crmctl.compat.change import Collector
    from crmctl.compat.schema_diff import SchemaDelta
    from crmctl.model.package import Package

__all__ = ["check_expressions", "expression_sites", "names_in"]


@cache
def names_in(expr: str) -> frozenset[str]:
    from crmctl.model.cel import referenced_names

    return frozenset(referenced_names(expr))


def expression_sites(pkg: Package) -> list[FieldRef]:
    """Every CEL expression of the package."""
    return [ref for ref in field_refs(pkg) if ref.cel]


def check_expressions(c: Collector, delta: SchemaDelta, old_sites: list[FieldRef], new_sites: list[FieldRef]) -> None:
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
        names = names_in(site.text)
        if names & delta.gone.get(site.entity, set()):
            continue
        if before.text == site.text and before.entity == site.entity:
            old_fields = old_entities.get(site.entity)
            new_fields = new_entities.get(site.entity)
            if old_fields is None or new_fields is None:
                continue
            if all(old_fields.fields.get(n) == new_fields.fields.get(n) for n in names):
                continue
        was = checker("old", before.entity).check(before.text)
        now = checker("new", site.entity).check(site.text)
        if not was.ok:
            continue
        if not now.ok:
            first = now.errors[0].message if now.errors else "type error"
            c.add(
                "expression-no-longer-compiles",
                site.label,
                f"{site.label}: {_what(site)} no longer type-checks against the new schema: {first}",
                old=(before.doc, before.json_path),
                new=(site.doc, site.json_path),
                key=False,
            )
        elif now.result_type != was.result_type:
            c.add(
                "expression-type-changed",
                site.label,
                f"{site.label}: expression type changed from {was.result_type} to {now.result_type}",
                old=(before.doc, before.json_path),
                new=(site.doc, site.json_path),
                key=False,
            )


def _what(site: FieldRef) -> str:
    """What the expression is to its owner: `when`, `expression`, `guard`, `SLA pause`, `at`, `value`."""
    return {
        "rule": site.key[-1],
        "validation": site.key[-1],
        "guard": "guard",
        "sla": f"SLA {site.key[-1]}",
        "timer": "`at`",
        "set": "value",
    }.get(site.key[0], "expression")
