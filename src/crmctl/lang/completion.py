"""Completion in package files: YAML keys and values per artifact schema, names where an artifact references another
part of the package, and inside CEL expressions the fields in scope, their members, enum values, macros and
functions.

`complete(package, file, text, line, column)` reads the buffer as it is being typed (`crmctl.lang.cursor`, which
tolerates YAML that does not parse) and the last package that loaded (which knows the fields, steps, states...);
without a package it still offers what the artifact's JSON Schema allows.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from crmctl.lang.context import (
    artifact_kind,
    expression_role,
    reference_at,
    schema_keys,
    schema_nodes,
    schema_values,
)
from crmctl.lang.cursor import Cursor, cursor_at
from crmctl.lang.facts import PackageFacts, cel_functions, facts_for, receiver_kind
from crmctl.model.cel import CEL_RESERVED, CONTEXT_VARIABLES, MACROS, cel_type_of, token_spans
from crmctl.model.diagnostics import Location
from crmctl.model.fields import ArrayField, EnumField, ObjectField

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package

__all__ = ["CompletionItem", "CompletionKind", "complete"]


class CompletionKind(Enum):
    """What an item is; `crmctl.lsp` maps it to the protocol's completion item kinds."""

    KEY = "key"  # a YAML key the artifact's schema allows here
    VALUE = "value"  # a YAML value the schema lists (an enum member, a boolean)
    REFERENCE = "reference"  # the name of another part of the package (a step, a state, a role...)
    FIELD = "field"  # a field of an entity (in a reference or an expression)
    ENUM_VALUE = "enum-value"  # a value of an enum field, after `==`, `!=` or `in [` in an expression
    VARIABLE = "variable"  # a context variable of expressions (`step`, `role`, `now`, `locale`) or a bound one
    FUNCTION = "function"  # a function of the CEL environment
    MACRO = "macro"  # a CEL macro (`has`, `all`, `exists`, `exists_one`, `map`, `filter`)
    KEYWORD = "keyword"  # `true`, `false`, `null`


@dataclass(frozen=True)
class CompletionItem:
    """One proposal. `insert_text` replaces the text `replace` spans (the word typed before the cursor, or the
    quoted string being typed); `sort_text` orders items the way the server should show them; `detail` is a short
    type (a CEL type, a schema type) and `documentation` Markdown."""

    label: str
    kind: CompletionKind
    detail: str = ""
    documentation: str = ""
    insert_text: str = ""
    sort_text: str = ""
    replace: Location | None = None


def complete(package: Package | None, file: str, text: str, line: int, column: int) -> list[CompletionItem]:
    """The completions at 1-based (`line`, `column`) of `text`, the current content of `file`.

    `package` is the last package that loaded (possibly from an older version of this buffer) or None; `file` is
    named as the package names its files (`SourceDoc.file`), or any path whose name says the artifact
    (`.../schema.yaml`, `.../localization/de.yaml`). Never raises on any text or position; positions past the end
    of the text complete at its end. Items come sorted by `sort_text`, then label.
    """
    kind = artifact_kind(package, file)
    if kind is None:
        return []
    cursor = cursor_at(text, line, column)
    if cursor.position == "none":
        return []
    facts = facts_for(package) if package is not None else None
    if cursor.position == "key":
        items = _keys(kind, cursor, facts, cursor.siblings())
        prefix, start = cursor.prefix, cursor.prefix_column
    elif expression_role(kind, cursor.path) is not None and not cursor.item:
        word = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", cursor.value_before)
        prefix = word.group() if word else ""
        start = cursor.column - len(prefix)
        items, prefix, start = _expression(kind, cursor, facts, prefix, start)
    else:
        items = _values(kind, cursor, facts)
        if cursor.item:
            items += _keys(kind, cursor, facts, {}, path=cursor.path)
        prefix, start = cursor.prefix, cursor.prefix_column
    span = Location(file, cursor.line, start, cursor.line, cursor.column)
    wanted = prefix.lower()
    chosen = [item for item in items if item.label.lower().startswith(wanted)] if wanted else items
    seen: set[tuple[str, CompletionKind]] = set()
    out: list[CompletionItem] = []
    for item in sorted(chosen, key=lambda i: (i.sort_text, i.label)):
        if (item.label, item.kind) in seen:
            continue
        seen.add((item.label, item.kind))
        out.append(dataclasses.replace(item, replace=span, insert_text=item.insert_text or item.label))
    return out


# --- YAML keys and values -------------------------------------------------------------------------------------


def _keys(
    kind: str, cursor: Cursor, facts: PackageFacts | None, present: dict[str, str], path: tuple[str | int, ...] = ()
) -> list[CompletionItem]:
    at = path or cursor.path
    items: list[CompletionItem] = []
    what = _resolved(reference_at(kind, at, key=True), cursor)
    if what is not None and facts is not None:
        for label, detail, doc in _names(what, kind, cursor, facts, at):
            if label not in present:
                items.append(
                    CompletionItem(
                        label,
                        _ITEM_KINDS.get(what, CompletionKind.REFERENCE),
                        detail,
                        doc,
                        f"{_yaml_key(label)}: ",
                        "1",
                    )
                )
    for key in schema_keys(kind, at, present):
        if key.name in present:
            continue
        documentation = key.description + (" (required)" if key.required else "")
        items.append(
            CompletionItem(key.name, CompletionKind.KEY, key.type, documentation, f"{key.name}: ", _order(key.required))
        )
    return items


def _order(required: bool) -> str:
    return "0" if required else "1"


def _yaml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*", name) else '"' + name.replace('"', '\\"') + '"'


def _values(kind: str, cursor: Cursor, facts: PackageFacts | None) -> list[CompletionItem]:
    items: list[CompletionItem] = []
    what = _resolved(reference_at(kind, cursor.path, key=False), cursor)
    if what is not None and facts is not None:
        listed = set(cursor.other_items())
        for label, detail, doc in _names(what, kind, cursor, facts, cursor.path):
            if label not in listed:
                items.append(
                    CompletionItem(label, _ITEM_KINDS.get(what, CompletionKind.REFERENCE), detail, doc, sort_text="0")
                )
    # The keys beside the value only matter where they choose a branch of a union (a field's `type`); reading them
    # costs a scan of the mapping, which can be thousands of lines long (a locale's labels).
    union = not cursor.item and cursor.path[-1:] != ("type",) and len(schema_nodes(kind, cursor.path[:-1])) > 1
    for value, doc in schema_values(kind, cursor.path, cursor.siblings() if union else None):
        items.append(CompletionItem(value, CompletionKind.VALUE, "", doc, sort_text="1"))
    return items


# What the items naming each kind of reference are (`REFERENCES` in crmctl.lang.context); the rest are REFERENCE.
_ITEM_KINDS = {"field": CompletionKind.FIELD, "picklist-value": CompletionKind.ENUM_VALUE}
_BY_SCOPE = {"field": "field", "step": "step", "component": "group", "workflow": "transition"}


def _resolved(what: str | None, cursor: Cursor) -> str | None:
    """A rule's `target` names a field, step, group or transition by the rule's `scope`."""
    if what == "target":
        return _BY_SCOPE.get(cursor.lookup("scope") or "")
    return what


def _names(
    what: str, kind: str, cursor: Cursor, facts: PackageFacts, path: tuple[str | int, ...]
) -> list[tuple[str, str, str]]:
    """(name, detail, documentation) of everything a reference of kind `what` may name at the cursor."""
    workflow = path[1] if len(path) > 1 and path[0] == "workflows" and isinstance(path[1], int) else None
    if what == "field":
        entity = facts.entity(cursor.lookup("entity"))
        return [
            (info.path, info.cel_type, _field_doc(info.definition))
            for info in facts.fields.get(entity or "", {}).values()
        ]
    if what == "picklist-value":
        entity, _, name = str(path[1]).partition(".") if len(path) > 1 else ("", "", "")
        info = facts.field(entity, name)
        values = info.definition.values if info is not None and isinstance(info.definition, EnumField) else []
        return [(value, f"{path[1]}", "") for value in values]
    simple: dict[str, list[str]] = {
        "entity": facts.entities,
        "role": facts.roles,
        "step": facts.steps,
        "group": facts.groups,
        "event": facts.events,
        "validation": facts.validations,
        "message": facts.messages,
        "message-key": facts.messages,
        "locale": facts.locales,
        "label-key": facts.label_keys,
        "picklist-key": facts.picklist_keys,
    }
    if what in simple:
        return [(name, what, "") for name in simple[what]]
    by_workflow = {
        "state": facts.states,
        "transition": facts.transitions,
        "calendar": facts.calendars,
        "task": facts.tasks,
    }
    if what in by_workflow:
        return [(name, what, "") for name in by_workflow[what](workflow)]
    return []


def _field_doc(fdef: FieldDef) -> str:
    parts = [f"`{fdef.type}` field" + (", required" if fdef.required else "")]
    if fdef.description:
        parts.append(fdef.description)
    if isinstance(fdef, EnumField):
        parts.append("Values: " + ", ".join(f"`{v}`" for v in fdef.values))
    return "\n\n".join(parts)


# --- CEL ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Typed:
    """What a name or member in an expression is: its CEL type, its members, its enum values."""

    cel_type: str
    members: dict[str, FieldDef]
    values: tuple[str, ...] = ()
    definition: FieldDef | None = None


def _typed(fdef: FieldDef) -> _Typed:
    members = dict(fdef.fields) if isinstance(fdef, ObjectField) else {}
    values = tuple(fdef.values) if isinstance(fdef, EnumField) else ()
    return _Typed(cel_type_of(fdef), members, values, fdef)


def _element(typed: _Typed) -> _Typed | None:
    fdef = typed.definition
    if isinstance(fdef, ArrayField):
        return _typed(fdef.items)
    return None


def _expression(
    kind: str, cursor: Cursor, facts: PackageFacts | None, prefix: str, start: int
) -> tuple[list[CompletionItem], str, int]:
    """Completions inside a CEL expression; also returns the prefix and where it starts (a string literal being
    typed is replaced whole)."""
    if facts is None:
        return _library(None, top=True), prefix, start
    if kind == "schema" and len(cursor.path) > 1:
        entity = facts.entity(str(cursor.path[1]))
    else:
        entity = facts.entity(cursor.lookup("entity"))
    expr = cursor.value_before
    names = _Names(facts, entity)
    opened = _open_string(expr)
    if opened is not None:
        quote_at, _quote = opened
        content = expr[quote_at + 1 :]
        if not re.fullmatch(r"[A-Za-z0-9_.\-]*", content):
            return [], prefix, start
        values = _compared_values(token_spans(expr[:quote_at]), names)
        items = [CompletionItem(v, CompletionKind.ENUM_VALUE, "enum value", sort_text="0") for v in values]
        return items, content, cursor.column - len(content)
    head = expr[: len(expr) - len(prefix)]
    tokens = token_spans(head)
    last = tokens[-1] if tokens else None
    if last is not None and last[1] == ".":
        receiver = _resolve_chain(tokens[:-1], names)
        return _members(receiver, names), prefix, start
    values = _compared_values(tokens, names)
    if values:
        quote = '"' if cursor.quote == "'" else "'"
        items = [
            CompletionItem(v, CompletionKind.ENUM_VALUE, "enum value", "", f"{quote}{v}{quote}", "0") for v in values
        ]
        return items, prefix, start
    if last is not None and (
        last[0] in ("number", "string") or (last[0] == "ident" and last[1] not in CEL_RESERVED) or last[1] in ")]}"
    ):
        return [], prefix, start  # an operator is expected here, not a name
    _bind_macros(tokens, names)
    return names.items() + _library(None, top=True) + _KEYWORDS, prefix, start


_KEYWORDS = [CompletionItem(w, CompletionKind.KEYWORD, "", "", sort_text="4") for w in ("true", "false", "null")]


def _open_string(expr: str) -> tuple[int, str] | None:
    """Where a CEL string literal still open at the end of `expr` starts, and its quote."""
    i = 0
    opened: tuple[int, str] | None = None
    while i < len(expr):
        ch = expr[i]
        if opened is not None:
            if ch == "\\":
                i += 2
                continue
            if ch == opened[1]:
                opened = None
        elif ch in ("'", '"'):
            opened = (i, ch)
        i += 1
    return opened


class _Names:
    """The names in scope of an expression of one entity: its fields, the context variables, and the variables
    that comprehension macros bind around the cursor."""

    def __init__(self, facts: PackageFacts, entity: str | None) -> None:
        self.facts = facts
        self.entity = entity
        self.bound: dict[str, _Typed | None] = {}

    def top(self, name: str) -> _Typed | None:
        if name in self.bound:
            return self.bound[name]
        info = self.facts.field(self.entity, name)
        if info is not None:
            return _typed(info.definition)
        if name in CONTEXT_VARIABLES:
            return _Typed(CONTEXT_VARIABLES[name], {})
        return None

    def items(self) -> list[CompletionItem]:
        out = _field_items(self.facts, self.entity)
        for name, typ in CONTEXT_VARIABLES.items():
            out.append(CompletionItem(name, CompletionKind.VARIABLE, typ, "Context variable.", sort_text="2"))
        for name, bound in self.bound.items():
            detail = bound.cel_type if bound is not None else "dyn"
            out.append(CompletionItem(name, CompletionKind.VARIABLE, detail, "Bound by the macro.", sort_text="0"))
        return out


def _field_items(facts: PackageFacts, entity: str | None) -> list[CompletionItem]:
    """The fields of `entity` as expression variables (top-level names only), built once per package."""
    key = ("cel-field-items", entity or "")
    if key not in facts.derived:
        facts.derived[key] = [
            CompletionItem(info.path, CompletionKind.FIELD, info.cel_type, _field_doc(info.definition), sort_text="1")
            for info in facts.fields.get(entity or "", {}).values()
            if "." not in info.path and info.path not in CEL_RESERVED
        ]
    items: list[CompletionItem] = facts.derived[key]
    return list(items)


def _resolve_chain(tokens: list[tuple[str, str, int]], names: _Names) -> _Typed | None:
    """The type of the `a.b.c` chain that ends the tokens, binding the variables of macros still open."""
    _bind_macros(tokens, names)
    return _chain_type(tokens, names)


def _bind_macros(tokens: list[tuple[str, str, int]], names: _Names) -> None:
    """Bind `x` of every `receiver.all(x, ...` whose parenthesis is still open at the end of the tokens."""
    depth = 0
    for i in range(len(tokens) - 1, -1, -1):
        text = tokens[i][1]
        if text in ")]}":
            depth += 1
        elif text in "([{":
            if depth > 0:
                depth -= 1
                continue
            if (
                text == "("
                and i >= 2
                and tokens[i - 1][1] in MACROS
                and tokens[i - 2][1] == "."
                and i + 2 < len(tokens)
                and tokens[i + 1][0] == "ident"
                and tokens[i + 2][1] == ","
            ):
                receiver = _chain_type(tokens[: i - 2], names)
                names.bound[tokens[i + 1][1]] = _element(receiver) if receiver is not None else None


def _chain_type(tokens: list[tuple[str, str, int]], names: _Names) -> _Typed | None:
    chain: list[str] = []
    i = len(tokens) - 1
    while i >= 0 and tokens[i][0] == "ident":
        chain.append(tokens[i][1])
        if i >= 1 and tokens[i - 1][1] == ".":
            i -= 2
            continue
        break
    chain.reverse()
    typed = names.top(chain[0]) if chain else None
    for member in chain[1:]:
        typed = _typed(typed.members[member]) if typed is not None and member in typed.members else None
    return typed


def _members(receiver: _Typed | None, names: _Names) -> list[CompletionItem]:
    items: list[CompletionItem] = []
    if receiver is not None:
        for name, fdef in receiver.members.items():
            items.append(CompletionItem(name, CompletionKind.FIELD, cel_type_of(fdef), _field_doc(fdef), sort_text="1"))
        group = receiver_kind(receiver.cel_type)
        if group is None and receiver.cel_type != "dyn" and not receiver.members:
            return items
        return items + _library(group, top=False)
    return _library(None, top=False)


def _library(group: str | None, *, top: bool) -> list[CompletionItem]:
    """Functions and macros: global ones (`top`), or the methods of a receiver group (all groups when None)."""
    items: list[CompletionItem] = []
    for fn in cel_functions():
        if top != (fn.receiver is None):
            continue
        if not top and group is not None and fn.receiver != group:
            continue
        kind = CompletionKind.MACRO if fn.macro else CompletionKind.FUNCTION
        items.append(CompletionItem(fn.name, kind, fn.signature, fn.doc, sort_text="3"))
    return items


def _compared_values(tokens: list[tuple[str, str, int]], names: _Names) -> tuple[str, ...]:
    """The values of the enum field an expression compares with `==`/`!=`, or tests with `in [`, at its end."""
    if tokens and tokens[-1][1] in ("==", "!="):
        typed = _resolve_chain(tokens[:-1], names)
        return typed.values if typed is not None else ()
    depth = 0
    for i in range(len(tokens) - 1, -1, -1):
        kind, text, _ = tokens[i]
        if text == "]":
            depth += 1
        elif text == "[":
            if depth:
                depth -= 1
                continue
            if i >= 1 and tokens[i - 1][1] == "in" and all(t[0] == "string" or t[1] == "," for t in tokens[i + 1 :]):
                typed = _resolve_chain(tokens[: i - 1], names)
                return typed.values if typed is not None else ()
            return ()
        elif kind not in ("string",) and text != ",":
            return ()
    return ()
