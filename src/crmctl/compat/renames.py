"""Renames through aliases, and the old package seen through them.

A field renamed with an alias (`mobilePhone: {aliases: [phone]}`) is the same field under a new name, so a rule,
a form or a workflow rewritten to follow the rename has not changed. The comparers therefore compare the new
package with `follow_renames(old, new)`: the old package with every field reference spelled as the new version
names the field. Field paths are renamed part by part; CEL expressions through `rename_references`, which renames
only tokens that resolve to fields (never string literals, comments, comprehension variables or members of other
values). A genuine change made together with a rename stays a difference, and is reported.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crmctl.compat.field_refs import field_refs
from crmctl.model.cel import Renamed, rename_references
from crmctl.model.fields import ArrayField, ObjectField

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef, SchemaArtifact
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = ["FieldRenames", "alias_pairs", "field_renames", "follow_renames", "old_path", "rename_path"]

# entity → old field name → how the new schema names it (only fields renamed, or holding renamed members)
FieldRenames = dict[str, dict[str, Renamed]]


def alias_pairs(old: Mapping[str, FieldDef], new: Mapping[str, FieldDef]) -> dict[str, str]:
    """`new name -> old name` for fields renamed through an alias: a field of `new` keeps in its `aliases` the
    name of a field of `old` that `new` no longer has (each old name pairs once, the first such field wins)."""
    removed = [name for name in old if name not in new]
    paired: dict[str, str] = {}
    for name, definition in new.items():
        if name in old:
            continue
        alias = next((a for a in definition.aliases if a in removed and a not in paired.values()), None)
        if alias is not None:
            paired[name] = alias
    return paired


def field_renames(old: SchemaArtifact | None, new: SchemaArtifact | None) -> FieldRenames:
    """Every rename through an alias, at any depth, of the entities both schemas define."""
    if old is None or new is None:
        return {}
    out: FieldRenames = {}
    for ename, entity in old.entities.items():
        other = new.entities.get(ename)
        members = _members(entity.fields, other.fields) if other is not None else {}
        if members:
            out[ename] = members
    return out


def _members(old: Mapping[str, FieldDef], new: Mapping[str, FieldDef]) -> dict[str, Renamed]:
    names = {name: name for name in old if name in new}
    names.update({old_name: new_name for new_name, old_name in alias_pairs(old, new).items()})
    out: dict[str, Renamed] = {}
    for old_name, new_name in names.items():
        before, after, lists = old[old_name], new[new_name], 0
        while isinstance(before, ArrayField) and isinstance(after, ArrayField):
            before, after, lists = before.items, after.items, lists + 1
        inner: dict[str, Renamed] = {}
        if isinstance(before, ObjectField) and isinstance(after, ObjectField):
            inner = _members(before.fields, after.fields)
        if inner or new_name != old_name:
            out[old_name] = Renamed(new_name, inner, lists)
    return out


def rename_path(renames: Mapping[str, Renamed], path: str) -> str:
    """A dotted field path (`address.zip`, through objects and lists of objects) spelled with the new names."""
    parts = path.split(".")
    members: Mapping[str, Renamed] = renames
    for i, part in enumerate(parts):
        node = members.get(part)
        if node is None:
            break
        parts[i] = node.name
        members = node.members
    return ".".join(parts)


def old_path(renames: Mapping[str, Renamed], path: str) -> str:
    """The inverse of `rename_path`: how the old schema spelled a field path of the new one."""
    parts = path.split(".")
    members: Mapping[str, Renamed] = renames
    for i, part in enumerate(parts):
        found = next(((name, node) for name, node in members.items() if node.name == part), None)
        if found is None:
            break
        parts[i], members = found[0], found[1].members
    return ".".join(parts)


def follow_renames(old: Package, new: Package) -> Package:
    """`old` with every field reference of its schema (calculated fields), rules, validations, UI, workflows and
    events spelled as `new` names the field. Its documents stay the old ones, so positions are the old files'."""
    renames = field_renames(old.schema, new.schema)
    if not renames:
        return old
    edits: dict[str, list[tuple[JsonPath, str, bool]]] = defaultdict(list)
    for ref in field_refs(old):
        members = renames.get(ref.entity or "")
        if not members:
            continue
        text = rename_references(ref.text, members) if ref.cel else rename_path(members, ref.text)
        # An expression a comprehension variable would capture keeps its old text: it stays a difference.
        if text is not None and text != ref.text:
            edits[ref.doc].append((ref.json_path, text, ref.is_key))
    if not edits:
        return old
    from crmctl.model.jsonschemas import ARTIFACT_MODELS

    models: dict[str, Any] = {}
    for doc, changes in edits.items():
        data = copy.deepcopy(old.docs[doc].data)
        # Values first: a `set` value's path names its field by the old key, which a key edit then renames.
        for path, text, is_key in sorted(changes, key=lambda change: change[2]):
            parent = _at(data, path[:-1])
            if is_key:
                parent_items = list(parent.items())
                parent.clear()
                parent.update((text if k == path[-1] else k, v) for k, v in parent_items)
            else:
                parent[path[-1]] = text
        models[doc] = ARTIFACT_MODELS[doc][0].model_validate(data, strict=True)
    return dataclasses.replace(old, **models)


def _at(data: Any, path: JsonPath) -> Any:
    for part in path:
        data = data[part]
    return data
