"""Stale references: places in the NEW package that still name a field which was removed or renamed without alias."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmctl.compat.expressions import entity_of, names_in
from crmctl.compat.ui_diff import form_base

if TYPE_CHECKING:
    from collections.abc import Callable

    from crmctl.compat.change import Collector
    from crmctl.compat.expressions import ExprSite
    from crmctl.compat.schema_diff import SchemaDelta
    from crmctl.model.source import JsonPath

    _Report = Callable[[str, str, str, str, JsonPath], None]

__all__ = ["find_stale_references"]


def _top(field_path: str) -> str:
    return field_path.split(".", 1)[0]


def find_stale_references(c: Collector, delta: SchemaDelta, new_sites: list[ExprSite]) -> None:
    gone = {e: names for e, names in delta.gone.items() if names}
    if not gone:
        return
    pkg = c.new_pkg

    def report(entity: str, name: str, where: str, doc: str, jp: JsonPath) -> None:
        target = delta.renamed.get((entity, name))
        hint = (
            f"use {target}, or add `aliases: [{name}]` to {entity}.{target}" if target
            else f"remove the reference, or keep {entity}.{name} (deprecated)"
        )  # fmt: skip
        c.add("stale-reference", f"{entity}.{name}", f"{where} still references {entity}.{name}, which no longer "
              "exists", new=(doc, jp), hint=hint, key=False)  # fmt: skip

    for site in new_sites:
        dead = gone.get(site.entity or "", set()) & names_in(site.expr)
        for name in sorted(dead):
            report(site.entity or "", name, site.label, site.doc, site.json_path)
    for i, rule in enumerate(pkg.rules.rules if pkg.rules else []):
        ent = entity_of(pkg, rule.entity) or ""
        if rule.scope == "field" and rule.target and _top(rule.target) in gone.get(ent, ()):
            report(ent, _top(rule.target), f"rule:{rule.id} (target)", "rules", ("rules", i, "target"))
    for i, val in enumerate(pkg.validations.validations if pkg.validations else []):
        ent = entity_of(pkg, val.entity) or ""
        if val.field and _top(val.field) in gone.get(ent, ()):
            report(ent, _top(val.field), f"validation:{val.id}", "validations", ("validations", i, "field"))
    _ui_references(c, gone, report)
    for name, event in (pkg.events.events if pkg.events else {}).items():
        ent = entity_of(pkg, event.entity) or ""
        for k, fld in enumerate(event.payload):
            if _top(fld) in gone.get(ent, ()):
                report(ent, _top(fld), f"event:{name} payload", "events", ("events", name, "payload", k))
    for locale, loc in sorted(pkg.localization.items()):
        for section, keys in (("labels", loc.labels), ("picklists", loc.picklists)):
            for key in keys:  # once per key: a picklist's values are one reference
                ent, _, rest = key.partition(".")
                if rest and _top(rest) in gone.get(ent, ()):
                    report(ent, _top(rest), f"localization/{locale} {section} key {key!r}", f"localization/{locale}",
                           (section, key))  # fmt: skip


def _ui_references(c: Collector, gone: dict[str, set[str]], report: _Report) -> None:
    pkg = c.new_pkg
    if pkg.ui is None:
        return
    for fname, form in pkg.ui.all_forms().items():
        ent = entity_of(pkg, form.entity) or ""
        dead = gone.get(ent)
        if not dead:
            continue
        base = form_base(fname)
        for i, step in enumerate(form.steps):
            for k, fld in enumerate(step.fields):
                if _top(fld) in dead:
                    report(ent, _top(fld), f"ui:{fname}.step:{step.id}", "ui", (*base, "steps", i, "fields", k))
            for g, group in enumerate(step.groups):
                for k, fld in enumerate(group.fields):
                    if _top(fld) in dead:
                        report(ent, _top(fld), f"ui:{fname}.step:{step.id}.group:{group.id}", "ui",
                               (*base, "steps", i, "groups", g, "fields", k))  # fmt: skip
        for role, view in form.roles.items():
            for prop in ("hidden", "readOnly"):
                for k, fld in enumerate(getattr(view, prop)):
                    if _top(fld) in dead:
                        report(ent, _top(fld), f"ui:{fname}.role:{role}", "ui", (*base, "roles", role, prop, k))
