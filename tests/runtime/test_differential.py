"""Differential test: random well-typed expressions evaluated by cel-expr-python (through the runtime adapter)
and by cel-python (celpy) must give the same result, or both fail.

Divergences found while writing this test are listed in `KNOWN_DIVERGENCES` and pinned by explicit cases;
the generator avoids them so that a new divergence fails the test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import celpy
import pytest
from celpy import celtypes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.fields import SchemaArtifact
from crmctl.runtime.cel import CompiledProgram, Context, EvaluationError

# celpy raises the recursion limit when it builds its parser: do it once, before hypothesis runs.
CELPY = celpy.Environment()
CTX = Context("s", "r", datetime(2026, 1, 1, tzinfo=UTC), "en")
SCHEMA = SchemaArtifact.model_validate(
    {
        "entities": {
            "T": {
                "fields": {
                    "i": {"type": "number", "integer": True},
                    "j": {"type": "number", "integer": True},
                    "d": {"type": "number"},
                    "e": {"type": "number"},
                    "s": {"type": "text"},
                    "t": {"type": "text"},
                    "b": {"type": "boolean"},
                    "l": {"type": "array", "items": {"type": "number", "integer": True}},
                    "ls": {"type": "array", "items": {"type": "text"}},
                }
            }
        }
    }
)

small_int = st.integers(-50, 50)
big_int = st.sampled_from([2**62, -(2**62), 2**63 - 1, -(2**63)])
ints = st.one_of(small_int, small_int, big_int)
doubles = st.one_of(st.floats(-1e3, 1e3, allow_nan=False).map(lambda x: round(x, 3)), st.sampled_from([0.0, 1e300]))
texts = st.text(alphabet="abcAB ", max_size=6)


def _lit_double(x: float) -> str:
    text = repr(x)
    return text if ("." in text or "e" in text) else text + ".0"


def _lit_str(x: str) -> str:
    return "'" + x + "'"


def int_expr(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(small_int.map(str), st.sampled_from(["i", "j", "size(s)", "size(l)", "int(d)"]))
    if depth == 0:
        return leaf
    sub = int_expr(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "%"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda a: f"(-{a})"),
        st.tuples(bool_expr(depth - 1), sub, sub).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
    )


def double_expr(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(doubles.map(_lit_double), st.sampled_from(["d", "e", "double(i)"]))
    if depth == 0:
        return leaf
    sub = double_expr(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        # Divisors are non-zero literals: NaN compares differently in celpy (see KNOWN_DIVERGENCES).
        st.tuples(sub, st.sampled_from(["2.0", "-0.5", "3.5"])).map(lambda t: f"({t[0]} / {t[1]})"),
        int_expr(depth - 1).map(lambda a: f"double({a})"),
    )


def string_expr(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(texts.map(_lit_str), st.sampled_from(["s", "t"]))
    if depth == 0:
        return leaf
    sub = string_expr(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, sub).map(lambda t: f"({t[0]} + {t[1]})"),
        int_expr(depth - 1).map(lambda a: f"string({a})"),
        st.tuples(bool_expr(depth - 1), sub, sub).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
    )


def bool_expr(depth: int) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(["b", "true", "false"])
    if depth == 0:
        return leaf
    sub = bool_expr(depth - 1)
    cmp = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        leaf,
        sub.map(lambda a: f"!{a}"),
        st.tuples(sub, st.sampled_from(["&&", "||"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(int_expr(depth - 1), cmp, int_expr(depth - 1)).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(double_expr(depth - 1), cmp, double_expr(depth - 1)).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(string_expr(depth - 1), cmp, string_expr(depth - 1)).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        # The receiver is a leaf: celpy loses the string type of a concatenation (see KNOWN_DIVERGENCES).
        st.tuples(string_expr(0), st.sampled_from(["contains", "startsWith", "endsWith"]), string_expr(depth - 1)).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        int_expr(depth - 1).map(lambda a: f"({a} in l)"),
        string_expr(depth - 1).map(lambda a: f"({a} in ls)"),
        st.tuples(st.sampled_from(["all", "exists", "exists_one"]), small_int).map(
            lambda t: f"l.{t[0]}(x, x > {t[1]})"
        ),
        st.sampled_from(["ls.exists(w, w.startsWith(s))", "ls.all(w, size(w) <= size(t))"]),
    )


list_expr = st.one_of(
    st.tuples(st.sampled_from(["map", "filter"]), small_int).map(
        lambda t: f"l.{t[0]}(x, x * {t[1]})" if t[0] == "map" else f"l.filter(x, x > {t[1]})"
    ),
    st.sampled_from(["ls.map(w, w + s)", "l + [i, j]", "ls.filter(w, w.contains('a'))"]),
)
expressions = st.one_of(int_expr(2), double_expr(2), string_expr(2), bool_expr(2), list_expr)
records = st.fixed_dictionaries(
    {
        "i": ints,
        "j": ints,
        "d": doubles,
        "e": doubles,
        "s": texts,
        "t": texts,
        "b": st.booleans(),
        "l": st.lists(small_int, max_size=4),
        "ls": st.lists(texts, max_size=4),
    }
)


def via_cel_expr(expr: str, record: dict[str, Any]) -> tuple[str, Any]:
    program = CompiledProgram.build(f"differential:{expr}", SCHEMA, "T", {"e": expr})
    try:
        return "ok", program.evaluate("e", record, CTX)
    except EvaluationError as exc:
        return "error", exc.detail


def via_celpy(expr: str, record: dict[str, Any]) -> tuple[str, Any]:
    def wrap(value: Any) -> Any:
        if isinstance(value, bool):
            return celtypes.BoolType(value)
        if isinstance(value, int):
            return celtypes.IntType(value)
        if isinstance(value, float):
            return celtypes.DoubleType(value)
        if isinstance(value, str):
            return celtypes.StringType(value)
        return celtypes.ListType([wrap(v) for v in value])

    env = CELPY
    activation = {name: wrap(float(v) if name in ("d", "e") else v) for name, v in record.items()}
    try:
        result = env.program(env.compile(expr)).evaluate(activation)
    except celpy.CELEvalError as exc:
        return "error", str(exc)
    if isinstance(result, celpy.CELEvalError):
        return "error", str(result)
    return "ok", plain(result)


def plain(value: Any) -> Any:
    # celpy sometimes answers with plain Python values (string concatenation gives a `str`).
    if isinstance(value, bool | celtypes.BoolType):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    raise TypeError(type(value).__name__)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=1000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=expressions, record=records)
def test_cel_expr_python_agrees_with_celpy(expr: str, record: dict[str, Any]) -> None:
    ours, theirs = via_cel_expr(expr, record), via_celpy(expr, record)
    assert ours[0] == theirs[0], (expr, record, ours, theirs)
    if ours[0] == "ok":
        assert same(ours[1], theirs[1]), (expr, record, ours, theirs)


# Found by the generator above (or by hand around it); each pinned so that a fix upstream shows up as XPASS.
KNOWN_DIVERGENCES = [
    pytest.param(
        "('a' + 'b').contains('b')",
        id="celpy-concat-loses-string-type",
        marks=pytest.mark.xfail(
            strict=True,
            reason="celpy: `+` on strings returns a Python str, which has no CEL methods (no such overload: contains)",
        ),
    ),
    pytest.param(
        "0.0 / 0.0 == 0.0 / 0.0",
        id="celpy-nan-equals-nan",
        marks=pytest.mark.xfail(strict=True, reason="celpy: NaN == NaN is true; IEEE 754 and cel-cpp say false"),
    ),
    pytest.param(
        "(-9223372036854775807 - 1) % -1",
        id="celpy-int-min-mod-minus-one",
        marks=pytest.mark.xfail(
            strict=True, reason="celpy answers 0; cel-cpp reports integer overflow, as it does for INT64_MIN / -1"
        ),
    ),
    pytest.param(
        "dyn(1) == 1.0",
        id="celpy-heterogeneous-equality",
        marks=pytest.mark.xfail(
            strict=True,
            reason="celpy has no heterogeneous numeric equality "
            "(no such overload); cel-cpp follows the current spec: true",
        ),
    ),
    pytest.param(
        "string(-0.0)",
        id="celpy-negative-zero-string",
        marks=pytest.mark.xfail(strict=True, reason="string(-0.0): cel-cpp gives '-0', celpy '-0.0'"),
    ),
]


@pytest.mark.parametrize("expr", KNOWN_DIVERGENCES)
def test_known_divergence(expr: str) -> None:
    ours, theirs = via_cel_expr(expr, {}), via_celpy(expr, {})
    assert ours[0] == theirs[0]
    assert ours[0] == "error" or same(ours[1], theirs[1])
