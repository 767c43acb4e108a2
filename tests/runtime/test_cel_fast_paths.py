"""The adapter's fast paths give what its general path gives, for generated values of every CEL type.

`CompiledProgram.evaluate_bound` hands cel-expr-python only the variables an expression reads and returns the plain
value of a bool, int, double, string, timestamp or duration expression without the result type check; the general
path is what it did before: the whole binding, the type check, `from_cel`. The cost guard measures its inputs with
`value_size`, whose loop counts texts and numbers inline; the reference below is its former recursive form.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.cel_cost import ELEMENT, value_size
from crmctl.model.fields import SchemaArtifact
from crmctl.runtime.cel import CompiledProgram, Context, EvaluationError, MissingValueError, clear_cache, from_cel

FIELDS: dict[str, dict[str, Any]] = {
    "i": {"type": "number", "integer": True},
    "d": {"type": "number"},
    "s": {"type": "text"},
    "b": {"type": "boolean"},
    "ts": {"type": "datetime"},
    "day": {"type": "date"},
    "l": {"type": "array", "items": {"type": "number", "integer": True}},
    "ls": {"type": "array", "items": {"type": "text"}},
    "o": {"type": "object", "fields": {"k": {"type": "text"}, "n": {"type": "number", "integer": True}}},
}
EXPRESSIONS = {
    "int": "i",
    "int overflow": "i + 1",
    "int division": "100 / i",
    "uint": "uint(i)",
    "double": "d",
    "double product": "d * d",
    "string": "s",
    "string concat": "s + '/' + s",
    "string like an error": "'NOT_FOUND: ' + s",
    "string of int": "string(i)",
    "bool": "b",
    "not bool": "!b",
    "bool compare": "i > 0 && s.size() < 5",
    "timestamp": "ts",
    "date": "day",
    "timestamp plus": "ts + duration('36h')",
    "duration": "now - ts",
    "duration of days": "day - ts",
    "bytes": "bytes(s)",
    "list": "l",
    "list of text": "ls",
    "list built": "[i, i]",
    "map": "o",
    "map key": "o.k",
    "map has": "has(o.n) ? o.n : -1",
    "map built": "{'a': s, 'b': s + s}",
    "null": "null",
    "dyn list item": "ls[0]",
    "context": "step + role + locale",
}
SCHEMA = SchemaArtifact.model_validate({"entities": {"T": {"fields": FIELDS}}})
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

int64 = st.one_of(st.integers(-100, 100), st.sampled_from([0, 1, -1, 2**31, 2**63 - 1, -(2**63), -(2**63) + 1]))
doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324])
)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
non_bmp = st.text(st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)))
moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
record = st.fixed_dictionaries(
    {},
    optional={
        "i": int64,
        "d": doubles,
        "s": st.one_of(texts, non_bmp),
        "b": st.booleans(),
        "ts": moments.map(lambda moment: moment.isoformat()),
        "day": st.dates().map(lambda day: day.isoformat()),
        "l": st.lists(int64, max_size=4),
        "ls": st.lists(st.one_of(texts, non_bmp), max_size=4),
        "o": st.fixed_dictionaries({}, optional={"k": st.one_of(texts, non_bmp), "n": int64}),
    },
)


@pytest.fixture(scope="module")
def program() -> CompiledProgram:
    clear_cache()
    return CompiledProgram.build("fast-paths", SCHEMA, "T", EXPRESSIONS)


def _general(program: CompiledProgram, expr_id: str, bound: dict[str, Any]) -> tuple[str, Any]:
    """What the adapter's general path gives: the whole binding, the result type checked, then `from_cel`."""
    from cel_expr_python import cel

    try:
        result = program._programs[expr_id].eval(data=bound)
    except (RuntimeError, TypeError, ValueError):
        return "error", None
    if result.type() in (cel.Type.ERROR, cel.Type.UNKNOWN):
        return "error", str(result.value())
    return "value", from_cel(result.plain_value())


@given(data=record, zero_absent=st.booleans())
@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fast_paths_agree_with_the_general_path(
    program: CompiledProgram, data: dict[str, Any], zero_absent: bool
) -> None:
    bound = program.bind(data, Context("s", "r", NOW, "en"), zero_absent=zero_absent)
    for expr_id in EXPRESSIONS:
        kind, expected = _general(program, expr_id, bound)
        if kind == "value":
            got = program.evaluate_bound(expr_id, bound)
            assert got == expected, expr_id
            assert type(got) is type(expected), expr_id  # True is not 1, 1.0 is not 1
        else:
            with pytest.raises(EvaluationError) as caught:
                program.evaluate_bound(expr_id, bound)
            if expected is not None and "No value with name" in expected:
                assert isinstance(caught.value, MissingValueError), expr_id


def test_a_string_result_shaped_like_an_error_is_a_result(program: CompiledProgram) -> None:
    bound = program.bind({"s": "x"}, Context("s", "r", NOW, "en"))
    assert program.evaluate_bound("string like an error", bound) == "NOT_FOUND: x"


@pytest.mark.parametrize(
    ("source", "data"),
    [("100 / i", {"i": 0}), ("i + 1", {"i": 2**63 - 1}), ("o.k", {"o": {}}), ("i + 1", {}), ("uint(i)", {"i": -1})],
)
def test_a_failed_evaluation_reads_as_a_status_message(source: str, data: dict[str, Any]) -> None:
    """The fast path's premise: a failed evaluation's plain value is a str that starts with a status code."""
    from cel_expr_python import cel

    from crmctl.model.cel import CelChecker

    result = CelChecker.for_entity(SCHEMA, "T").env().compile(source).eval(data=data)
    assert result.type() == cel.Type.ERROR
    message = result.plain_value()
    assert isinstance(message, str)
    assert message.split(": ", 1)[0].replace("_", "").isupper(), message


def _value_size_reference(value: Any) -> tuple[int, int, int]:
    if isinstance(value, str | bytes):
        return len(value), 0, 0
    if isinstance(value, list | tuple | dict):
        parts = [_value_size_reference(v) for v in (value.values() if isinstance(value, dict) else value)]
        keys = sum(_value_size_reference(k)[0] for k in value) if isinstance(value, dict) else 0
        inner = max((max(part[1], part[2]) for part in parts), default=0)
        return keys + sum(part[0] for part in parts) + ELEMENT * len(value), len(value), inner
    return 8, 0, 0


scalars = st.one_of(
    st.none(), st.booleans(), int64, doubles, texts, non_bmp, st.binary(max_size=8), moments, st.timedeltas()
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(texts, int64, st.booleans()), inner, max_size=4),
    ),
    max_leaves=30,
)


@given(values)
@settings(max_examples=500, deadline=None, derandomize=True)
def test_value_size_counts_as_its_recursive_form(value: Any) -> None:
    assert value_size(value) == _value_size_reference(value)
