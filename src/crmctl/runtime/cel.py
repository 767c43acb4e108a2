"""CEL evaluation at run time: compile once per package version, evaluate many times.

A `CompiledProgram` holds every expression of one entity of one package version (calculated fields, rules,
validations, workflow guards), compiled and type-checked once against the same variables lint checks them
with (`model.cel.CelChecker`): the entity's fields plus `step`, `role`, `now` and `locale`. Programs are cached
by (package digest, entity), so a second build of the same version is free.

Evaluation is pure: the clock (`now`) is part of the injected `Context`, and nothing reads the wall clock,
randomness, the environment or files. Every evaluation is bounded: by the compile-time limits shared with lint
(`MAX_EXPRESSION_TOKENS`, `MAX_COMPREHENSION_NESTING`), the input guards of `runtime.values` (`MAX_LIST_ITEMS`
per list, `MAX_TEXT` per string), the C++ runtime's budget of `ITERATION_BUDGET` comprehension iterations per
evaluation, and two checks before evaluating, both on the checked expression (`model.cel_cost`): a map or filter
that could run over more than `MAX_ACCUMULATED_ITEMS` items is refused (they build their lists in O(n²)), counting
the items of the range the expression builds (a concatenation, a list inside an object), and so is an evaluation
that could allocate, copy or scan more than `COST_BUDGET` bytes for the sizes of its actual inputs (concatenations
repeated per item, or of large values, and the appends of all its map and filter macros). Exceeding a bound is a
`RuntimeCostError` naming the expression, never a hang or an exhausted memory.
"""

from __future__ import annotations

import functools
import operator
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from crmctl.errors import UserError
from crmctl.model import cel_cost
from crmctl.model.aliases import Renamer, renamer_for
from crmctl.model.canonical import digest as package_digest
from crmctl.model.cel import (
    CONTEXT_VARIABLES,
    MAX_COMPREHENSION_NESTING,
    MAX_EXPRESSION_TOKENS,
    CelChecker,
    expression_cost,
)
from crmctl.model.defaults import DefaultFiller, filler_for
from crmctl.model.fields import CalculatedField
from crmctl.runtime.values import (
    MAX_LIST_ITEMS,
    MAX_TEXT,
    ValueSizeError,
    ValueTypeError,
    format_duration,
    format_timestamp,
    from_cel,
    to_cel,
    zero_value,
)

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef, SchemaArtifact
    from crmctl.model.package import Package

__all__ = [
    "COST_BUDGET",
    "ITERATION_BUDGET",
    "MAX_ACCUMULATED_ITEMS",
    "MAX_LIST_ITEMS",
    "MAX_TEXT",
    "CacheInfo",
    "CompileError",
    "CompiledProgram",
    "Context",
    "CostLimitError",
    "EvaluationError",
    "MissingValueError",
    "RuntimeCostError",
    "UnknownFieldError",
    "ValueSizeError",
    "ValueTypeError",
    "cache_info",
    "clear_cache",
    "entity_expressions",
    "from_cel",
    "program_for",
    "to_cel",
]


class CompileError(UserError):
    """An expression does not compile or type-check; the position is inside the expression (1-based)."""

    def __init__(self, expr_id: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{expr_id}:{line}:{column}: {message}")
        self.expr_id = expr_id
        self.line = line
        self.column = column
        self.detail = message


class CostLimitError(CompileError):
    """An expression is larger or nests more comprehensions than the runtime evaluates."""


class EvaluationError(UserError):
    """Evaluating an expression failed (division by zero, overflow, missing key or field, ...)."""

    def __init__(self, expr_id: str, message: str) -> None:
        super().__init__(f"{expr_id}: {message}")
        self.expr_id = expr_id
        self.detail = message


class MissingValueError(EvaluationError):
    """An expression read a field or map key that has no value (an unset nested key, an unbound field)."""


class RuntimeCostError(EvaluationError):
    """An evaluation would exceed the runtime's cost bound (comprehension iterations, list building)."""


class UnknownFieldError(UserError):
    """A record carries a field its entity does not declare."""


@dataclass(frozen=True)
class Context:
    """What an expression sees besides the record: the step, the user's role, the injected clock, the locale."""

    step: str
    role: str
    now: datetime
    locale: str

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueTypeError("now", "a timezone-aware datetime", "a naive datetime")


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    expressions_compiled: int
    size: int


_CACHE_SIZE = 64
_CACHE: OrderedDict[tuple[str, str], CompiledProgram] = OrderedDict()
_STATS = {"hits": 0, "misses": 0, "compiled": 0}


def cache_info() -> CacheInfo:
    return CacheInfo(_STATS["hits"], _STATS["misses"], _STATS["compiled"], len(_CACHE))


def clear_cache() -> None:
    _CACHE.clear()
    _STATS.update(hits=0, misses=0, compiled=0)


@dataclass(frozen=True)
class CompiledProgram:
    """Every expression of one entity of one package version, compiled once and held by a stable id."""

    digest: str
    entity: str
    fields: Mapping[str, FieldDef]
    sources: Mapping[str, str]
    _programs: Mapping[str, Any] = field(repr=False)
    unbound: frozenset[str] = frozenset()  # declared fields CEL cannot name (reserved words, context names)
    native: Mapping[str, Callable[[Mapping[str, Any]], Any]] = field(default_factory=dict, repr=False)
    # Expressions that can pass COST_BUDGET or MAX_ACCUMULATED_ITEMS for large enough inputs: checked before each
    # evaluation.
    sized: Mapping[str, cel_cost.CheckedAst] = field(default_factory=dict, repr=False)
    # What `evaluate_bound` needs of each compiled expression, in one lookup (see `_Plan`).
    _plans: Mapping[str, _Plan] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, digest: str, schema: SchemaArtifact, entity: str, expressions: Mapping[str, str]) -> CompiledProgram:
        """Compile `expressions` (id → CEL source) over `entity`; cached by (digest, entity).

        The digest must identify the expressions too: it is the package digest when built by `program_for`.
        """
        key = (digest, entity)
        hit = _CACHE.get(key)
        if hit is not None:
            _STATS["hits"] += 1
            _CACHE.move_to_end(key)
            return hit
        _STATS["misses"] += 1
        if entity not in schema.entities:
            raise UnknownFieldError(f"unknown entity {entity!r}")
        checker = CelChecker.for_entity(schema, entity)
        env = checker.env()
        compiled = {expr_id: _compile(env, expr_id, source) for expr_id, source in sorted(expressions.items())}
        programs = {expr_id: program for expr_id, (program, _) in compiled.items()}
        entity_fields = {
            name: fdef
            for name, fdef in schema.entities[entity].fields.items()
            if name in checker.variables and name not in CONTEXT_VARIABLES
        }
        unbound = frozenset(schema.entities[entity].fields) - set(entity_fields)
        largest = {name: _largest(sig) for name, sig in checker.variables.items()}
        sized = {expr_id: checked for expr_id, (_, checked) in compiled.items() if _over(checked, largest)}
        native = {
            expr_id: fn
            for expr_id, source in expressions.items()
            if (fn := native_form(source, checker.variables)) is not None
        }
        plans = {
            expr_id: _Plan(expr, checked.names, *_plain(expr), sized.get(expr_id), native.get(expr_id))
            for expr_id, (expr, checked) in compiled.items()
        }
        program = cls(
            digest, entity, entity_fields, dict(sorted(expressions.items())), programs, unbound, native, sized, plans
        )
        _CACHE[key] = program
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return program

    @functools.cached_property
    def zeros(self) -> dict[str, Any]:
        """The zero value of every bound field (see `values.zero_value`)."""
        zeros = {name: zero_value(fdef) for name, fdef in self.fields.items()}
        return {name: zero for name, zero in zeros.items() if zero is not None}

    @functools.cached_property
    def fill(self) -> DefaultFiller | None:
        """The defaults of the bound fields, filled into a record before it is bound (None: no default)."""
        return filler_for(self.fields)

    @functools.cached_property
    def rename(self) -> Renamer | None:
        """The former names of the bound fields, read as their fields before a record is bound (None: none)."""
        return renamer_for(self.fields)

    def ids(self) -> list[str]:
        return list(self.sources)

    def bind(self, record: Mapping[str, Any], context: Context, *, zero_absent: bool = False) -> dict[str, Any]:
        """The variables of one evaluation: the context plus every present record field, converted once.

        A value under a former name of its field (`aliases`, at any depth: a record of an older version, e.g. a
        migrated workflow instance's) is the field's. A field without a value that declares a default reads the
        default (`model.defaults`). Other fields absent from the record (or null) are not bound, so an expression
        that reads one fails; with `zero_absent` they read as their type's zero value instead, as CEL reads unset
        proto3 fields (the form and record engines bind this way).
        """
        if self.rename is not None:
            record = self.rename(record)
        if self.fill is not None:
            record = self.fill(record)
        data: dict[str, Any] = dict(self.zeros) if zero_absent else {}
        data.update(step=context.step, role=context.role, now=context.now, locale=context.locale)
        for name, value in record.items():
            fdef = self.fields.get(name)
            if fdef is None:
                if name in self.unbound:
                    continue  # shadowed by a context variable or a reserved word, as at lint time
                raise UnknownFieldError(f"{self.entity} has no field {name!r}")
            if value is not None:
                data[name] = to_cel(value, fdef, name)
        return data

    def evaluate(self, expr_id: str, record: Mapping[str, Any], context: Context) -> Any:
        """The JSON-like value of expression `expr_id` over `record` in `context`."""
        return self.evaluate_bound(expr_id, self.bind(record, context))

    def evaluate_bound(self, expr_id: str, data: Mapping[str, Any]) -> Any:
        """Like `evaluate`, over variables already converted by `bind` (several rules, one record)."""
        plan = self._plans.get(expr_id)
        if plan is None:
            raise EvaluationError(expr_id, "no such expression in this program")
        program, names, plain, finish, checked, quick = plan
        if quick is not None:
            try:
                return quick(data)
            except KeyError as exc:
                raise MissingValueError(expr_id, f"field {exc.args[0]!r} has no value") from None
        if checked is not None:
            _check_cost(expr_id, checked, data)
        # Only the variables the expression reads: cel-expr-python converts every entry of the mapping it is given
        # on every call. Positional arguments: pybind11 takes keywords markedly slower.
        variables = {}
        for name in names:
            if name in data:
                variables[name] = data[name]
        try:
            result = program.eval(None, variables)
        except (RuntimeError, TypeError, ValueError) as exc:
            message = _clean(str(exc))
            if message.startswith("Iteration budget exceeded"):
                raise RuntimeCostError(expr_id, _BUDGET_MESSAGE) from None
            raise EvaluationError(expr_id, message) from None
        value = result.plain_value()
        if type(value) is plain:
            if finish is None:
                return value
            value = finish(value)
            if value is not _NOT_PLAIN:
                return value
        return _result(expr_id, result)


class _Plan(NamedTuple):
    """One compiled expression as `evaluate_bound` runs it."""

    program: Any  # the cel-expr-python `Expression`
    names: tuple[str, ...]  # the variables it reads (fields and context)
    plain: type | None  # the Python type of its results when its checked type has one (see `_plain`)
    finish: Callable[[Any], Any] | None  # that plain value as `from_cel` gives it (None: as it is)
    sized: cel_cost.CheckedAst | None  # set when its inputs are measured before evaluating (`sized`)
    native: Callable[[Mapping[str, Any]], Any] | None  # its `native_form`, if it has one


def _plain(program: Any) -> tuple[type | None, Callable[[Any], Any] | None]:
    """`_Plan.plain` and `_Plan.finish` of a compiled expression, from its checked type.

    A failed evaluation's plain value is its message, a str that starts with a status code ("INVALID_ARGUMENT: ")
    whatever the expression's type: a plain value of another Python type is a result, and so is a str without
    that prefix from a string expression; `_NOT_PLAIN` sends anything else through the full check (`_result`).
    """
    from cel_expr_python import cel

    checked = program.return_type()
    plains: tuple[tuple[Any, type, Callable[[Any], Any] | None], ...] = (
        (cel.Type.BOOL, bool, None),
        (cel.Type.INT, int, None),
        (cel.Type.UINT, int, None),
        (cel.Type.DOUBLE, float, None),
        (cel.Type.STRING, str, _text),
        (cel.Type.TIMESTAMP, datetime, format_timestamp),
        (cel.Type.DURATION, timedelta, format_duration),
    )
    for cel_type, plain, finish in plains:
        if checked == cel_type:
            return plain, finish
    return None, None


_NOT_PLAIN = object()


def _text(value: str) -> Any:
    return _NOT_PLAIN if _CODE_RE.match(value) else value


def _check_cost(expr_id: str, checked: cel_cost.CheckedAst, data: Mapping[str, Any]) -> None:
    """Refuse an evaluation of a `sized` expression that would pass a bound for the sizes of these inputs."""
    sizes = {name: cel_cost.value_size(data[name]) for name in checked.names if name in data}
    largest, copied = checked.lists(sizes, ITERATION_BUDGET)
    if largest > MAX_ACCUMULATED_ITEMS:
        raise RuntimeCostError(
            expr_id,
            f"map/filter over {largest} items exceeds the runtime's cost bound "
            f"of {MAX_ACCUMULATED_ITEMS} items per collection",
        )
    work = checked.cost(sizes, ITERATION_BUDGET) + copied
    if work > COST_BUDGET:
        raise RuntimeCostError(
            expr_id,
            f"for these values the evaluation could allocate or scan "
            f"{work / _MIB:,.0f} MiB, past the runtime's cost bound of "
            f"{COST_BUDGET // _MIB} MiB per evaluation",
        )


def _result(expr_id: str, result: Any) -> Any:
    """The JSON-like value of an evaluation's result, or the error it stands for."""
    if result.type() in _failed_types():
        message = _clean(str(result.value()))
        if message.startswith("Iteration budget exceeded"):
            raise RuntimeCostError(expr_id, _BUDGET_MESSAGE)
        if message.startswith(_MISSING_PREFIXES) or message.endswith("has no value"):
            raise MissingValueError(expr_id, message)
        raise EvaluationError(expr_id, message)
    return from_cel(result.plain_value())


_FAILED: list[Any] = []


# A field compared with a literal of its own type (`company != ''`, `companySize < 10`, `score >= 50.0`, `vip`,
# `!vip`): most rules and conditions are this simple. The C++ runtime takes ~4 µs per call from Python, so these
# are answered in Python, with CEL's semantics for those types (the expression has already type-checked, and a
# differential test holds the two to the same answers).
_COMPARISON_RE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*"
    r"('[^'\\\n\r\x00]*'|\"[^\"\\\n\r\x00]*\"|-?[0-9]+\.[0-9]+|-?[0-9]+|true|false)\s*$"
)
_BOOL_RE = re.compile(r"^\s*(!?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def native_form(source: str, variables: Mapping[str, str]) -> Callable[[Mapping[str, Any]], Any] | None:
    """A Python function equal to `source` for the simplest expressions, None for everything else."""
    simple = _BOOL_RE.match(source)
    if simple is not None:
        negate, name = simple.groups()
        if variables.get(name) != "bool":
            return None
        if negate:
            return lambda data: not data[name]
        return lambda data: data[name]
    match = _COMPARISON_RE.match(source)
    if match is None:
        return None
    name, op, text = match.groups()
    kind = variables.get(name)
    literal: Any
    if text[0] in "'\"":
        literal, wanted = text[1:-1], "string"
    elif text in ("true", "false"):
        literal, wanted = text == "true", "bool"
    elif "." in text:
        literal, wanted = float(text), "double"
    else:
        literal, wanted = int(text), "int"
    if kind != wanted or (wanted == "bool" and op not in ("==", "!=")):
        return None
    compare = _OPERATORS[op]
    return lambda data: compare(data[name], literal)


def _failed_types() -> list[Any]:
    """The result types that mean the evaluation failed (looked up once: this is on the hot path)."""
    if not _FAILED:
        from cel_expr_python import cel

        _FAILED.extend((cel.Type.ERROR, cel.Type.UNKNOWN))
    return _FAILED


# cel-expr-python (the C++ runtime) stops any evaluation after this many comprehension iterations in total.
ITERATION_BUDGET = 10_000
# map/filter build their result by appending, which costs O(n²) in the C++ runtime (about 0.1 s at 2,000 items,
# 2 s at 10,000): refuse them over larger collections before starting instead of stalling.
MAX_ACCUMULATED_ITEMS = 2_000
_BUDGET_MESSAGE = f"comprehensions ran past {ITERATION_BUDGET:,} iterations, the runtime's cost bound per evaluation"
# Bytes one evaluation may allocate, copy or scan, as `CheckedAst.cost` bounds them for the actual inputs: the
# C++ runtime keeps every intermediate value until the evaluation ends, so this bounds its memory too.
COST_BUDGET = 64 * 1024 * 1024
_MIB = 1024 * 1024


def _largest(signature: str) -> tuple[int, int, int]:
    """`value_size` of the largest value a variable of this CEL type can hold after the input guards."""
    if signature == "string":
        return MAX_TEXT, 0, 0
    if signature.startswith("list("):
        item = _largest(signature[5:-1])
        return MAX_LIST_ITEMS * (item[0] + cel_cost.ELEMENT), MAX_LIST_ITEMS, max(item[1], item[2])
    if signature.startswith("map("):  # an object: nested fields, lists and texts of any size
        return MAX_LIST_ITEMS * (MAX_TEXT + cel_cost.ELEMENT), MAX_LIST_ITEMS, MAX_LIST_ITEMS
    return 0, 0, 0


def _over(checked: cel_cost.CheckedAst, largest: Mapping[str, tuple[int, int, int]]) -> bool:
    """Whether an evaluation of `checked` can pass a bound for some inputs the input guards admit."""
    items, copied = checked.lists(largest, ITERATION_BUDGET)
    return items > MAX_ACCUMULATED_ITEMS or checked.cost(largest, ITERATION_BUDGET) + copied > COST_BUDGET


_MISSING_PREFIXES = ("Key not found in map", "no such key")
_CODE_RE = re.compile(r"^[A-Z_]+: ")
_UNBOUND_RE = re.compile(r'No value with name "([^"]+)" found in Activation')


def _clean(message: str) -> str:
    message = _CODE_RE.sub("", message.strip().splitlines()[0] if message.strip() else "evaluation failed")
    unbound = _UNBOUND_RE.search(message)
    if unbound:
        return f"field {unbound.group(1)!r} has no value"
    return message


def _compile(env: Any, expr_id: str, source: str) -> tuple[Any, cel_cost.CheckedAst]:
    """The compiled expression and its checked AST; the size limit is checked on the text before compiling (it
    bounds the compiler's work too), the nesting limit on what was compiled."""
    size, _ = expression_cost(source)
    if size > MAX_EXPRESSION_TOKENS:
        raise CostLimitError(expr_id, 1, 1, f"expression has {size} tokens; the limit is {MAX_EXPRESSION_TOKENS}")
    try:
        compiled = env.compile(source)
    except RuntimeError as exc:
        from crmctl.model.cel import parse_errors

        first = parse_errors(str(exc))[0]
        raise CompileError(expr_id, first.line, first.column, first.message) from None
    checked = cel_cost.CheckedAst.of(compiled)
    if checked.nesting > MAX_COMPREHENSION_NESTING:
        raise CostLimitError(
            expr_id, 1, 1, f"comprehensions nest {checked.nesting} deep; the limit is {MAX_COMPREHENSION_NESTING}"
        )
    _STATS["compiled"] += 1
    return compiled, checked


def entity_expressions(package: Package, entity: str) -> dict[str, str]:
    """Every CEL expression of `entity` in `package`, by stable id."""
    return dict(_entity_expressions(package, entity))


def _entity_expressions(package: Package, entity: str) -> Iterator[tuple[str, str]]:
    schema = package.schema
    if schema is None or entity not in schema.entities:
        return
    single = len(schema.entities) == 1

    def mine(explicit: str | None) -> bool:
        return explicit == entity or (explicit is None and single)

    for name, fdef in schema.entities[entity].fields.items():
        if isinstance(fdef, CalculatedField):
            yield f"calc:{entity}.{name}", fdef.expression
    for rule in package.rules.rules if package.rules else []:
        if mine(rule.entity):
            if rule.when:
                yield f"rule:{rule.id}/when", rule.when
            if rule.expression:
                yield f"rule:{rule.id}/expression", rule.expression
    for check in package.validations.validations if package.validations else []:
        if mine(check.entity):
            if check.when:
                yield f"validation:{check.id}/when", check.when
            if check.expression:
                yield f"validation:{check.id}/expression", check.expression
    for flow in package.workflow.workflows if package.workflow else []:
        if mine(flow.entity):
            for transition in flow.transitions:
                if transition.guard:
                    yield f"guard:{flow.id}/{transition.id}", transition.guard


def program_for(package: Package, entity: str) -> CompiledProgram:
    """The compiled program of `entity` in `package`, built once per package digest."""
    if package.schema is None:
        raise UnknownFieldError(f"{package.name}: the package has no schema")
    key_digest = package_digest(package)
    hit = _CACHE.get((key_digest, entity))
    if hit is not None:  # skips collecting the expressions; otherwise the same hit as in `build`
        _STATS["hits"] += 1
        _CACHE.move_to_end((key_digest, entity))
        return hit
    return CompiledProgram.build(key_digest, package.schema, entity, entity_expressions(package, entity))
