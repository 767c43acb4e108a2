"""Which stored values each data-dependent change puts at risk: one `Probe` (a test over a record's data) per change.

A probe answers one question about one record, e.g. "does it lack a value for `Lead.phone`?". Field paths are the
semantic paths of `Change` (`Lead.address.city`, `Lead.lines[].sku`); a step is read under the field's name or
any of its aliases, and `[]` walks every item of a list. The tests mirror the runtime's checks (`runtime.checks`,
`runtime.values`) without importing the runtime plane; regex validations match through a compiler the caller
passes in (the CLI passes RE2's, which runs in time linear in the text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from crmctl.errors import UserError
from crmctl.model.defaults import filler_for
from crmctl.model.field_checks import FIELD_CHECKS, refuses
from crmctl.model.fields import ArrayField, ObjectField, is_blank, number_digits

if TYPE_CHECKING:
    from crmctl.compat.change import Change
    from crmctl.compat.classify import DiffResult
    from crmctl.model.artifacts import Validation
    from crmctl.model.package import Package

__all__ = ["PatternCompiler", "PatternMatcher", "Probe", "is_blank", "number_digits", "plan_probes"]

Test = Callable[[Mapping[str, Any]], bool]
_Step = tuple[tuple[str, ...], bool]  # the keys a field may be stored under, and whether to walk list items

_CARRY = frozenset(
    {
        "field-removed",
        "field-renamed-without-alias",
        "field-type-changed",
        "reference-target-changed",
        "currency-changed",
        "array-items-type-changed",
    }
)
_REQUIRED = frozenset({"field-made-required", "required-field-added"})
_DEFAULTED = frozenset({"default-removed", "default-changed"})  # hit records without a value: they read the default
_VALIDATION = frozenset({"hard-validation-added", "validation-hardened", "validation-narrowed", "validation-changed"})


class PatternMatcher(Protocol):
    def fullmatch(self, text: str) -> bool: ...


PatternCompiler = Callable[[str], PatternMatcher]


@dataclass(frozen=True)
class Probe:
    """The question one change asks of the stored records of `entity`; `test` is None when it cannot be answered
    from the data alone (`note` says why)."""

    change: Change
    entity: str
    question: str
    test: Test | None
    note: str | None = None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _steps(path: str, *pkgs: Package) -> tuple[str, list[_Step]] | None:
    """Resolve `Entity.a.b[]` against the schemas of `pkgs` (the first names the path; the others may have known
    a part under a former name): each step reads the field's name and every alias any of them gives it. None when
    no schema has the entity."""
    entity, _, rest = path.partition(".")
    sides: list[Mapping[str, Any] | None] = [
        pkg.schema.entities[entity].fields for pkg in pkgs if pkg.schema is not None and entity in pkg.schema.entities
    ]
    if not sides or not rest:
        return None
    steps: list[_Step] = []
    for part in rest.split("."):
        each = part.endswith("[]")
        keys = [part[:-2] if each else part]
        found: list[Any] = [None] * len(sides)
        while True:  # until no side finds its field under a name another side gave: at most once per side
            more = [
                (i, fdef)
                for i, fields in enumerate(sides)
                if found[i] is None
                and fields is not None
                and (fdef := next((fields[k] for k in keys if k in fields), None)) is not None
            ]
            if not more:
                break
            for i, fdef in more:
                found[i] = fdef
                keys += [a for a in fdef.aliases if a not in keys]
        steps.append((tuple(keys), each))
        inners = [fdef.items if each and isinstance(fdef, ArrayField) else fdef for fdef in found]
        sides = [inner.fields if isinstance(inner, ObjectField) else None for inner in inners]
    return entity, steps


def _leaves(node: Any, steps: Sequence[_Step]) -> Iterator[Any]:
    """Every value at the end of `steps` (None where the last field is absent); nothing below a missing object."""
    if not steps:
        yield node
        return
    if not isinstance(node, Mapping):
        return
    (keys, each), rest = steps[0], steps[1:]
    value = next((node[k] for k in keys if node.get(k) is not None), None)
    if each:
        for item in value if isinstance(value, list) else ():
            yield from _leaves(item, rest)
    elif rest:
        yield from _leaves(value, rest)
    else:
        yield value


def _any_leaf(steps: Sequence[_Step], hit: Callable[[Any], bool]) -> Test:
    return lambda data: any(hit(v) for v in _leaves(data, steps))


def _field_probe(result: DiffResult, change: Change) -> Probe | None:
    kind, path = change.kind.id, change.path
    # A path names the field as the version that has it does: the old one for what it carries or lost, else the new.
    old_side = kind in _CARRY or kind in ("alias-removed", "enum-value-removed")
    resolved = _steps(path, result.old, result.new) if old_side else _steps(path, result.new, result.old)
    if resolved is None:
        return None
    entity, steps = resolved
    fdef = _field_def(result.new, path)
    question: str
    hit: Callable[[Any], bool]
    if kind in _REQUIRED and getattr(fdef, "default", None) is not None:  # a missing value reads the default
        question, hit = "hold an empty value", lambda v: v is not None and is_blank(v)
    elif kind in _REQUIRED:
        question, hit = "lack a value", is_blank
    elif kind in _DEFAULTED:
        question, hit = "have no value (they read the default)", lambda v: v is None
    elif kind in _CARRY:
        question, hit = "carry a value", lambda v: not is_blank(v)
    elif kind == "alias-removed":
        alias = _quoted(change.message, "alias ")
        if alias is None:
            return None
        question = f"store it under {alias!r}"
        steps = [*steps[:-1], ((alias,), steps[-1][1])]
        hit = lambda v: not is_blank(v)  # noqa: E731
    elif kind == "enum-value-removed":
        value = _quoted(change.message, "value ")
        if value is None:
            return None
        question, hit = f"hold {value!r}", lambda v: v == value
    elif kind == "max-length-reduced" and fdef is not None:
        n = fdef.maxLength
        question, hit = f"hold more than {n:,} characters", lambda v: isinstance(v, str) and len(v) > n
    elif kind == "max-items-reduced" and fdef is not None:
        n = fdef.maxItems
        question, hit = f"hold more than {n:,} items", lambda v: isinstance(v, list) and len(v) > n
    elif kind == "number-made-integer":
        question, hit = "hold a fractional number", lambda v: isinstance(v, float) and not v.is_integer()
    elif kind == "precision-reduced" and fdef is not None:
        p = fdef.precision
        question, hit = f"hold more than {p} digits", lambda v: _number(v) and number_digits(v)[0] > p
    elif kind == "scale-reduced" and fdef is not None:
        s = fdef.scale
        question, hit = f"hold more than {s} decimals", lambda v: _number(v) and number_digits(v)[1] > s
    else:
        return None
    return Probe(change, entity, question, _any_leaf(steps, hit))


def _field_def(pkg: Package, path: str) -> Any:
    resolved = _steps(path, pkg)
    if resolved is None:
        return None
    entity, steps = resolved
    fields: Mapping[str, Any] | None = pkg.schema.entities[entity].fields if pkg.schema else None
    fdef: Any = None
    for keys, each in steps:
        fdef = fields.get(keys[0]) if fields is not None else None
        inner = fdef.items if each and isinstance(fdef, ArrayField) else fdef
        if each:
            fdef = inner
        fields = inner.fields if isinstance(inner, ObjectField) else None
    return fdef


def _quoted(message: str, prefix: str) -> str | None:
    """The `'x'` after `prefix` in a change message (`value 'lost' was removed from Lead.status`)."""
    import ast

    start = message.find(prefix)
    if start < 0:
        return None
    rest = message[start + len(prefix) :]
    quote = rest[:1]
    end = rest.find(quote, 1) if quote in ("'", '"') else -1
    if end < 0:
        return None
    value = ast.literal_eval(rest[: end + 1])
    return value if isinstance(value, str) else None


def _validation_probe(result: DiffResult, change: Change, compile_pattern: PatternCompiler | None) -> Probe | None:
    vid = change.path.removeprefix("validation:")
    validations = result.new.validations.validations if result.new.validations else []
    val = next((v for v in validations if v.id == vid), None)
    if val is None:
        return None
    entities = list(result.new.schema.entities) if result.new.schema else []
    entity = val.entity or (entities[0] if len(entities) == 1 else None)
    if entity is None:
        return None
    question = f"would fail validation {vid}"
    test, note = _validation_test(result.new, entity, val, compile_pattern)
    return Probe(change, entity, question, test, note)


def _validation_test(
    pkg: Package, entity: str, val: Validation, compile_pattern: PatternCompiler | None
) -> tuple[Test | None, str | None]:
    if val.when:
        return None, "it applies only `when` a CEL condition holds, which needs the runtime; not counted"
    if val.type not in FIELD_CHECKS or not val.field:
        return None, f"{val.type} validations need the runtime; not counted"
    resolved = _steps(f"{entity}.{val.field}", pkg)
    steps = resolved[1] if resolved else [((part,), False) for part in val.field.split(".")]
    fullmatch = None
    if val.type == "regex":
        if compile_pattern is None:
            return None, "no regex engine was given; not counted"
        try:
            fullmatch = compile_pattern(val.pattern or "").fullmatch
        except UserError as error:
            return None, f"{error.message}; not counted"
    test = _any_leaf(steps, refuses(val.type, val.min, val.max, fullmatch))
    # The new version checks a record as it reads it: a field without a value has the new version's default.
    fill = filler_for(pkg.schema.entities[entity].fields) if resolved is not None and pkg.schema else None
    return (test if fill is None else lambda data: test(fill(data))), None


def plan_probes(result: DiffResult, compile_pattern: PatternCompiler | None = None) -> list[Probe]:
    """One probe per change whose impact the stored records can tell, in the order of `result.changes`."""
    probes: list[Probe] = []
    for change in result.changes:
        probe: Probe | None = None
        if change.kind.id == "entity-removed":
            probe = Probe(change, change.path, "are orphaned", lambda _: True)
        elif change.kind.id in _VALIDATION:
            probe = _validation_probe(result, change, compile_pattern)
        elif change.path.split(".", 1)[0] in (result.old.schema.entities if result.old.schema else {}):
            probe = _field_probe(result, change)
        if probe is not None:
            probes.append(probe)
    return probes
