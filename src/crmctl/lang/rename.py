"""Rename that keeps compatibility.

`prepare_rename` says whether the symbol under a position can be renamed (its current name and the span to
edit) or refuses with the reason; `rename` returns the minimal text edits (`crmctl.lang.edits.TextEdit`) that
rename it in every artifact and every locale, keeping comments and layout.

What each kind of symbol does:

- **Fields** (and members of objects and of list items): the definition key and every reference (field paths,
  CEL identifiers, `Entity.field` label and picklist keys) are rewritten, and the old name is added to the field's
  `aliases`, so records stored under it stay readable and `crmctl diff` classifies the rename as compatible. A new
  `aliases` entry goes where the canonical key order puts it (after `type`, `description`, `required`), so a
  formatted file stays formatted; in a formatted YAML file a flow mapping (`city: {type: text}`) becomes a block
  mapping, as `crmctl fmt` writes a mapping holding a list.
  Renaming a field back to one of its aliases swaps the two names: that alias entry becomes the current name
  (`mobilePhone {aliases: [phone]}` renamed to `phone` gives `phone {aliases: [mobilePhone]}`); records stored
  under either name stay readable.
  Refused up front: a name that is not an identifier or is a CEL reserved word, a name another field of the same
  object (or entity) has or keeps as an alias, and a rename that a comprehension variable of some expression
  would capture (`tags.exists(b, b == a)` with `a` renamed to `b`).
- **Steps, groups, rules, soft validations, transitions, calendars, timers, named forms, message and plural keys,
  roles** are not stored in records or instances: every reference is rewritten, no alias is kept (compat classifies
  the change as behavioural at most). A role is assigned to users by tenants, outside the package: those
  assignments name the old role until they are updated (role-removed, CMP006, behavioural).
- **Aliases** are refused: records written under an alias are read through it (alias-removed, CMP108).
- **States, tasks, workflows, entities and events** are refused (the message says why and what to do instead):
  workflow instances store their workflow, state and pending task names, records are stored per entity,
  consumers subscribe to event names, so a rename is a breaking change (CMP604, CMP615, CMP602, CMP114, CMP652).
  Add the new one beside the old one instead.
- **Hard validations** are refused too: validations are matched by id across versions, so a renamed hard
  validation reads as a new hard one that stored records may fail (CMP401, data-dependent).

A package with a file that did not load (invalid structure) refuses every rename: references in that file would
be missed. A reference whose columns cannot be determined exactly (a name spelled with escape sequences in a
quoted scalar) makes the rename refuse rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmctl.errors import CrmctlError, UserError
from crmctl.lang.edits import TextEdit, apply_edits, group_by_file
from crmctl.lang.symbols import Reference, SymbolIndex, SymbolKey, index_for
from crmctl.model.cel import CEL_RESERVED, Renamed, rename_references
from crmctl.model.diagnostics import Location
from crmctl.model.fields import IDENT, ArrayField, FieldDef, ObjectField
from crmctl.model.formatting import canonical_order, format_text, line_edits
from crmctl.model.scalar_spans import exact_span

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath, SourceDoc

__all__ = ["RENAMEABLE", "RenameRefused", "RenameTarget", "prepare_rename", "rename"]


class RenameRefused(UserError):
    """A rename that cannot be made; the message says why."""


@dataclass(frozen=True)
class RenameTarget:
    """What a rename at a position would rename: the symbol's key and kind, its current name and the span of the
    name under the cursor (an editor pre-selects it)."""

    key: SymbolKey
    kind: str
    name: str
    span: Location


# Kinds renamed everywhere without an alias: none of them is stored in records or instances.
RENAMEABLE = frozenset(
    {
        "field",
        "form",
        "step",
        "group",
        "rule",
        "validation",
        "transition",
        "calendar",
        "timer",
        "message",
        "plural",
        "role",
    }
)

_REFUSED = {
    "alias": "records written under {name} are read through this alias; renaming it removes it (alias-removed, "
    "CMP108, is breaking). Rename the field instead",
    "state": "workflow instances store the name of the state they are in; renaming state {name} would strand them "
    "(state-removed, CMP604, is breaking). Add the new state and a transition to it instead",
    "workflow": "workflow instances are pinned to their workflow's id; renaming workflow {name} would strand them "
    "(workflow-removed, CMP602, is breaking). Keep the id (what users read is its label in the locale files); to "
    "replace it, add the new workflow beside it and retire the old one in a major version",
    "entity": "records are stored per entity; renaming entity {name} would orphan them (entity-removed, CMP114, is "
    "breaking). Keep the name (what users read is its label in the locale files); to move the data, add the new "
    "entity beside it and migrate the records",
    "event": "consumers subscribe to events by name; renaming event {name} would silence them (event-removed, "
    "CMP652, is breaking). Publish the new event beside it and retire the old one in a major version",
    "task": "workflow instances waiting in a state store the task they wait on; renaming task {name} would leave "
    "them waiting on a task that no longer exists (task-removed, CMP615, is breaking). Add the new task beside it "
    "and remove the old one once no instance waits on it",
}

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
_FIELD = re.compile(IDENT)


def prepare_rename(package: Package, file: str, line: int, column: int) -> RenameTarget:
    """What a rename at the position would rename; raises `RenameRefused` (with the reason) when the position
    names nothing renameable."""
    hit = index_for(package).at(file, line, column)
    if hit is None:
        raise RenameRefused(f"{file}:{line}:{column}: nothing to rename here (no field, step, rule, ... is named here)")
    key, span, _ = hit
    kind, name = key[0], key[-1]
    reason = _REFUSED.get(kind)
    if reason is not None:
        raise RenameRefused(f"cannot rename {kind} {name}: {reason.format(name=name)}")
    validations = package.validations.validations if package.validations else []
    if kind == "validation" and any(v.id == name and v.mode == "hard" for v in validations):
        raise RenameRefused(
            f"cannot rename validation {name}: it is hard, and validations are matched by id across versions, so "
            f"the renamed one would be a new hard validation that records already stored may fail (CMP401, "
            f"data-dependent). Keep the id; soft validations can be renamed"
        )
    return RenameTarget(key, kind, name, span)


def rename(package: Package, file: str, line: int, column: int, new_name: str) -> list[TextEdit]:
    """The edits renaming the symbol under the position to `new_name` everywhere (see the module's docs for what
    each kind does); raises `RenameRefused` when the rename is not allowed, before computing any edit."""
    target = prepare_rename(package, file, line, column)
    broken = sorted(package.docs[kind].file for kind in package.docs if kind not in package.models())
    if broken:
        raise RenameRefused(
            f"cannot rename {target.kind} {target.name}: {', '.join(broken)} did not load (see the diagnostics), "
            "so references in it would be missed; fix it first"
        )
    index = index_for(package)
    if new_name == target.name:
        raise RenameRefused(f"{target.kind} {target.name} is already called {new_name!r}")
    if target.kind == "field":
        return _kept_formatted(package, _rename_field(index, target, new_name))
    if not _ID.fullmatch(new_name):
        raise RenameRefused(
            f"cannot rename {target.kind} {target.name} to {new_name!r}: an id starts with a letter and continues "
            "with letters, digits, `_`, `.` or `-` (at most 128 characters)"
        )
    taken = _sibling(target.key, new_name)
    if taken in index.definitions:
        raise RenameRefused(f"cannot rename {target.kind} {target.name} to {new_name!r}: that name is already taken")
    return _kept_formatted(package, _edits(index, target.key, new_name))


def _kept_formatted(package: Package, edits: list[TextEdit]) -> list[TextEdit]:
    """`edits`, except that a file in the canonical style stays in it: where a longer or shorter name moves a flow
    list across the line width (`fields: [a, b]` against one item a line), that file's edits are the line edits
    from its text to the formatted renamed text."""
    texts = {doc.file: doc.text for doc in package.docs.values()}
    out: list[TextEdit] = []
    for file, group in group_by_file(edits).items():
        text = texts.get(file)
        if text is None:  # pragma: no cover - every edit is in a loaded document
            out.extend(group)
            continue
        renamed = apply_edits(text, group)
        try:
            if format_text(text, file) != text or format_text(renamed, file) == renamed:
                out.extend(group)
                continue
            out.extend(line_edits(text, format_text(renamed, file), file))
        except CrmctlError:
            out.extend(group)
    return sorted(out)


def _sibling(key: SymbolKey, name: str) -> SymbolKey:
    return (*key[:-1], name)


def _edits(index: SymbolIndex, key: SymbolKey, new_name: str) -> list[TextEdit]:
    refs = index.references.get(key, [])
    inexact = next((ref for ref in refs if not ref.exact), None)
    if inexact is not None:
        raise RenameRefused(
            f"cannot rename {key[0]} {key[-1]}: the reference at {inexact.span} cannot be edited exactly "
            "(it is spelled with escape sequences); rewrite it plainly first"
        )
    spans = [s.name_span for s in index.definitions.get(key, [])] + [ref.span for ref in refs]
    return sorted({TextEdit.replacing(span, new_name) for span in spans})


# --- fields --------------------------------------------------------------------------------------------------


def _rename_field(index: SymbolIndex, target: RenameTarget, new_name: str) -> list[TextEdit]:
    key, old = target.key, target.name
    entity, path = key[1], key[2:]
    what = f"field {'.'.join((entity, *path))}"
    if not _FIELD.fullmatch(new_name):
        raise RenameRefused(
            f"cannot rename {what} to {new_name!r}: a field name starts with a letter and continues with letters, "
            "digits or `_` (at most 64 characters)"
        )
    if new_name in CEL_RESERVED:
        raise RenameRefused(f"cannot rename {what} to {new_name!r}: it is a CEL reserved word")
    schema = index.package.schema
    if schema is None or entity not in schema.entities:  # pragma: no cover - the index has no field without one
        raise RenameRefused(f"cannot rename {what}: its schema did not load")
    siblings, json_path = _siblings(schema.entities[entity].fields, ("entities", entity, "fields"), path)
    fdef = siblings[old]
    if new_name in siblings:
        raise RenameRefused(f"cannot rename {what} to {new_name!r}: {_container(entity, path)} has a field {new_name}")
    holder = next((name for name, other in siblings.items() if name != old and new_name in other.aliases), None)
    if holder is not None:
        raise RenameRefused(
            f"cannot rename {what} to {new_name!r}: {_container(entity, path)}.{holder} keeps {new_name!r} as an "
            "alias (records stored under that name are read as that field)"
        )
    if len(path) == 1:
        _refuse_captures(index.references.get(key, []), index.package, old, new_name, what)
    edits = _edits(index, key, new_name)
    edits.append(_alias_edit(index.package.docs["schema"], json_path, fdef, old, new_name))
    return sorted(edits)


def _container(entity: str, path: tuple[str, ...]) -> str:
    return ".".join((entity, *path[:-1]))


def _siblings(
    fields: dict[str, FieldDef], base: JsonPath, path: tuple[str, ...]
) -> tuple[dict[str, FieldDef], JsonPath]:
    """The fields beside the one at `path` (itself included) and its JSON path in the schema."""
    for part in path[:-1]:
        fdef: FieldDef = fields[part]
        base = (*base, part)
        while isinstance(fdef, ArrayField):
            fdef, base = fdef.items, (*base, "items")
        assert isinstance(fdef, ObjectField)  # the index only has members of objects
        fields, base = fdef.fields, (*base, "fields")
    return fields, (*base, path[-1])


def _refuse_captures(refs: list[Reference], package: Package, old: str, new: str, what: str) -> None:
    """Refuse when a comprehension variable called `new` would capture a reference to the top-level field."""
    for ref in refs:
        if not ref.cel:
            continue
        text = _at(package.docs[ref.doc].data, ref.json_path, ref.is_key)
        if isinstance(text, str) and rename_references(text, {old: Renamed(new)}) is None:
            raise RenameRefused(
                f"cannot rename {what} to {new!r}: in the expression at {ref.span}, {new!r} is a comprehension "
                f"variable, so the renamed reference would mean the variable, not the field"
            )


def _at(data: Any, path: JsonPath, is_key: bool) -> Any:
    for part in path[:-1] if is_key else path:
        data = data[part]
    return path[-1] if is_key else data


def _alias_edit(doc: SourceDoc, json_path: JsonPath, fdef: FieldDef, old: str, new: str) -> TextEdit:
    """Keep `old` as an alias: the alias entry `new` becomes `old` (a rename back), else `old` is appended to an
    existing `aliases` list, else an `aliases: [old]` entry is added to the field's mapping."""
    is_json = doc.file.endswith(".json")
    spelled = f'"{old}"' if is_json else old
    aliases = list(fdef.aliases)
    apath: JsonPath = (*json_path, "aliases")
    if new in aliases:
        position = aliases.index(new)
        span, exact = exact_span(doc, (*apath, position), new)
        if not exact:
            raise RenameRefused(
                f"cannot rename back to the alias {new!r}: its entry at {span} cannot be edited exactly"
            )
        return TextEdit.replacing(span, old)
    if "aliases" in _at(doc.data, json_path, False):
        whole = doc.span(apath)
        if not aliases:  # `[]`: insert inside the brackets
            at = whole.end_column - 1 if whole.end_column else whole.column + 1
            return _insert(doc.file, whole.end_line or whole.line, at, spelled)
        last = doc.span((*apath, len(aliases) - 1))
        if _char_at(doc, whole.line, whole.column) == "[":
            # one item a line (`json.dumps(indent=2)`): the new one on a line of its own
            sep = f",\n{' ' * (last.column - 1)}" if last.line != whole.line else ", "
            return _insert(doc.file, last.end_line or last.line, last.end_column or last.column, sep + spelled)
        prefix = doc.line_text(last.line)[: last.column - 1]  # `      - `
        return _insert(doc.file, last.end_line or last.line, last.end_column or last.column, f"\n{prefix}{spelled}")
    body = doc.span(json_path)
    mapping = _at(doc.data, json_path, False)
    keys = list(mapping)
    # In the canonical key order (`crmctl.model.formatting`), after the key that precedes `aliases` there, so a
    # formatted file stays formatted: `type`, `description`, `required`, `aliases`, ...
    canonical = list(canonical_order({**dict.fromkeys(keys), "aliases": None, "type": fdef.type}, FieldDef))
    before = [k for k in canonical[: canonical.index("aliases")] if k in mapping]
    anchor = before[-1] if before else keys[0]
    key_span = doc.span((*json_path, anchor), key=True)
    value = doc.span((*json_path, anchor))
    value_end = (value.end_line or value.line, value.end_column or value.column)
    spelled_entry = f'"aliases": ["{old}"]' if is_json else f"aliases: [{old}]"
    if _char_at(doc, body.line, body.column) == "{":  # a flow mapping (and every JSON object)
        if not is_json and _formatted(doc):
            return _flow_to_block(doc, json_path, [k for k in canonical if k in mapping or k == "aliases"], old)
        indent = " " * (key_span.column - 1)
        if key_span.line == body.line:  # on one line: the author's flow style is kept
            return _insert(doc.file, *value_end, f", {spelled_entry}")
        # `json.dumps(indent=2)`'s layout, the canonical style of JSON files
        entry = f',\n{indent}"aliases": [\n{indent}  "{old}"\n{indent}]'
        return _insert(doc.file, *value_end, entry)
    entry = f"{' ' * (key_span.column - 1)}aliases: [{old}]"
    if value.end_line and value.end_line > value.line and value.end_column == 1:
        # A block scalar ends at the start of the line after it (its trailing blank lines are part of it).
        return _insert(doc.file, value.end_line, 1, entry + "\n")
    line = value.end_line or value.line
    return _insert(doc.file, line, len(doc.line_text(line)) + 1, "\n" + entry)


def _formatted(doc: SourceDoc) -> bool:
    """Whether the file is in the canonical style (`crmctl fmt --check` would pass)."""
    try:
        return format_text(doc.text, doc.file) == doc.text
    except CrmctlError:
        return False


def _flow_to_block(doc: SourceDoc, json_path: JsonPath, keys: list[Any], old: str) -> TextEdit:
    """A YAML flow mapping (`city: {type: text}`) rewritten in block style with `aliases: [old]` among its keys, in
    the order `keys`: the canonical style writes a mapping holding a list in block style. Keys and values keep
    their spelling."""
    name = doc.span(json_path, key=True)
    body = doc.span(json_path)
    indent = " " * (name.column - 1 + 2)
    lines = []
    for key in keys:
        if key == "aliases":
            lines.append(f"{indent}aliases: [{old}]")
            continue
        k, v = doc.span((*json_path, key), key=True), doc.span((*json_path, key))
        lines.append(f"{indent}{_text(doc, k)}: {_text(doc, v)}")
    span = Location(
        doc.file, name.end_line or name.line, name.end_column or name.column, body.end_line, body.end_column
    )
    return TextEdit.replacing(span, ":\n" + "\n".join(lines))


def _text(doc: SourceDoc, span: Location) -> str:
    lines = [doc.line_text(n) for n in range(span.line, (span.end_line or span.line) + 1)]
    text = "\n".join(lines)
    end = len(text) - len(lines[-1]) + (span.end_column or span.column) - 1
    return text[span.column - 1 : end]


def _insert(file: str, line: int, column: int, text: str) -> TextEdit:
    return TextEdit(file, line, column, line, column, text)


def _char_at(doc: SourceDoc, line: int, column: int) -> str:
    return doc.line_text(line)[column - 1 : column]
