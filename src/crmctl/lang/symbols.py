"""The symbol index of a package: every definition (entities, fields and their members, the aliases of fields,
forms, steps, groups, rules, validations, workflows, states, transitions, tasks, calendars, timers, events, roles,
message and plural keys of the locales) and every reference to each, with the exact span of the name.

References come from the walkers compat already uses, so that navigation, rename and the compatibility checks
see the same references: `crmctl.compat.field_refs.field_refs` (field paths and CEL expressions),
`crmctl.compat.references.id_uses` (steps, groups, states, transitions, events, roles, ...), and
`crmctl.model.cel.field_uses` (the fields a CEL expression reads, resolved as renames resolve them). Localization
keys (`Lead.email`, `step.personal`), `message` keys and the step and role ids CEL compares the `step` and `role`
context variables with (`step == 'review'`, `crmctl.model.cel.compared_literals`) are read here.

A symbol is identified by its key, a tuple `(kind, *scope, name)`: `("field", "Lead", "address", "city")`,
`("step", "Lead", "personal")`, `("state", "leadLifecycle", "new")`, `("rule", "showCompanySize")`; an alias is
`("alias", entity, *field path, alias)`, a child of its field. Positions
are `Location`s (1-based line and column in characters, end exclusive) naming files as `SourceDoc.file` does.

Exact columns: the position of a name inside a YAML or JSON scalar is found by aligning the scalar's value with
its source text (plain, quoted, folded and literal scalars alike). Where the alignment fails (an escape sequence
spelling the name, which no package writes in practice), the reference is kept with the span of the whole scalar
and `exact=False`; rename refuses to edit such a reference rather than guess.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmctl.compat.field_refs import entity_of, field_refs
from crmctl.compat.references import id_uses
from crmctl.compat.ui_diff import form_base
from crmctl.model.cel import Renamed, compared_literals, field_uses, shape_tree
from crmctl.model.diagnostics import Location
from crmctl.model.fields import ArrayField, ObjectField
from crmctl.model.scalar_spans import ScalarSpans

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath, SourceDoc

__all__ = ["Reference", "Symbol", "SymbolIndex", "SymbolKey", "build_index", "index_for"]

SymbolKey = tuple[str, ...]


@dataclass(frozen=True)
class Symbol:
    """One definition. `name` is the symbol's own name (`city` for `Lead.address.city`), `container` what holds it
    (`Lead.address`, a workflow id, a form) or None at the top, `name_span` the exact span of the name (the key of
    a field or state, the value of a step's `id`), `body_span` the whole definition (name included), `parent` the
    key of the enclosing symbol (the outline's tree), `kind_doc` the artifact kind of its document (`schema`,
    `localization/en`) and `detail` a short description (a field's type)."""

    key: SymbolKey
    kind: str
    name: str
    container: str | None
    name_span: Location
    body_span: Location
    parent: SymbolKey | None = None
    kind_doc: str = ""
    detail: str = ""

    @property
    def qualified(self) -> str:
        """The name with its container: `Lead.address.city`, `leadLifecycle.new`, `showCompanySize`."""
        return f"{self.container}.{self.name}" if self.container else self.name


@dataclass(frozen=True)
class Reference:
    """One place naming a symbol. `span` covers exactly the name (one dotted part of a field path, one identifier
    of a CEL expression, the field part of a `Lead.email` label key); when `exact` is False the name's columns
    could not be determined and `span` is the whole scalar. `cel` marks identifiers inside CEL expressions;
    `doc` is the artifact kind of the document, `json_path` the value (or key, when `is_key`) holding the name."""

    key: SymbolKey
    span: Location
    doc: str
    json_path: JsonPath
    exact: bool = True
    cel: bool = False
    is_key: bool = False


@dataclass
class SymbolIndex:
    """Definitions and references of one package. Build it with `build_index` (or the cached `index_for`)."""

    package: Package
    symbols: list[Symbol] = field(default_factory=list)
    definitions: dict[SymbolKey, list[Symbol]] = field(default_factory=dict)
    references: dict[SymbolKey, list[Reference]] = field(default_factory=dict)
    _seen: set[tuple[SymbolKey, Location]] = field(default_factory=set, repr=False)

    def add_symbol(self, symbol: Symbol) -> None:
        self.symbols.append(symbol)
        self.definitions.setdefault(symbol.key, []).append(symbol)

    def add_reference(self, ref: Reference) -> None:
        seen = (ref.key, ref.span)
        if seen not in self._seen:
            self._seen.add(seen)
            self.references.setdefault(ref.key, []).append(ref)

    def at(self, file: str, line: int, column: int) -> tuple[SymbolKey, Location, Symbol | Reference] | None:
        """The symbol whose name (in a definition or a reference) is under the 1-based position, with the span of
        that name and the definition or reference found there; a cursor just past a name is still on it. The
        innermost (shortest) name wins."""
        best: tuple[SymbolKey, Location, Symbol | Reference] | None = None
        for key, span, what in self._named(file):
            if _within(span, line, column) and (best is None or _width(span) < _width(best[1])):
                best = (key, span, what)
        return best

    def _named(self, file: str) -> Iterator[tuple[SymbolKey, Location, Symbol | Reference]]:
        for symbol in self.symbols:
            if symbol.name_span.file == file:
                yield symbol.key, symbol.name_span, symbol
        for key, refs in self.references.items():
            for ref in refs:
                if ref.span.file == file:
                    yield key, ref.span, ref

    def in_file(self, file: str) -> list[Symbol]:
        """The definitions of one file, in document order."""
        return sorted((s for s in self.symbols if s.name_span.file == file), key=lambda s: _start(s.name_span))


def _start(span: Location) -> tuple[int, int]:
    return span.line, span.column


def _within(span: Location, line: int, column: int) -> bool:
    end = (span.end_line or span.line, span.end_column or span.column)
    return (span.line, span.column) <= (line, column) <= end


def _width(span: Location) -> tuple[int, int]:
    return (span.end_line or span.line) - span.line, (span.end_column or span.column) - span.column


_CACHE: dict[int, tuple[weakref.ref[Package], SymbolIndex]] = {}


def index_for(package: Package) -> SymbolIndex:
    """The index of `package`, built once per loaded package object (a package is not changed once loaded; an
    edited buffer is a new package)."""
    hit = _CACHE.get(id(package))
    if hit is not None and hit[0]() is package:
        return hit[1]
    index = build_index(package)
    _CACHE[id(package)] = (weakref.ref(package, lambda _: _CACHE.pop(id(package), None)), index)
    return index


def build_index(package: Package) -> SymbolIndex:
    """Every definition and reference of `package`. Artifacts that failed to load contribute nothing."""
    builder = _Builder(package)
    builder.run()
    return builder.index


# --- exact spans inside scalars ------------------------------------------------------------------------------

_CONTEXT_IDS = frozenset({"step", "role"})


def _body(doc: SourceDoc, path: JsonPath, name_span: Location) -> Location:
    """From the name to the end of the value at `path`."""
    value = doc.span(path)
    start = min(_start(name_span), _start(value))
    return Location(doc.file, start[0], start[1], value.end_line, value.end_column)


def _item_members(fdef: FieldDef) -> tuple[Mapping[str, FieldDef], JsonPath] | None:
    """The members of an object field, or of the (nested) items of a list of objects, with their relative path."""
    rel: JsonPath = ()
    while isinstance(fdef, ArrayField):
        fdef, rel = fdef.items, (*rel, "items")
    return (fdef.fields, (*rel, "fields")) if isinstance(fdef, ObjectField) else None


# --- the builder ---------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, package: Package) -> None:
        self.package = package
        self.index = SymbolIndex(package)
        self.spans = ScalarSpans()
        self._trees: dict[str, dict[str, Renamed]] = {}

    def run(self) -> None:
        self._schema()
        self._ui()
        self._rules_and_validations()
        self._workflows()
        self._events_and_roles()
        self._messages()
        self._field_references()
        self._id_references()
        self._locale_references()

    # definitions

    def define(
        self,
        kind_doc: str,
        key: SymbolKey,
        name_path: JsonPath,
        body_path: JsonPath,
        *,
        by_key: bool,
        container: str | None,
        parent: SymbolKey | None,
        detail: str = "",
    ) -> None:
        doc = self.package.docs[kind_doc]  # a loaded model always has its document
        name_span, _ = self.spans.name(doc, name_path, key[-1], key=by_key)
        body = _body(doc, body_path, name_span)
        self.index.add_symbol(Symbol(key, key[0], key[-1], container, name_span, body, parent, kind_doc, detail))

    def _schema(self) -> None:
        schema = self.package.schema
        if schema is None:
            return
        for ename, entity in schema.entities.items():
            jp: JsonPath = ("entities", ename)
            self.define("schema", ("entity", ename), jp, jp, by_key=True, container=None, parent=None)
            self._fields(ename, entity.fields, (*jp, "fields"), (), ("entity", ename))

    def _fields(
        self, ename: str, fields: Mapping[str, FieldDef], base: JsonPath, prefix: tuple[str, ...], parent: SymbolKey
    ) -> None:
        for fname, fdef in fields.items():
            jp = (*base, fname)
            key = ("field", ename, *prefix, fname)
            container = ".".join((ename, *prefix))
            self.define("schema", key, jp, jp, by_key=True, container=container, parent=parent, detail=fdef.type)
            for a, alias in enumerate(fdef.aliases):
                ap: JsonPath = (*jp, "aliases", a)
                qualified = ".".join((ename, *prefix, fname))
                self.define("schema", ("alias", *key[1:], alias), ap, ap, by_key=False, container=qualified, parent=key)
            members = _item_members(fdef)
            if members is not None:
                self._fields(ename, members[0], (*jp, *members[1]), (*prefix, fname), key)

    def _ui(self) -> None:
        ui = self.package.ui
        if ui is None:
            return
        for fname, form in ui.all_forms().items():
            base = form_base(fname)
            ent = entity_of(self.package, form.entity) or ""
            form_key: SymbolKey | None = None
            if base:
                form_key = ("form", fname)
                self.define("ui", form_key, base, base, by_key=True, container=None, parent=None)
            for i, step in enumerate(form.steps):
                sp: JsonPath = (*base, "steps", i)
                step_key = ("step", ent, step.id)
                self.define("ui", step_key, (*sp, "id"), sp, by_key=False, container=fname, parent=form_key)
                for g, group in enumerate(step.groups):
                    gp: JsonPath = (*sp, "groups", g)
                    self.define(
                        "ui",
                        ("group", ent, group.id),
                        (*gp, "id"),
                        gp,
                        by_key=False,
                        container=step.id,
                        parent=step_key,
                    )

    def _rules_and_validations(self) -> None:
        for i, rule in enumerate(self.package.rules.rules if self.package.rules else []):
            jp: JsonPath = ("rules", i)
            self.define("rules", ("rule", rule.id), (*jp, "id"), jp, by_key=False, container=None, parent=None)
        for i, val in enumerate(self.package.validations.validations if self.package.validations else []):
            jp = ("validations", i)
            self.define(
                "validations", ("validation", val.id), (*jp, "id"), jp, by_key=False, container=None, parent=None
            )

    def _workflows(self) -> None:
        for w, wf in enumerate(self.package.workflow.workflows if self.package.workflow else []):
            base: JsonPath = ("workflows", w)
            wkey = ("workflow", wf.id)
            self.define("workflow", wkey, (*base, "id"), base, by_key=False, container=None, parent=None)
            for name in wf.calendars:
                jp: JsonPath = (*base, "calendars", name)
                self.define("workflow", ("calendar", wf.id, name), jp, jp, by_key=True, container=wf.id, parent=wkey)
            for state, sdef in wf.states.items():
                jp = (*base, "states", state)
                skey = ("state", wf.id, state)
                self.define("workflow", skey, jp, jp, by_key=True, container=wf.id, parent=wkey)
                if sdef.task is not None:
                    tp: JsonPath = (*jp, "task")
                    self.define(
                        "workflow",
                        ("task", wf.id, sdef.task.id),
                        (*tp, "id"),
                        tp,
                        by_key=False,
                        container=wf.id,
                        parent=skey,
                    )
            for k, tr in enumerate(wf.transitions):
                jp = (*base, "transitions", k)
                self.define(
                    "workflow",
                    ("transition", wf.id, tr.id),
                    (*jp, "id"),
                    jp,
                    by_key=False,
                    container=wf.id,
                    parent=wkey,
                )
            for m, timer in enumerate(wf.timers):
                jp = (*base, "timers", m)
                self.define(
                    "workflow", ("timer", wf.id, timer.id), (*jp, "id"), jp, by_key=False, container=wf.id, parent=wkey
                )

    def _events_and_roles(self) -> None:
        for name in self.package.events.events if self.package.events else {}:
            jp: JsonPath = ("events", name)
            self.define("events", ("event", name), jp, jp, by_key=True, container=None, parent=None)
        for i, role in enumerate(self.package.manifest.roles if self.package.manifest else []):
            jp = ("roles", i)
            self.define("package", ("role", role), jp, jp, by_key=False, container=None, parent=None)

    def _messages(self) -> None:
        for locale, loc in sorted(self.package.localization.items()):
            for section, kind in (("messages", "message"), ("plurals", "plural")):
                for key in getattr(loc, section):
                    jp: JsonPath = (section, key)
                    self.define(f"localization/{locale}", (kind, key), jp, jp, by_key=True, container=None, parent=None)

    # references

    def refer(
        self,
        kind_doc: str,
        key: SymbolKey,
        path: JsonPath,
        value: str,
        offset: int = 0,
        length: int | None = None,
        *,
        is_key: bool = False,
        cel: bool = False,
    ) -> None:
        doc = self.package.docs[kind_doc]
        span, exact = self.spans.name(doc, path, value, offset, length, key=is_key)
        self.index.add_reference(Reference(key, span, kind_doc, path, exact, cel, is_key))

    def _tree(self, entity: str) -> dict[str, Renamed]:
        tree = self._trees.get(entity)
        if tree is None:
            schema = self.package.schema
            fields = schema.entities[entity].fields if schema and entity in schema.entities else {}
            tree = self._trees[entity] = shape_tree(fields)
        return tree

    def _field_path(self, kind_doc: str, entity: str, path: JsonPath, value: str, start: int, *, is_key: bool) -> None:
        """References to each part of the dotted field path `value[start:]` that resolves (`value` is the whole
        scalar or key: a path, or a `Lead.address.city` label key)."""
        members: Mapping[str, Renamed] = self._tree(entity)
        offset, parts = start, []
        for part in value[start:].split("."):
            node = members.get(part)
            if node is None:
                return
            parts.append(part)
            self.refer(kind_doc, ("field", entity, *parts), path, value, offset, len(part), is_key=is_key)
            members = node.members
            offset += len(part) + 1

    def _field_references(self) -> None:
        for ref in field_refs(self.package):
            if ref.entity is None:
                continue
            if ref.cel:
                self._compared(ref.doc, ref.entity, ref.json_path, ref.text)
                for use in field_uses(ref.text, self._tree(ref.entity)):
                    self.refer(
                        ref.doc,
                        ("field", ref.entity, *use.path),
                        ref.json_path,
                        ref.text,
                        use.offset,
                        use.length,
                        cel=True,
                    )
            else:
                self._field_path(ref.doc, ref.entity, ref.json_path, ref.text, 0, is_key=ref.is_key)

    def _compared(self, kind_doc: str, entity: str, path: JsonPath, text: str) -> None:
        """`step == 'review'`, `role in ['salesRep']`: the context variables compared with a step or role id (unless
        the entity has a field of that name, which the expression then reads instead)."""
        variables = _CONTEXT_IDS - set(self._tree(entity))
        for lit in compared_literals(text, variables) if variables else []:
            key = ("step", entity, lit.value) if lit.variable == "step" else ("role", lit.value)
            if key in self.index.definitions:
                self.refer(kind_doc, key, path, text, lit.offset, lit.length, cel=True)

    def _id_references(self) -> None:
        transitions: dict[str, list[str]] = {}
        for wf in self.package.workflow.workflows if self.package.workflow else []:
            transitions.setdefault(entity_of(self.package, wf.entity) or "", []).append(wf.id)
        for use in id_uses(self.package):
            target = use.target
            if target[0] == "entity-transition":
                owners = [
                    w for w in transitions.get(target[1], []) if ("transition", w, target[2]) in self.index.definitions
                ]
                keys: list[SymbolKey] = [("transition", w, target[2]) for w in owners]
            else:
                keys = [target]
            for key in keys:
                self.refer(use.doc, key, use.json_path, target[-1], is_key=use.is_key)
        for i, rule in enumerate(self.package.rules.rules if self.package.rules else []):
            if rule.message is not None:
                self.refer("rules", ("message", rule.message), ("rules", i, "message"), rule.message)
        for i, val in enumerate(self.package.validations.validations if self.package.validations else []):
            self.refer("validations", ("message", val.message), ("validations", i, "message"), val.message)

    def _locale_references(self) -> None:
        steps: dict[str, list[SymbolKey]] = {}
        for defined in self.index.definitions:
            if defined[0] == "step":
                steps.setdefault(defined[2], []).append(defined)
        schema = self.package.schema
        entities = schema.entities if schema else {}
        for locale, loc in sorted(self.package.localization.items()):
            kind_doc = f"localization/{locale}"
            for section, keys in (("labels", loc.labels), ("picklists", loc.picklists)):
                for key in keys:
                    head, _, rest = key.partition(".")
                    if head in entities and rest:
                        self._field_path(kind_doc, head, (section, key), key, len(head) + 1, is_key=True)
                    elif head == "step" and rest and section == "labels":
                        for step in steps.get(rest, []):
                            self.refer(kind_doc, step, (section, key), key, len(head) + 1, len(rest), is_key=True)
