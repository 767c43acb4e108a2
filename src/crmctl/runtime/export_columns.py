"""Export's columns: the Arrow type of every field type, merged over the versions of an entity, and the DuckDB SQL
that reads stored JSON as those types, filling in defaults and former names (see `runtime.export`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmctl.model.fields import ArrayField, ObjectField
from crmctl.model.versions import version_key
from crmctl.runtime.export_model import ExportError
from crmctl.runtime.packages import load_copy

if TYPE_CHECKING:
    import pyarrow as pa

    from crmctl.model.fields import FieldDef
    from crmctl.runtime.store import Store


__all__ = [
    "EntityVersion",
    "arrow_type",
    "column_readers",
    "csv_duck_type",
    "csv_type",
    "duck_type",
    "entity_versions",
    "filled_sql",
    "json_structure",
    "literal_sql",
    "quote_name",
    "union_columns",
]

# -- type mapping -------------------------------------------------------------------------------------------------


def arrow_type(fdef: FieldDef) -> pa.DataType:
    """The Parquet (Arrow) type of a schema field; see the table in docs/export.md."""
    import pyarrow as pa

    kind = fdef.resultType if fdef.type == "calculated" else fdef.type
    if kind == "number":
        integer, precision, scale = (getattr(fdef, name, None) for name in ("integer", "precision", "scale"))
        if integer:
            return pa.int64()
        if precision is not None or scale is not None:
            scale = scale or 0
            return pa.decimal128(max(precision or 38, scale), scale)
        return pa.float64()
    if kind == "currency":
        return pa.decimal128(38, getattr(fdef, "scale", 2))
    if kind == "enum":
        return pa.dictionary(pa.int32(), pa.string())
    if kind == "object":
        return pa.struct([(name, arrow_type(sub)) for name, sub in fdef.fields.items()])  # type: ignore[union-attr]
    if kind == "array":
        return pa.list_(arrow_type(fdef.items))  # type: ignore[union-attr]
    simple = {"boolean": pa.bool_(), "date": pa.date32(), "datetime": pa.timestamp("us", "UTC")}
    return simple.get(kind, pa.string())


def csv_type(t: pa.DataType) -> pa.DataType:
    """CSV cells: objects stay structs (flattened to `obj.sub` columns later), arrays become JSON text."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return pa.struct([(t.field(i).name, csv_type(t.field(i).type)) for i in range(t.num_fields)])
    return pa.string() if pa.types.is_list(t) or pa.types.is_dictionary(t) else t


def duck_type(t: pa.DataType) -> Any:
    """The `json_transform` structure that reads a stored JSON value as Arrow type `t`."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return {t.field(i).name: duck_type(t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t):
        return [duck_type(t.value_type)]
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    names = {
        pa.int64(): "BIGINT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
        pa.timestamp("us", "UTC"): "TIMESTAMPTZ",
    }
    return names.get(t, "VARCHAR")


def csv_duck_type(t: pa.DataType) -> Any:
    """`duck_type` for a CSV cell: a list is read as JSON text (see `csv_type`)."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return {t.field(i).name: csv_duck_type(t.field(i).type) for i in range(t.num_fields)}
    return "JSON" if pa.types.is_list(t) else duck_type(t)


def _merge(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type holding values of both `a` and `b` (objects gain the union of their fields), None if none does."""
    import pyarrow as pa

    if a == b:
        return a
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        merged = {a.field(i).name: a.field(i).type for i in range(a.num_fields)}
        for i in range(b.num_fields):
            name, sub = b.field(i).name, b.field(i).type
            both = _merge(merged[name], sub) if name in merged else sub
            if both is None:
                return None
            merged[name] = both
        return pa.struct(list(merged.items()))
    if pa.types.is_list(a) and pa.types.is_list(b):
        item = _merge(a.value_type, b.value_type)
        return None if item is None else pa.list_(item)
    return None


# -- the union schema of an entity's versions ---------------------------------------------------------------------


@dataclass(frozen=True)
class EntityVersion:
    """One stored package version of an entity: its fields, each under the column the export names it by."""

    digest: str
    name: str
    version: str
    fields: dict[str, tuple[str, FieldDef]]  # stored field name -> (column, definition)


def entity_versions(store: Store, entity: str, rows: Sequence[tuple[str, str, str]]) -> list[EntityVersion]:
    """The entity's fields in each stored version, oldest first; a field renamed with `aliases` keeps its
    newest name as the column of older versions' values."""
    versions = []
    for digest, name, version in sorted(rows, key=lambda r: (version_key(r[2]), r[0])):
        blob = store.get_package(digest)
        if blob is None:
            raise ExportError(f"{entity} records are pinned to {name} {version} ({digest}), which the store lacks")
        package = load_copy(digest, blob)
        entities = package.schema.entities if package.schema else {}
        if entity not in entities:
            raise ExportError(f"{entity} records are pinned to {name} {version}, whose schema has no {entity}")
        versions.append((digest, name, version, entities[entity].fields))
    renamed = {alias: column for *_, fields in versions for column, fdef in fields.items() for alias in fdef.aliases}
    columns = [
        {f: (renamed[f] if renamed.get(f, f) not in fields else f, d) for f, d in fields.items()}
        for *_, fields in versions
    ]
    newest: dict[str, FieldDef] = {}
    for named in reversed(columns):  # the newest version declaring a column names its members
        for column, d in named.values():
            newest.setdefault(column, d)
    # Members too are named as the newest version names them (a member renamed with `aliases`, at any depth).
    return [
        EntityVersion(digest, name, version, {f: (c, _as_named(d, newest[c])) for f, (c, d) in named.items()})
        for (digest, name, version, _), named in zip(versions, columns, strict=True)
    ]


def union_columns(entity: str, versions: Sequence[EntityVersion]) -> dict[str, pa.DataType]:
    """Column -> type over all versions, newest version's field order first; conflicting types are an error."""
    columns: dict[str, tuple[pa.DataType, EntityVersion]] = {}
    for v in reversed(versions):
        for column, fdef in v.fields.values():
            t = arrow_type(fdef)
            if column in columns:
                seen, where = columns[column]
                merged = _merge(seen, t)
                if merged is None:
                    raise ExportError(
                        f"{entity}.{column} is {seen} in {where.name} {where.version} but {t} in "
                        f"{v.name} {v.version}: a published field never changes its type, so the "
                        "store holds records of an unpublished version; export with --entity for "
                        "the other entities, or migrate these records"
                    )
                t = merged
                v = where
            columns[column] = (t, v)
    return {column: t for column, (t, _) in columns.items()}


def column_readers(versions: Sequence[EntityVersion]) -> dict[str, FieldDef]:
    """Column -> the field of the newest version declaring it: whose defaults every row of the dataset reads."""
    readers: dict[str, FieldDef] = {}
    for v in reversed(versions):
        for column, fdef in v.fields.values():
            readers.setdefault(column, fdef)
    return readers


def filled_sql(
    expr: str, fdef: FieldDef | None, t: pa.DataType, typed: Callable[[pa.DataType], Any], depth: int = 0
) -> str | None:
    """SQL reading `expr` (a value of Arrow type `t`, read with the `json_structure` of `typed`) as `fdef` reads it:
    a member stored under a former name is the member's, and the defaults of `fdef` are filled in where it has no
    value, inside objects and list items too; None when `fdef` has neither inside."""
    import pyarrow as pa

    from crmctl.model.defaults import declares_default, filled_default

    if fdef is None or not (declares_default(fdef) or _renames_inside(fdef)):
        return None
    inner = None
    if isinstance(fdef, ObjectField) and pa.types.is_struct(t):
        members, changed, names = [], False, {t.field(i).name for i in range(t.num_fields)}
        for i in range(t.num_fields):
            name, sub_type = t.field(i).name, t.field(i).type
            sub_def = fdef.fields.get(name)
            former = _former(sub_def, names)
            sub_expr = f"{expr}.{quote_name(name)}"
            if former:  # a value under a former name is the member's
                sub_expr = f"COALESCE({', '.join([sub_expr, *(f'{expr}.{quote_name(a)}' for a in former)])})"
            sub = filled_sql(sub_expr, sub_def, sub_type, typed, depth)
            changed = changed or sub is not None or bool(former)
            members.append(f"{quote_name(name)} := {sub or sub_expr}")
        if changed:
            inner = f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({', '.join(members)}) END"
    elif isinstance(fdef, ArrayField) and pa.types.is_list(t):
        var = f"_item{depth}"
        sub = filled_sql(var, fdef.items, t.value_type, duck_type, depth + 1)
        if sub is not None:
            if typed(t) == [duck_type(t.value_type)]:
                inner = f"list_transform({expr}, lambda {var}: {sub})"
            else:  # a CSV cell holds the list as JSON text: read it typed, fill it, write it back
                typed_list = f"json_transform({expr}, {_sql_text(json.dumps(json_structure(t, fdef, duck_type)))})"
                inner = f"to_json(list_transform({typed_list}, lambda {var}: {sub}))"
    default = filled_default(fdef)
    if default is None:
        return inner
    return f"COALESCE({inner or expr}, {literal_sql(default, t, typed)})"


def json_structure(t: pa.DataType, fdef: FieldDef | None, typed: Callable[[pa.DataType], Any]) -> Any:
    """The `json_transform` structure reading a stored value of Arrow type `t` for field `fdef` (the column's
    newest): `typed(t)`, plus each object member's former names, read as the member (`filled_sql` merges them)."""
    import pyarrow as pa

    shape = typed(t)
    if isinstance(fdef, ObjectField) and pa.types.is_struct(t) and isinstance(shape, dict):
        names = {t.field(i).name for i in range(t.num_fields)}
        for i in range(t.num_fields):
            name, sub = t.field(i).name, fdef.fields.get(t.field(i).name)
            shape[name] = json_structure(t.field(i).type, sub, typed)
            shape.update((alias, shape[name]) for alias in _former(sub, names))
    elif isinstance(fdef, ArrayField) and pa.types.is_list(t) and isinstance(shape, list):
        shape = [json_structure(t.value_type, fdef.items, typed)]
    return shape


def _former(member: FieldDef | None, names: set[str]) -> list[str]:
    """The former names of an object's member that are no member's name of their own."""
    return [a for a in member.aliases if a not in names] if member is not None else []


def _renames_inside(fdef: FieldDef) -> bool:
    """Whether a member of `fdef` (an object, or the objects of a list), at any depth, has a former name."""
    if isinstance(fdef, ObjectField):
        return any(sub.aliases or _renames_inside(sub) for sub in fdef.fields.values())
    return isinstance(fdef, ArrayField) and _renames_inside(fdef.items)


def _as_named(fdef: FieldDef, newest: FieldDef) -> FieldDef:
    """`fdef` (an older version's field) with its members named as the `newest` version names them: a member the
    newest keeps under another name (its `aliases` hold this one) takes that name, at any depth."""
    if isinstance(fdef, ObjectField) and isinstance(newest, ObjectField):
        renamed: dict[str, FieldDef] = {}
        for name, sub in fdef.fields.items():
            target = (
                name
                if name in newest.fields
                else next((n for n, s in newest.fields.items() if name in s.aliases and n not in fdef.fields), name)
            )
            renamed[target] = _as_named(sub, newest.fields[target]) if target in newest.fields else sub
        return fdef.model_copy(update={"fields": renamed})
    if isinstance(fdef, ArrayField) and isinstance(newest, ArrayField):
        return fdef.model_copy(update={"items": _as_named(fdef.items, newest.items)})
    return fdef


def literal_sql(value: Any, t: pa.DataType, typed: Callable[[pa.DataType], Any]) -> str:
    """SQL for a JSON value as SQL of the type the export reads `t` as (the stored data's own conversion)."""
    return f"json_transform({_sql_text(json.dumps(value))}, {_sql_text(json.dumps(typed(t)))})"


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_name(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# -- writing ------------------------------------------------------------------------------------------------------
