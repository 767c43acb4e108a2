"""A small adapter over CEL (cel-expr-python) for type-checking package expressions.

Rules, validations, calculated fields and workflow guards are CEL expressions over the fields of one entity.
`CelChecker` declares every field of the entity as a top-level variable (rules write `amount > 10.0`), plus
the context variables `step`, `role`, `now` and `locale`, and type-checks expressions against them. The CEL
library is imported lazily inside functions: it is only needed when an expression is actually checked.

Types are spelled as CEL spells them in signatures: `bool`, `int`, `double`, `string`,
`google.protobuf.Timestamp`, `list(string)`, `map(string, dyn)`.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmctl.model.diagnostics import Location
from crmctl.model.fields import (
    ArrayField,
    CalculatedField,
    EntityDef,
    NumberField,
    ObjectField,
    SchemaArtifact,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from crmctl.model.fields import FieldDef
    from crmctl.model.source import JsonPath, SourceDoc

__all__ = [
    "CEL_RESERVED",
    "CONTEXT_VARIABLES",
    "MACROS",
    "MAX_COMPREHENSION_NESTING",
    "MAX_EXPRESSION_TOKENS",
    "TIMESTAMP",
    "CelChecker",
    "CelIssue",
    "CheckResult",
    "ComparedLiteral",
    "FieldUse",
    "Renamed",
    "StringResult",
    "cel_type_of",
    "compared_literals",
    "expression_cost",
    "expression_location",
    "field_uses",
    "map_position",
    "referenced_names",
    "rename_references",
    "result_strings",
    "shape_tree",
    "token_spans",
]

TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"

# Reserved by the CEL language definition: the literals and `in`, plus words kept for future use.
CEL_RESERVED = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
CONTEXT_VARIABLES: dict[str, str] = {"step": "string", "role": "string", "now": TIMESTAMP, "locale": "string"}
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

_RESULT_TYPES = {
    "text": "string",
    "number": "double",
    "currency": "double",
    "boolean": "bool",
    "date": TIMESTAMP,
    "datetime": TIMESTAMP,
}
_SIMPLE_TYPES = {
    "text": "string",
    "enum": "string",
    "reference": "string",
    "file": "string",
    "currency": "double",
    "boolean": "bool",
    "date": TIMESTAMP,
    "datetime": TIMESTAMP,
}
_NUMERIC_HINT = "CEL has no implicit int/double conversion: write 10.0 or use double(x)"


def cel_type_of(field_def: FieldDef) -> str:
    """The CEL type a field is seen as by expressions."""
    if isinstance(field_def, NumberField):
        return "int" if field_def.integer else "double"
    if isinstance(field_def, CalculatedField):
        return _RESULT_TYPES[field_def.resultType]
    if isinstance(field_def, ObjectField):
        return "map(string, dyn)"
    if isinstance(field_def, ArrayField):
        return f"list({cel_type_of(field_def.items)})"
    return _SIMPLE_TYPES[field_def.type]


@dataclass(frozen=True)
class CelIssue:
    """One compiler finding, positioned inside the expression (1-based)."""

    line: int
    column: int
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    result_type: str = ""
    errors: tuple[CelIssue, ...] = ()


# Both caches are bounded, least recently used out: a language server checks every expression text typed and
# builds an environment for every schema edited, for hours. The lock makes them safe to share between the server's
# check thread and its request handlers; it is also held while compiling, since nothing documents cel-expr-python's
# environments as safe to use from two threads at once.
_CHECK_CACHE_SIZE = 8192
_ENV_CACHE_SIZE = 16
_CHECK_CACHE: OrderedDict[tuple[tuple[tuple[str, str], ...], str], CheckResult] = OrderedDict()
_ENV_CACHE: OrderedDict[tuple[tuple[str, str], ...], Any] = OrderedDict()
_CEL_LOCK = threading.RLock()


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)


@dataclass
class CelChecker:
    """Type-checks expressions against the variables of one entity; build once per (package, entity)."""

    variables: dict[str, str]
    signature: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        self.signature = tuple(sorted(self.variables.items()))

    @classmethod
    def for_entity(
        cls, schema: SchemaArtifact | None, entity: str | None, extra_vars: dict[str, str] | None = None
    ) -> CelChecker:
        variables = dict(CONTEXT_VARIABLES)
        entity_def: EntityDef | None = None
        if schema is not None and entity is not None:
            entity_def = schema.entities.get(entity)
        if entity_def is not None:
            for name, fdef in entity_def.fields.items():
                if name not in CEL_RESERVED:
                    variables[name] = cel_type_of(fdef)
        variables.update(extra_vars or {})
        return cls(variables)

    def check(self, expr: str) -> CheckResult:
        key = (self.signature, expr)
        with _CEL_LOCK:
            hit = _CHECK_CACHE.get(key)
            if hit is None:
                hit = self._compile(expr)
                _remember(_CHECK_CACHE, key, hit, _CHECK_CACHE_SIZE)
            else:
                _CHECK_CACHE.move_to_end(key)
            return hit

    def env(self) -> Any:
        """The cel-expr-python environment declaring these variables (one per signature, shared with the runtime)."""
        with _CEL_LOCK:
            env = _ENV_CACHE.get(self.signature)
            if env is None:
                from cel_expr_python import cel

                declared = {name: _to_cel_type(sig) for name, sig in self.signature}
                env = cel.NewEnv(variables=declared)
                _remember(_ENV_CACHE, self.signature, env, _ENV_CACHE_SIZE)
            else:
                _ENV_CACHE.move_to_end(self.signature)
            return env

    def _compile(self, expr: str) -> CheckResult:  # under _CEL_LOCK
        env = self.env()
        try:
            compiled = env.compile(expr)
        except RuntimeError as exc:
            return CheckResult(ok=False, errors=parse_errors(str(exc)))
        return CheckResult(ok=True, result_type=_type_name(compiled.return_type().name()))


_ERROR_RE = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")


def parse_errors(text: str) -> tuple[CelIssue, ...]:
    """Turn cel-expr-python's error text into issues: first line of each message, prefixes stripped."""
    issues: list[CelIssue] = []
    for match in _ERROR_RE.finditer(text):
        message = match.group(3).strip()
        message = re.sub(r"\s*\[INVALID_ARGUMENT\]$", "", message)
        message = message.replace(" (in container '')", "")
        if "'*error*'" in message and issues:
            continue  # a consequence of an earlier error, not a new problem
        hint = _NUMERIC_HINT if ("(double, int)" in message or "(int, double)" in message) else None
        issues.append(CelIssue(int(match.group(1)), int(match.group(2)), message, hint))
    if not issues:
        first = text.strip().splitlines()[0] if text.strip() else "invalid expression"
        issues.append(CelIssue(1, 1, re.sub(r"^[A-Z_]+: ", "", first)))
    return tuple(issues)


def _split_top(inner: str) -> list[str]:
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(inner):
        if ch in "(<":
            depth += 1
        elif ch in ")>":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def _to_cel_type(sig: str) -> Any:
    from cel_expr_python import cel

    simple = {
        "bool": cel.Type.BOOL,
        "int": cel.Type.INT,
        "uint": cel.Type.UINT,
        "double": cel.Type.DOUBLE,
        "string": cel.Type.STRING,
        "bytes": cel.Type.BYTES,
        "dyn": cel.Type.DYN,
        TIMESTAMP: cel.Type.TIMESTAMP,
        DURATION: cel.Type.DURATION,
    }
    if sig in simple:
        return simple[sig]
    if sig.startswith("list(") and sig.endswith(")"):
        return cel.Type.List(_to_cel_type(sig[5:-1]))
    if sig.startswith("map(") and sig.endswith(")"):
        key, value = _split_top(sig[4:-1])
        return cel.Type.Map(_to_cel_type(key), _to_cel_type(value))
    return cel.Type.DYN


def _type_name(native: str) -> str:
    """`LIST<MAP<STRING, DYN>>` → `list(map(string, dyn))`."""
    if "<" in native and native.endswith(">"):
        head, inner = native[:-1].split("<", 1)
        args = ", ".join(_type_name(part) for part in _split_top(inner))
        return f"{head.lower()}({args})"
    return {"TIMESTAMP": TIMESTAMP, "DURATION": DURATION}.get(native, native.lower())


# --- lexical analysis -------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<string>[rRbB]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
                          |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<number>0x[0-9a-fA-F]+u?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?u?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def token_spans(expr: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) of every token of `expr`; whitespace and comments are dropped."""
    return [(m.lastgroup or "other", m.group(), m.start()) for m in _TOKEN_RE.finditer(expr) if m.lastgroup != "ws"]


def _tokens(expr: str) -> list[tuple[str, str]]:
    return [(kind, text) for kind, text, _ in token_spans(expr)]


def referenced_names(expr: str) -> set[str]:
    """Top-level identifiers an expression reads (no members, functions, literals or comprehension vars)."""
    return _walk_references(_tokens(expr), {})[0]


def _in_map_literal_key(tokens: list[tuple[str, str]], i: int) -> bool:
    """`Msg{field: value}`: the field name is not a reference (a ternary `a ? b : c` is)."""
    prev = tokens[i - 1][1] if i > 0 else ""
    if prev not in ("{", ","):
        return False
    level = 0
    for kind, text in reversed(tokens[:i]):
        if kind != "op":
            continue
        if text in ")]}":
            level += 1
        elif text in "([{":
            if level == 0:
                return text == "{"
            level -= 1
    return False


# --- references: following renamed fields, and the string literals an expression yields -------------------


@dataclass(frozen=True)
class Renamed:
    """How a field is named in another version of its schema, and how its members are: the fields of an object,
    or for a list the members of its items; `lists` counts the list levels around those members."""

    name: str
    members: Mapping[str, Renamed] = field(default_factory=dict)
    lists: int = 0

    def element(self) -> Renamed:
        return Renamed(self.name, self.members, self.lists - 1)


def _walk_references(
    tokens: list[tuple[str, str]],
    renames: Mapping[str, Renamed],
    hits: dict[int, tuple[str, ...]] | None = None,
) -> tuple[set[str], dict[int, str]]:
    """The top-level names the tokens read and, for `renames`, the new text of every token that names a renamed
    field or member.

    Names resolve as CEL resolves them: members after `.`, function and macro names, literals, map-literal keys
    and comprehension variables are not fields. A reference is followed through `.member` and `['member']` into
    the members of object fields, through `[i]` into the items of lists, and a comprehension variable over a list
    of objects has the members of its items. `hits`, when given, receives the field path (top-level name first)
    of every token that names a field or member `renames` knows, by token index.
    """
    names: set[str] = set()
    edits: dict[int, str] = {}
    shapes: dict[int, Renamed | None] = {}  # index of the last token of a reference → what it names
    depth = 0
    # (paren depth of the macro call, variable, its members, the field path of the list it ranges over)
    bound: list[tuple[int, str, Renamed | None, tuple[str, ...]]] = []
    paths: dict[int, tuple[str, ...]] = {}  # index of the last token of a reference → the field path it names
    for i, (kind, text) in enumerate(tokens):
        if kind == "op":
            if text in "([{":
                depth += 1
            elif text in ")]}":
                depth -= 1
                while bound and bound[-1][0] > depth:
                    bound.pop()
            continue
        if kind != "ident":
            continue
        prev = tokens[i - 1][1] if i > 0 and tokens[i - 1][0] == "op" else ""
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) and tokens[i + 1][0] == "op" else ""
        if prev == "." and text in MACROS and nxt == "(" and i + 3 < len(tokens):
            var_kind, var = tokens[i + 2]
            if var_kind == "ident" and tokens[i + 3][1] == ",":
                receiver = shapes.get(i - 2)
                item = receiver.element() if receiver is not None and receiver.lists > 0 else None
                bound.append((depth + 1, var, item, paths.get(i - 2, ())))
            continue
        if prev == "." or nxt == "(" or text in CEL_RESERVED:
            continue
        variable = [(shape, path) for _, var, shape, path in bound if var == text]
        if variable:
            _follow_members(tokens, i, variable[-1][0], edits, shapes, (paths, variable[-1][1], hits))
            continue
        if nxt == ":" and depth > 0 and _in_map_literal_key(tokens, i):
            continue
        names.add(text)
        shape = renames.get(text)
        if shape is not None and shape.name != text:
            if any(var == shape.name for _, var, _, _ in bound):
                raise _Captured  # the new name means the comprehension variable here, not the field
            edits[i] = shape.name
        if shape is not None and hits is not None:
            hits[i] = (text,)
        _follow_members(tokens, i, shape, edits, shapes, (paths, (text,) if shape is not None else (), hits))
    return names, edits


class _Captured(Exception):
    """A rename that a comprehension variable would capture: the expression cannot be spelled with the new name."""


def _follow_members(
    tokens: list[tuple[str, str]],
    i: int,
    shape: Renamed | None,
    edits: dict[int, str],
    shapes: dict[int, Renamed | None],
    where: tuple[dict[int, tuple[str, ...]], tuple[str, ...], dict[int, tuple[str, ...]] | None],
) -> None:
    """Walk the member and index accesses after the reference ending at `i`, renaming the members `shape` knows.

    `where` is (the field path per reference-ending token index, the field path `shape` is at, the `hits` of
    `_walk_references` or None)."""
    paths, path, hits = where
    shapes[i] = shape
    paths[i] = path
    n = len(tokens)
    while i + 1 < n:
        nxt = tokens[i + 1][1]
        if nxt == "." and i + 2 < n and tokens[i + 2][0] == "ident" and (i + 3 >= n or tokens[i + 3][1] != "("):
            member = tokens[i + 2][1]
            child = shape.members.get(member) if shape is not None and shape.lists == 0 else None
            if child is not None and child.name != member:
                edits[i + 2] = child.name
            path = (*path, member) if child is not None else ()
            if child is not None and hits is not None:
                hits[i + 2] = path
            shape, i = child, i + 2
        elif nxt == "[":
            close = _closing(tokens, i + 1)
            if close is None:
                return
            key = _plain_string(tokens[i + 2][1]) if close == i + 3 and tokens[i + 2][0] == "string" else None
            if key is not None and shape is not None and shape.lists == 0:
                child = shape.members.get(key)
                if child is not None and child.name != key:
                    literal = tokens[i + 2][1]
                    edits[i + 2] = f"{literal[: -len(key) - 1]}{child.name}{literal[-1]}"
                path = (*path, key) if child is not None else ()
                if child is not None and hits is not None:
                    hits[i + 2] = path
                shape = child
            else:
                shape = shape.element() if key is None and shape is not None and shape.lists > 0 else None
                path = path if shape is not None else ()
            i = close
        else:
            return
        shapes[i] = shape
        paths[i] = path


def _bracket_depths(tokens: list[tuple[str, str]], lo: int, hi: int) -> Iterator[tuple[int, str, int]]:
    """(index, text, depth) of each operator of tokens[lo:hi], depth counting the brackets opened since `lo` and
    not yet closed (an opening bracket counts itself; a closing one no longer counts)."""
    level = 0
    for j in range(lo, hi):
        kind, text = tokens[j]
        if kind != "op":
            continue
        if text in "([{":
            level += 1
        elif text in ")]}":
            level -= 1
        yield j, text, level


def _closing(tokens: list[tuple[str, str]], i: int) -> int | None:
    """Index of the bracket closing the one at `i`, or None when it is never closed."""
    return next((j for j, text, level in _bracket_depths(tokens, i, len(tokens)) if level == 0 and text in ")]}"), None)


_PLAIN_STRING = re.compile(r"""[rR]?(['"])((?:(?!\1)[^\\\n])*)\1""")


def _plain_string(token: str) -> str | None:
    """The value of a one-line string literal without escapes (`'open'`, `r"a b"`), else None."""
    match = _PLAIN_STRING.fullmatch(token)
    return match.group(2) if match else None


def shape_tree(fields: Mapping[str, FieldDef]) -> dict[str, Renamed]:
    """Every field of `fields` "renamed" to itself, members and list levels included: the tree `field_uses` and
    `_walk_references` follow to resolve the fields an expression reads."""
    out: dict[str, Renamed] = {}
    for name, fdef in fields.items():
        lists = 0
        while isinstance(fdef, ArrayField):
            fdef, lists = fdef.items, lists + 1
        members = shape_tree(fdef.fields) if isinstance(fdef, ObjectField) else {}
        out[name] = Renamed(name, members, lists)
    return out


@dataclass(frozen=True)
class FieldUse:
    """A field or member an expression names: its field path (top-level name first, through objects and the
    items of lists) and where the name is in the expression (character offset and length; inside the quotes for
    a `['member']` access)."""

    path: tuple[str, ...]
    offset: int
    length: int


def field_uses(expr: str, fields: Mapping[str, Renamed]) -> list[FieldUse]:
    """Every token of `expr` naming a field or member of `fields` (a `shape_tree`), resolved as `rename_references`
    resolves them: string literals, comments, functions, comprehension variables and members of values that are
    not fields are no uses."""
    spans = token_spans(expr)
    hits: dict[int, tuple[str, ...]] = {}
    _walk_references([(kind, text) for kind, text, _ in spans], fields, hits)
    out: list[FieldUse] = []
    for i, path in sorted(hits.items()):
        kind, text, start = spans[i]
        name = path[-1]
        if kind == "string":
            start += len(text) - len(name) - 1
        out.append(FieldUse(path, start, len(name)))
    return out


@dataclass(frozen=True)
class ComparedLiteral:
    """A string literal an expression compares a variable with: `step == 'review'`, `'x' != role`,
    `role in ['salesRep', 'marketing']`; `offset` and `length` locate the value inside the quotes."""

    variable: str
    value: str
    offset: int
    length: int


def compared_literals(expr: str, variables: frozenset[str]) -> list[ComparedLiteral]:
    """The one-line string literals `expr` compares one of `variables` (top-level names, e.g. the `step` and
    `role` context variables) with, through `==`, `!=` (either side) or `in [...]`. A variable a comprehension
    binds is not the context variable; the check is lexical, like `referenced_names`."""
    spans = token_spans(expr)
    tokens = [(kind, text) for kind, text, _ in spans]
    out: list[ComparedLiteral] = []

    def literal(j: int, variable: str) -> None:
        if 0 <= j < len(tokens) and tokens[j][0] == "string":
            value = _plain_string(tokens[j][1])
            if value is not None:
                text, start = tokens[j][1], spans[j][2]
                out.append(ComparedLiteral(variable, value, start + len(text) - len(value) - 1, len(value)))

    for i, (kind, text) in enumerate(tokens):
        if kind != "ident" or text not in variables:
            continue
        prev = tokens[i - 1][1] if i > 0 and tokens[i - 1][0] == "op" else ""
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if prev == "." or nxt in ("(", "."):
            continue
        if nxt in ("==", "!="):
            literal(i + 2, text)
        if prev in ("==", "!="):
            literal(i - 2, text)
        if nxt == "in" and i + 2 < len(tokens) and tokens[i + 2][1] == "[":
            close = _closing(tokens, i + 2)
            for a, b in _split(tokens, i + 3, close if close is not None else len(tokens), ","):
                if b == a + 1:
                    literal(a, text)
    return out


def rename_references(expr: str, renames: Mapping[str, Renamed]) -> str | None:
    """`expr` with every field it reads named as `renames` says (old name → `Renamed`).

    Only tokens that name fields change: string literals, comments, layout, comprehension variables, functions
    and the members of values that are not renamed fields stay byte for byte. None when the expression cannot be
    spelled with the new names: inside a macro whose variable is called like a field's new name, that name means
    the variable (`tags.exists(b, b == a)` with `a` renamed to `b`).
    """
    if not renames:
        return expr
    spans = token_spans(expr)
    try:
        _, edits = _walk_references([(kind, text) for kind, text, _ in spans], renames)
    except _Captured:
        return None
    out: list[str] = []
    last = 0
    for i in sorted(edits):
        _, text, start = spans[i]
        out += [expr[last:start], edits[i]]
        last = start + len(text)
    out.append(expr[last:])
    return "".join(out)


@dataclass(frozen=True)
class StringResult:
    """A string literal an expression may evaluate to (or hold in the list it evaluates to); 1-based position."""

    value: str
    line: int
    column: int


def result_strings(expr: str) -> list[StringResult]:
    """The string literals `expr` may yield: itself, both branches of `?:`, the items of a list literal and of
    list literals joined by `+`, looking through parentheses. Values computed any other way (fields, functions,
    `filter`) are not known without running the expression and are left out."""
    spans = token_spans(expr)
    tokens = [(kind, text) for kind, text, _ in spans]
    found: list[int] = []
    _results(tokens, 0, len(tokens), found)
    out: list[StringResult] = []
    for i in found:
        value = _plain_string(tokens[i][1])
        if value is not None:
            offset = spans[i][2]
            line_start = expr.rfind("\n", 0, offset) + 1
            out.append(StringResult(value, expr.count("\n", 0, offset) + 1, offset - line_start + 1))
    return out


def _results(tokens: list[tuple[str, str]], lo: int, hi: int, out: list[int]) -> None:
    """Append the indices of the string tokens that tokens[lo:hi] may yield (see `result_strings`)."""
    while hi - lo >= 2 and tokens[lo][1] == "(" and _closing(tokens, lo) == hi - 1:
        lo, hi = lo + 1, hi - 1
    ops = list(_top_level_ops(tokens, lo, hi))
    question = next((j for j, text in ops if text == "?"), None)
    if question is not None:  # `?:` is right-associative: the first `?` splits off the condition
        nested = 0
        for j, text in ops:
            if j <= question or text not in "?:":
                continue
            if text == "?":
                nested += 1
            elif nested:
                nested -= 1
            else:
                _results(tokens, question + 1, j, out)
                _results(tokens, j + 1, hi, out)
                return
        return
    if any(text == "+" for _, text in ops):
        for a, b in _split(tokens, lo, hi, "+"):
            if tokens[a][1] == "[":  # list concatenation; a `+` of strings computes a new string
                _results(tokens, a, b, out)
        return
    if hi - lo == 1 and tokens[lo][0] == "string":
        out.append(lo)
    elif hi - lo >= 2 and tokens[lo][1] == "[" and _closing(tokens, lo) == hi - 1:
        for a, b in _split(tokens, lo + 1, hi - 1, ","):
            _results(tokens, a, b, out)


def _top_level_ops(tokens: list[tuple[str, str]], lo: int, hi: int) -> Iterator[tuple[int, str]]:
    """(index, text) of the operators of tokens[lo:hi] outside any bracket."""
    for j, text, level in _bracket_depths(tokens, lo, hi):
        if level == 0 and text not in "([{" and text not in ")]}":
            yield j, text


def _split(tokens: list[tuple[str, str]], lo: int, hi: int, separator: str) -> list[tuple[int, int]]:
    """tokens[lo:hi] split at `separator` outside brackets, as (start, end) pairs; empty parts are dropped."""
    cuts = [j for j, text in _top_level_ops(tokens, lo, hi) if text == separator]
    bounds = [lo - 1, *cuts, hi]
    return [(a + 1, b) for a, b in itertools.pairwise(bounds) if b > a + 1]


# Cost limits of one expression: lint refuses larger ones so the runtime never has to evaluate them.
MAX_EXPRESSION_TOKENS = 500
MAX_COMPREHENSION_NESTING = 2


def expression_cost(expr: str) -> tuple[int, int]:
    """(size in tokens, deepest nesting of comprehension macros)."""
    tokens = _tokens(expr)
    depth = 0
    open_macros: list[int] = []
    deepest = 0
    for i, (kind, text) in enumerate(tokens):
        if kind == "ident" and text in MACROS and i > 0 and tokens[i - 1][1] == ".":
            if i + 1 < len(tokens) and tokens[i + 1][1] == "(":
                open_macros.append(depth + 1)
                deepest = max(deepest, len(open_macros))
        elif kind == "op" and text in "([{":
            depth += 1
        elif kind == "op" and text in ")]}":
            depth -= 1
            while open_macros and open_macros[-1] > depth:
                open_macros.pop()
    return len(tokens), deepest


# --- positions ----------------------------------------------------------------------------------------------


def map_position(scalar: Location, source_line: str, cel_line: int, cel_col: int, lines: list[str]) -> Location:
    """File location of CEL position (cel_line, cel_col) inside the YAML scalar that starts at `scalar`.

    The fallback of `expression_location` where the exact mapping (`crmctl.model.scalar_spans`) cannot align
    the value with its source (escape sequences). `source_line` is the text of the scalar's first line, `lines`
    the whole file. Best effort: single-line
    plain and quoted scalars map exactly (quotes shift by one); block scalars (`|`, `>`) map the line and
    the content indentation; other multi-line scalars map the line only.
    """
    start = source_line[scalar.column - 1 : scalar.column] if scalar.column - 1 < len(source_line) else ""
    if start in ("|", ">"):
        # The block's indentation is that of its first non-empty line; deeper lines keep the rest in the CEL text.
        target = scalar.line + cel_line
        first = next((text for text in lines[scalar.line : target] if text.strip()), "")
        indent = len(first) - len(first.lstrip(" "))
        return Location(scalar.file, target, indent + cel_col)
    if cel_line == 1:
        shift = 1 if start in ('"', "'") else 0
        return Location(scalar.file, scalar.line, scalar.column + shift + cel_col - 1)
    target = scalar.line + cel_line - 1
    text = lines[target - 1] if 0 < target <= len(lines) else ""
    indent = len(text) - len(text.lstrip(" "))
    return Location(scalar.file, target, max(indent + 1, 1))


def expression_location(doc: SourceDoc, path: JsonPath, cel_line: int, cel_col: int) -> Location:
    """Where a CEL position (1-based line and column in code points, as the compiler reports them) inside the
    scalar at `path` of `doc` is in the file: exact in every scalar style (`crmctl.model.scalar_spans`); a position
    on whitespace or just past the end counts from the nearest character before it on the same line. Only where
    the value cannot be aligned with its source (escape sequences) is the position approximate (`map_position`)."""
    exact = _exact_location(doc, path, cel_line, cel_col)
    if exact is not None:
        return exact
    scalar = doc.loc(path)
    lines = doc.text.splitlines()
    source_line = lines[scalar.line - 1] if 0 < scalar.line <= len(lines) else ""
    return map_position(scalar, source_line, cel_line, cel_col, lines)


def _exact_location(doc: SourceDoc, path: JsonPath, cel_line: int, cel_col: int) -> Location | None:
    from crmctl.model.scalar_spans import exact_span

    value: Any = doc.data
    try:
        for part in path:
            value = value[part]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(value, str) or cel_line < 1 or cel_col < 1:
        return None
    lines = value.split("\n")
    if cel_line > len(lines) or cel_col > len(lines[cel_line - 1]) + 1:
        return None
    offset = sum(len(text) + 1 for text in lines[: cel_line - 1]) + cel_col - 1
    anchor = offset  # the character itself, else the nearest non-blank one before it on its line
    line_start = offset - (cel_col - 1)
    while anchor >= line_start and (anchor >= len(value) or value[anchor].isspace()):
        anchor -= 1
    if anchor < line_start:
        return None
    span, exact = exact_span(doc, path, value, anchor, 1)
    if not exact:
        return None
    return Location(doc.file, span.line, span.column + offset - anchor)
