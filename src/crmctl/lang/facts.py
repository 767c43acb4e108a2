"""What completion and hover know about a loaded package, computed once per package: the fields of each entity with
their CEL types, the names each kind of reference may take, which places use each field, and the functions CEL
offers. Nothing here depends on a cursor, so an editor pays for it once per load, not once per keystroke.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from crmctl.model.cel import CONTEXT_VARIABLES, DURATION, MACROS, TIMESTAMP, CelChecker, cel_type_of, referenced_names
from crmctl.model.fields import ArrayField, EnumField, ObjectField

if TYPE_CHECKING:
    from crmctl.compat.field_refs import FieldRef
    from crmctl.model.artifacts import Workflow
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = ["CelFunction", "FieldInfo", "PackageFacts", "cel_functions", "facts_for"]


@dataclass(frozen=True)
class FieldInfo:
    """One field of an entity as expressions and references see it: its dotted path, definition and CEL type."""

    entity: str
    path: str
    definition: FieldDef
    cel_type: str


def _walk_fields(entity: str, fields: dict[str, FieldDef], prefix: str = "") -> list[FieldInfo]:
    out: list[FieldInfo] = []
    for name, fdef in fields.items():
        path = f"{prefix}{name}"
        out.append(FieldInfo(entity, path, fdef, cel_type_of(fdef)))
        inner: FieldDef = fdef
        while isinstance(inner, ArrayField):
            inner = inner.items
        if isinstance(inner, ObjectField):
            out.extend(_walk_fields(entity, dict(inner.fields), f"{path}."))
    return out


@dataclass
class PackageFacts:
    """Cursor-independent knowledge of one loaded package (see `facts_for`)."""

    package: Package
    fields: dict[str, dict[str, FieldInfo]] = field(default_factory=dict)  # entity -> dotted path -> info
    variables: dict[str, dict[str, str]] = field(default_factory=dict)  # entity -> CEL variable -> type
    # Values the language services derive from these facts and keep with them (e.g. prebuilt completion items).
    derived: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        schema = self.package.schema
        for name, entity in (schema.entities if schema else {}).items():
            self.fields[name] = {info.path: info for info in _walk_fields(name, dict(entity.fields))}
            self.variables[name] = CelChecker.for_entity(schema, name).variables

    @property
    def entities(self) -> list[str]:
        return list(self.fields)

    def entity(self, explicit: str | None) -> str | None:
        """The entity an artifact reads: the explicit one when it exists, else the package's only entity."""
        if explicit:
            return explicit if explicit in self.fields else None
        return next(iter(self.fields)) if len(self.fields) == 1 else None

    def field(self, entity: str | None, path: str) -> FieldInfo | None:
        return self.fields.get(entity or "", {}).get(path)

    @cached_property
    def roles(self) -> list[str]:
        return list(self.package.manifest.roles) if self.package.manifest else []

    @cached_property
    def locales(self) -> list[str]:
        return list(self.package.manifest.locales) if self.package.manifest else []

    @cached_property
    def steps(self) -> list[str]:
        forms = self.package.ui.all_forms() if self.package.ui else {}
        return list(dict.fromkeys(step.id for form in forms.values() for step in form.steps))

    @cached_property
    def groups(self) -> list[str]:
        forms = self.package.ui.all_forms() if self.package.ui else {}
        return list(dict.fromkeys(g.id for form in forms.values() for step in form.steps for g in step.groups))

    def _workflows(self, index: int | None) -> list[Workflow]:
        flows = list(self.package.workflow.workflows) if self.package.workflow else []
        if index is not None and 0 <= index < len(flows):
            return [flows[index]]
        return flows

    def states(self, workflow: int | None) -> list[str]:
        return list(dict.fromkeys(s for flow in self._workflows(workflow) for s in flow.states))

    def transitions(self, workflow: int | None) -> list[str]:
        return list(dict.fromkeys(t.id for flow in self._workflows(workflow) for t in flow.transitions))

    def calendars(self, workflow: int | None) -> list[str]:
        return list(dict.fromkeys(c for flow in self._workflows(workflow) for c in flow.calendars))

    def tasks(self, workflow: int | None) -> list[str]:
        found: list[str] = []
        for flow in self._workflows(workflow):
            for state in flow.states.values():
                if state.task is not None and state.task.id not in found:
                    found.append(state.task.id)
        return found

    @cached_property
    def validations(self) -> list[str]:
        return [v.id for v in self.package.validations.validations] if self.package.validations else []

    @cached_property
    def events(self) -> list[str]:
        return list(self.package.events.events) if self.package.events else []

    @cached_property
    def messages(self) -> list[str]:
        """Message keys the package uses (validation and rule messages, task titles): what `messages` translates."""
        keys: list[str] = []
        if self.package.validations:
            keys += [v.message for v in self.package.validations.validations]
        if self.package.rules:
            keys += [r.message for r in self.package.rules.rules if r.message]
        for flow in self._workflows(None):
            for state in flow.states.values():
                if state.task is not None and state.task.title:
                    keys.append(state.task.title)
        for loc in self.package.localization.values():
            keys += list(loc.messages)
        return list(dict.fromkeys(keys))

    @cached_property
    def label_keys(self) -> list[str]:
        """The `labels` keys a locale should have: `Entity.field` for every field, `step.<id>` for every step."""
        keys = [f"{e}.{name}" for e, infos in self.fields.items() for name in infos if "." not in name]
        return keys + [f"step.{step}" for step in self.steps]

    @cached_property
    def picklist_keys(self) -> list[str]:
        return [
            f"{e}.{info.path}" for e, infos in self.fields.items() for info in infos.values() if _enum(info.definition)
        ]

    @cached_property
    def refs(self) -> list[FieldRef]:
        from crmctl.compat.field_refs import field_refs

        return field_refs(self.package)

    @cached_property
    def refs_at(self) -> dict[tuple[str, JsonPath, bool], FieldRef]:
        """Each reference by (artifact, JSON path, whether it is a key): a `set` entry's field is its key, the
        expression its value."""
        return {(ref.doc, ref.json_path, ref.is_key): ref for ref in reversed(self.refs)}

    @cached_property
    def usages(self) -> dict[tuple[str, str], list[str]]:
        """(entity, top-level field) → the places that use it (`rule:x`, `validation:y`, `ui:default.step:z`...)."""
        out: dict[tuple[str, str], list[str]] = {}
        for ref in self.refs:
            if ref.entity is None:
                continue
            names = referenced_names(ref.text) if ref.cel else {ref.text.split(".", 1)[0]}
            for name in sorted(names):
                places = out.setdefault((ref.entity, name), [])
                if ref.label not in places:
                    places.append(ref.label)
        return out


def _enum(fdef: FieldDef) -> EnumField | None:
    return fdef if isinstance(fdef, EnumField) else None


_FACTS: list[tuple[weakref.ref[Package], PackageFacts]] = []
_KEEP = 8


def facts_for(package: Package) -> PackageFacts:
    """The facts of `package`, computed on first use and kept while the package is alive (the last few packages
    are kept; a package is the same one only if it is the same object: a reload gives new facts)."""
    for ref, facts in _FACTS:
        if ref() is package:
            return facts
    facts = PackageFacts(package)
    _FACTS[:] = [(ref, f) for ref, f in _FACTS if ref() is not None][-(_KEEP - 1) :]
    _FACTS.append((weakref.ref(package), facts))
    return facts


# --- the CEL library --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CelFunction:
    """A function or macro of the CEL environment: its name, the receiver type it is called on (`None` for a global
    function), its signature and what it does."""

    name: str
    receiver: str | None
    signature: str
    doc: str
    macro: bool = False


_LIST, _MAP, _STRING = "list", "map", "string"
# The standard definitions of the CEL specification, each with an expression that calls it. `cel_functions` keeps
# those the crmctl environment compiles, so the list follows the environment (a test asserts it keeps them all).
_CANDIDATES: tuple[tuple[CelFunction, str], ...] = (
    (
        CelFunction("size", None, "size(list | map | string | bytes) -> int", "Number of elements or characters."),
        "size(s)",
    ),
    (CelFunction("size", _STRING, "string.size() -> int", "Number of characters."), "s.size()"),
    (CelFunction("size", _LIST, "list.size() -> int", "Number of elements."), "l.size()"),
    (CelFunction("size", _MAP, "map.size() -> int", "Number of entries."), "m.size()"),
    (
        CelFunction("contains", _STRING, "string.contains(string) -> bool", "Whether the text contains the other."),
        "s.contains('a')",
    ),
    (
        CelFunction(
            "startsWith", _STRING, "string.startsWith(string) -> bool", "Whether the text starts with the other."
        ),
        "s.startsWith('a')",
    ),
    (
        CelFunction("endsWith", _STRING, "string.endsWith(string) -> bool", "Whether the text ends with the other."),
        "s.endsWith('a')",
    ),
    (
        CelFunction(
            "matches",
            _STRING,
            "string.matches(string) -> bool",
            "Whether the text matches the RE2 pattern (anywhere in it).",
        ),
        "s.matches('a')",
    ),
    (
        CelFunction(
            "matches",
            None,
            "matches(string, string) -> bool",
            "Whether the text matches the RE2 pattern (anywhere in it).",
        ),
        "matches(s, 'a')",
    ),
    (CelFunction("int", None, "int(value) -> int", "Converts a number, text or timestamp to an integer."), "int(1.5)"),
    (CelFunction("uint", None, "uint(value) -> uint", "Converts to an unsigned integer."), "uint(1)"),
    (CelFunction("double", None, "double(value) -> double", "Converts a number or text to a double."), "double(1)"),
    (CelFunction("string", None, "string(value) -> string", "Converts a value to text."), "string(1)"),
    (CelFunction("bytes", None, "bytes(string) -> bytes", "The UTF-8 bytes of a text."), "bytes(s)"),
    (CelFunction("bool", None, "bool(string) -> bool", "Parses `true` or `false`."), "bool('true')"),
    (
        CelFunction("timestamp", None, "timestamp(string) -> google.protobuf.Timestamp", "Parses an RFC 3339 instant."),
        "timestamp('2026-01-01T00:00:00Z')",
    ),
    (
        CelFunction(
            "duration",
            None,
            "duration(string) -> google.protobuf.Duration",
            "Parses a duration such as `72h` or `30m`.",
        ),
        "duration('1h')",
    ),
    (CelFunction("dyn", None, "dyn(value) -> dyn", "The value with its type checked at run time only."), "dyn(1)"),
    (CelFunction("type", None, "type(value) -> type", "The type of a value."), "type(1)"),
    (CelFunction("getFullYear", TIMESTAMP, "timestamp.getFullYear([tz]) -> int", "The year."), "t.getFullYear()"),
    (
        CelFunction("getMonth", TIMESTAMP, "timestamp.getMonth([tz]) -> int", "The month, 0 for January."),
        "t.getMonth()",
    ),
    (
        CelFunction(
            "getDayOfMonth", TIMESTAMP, "timestamp.getDayOfMonth([tz]) -> int", "The day of the month, from 0."
        ),
        "t.getDayOfMonth()",
    ),
    (
        CelFunction("getDate", TIMESTAMP, "timestamp.getDate([tz]) -> int", "The day of the month, from 1."),
        "t.getDate()",
    ),
    (
        CelFunction(
            "getDayOfWeek", TIMESTAMP, "timestamp.getDayOfWeek([tz]) -> int", "The day of the week, 0 for Sunday."
        ),
        "t.getDayOfWeek()",
    ),
    (
        CelFunction("getDayOfYear", TIMESTAMP, "timestamp.getDayOfYear([tz]) -> int", "The day of the year, from 0."),
        "t.getDayOfYear()",
    ),
    (CelFunction("getHours", TIMESTAMP, "timestamp.getHours([tz]) -> int", "The hour."), "t.getHours()"),
    (CelFunction("getMinutes", TIMESTAMP, "timestamp.getMinutes([tz]) -> int", "The minute."), "t.getMinutes()"),
    (CelFunction("getSeconds", TIMESTAMP, "timestamp.getSeconds([tz]) -> int", "The second."), "t.getSeconds()"),
    (
        CelFunction("getMilliseconds", TIMESTAMP, "timestamp.getMilliseconds([tz]) -> int", "The millisecond."),
        "t.getMilliseconds()",
    ),
    (
        CelFunction("getHours", DURATION, "duration.getHours() -> int", "The whole hours of the duration."),
        "d.getHours()",
    ),
    (
        CelFunction("getMinutes", DURATION, "duration.getMinutes() -> int", "The whole minutes of the duration."),
        "d.getMinutes()",
    ),
    (
        CelFunction("getSeconds", DURATION, "duration.getSeconds() -> int", "The whole seconds of the duration."),
        "d.getSeconds()",
    ),
    (
        CelFunction(
            "getMilliseconds", DURATION, "duration.getMilliseconds() -> int", "The milliseconds of the duration."
        ),
        "d.getMilliseconds()",
    ),
)
_MACRO_DOCS = {
    "has": ("has(e.f) -> bool", "Whether the field `f` of `e` is set."),
    "all": ("list.all(x, predicate) -> bool", "Whether the predicate holds for every element."),
    "exists": ("list.exists(x, predicate) -> bool", "Whether the predicate holds for at least one element."),
    "exists_one": ("list.exists_one(x, predicate) -> bool", "Whether the predicate holds for exactly one element."),
    "map": ("list.map(x, expression) -> list", "The list of the expression's values for each element."),
    "filter": ("list.filter(x, predicate) -> list", "The elements for which the predicate holds."),
}
_PROBE_VARIABLES = {
    "s": "string",
    "t": TIMESTAMP,
    "d": DURATION,
    "l": "list(dyn)",
    "m": "map(string, dyn)",
}


@cache
def cel_functions() -> tuple[CelFunction, ...]:
    """The functions and macros of the environment expressions are checked and run in (the standard definitions
    it compiles; macros from `crmctl.model.cel.MACROS`, plus `has`)."""
    checker = CelChecker({**CONTEXT_VARIABLES, **_PROBE_VARIABLES})
    found = [fn for fn, probe in _CANDIDATES if checker.check(probe).ok]
    for name in ("has", *sorted(MACROS)):
        signature, doc = _MACRO_DOCS.get(name, (f"{name}(...)", ""))
        found.append(CelFunction(name, None if name == "has" else _LIST, signature, doc, macro=True))
    return tuple(found)


def receiver_kind(cel_type: str) -> str | None:
    """The receiver group (`string`, `list`, `map`, a timestamp or duration) a CEL type's methods come from."""
    if cel_type.startswith("list("):
        return _LIST
    if cel_type.startswith("map("):
        return _MAP
    return cel_type if cel_type in (_STRING, TIMESTAMP, DURATION) else None
