"""Comparing schemas: entities, fields (recursing into objects and array items), aliases and renames."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmctl.compat.renames import alias_pairs
from crmctl.model.fields import (
    ArrayField,
    CalculatedField,
    CurrencyField,
    EntityDef,
    EnumField,
    FileField,
    NumberField,
    ObjectField,
    ReferenceField,
    TextField,
)

if TYPE_CHECKING:
    from crmctl.compat.change import Collector
    from crmctl.model.source import JsonPath

__all__ = ["SchemaDelta", "diff_schema"]

_S = "schema"
# Field types whose stored value can be empty ('', [], {}): a value for a default, no value for `required`.
_HOLDS_EMPTY = frozenset({"text", "array", "object"})


@dataclass
class SchemaDelta:
    """What later comparers need: top-level field names that no longer resolve, per entity, and renames."""

    gone: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    renamed: dict[tuple[str, str], str] = field(default_factory=dict)
    removed_entities: set[str] = field(default_factory=set)


def diff_schema(c: Collector) -> SchemaDelta:
    old = c.old_pkg.schema.entities if c.old_pkg.schema else {}
    new = c.new_pkg.schema.entities if c.new_pkg.schema else {}
    delta = SchemaDelta()
    for name, entity in old.items():
        jp: JsonPath = ("entities", name)
        if name not in new:
            c.add("entity-removed", name, f"entity {name} was removed", old=(_S, jp))
            delta.removed_entities.add(name)
            delta.gone[name].update(entity.fields)
            continue
        if entity.description != new[name].description:
            c.add(
                "entity-description-changed",
                name,
                f"description of entity {name} changed",
                old=(_S, (*jp, "description")),
                new=(_S, (*jp, "description")),
            )
        _diff_fields(c, name, entity, new[name], delta)
    for name in new:
        if name not in old:
            c.add("entity-added", name, f"entity {name} was added", new=(_S, ("entities", name)))
    return delta


def _diff_fields(c: Collector, entity: str, old: EntityDef, new: EntityDef, delta: SchemaDelta) -> None:
    _diff_field_map(c, entity, old.fields, new.fields, ("entities", entity, "fields"), delta)


def _diff_field_map(
    c: Collector, prefix: str, old: dict[str, Any], new: dict[str, Any], base: JsonPath, delta: SchemaDelta | None
) -> None:
    """Compare two `name -> FieldDef` maps; `delta` is only given for an entity's top-level fields."""
    removed = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    paired = alias_pairs(old, new)  # new name -> old name, renames through aliases
    claimed = set(paired.values())
    for new_name, old_name in paired.items():
        c.add(
            "field-renamed-with-alias",
            f"{prefix}.{new_name}",
            f"field {prefix}.{old_name} was renamed to {new_name}, keeping {old_name!r} as an alias",
            old=(_S, (*base, old_name)),
            new=(_S, (*base, new_name)),
        )
        _compare(c, f"{prefix}.{new_name}", old[old_name], new[new_name], (*base, old_name), (*base, new_name))
    left_removed = [n for n in removed if n not in claimed]
    left_added = [n for n in added if n not in paired]
    by_type: dict[str, list[str]] = defaultdict(list)
    for name in left_added:
        by_type[new[name].type].append(name)
    removed_by_type: dict[str, list[str]] = defaultdict(list)
    for name in left_removed:
        removed_by_type[old[name].type].append(name)
    unaliased: dict[str, str] = {}  # old name -> new name
    for ftype, names in removed_by_type.items():
        if len(names) == 1 and len(by_type.get(ftype, ())) == 1:
            unaliased[names[0]] = by_type[ftype][0]
    for name in left_removed:
        path = f"{prefix}.{name}"
        if delta is not None:
            delta.gone[prefix].add(name)
        target = unaliased.get(name)
        if target is not None:
            if delta is not None:
                delta.renamed[(prefix, name)] = target
            c.add(
                "field-renamed-without-alias",
                path,
                f"field {path} looks renamed to {target} ({old[name].type}) without an alias",
                old=(_S, (*base, name)),
                new=(_S, (*base, target)),
                hint=f"add `aliases: [{name}]` to {prefix}.{target} to keep old records readable",
            )
            continue
        candidates = by_type.get(old[name].type, [])
        hint = (
            f"if it was renamed, add `aliases: [{name}]` to the new field ({', '.join(candidates)})"
            if candidates
            else "keep the field and mark it `deprecated: true` instead"
        )
        c.add("field-removed", path, f"field {path} was removed", old=(_S, (*base, name)), hint=hint)
    renamed_targets = set(unaliased.values())
    for name in left_added:
        if name in renamed_targets:
            continue
        path = f"{prefix}.{name}"
        c.add("field-added", path, f"field {path} was added ({new[name].type})", new=(_S, (*base, name)))
        if new[name].required and getattr(new[name], "default", None) is None:
            c.add(
                "required-field-added",
                path,
                f"new field {path} is required and has no default; existing records and writers have no value",
                new=(_S, (*base, name, "required")),
                hint="declare a `default` for records and writers without a value, or make it optional",
            )
    for name in old:
        if name in new:
            _compare(c, f"{prefix}.{name}", old[name], new[name], (*base, name), (*base, name))
        if delta is not None and name in new:
            lost = set(old[name].aliases) - set(new[name].aliases)
            delta.gone[prefix].update(lost)


def _compare(c: Collector, path: str, old: Any, new: Any, ojp: JsonPath, njp: JsonPath, items: bool = False) -> None:
    if old == new:
        return

    def add(kind_id: str, message: str, prop: str | None = None, hint: str | None = None) -> None:
        o = (*ojp, prop) if prop else ojp
        n = (*njp, prop) if prop else njp
        c.add(kind_id, path, message, old=(_S, o), new=(_S, n), hint=hint)

    if old.type != new.type:
        if items:
            add("array-items-type-changed", f"items of {path[:-2]} changed type from {old.type} to {new.type}", "type")
        else:
            add(
                "field-type-changed",
                f"field {path} changed type from {old.type} to {new.type}",
                "type",
                hint="add a new field with the new type and deprecate this one",
            )
        return
    old_default, new_default = getattr(old, "default", None), getattr(new, "default", None)
    if old.required != new.required:
        if new.required and new_default is not None and new.type in _HOLDS_EMPTY:
            # The default fills only a missing value: a stored '' / [] / {} stays, and `required` refuses it.
            add(
                "field-made-required",
                f"field {path} became required; records without a value read its default {new_default!r}, but "
                f"an empty {new.type} stays empty and fails the check",
                "required",
                hint="records holding an empty value become invalid; backfill them first",
            )
        elif new.required and new_default is not None:
            add(
                "field-made-required-with-default",
                f"field {path} became required; records without a value read its default {new_default!r}",
                "required",
            )
        elif new.required:
            add(
                "field-made-required",
                f"field {path} became required",
                "required",
                hint="existing records without a value become invalid; backfill them first, or declare a `default`",
            )
        else:
            add("field-made-optional", f"field {path} became optional", "required")
    if old_default != new_default:
        _compare_default(add, path, old_default, new_default)
    for alias in old.aliases:
        # A rename back to an alias makes it the name: records written under it are read as the field itself.
        if alias not in new.aliases and alias != njp[-1]:
            add(
                "alias-removed",
                f"alias {alias!r} of {path} was removed",
                "aliases",
                hint=f"keep {alias!r} in `aliases`: records written under that name still exist",
            )
    for alias in new.aliases:
        if alias not in old.aliases and alias != ojp[-1]:
            add("alias-added", f"alias {alias!r} was added to {path}", "aliases")
    if old.deprecated != new.deprecated:
        add(
            "field-deprecated" if new.deprecated else "field-undeprecated",
            f"field {path} was {'deprecated' if new.deprecated else 'undeprecated'}",
            "deprecated",
        )
    if old.description != new.description:
        add("field-description-changed", f"description of {path} changed", "description")
    _compare_type_specific(add, c, path, old, new, ojp, njp)


def _compare_default(add: Any, path: str, old: Any, new: Any) -> None:
    if old is None:
        add("default-added", f"field {path} now has the default {new!r}", "default")
    elif new is None:
        add(
            "default-removed",
            f"the default {old!r} of {path} was removed",
            "default",
            hint="records stored without a value read it; keep it unless every stored record holds a value",
        )
    else:
        add(
            "default-changed",
            f"the default of {path} changed from {old!r} to {new!r}",
            "default",
            hint="records stored without a value read the new default; keep the old one unless none lacks a value",
        )


def _compare_type_specific(add: Any, c: Collector, path: str, old: Any, new: Any, ojp: JsonPath, njp: JsonPath) -> None:
    if isinstance(old, TextField) and isinstance(new, TextField):
        _bound(add, path, "maxLength", old.maxLength, new.maxLength, "max-length-reduced", "max-length-increased")
        if old.multiline != new.multiline:
            add("field-presentation-changed", f"`multiline` of {path} changed", "multiline")
    elif isinstance(old, NumberField) and isinstance(new, NumberField):
        if old.integer != new.integer:
            kind_id = "number-made-integer" if new.integer else "number-made-decimal"
            add(
                kind_id,
                f"field {path} {'now holds whole numbers only' if new.integer else 'now allows decimals'}",
                "integer",
            )
        _bound(add, path, "precision", old.precision, new.precision, "precision-reduced", "precision-increased")
        _bound(add, path, "scale", old.scale, new.scale, "scale-reduced", "scale-increased")
    elif isinstance(old, CurrencyField) and isinstance(new, CurrencyField):
        if old.currency != new.currency:
            add(
                "currency-changed",
                f"currency of {path} changed from {old.currency} to {new.currency}",
                "currency",
                hint="add a new field in the new currency and migrate the amounts explicitly",
            )
        _bound(add, path, "scale", old.scale, new.scale, "scale-reduced", "scale-increased")
    elif isinstance(old, EnumField) and isinstance(new, EnumField):
        _compare_enum(add, path, old, new)
    elif isinstance(old, ReferenceField) and isinstance(new, ReferenceField):
        if old.to != new.to:
            add("reference-target-changed", f"{path} now references {new.to} instead of {old.to}", "to")
    elif isinstance(old, FileField) and isinstance(new, FileField):
        _compare_file(add, path, old, new)
    elif isinstance(old, CalculatedField) and isinstance(new, CalculatedField):
        if old.expression != new.expression:
            add("calculated-expression-changed", f"expression of calculated field {path} changed", "expression")
        if old.resultType != new.resultType:
            add(
                "calculated-result-type-changed",
                f"result type of {path} changed from {old.resultType} to {new.resultType}",
                "resultType",
            )
    elif isinstance(old, ObjectField) and isinstance(new, ObjectField):
        _diff_field_map(c, path, old.fields, new.fields, (*ojp, "fields"), None)
    elif isinstance(old, ArrayField) and isinstance(new, ArrayField):
        _bound(add, path, "maxItems", old.maxItems, new.maxItems, "max-items-reduced", "max-items-increased")
        _compare(c, f"{path}[]", old.items, new.items, (*ojp, "items"), (*njp, "items"), items=True)


def _bound(add: Any, path: str, prop: str, old: int | None, new: int | None, reduced: str, increased: str) -> None:
    """Compare an upper bound where None means unlimited."""
    if old == new:
        return
    if new is not None and (old is None or new < old):
        add(reduced, f"`{prop}` of {path} reduced from {old if old is not None else 'unlimited'} to {new}", prop)
    else:
        add(increased, f"`{prop}` of {path} increased from {old} to {new if new is not None else 'unlimited'}", prop)


def _compare_enum(add: Any, path: str, old: EnumField, new: EnumField) -> None:
    new_values = set(new.values)
    old_values = set(old.values)
    for value in old.values:
        if value not in new_values:
            add(
                "enum-value-removed",
                f"value {value!r} was removed from {path}",
                "values",
                hint="keep the value (records hold it) and stop offering it in the UI instead",
            )
    for value in new.values:
        if value not in old_values:
            add("enum-value-added", f"value {value!r} was added to {path}", "values")
    common_old = [v for v in old.values if v in new_values]
    common_new = [v for v in new.values if v in old_values]
    if common_old != common_new:
        add("enum-values-reordered", f"values of {path} were reordered", "values")


def _compare_file(add: Any, path: str, old: FileField, new: FileField) -> None:
    narrowed = widened = False
    old_accept, new_accept = set(old.accept), set(new.accept)
    if old_accept != new_accept:
        if new_accept and (not old_accept or not old_accept <= new_accept):
            narrowed = True
        else:
            widened = True
    if old.maxSizeBytes != new.maxSizeBytes:
        if new.maxSizeBytes is not None and (old.maxSizeBytes is None or new.maxSizeBytes < old.maxSizeBytes):
            narrowed = True
        else:
            widened = True
    if narrowed:
        add("file-constraints-narrowed", f"accepted files of {path} were narrowed", "accept")
    elif widened:
        add("file-constraints-widened", f"accepted files of {path} were widened", "accept")
