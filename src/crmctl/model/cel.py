"""A small adapter over CEL (cel-expr-python) for type-checking package expressions.

Rules, validations, calculated fields and workflow guards are CEL expressions over the fields of one entity.
`CelChecker` declares every field of the entity as a top-level variable (rules write `amount > 10.0`), plus
the context variables `step`, `role`, `now` and `locale`, and type-checks expressions against them. The CEL
library is imported lazily inside functions: it is only needed when an expression is actually checked.

Types are spelled as CEL spells them in signatures: `bool`, `int`, `double`, `string`,
`google.protobuf.Timestamp`, `list(string)`, `map(string, dyn)`.
"""

from __future__ import annotations

import re
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
    "cel_type_of",
    "expression_cost",
    "expression_location",
    "map_position",
    "referenced_names",
]

TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"

# Reserved by the CEL language definition: the literals and `in`, plus words kept for future use.
CEL_RESERVED = frozenset(
    {
        "true", "false", "null", "in",
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
        "package", "namespace", "return", "var", "void", "while",
    }
)  # fmt: skip
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


_CHECK_CACHE: dict[tuple[tuple[tuple[str, str], ...], str], CheckResult] = {}
_ENV_CACHE: dict[tuple[tuple[str, str], ...], Any] = {}


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
        hit = _CHECK_CACHE.get(key)
        if hit is None:
            hit = _CHECK_CACHE[key] = self._compile(expr)
        return hit

    def env(self) -> Any:
        """The cel-expr-python environment declaring these variables (one per signature, shared with the runtime)."""
        env = _ENV_CACHE.get(self.signature)
        if env is None:
            from cel_expr_python import cel

            declared = {name: _to_cel_type(sig) for name, sig in self.signature}
            env = _ENV_CACHE[self.signature] = cel.NewEnv(variables=declared)
        return env

    def _compile(self, expr: str) -> CheckResult:
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


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for match in _TOKEN_RE.finditer(expr):
        kind = match.lastgroup or "other"
        if kind != "ws":
            out.append((kind, match.group()))
    return out


def referenced_names(expr: str) -> set[str]:
    """Top-level identifiers an expression reads (no members, functions, literals or comprehension vars)."""
    tokens = _tokens(expr)
    names: set[str] = set()
    depth = 0
    bound: list[tuple[int, str]] = []  # (paren depth of the macro call, variable)
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
                bound.append((depth + 1, var))
            continue
        if prev == "." or nxt == "(" or text in CEL_RESERVED:
            continue
        if any(var == text for _, var in bound):
            continue
        if nxt == ":" and depth > 0 and _in_map_literal_key(tokens, i):
            continue
        names.add(text)
    return names


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

    `source_line` is the text of the scalar's first line, `lines` the whole file. Best effort: single-line
    plain and quoted scalars map exactly (quotes shift by one); block scalars (`|`, `>`) map the line and
    the content indentation; other multi-line scalars map the line only.
    """
    start = source_line[scalar.column - 1 : scalar.column] if scalar.column - 1 < len(source_line) else ""
    if start in ("|", ">"):
        target = scalar.line + cel_line
        text = lines[target - 1] if 0 < target <= len(lines) else ""
        indent = len(text) - len(text.lstrip(" "))
        return Location(scalar.file, target, indent + cel_col)
    if cel_line == 1:
        shift = 1 if start in ('"', "'") else 0
        return Location(scalar.file, scalar.line, scalar.column + shift + cel_col - 1)
    target = scalar.line + cel_line - 1
    text = lines[target - 1] if 0 < target <= len(lines) else ""
    indent = len(text) - len(text.lstrip(" "))
    return Location(scalar.file, target, max(indent + 1, 1))


def expression_location(doc: SourceDoc, path: JsonPath, cel_line: int, cel_col: int) -> Location:
    """Where a CEL position inside the scalar at `path` of `doc` is in the file."""
    scalar = doc.loc(path)
    lines = doc.text.splitlines()
    source_line = lines[scalar.line - 1] if 0 < scalar.line <= len(lines) else ""
    return map_position(scalar, source_line, cel_line, cel_col, lines)
