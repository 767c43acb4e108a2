"""Value conversion, compilation cache, cost limits and determinism of the runtime CEL adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.errors import UserError
from crmctl.model.cel import MAX_COMPREHENSION_NESTING, MAX_EXPRESSION_TOKENS
from crmctl.model.fields import SchemaArtifact
from crmctl.model.package import load_package
from crmctl.runtime.cel import (
    ITERATION_BUDGET,
    MAX_ACCUMULATED_ITEMS,
    MAX_LIST_ITEMS,
    MAX_TEXT,
    CompiledProgram,
    CompileError,
    Context,
    CostLimitError,
    EvaluationError,
    RuntimeCostError,
    UnknownFieldError,
    ValueSizeError,
    ValueTypeError,
    cache_info,
    clear_cache,
    entity_expressions,
    from_cel,
    program_for,
    to_cel,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CTX = Context(step="details", role="sales", now=NOW, locale="en")
FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": "text"},
    "status": {"type": "enum", "values": ["new", "open", "won"]},
    "owner": {"type": "reference", "to": "Lead"},
    "doc": {"type": "file"},
    "amount": {"type": "number"},
    "size": {"type": "number", "integer": True},
    "price": {"type": "currency", "currency": "EUR"},
    "vip": {"type": "boolean"},
    "born": {"type": "date"},
    "seen": {"type": "datetime"},
    "score": {"type": "calculated", "expression": "amount * 2.0", "resultType": "number"},
    "addr": {"type": "object", "fields": {"city": {"type": "text"}, "zip": {"type": "number", "integer": True}}},
    "tags": {"type": "array", "items": {"type": "text"}},
}
SCHEMA = SchemaArtifact.model_validate({"entities": {"Lead": {"fields": FIELDS}}})


def field(name: str) -> Any:
    return SCHEMA.entities["Lead"].fields[name]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("name", "Ada", "Ada"),
        ("status", "open", "open"),
        ("owner", "lead-1", "lead-1"),
        ("doc", "file-9", "file-9"),
        ("amount", 3, 3.0),
        ("amount", 2.5, 2.5),
        ("size", 7, 7),
        ("price", 10, 10.0),
        ("vip", True, True),
        ("born", "2026-02-03", datetime(2026, 2, 3, tzinfo=UTC)),
        ("seen", "2026-02-03T04:05:06Z", datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("seen", "2026-02-03T06:05:06+02:00", datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("score", 4, 4.0),
        ("addr", {"city": "Rome", "zip": 100}, {"city": "Rome", "zip": 100}),
        ("tags", ["a", "b"], ["a", "b"]),
    ],
)
def test_to_cel(name: str, value: Any, expected: Any) -> None:
    converted = to_cel(value, field(name), name)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("name", 3, "string"),
        ("status", None, "string"),
        ("amount", "3", "number"),
        ("amount", True, "number"),
        ("size", 2.0, "integer"),
        ("price", [1], "number"),
        ("vip", 1, "boolean"),
        ("born", "2026-2-3", "date"),
        ("born", "2026-02-30", "date"),
        ("born", "2026-02-03T00:00:00Z", "date"),
        ("seen", "2026-02-03T04:05:06", "ISO 8601"),
        ("seen", "yesterday", "ISO 8601"),
        ("addr", "Rome", "object"),
        ("addr", {"town": "Rome"}, "a field the object declares"),
        ("addr", {"zip": "100"}, "integer"),
        ("tags", "a", "array"),
        ("tags", ["a", 1], "string"),
        ("name", "Ada\x00Lovelace", "without NUL"),  # cel-expr-python would see only "Ada"
        ("tags", ["ok", "\x00"], "without NUL"),
    ],
)
def test_to_cel_refuses_bad_values(name: str, value: Any, expected: str) -> None:
    with pytest.raises(ValueTypeError, match=expected) as info:
        to_cel(value, field(name), name)
    assert isinstance(info.value, UserError)
    assert info.value.field.startswith(name)


def test_size_guards() -> None:
    with pytest.raises(ValueSizeError, match="items"):
        to_cel(["a"] * (MAX_LIST_ITEMS + 1), field("tags"), "tags")
    with pytest.raises(ValueSizeError, match="bytes"):
        to_cel("é" * (MAX_TEXT // 2 + 1), field("name"), "name")
    with pytest.raises(ValueSizeError, match="64-bit"):
        to_cel(2**63, field("size"), "size")
    assert len(to_cel(["a"] * MAX_LIST_ITEMS, field("tags"), "tags")) == MAX_LIST_ITEMS


def test_from_cel() -> None:
    east = timezone(timedelta(hours=2))
    assert from_cel(datetime(2026, 1, 1, 2, tzinfo=east)) == "2026-01-01T00:00:00Z"
    assert from_cel(datetime(2026, 1, 1, 0, 0, 0, 500, tzinfo=UTC)) == "2026-01-01T00:00:00.000500Z"
    assert from_cel(timedelta(hours=1)) == "3600s"
    assert from_cel(timedelta(seconds=-1.5)) == "-1.5s"
    assert from_cel(4.0) == 4.0 and type(from_cel(4.0)) is float
    assert from_cel(bytearray(b"ab")) == "YWI="
    assert from_cel({2: [True, None], False: "x"}) == {"2": [True, None], "false": "x"}
    with pytest.raises(TypeError):
        from_cel(object())


def test_context_requires_aware_clock() -> None:
    with pytest.raises(ValueTypeError, match="timezone-aware"):
        Context("s", "r", datetime(2026, 1, 1), "en")


def _build(expressions: dict[str, str], digest: str = "sha256:test") -> CompiledProgram:
    return CompiledProgram.build(digest, SCHEMA, "Lead", expressions)


def test_evaluate_record_fields_and_context() -> None:
    program = _build(
        {
            "rule:big/when": "amount > 1000.0 && status in ['new', 'open'] && size(name) > 2",
            "rule:age/expression": "now - born",
            "rule:ctx/when": "step == 'details' && role == 'sales' && locale == 'en'",
            "calc:Lead.score": "amount * 2.0",
            "rule:city/expression": "addr.city + '/' + string(addr.zip)",
            "rule:tags/expression": "tags.filter(t, t.startsWith('a'))",
        }
    )
    record = {
        "name": "Ada",
        "status": "open",
        "amount": 1500,
        "born": "2026-01-01",
        "addr": {"city": "Rome", "zip": 100},
        "tags": ["ab", "b"],
    }
    assert program.evaluate("rule:big/when", record, CTX) is True
    assert program.evaluate("rule:age/expression", record, CTX) == "97445s"
    assert program.evaluate("rule:ctx/when", {}, CTX) is True
    assert program.evaluate("calc:Lead.score", record, CTX) == 3000.0
    assert program.evaluate("rule:city/expression", record, CTX) == "Rome/100"
    assert program.evaluate("rule:tags/expression", record, CTX) == ["ab"]
    bound = program.bind(record, CTX)
    assert program.evaluate_bound("rule:big/when", bound) is True


def test_evaluation_errors_name_the_expression() -> None:
    program = _build({"v:1/expression": "100 / size > 1", "v:2/expression": "amount > 1.0", "v:3": "addr.city"})
    with pytest.raises(EvaluationError, match=r"^v:1/expression: divide by zero"):
        program.evaluate("v:1/expression", {"size": 0}, CTX)
    with pytest.raises(EvaluationError, match=r"^v:2/expression: field 'amount' has no value"):
        program.evaluate("v:2/expression", {}, CTX)
    with pytest.raises(EvaluationError, match=r"amount' has no value"):
        program.evaluate("v:2/expression", {"amount": None}, CTX)
    with pytest.raises(EvaluationError, match=r"^v:3: .*city"):
        program.evaluate("v:3", {"addr": {"zip": 1}}, CTX)
    with pytest.raises(EvaluationError, match="no such expression"):
        program.evaluate("missing", {}, CTX)
    with pytest.raises(UnknownFieldError, match="nope"):
        program.evaluate("v:2/expression", {"nope": 1}, CTX)


def test_compile_errors_are_positioned() -> None:
    with pytest.raises(CompileError) as info:
        _build({"rule:r1/when": "amount > 10"})
    assert (info.value.expr_id, info.value.line, info.value.column) == ("rule:r1/when", 1, 8)
    assert "no matching overload" in info.value.message
    with pytest.raises(CompileError, match=r"^rule:r2/when:1:\d+: .*undeclared"):
        _build({"rule:r2/when": "ghost > 1.0"}, "sha256:other")


def test_cost_limits_refused_at_compile_time() -> None:
    huge = " + ".join(["1"] * (MAX_EXPRESSION_TOKENS // 2 + 1))
    with pytest.raises(CostLimitError, match=r"^rule:huge/expression:1:1: expression has \d+ tokens"):
        _build({"rule:huge/expression": huge})
    nested = "tags.all(a, " * (MAX_COMPREHENSION_NESTING + 1) + "true" + ")" * (MAX_COMPREHENSION_NESTING + 1)
    with pytest.raises(CostLimitError, match="comprehensions nest 3 deep"):
        _build({"rule:deep/when": nested}, "sha256:deep")


def test_run_time_cost_bounds_name_the_expression_instead_of_hanging() -> None:
    program = _build(
        {
            "rule:pairs/when": "tags.exists(a, tags.exists(b, a + b == 'x'))",
            "rule:one/when": "tags.exists(a, a == 'x')",
            "calc:Lead.score": "double(tags.map(t, t + '!').size())",
        },
        "sha256:cost",
    )
    small = program.bind({"tags": [str(i) for i in range(50)]}, CTX)
    assert program.evaluate_bound("rule:pairs/when", small) is False  # 2,500 iterations: within the budget
    side = int(ITERATION_BUDGET**0.5) + 1
    squared = program.bind({"tags": [str(i) for i in range(side)]}, CTX)
    with pytest.raises(RuntimeCostError, match=r"^rule:pairs/when: comprehensions ran past 10,000 iterations"):
        program.evaluate_bound("rule:pairs/when", squared)
    assert program.evaluate_bound("rule:one/when", squared) is False
    large = program.bind({"tags": [str(i) for i in range(MAX_ACCUMULATED_ITEMS + 1)]}, CTX)
    with pytest.raises(RuntimeCostError, match=r"^calc:Lead.score: map/filter over 2001 items"):
        program.evaluate_bound("calc:Lead.score", large)
    limit = program.bind({"tags": [str(i) for i in range(MAX_ACCUMULATED_ITEMS)]}, CTX)
    assert program.evaluate_bound("calc:Lead.score", limit) == float(MAX_ACCUMULATED_ITEMS)


def test_compile_cache_by_digest_and_entity() -> None:
    expressions = {"a": "amount > 1.0", "b": "size(name) > 2"}
    first = _build(expressions)
    assert cache_info().expressions_compiled == 2
    second = _build(expressions)
    assert second is first
    info = cache_info()
    assert (info.hits, info.misses, info.expressions_compiled) == (1, 1, 2)
    _build(expressions, "sha256:next-version")
    assert cache_info().expressions_compiled == 4


def test_program_for_package() -> None:
    root = Path(__file__).parents[2] / "packages" / "LeadLifecycle" / "v1"
    if not root.is_dir():
        pytest.skip("LeadLifecycle example package not present")
    package = load_package(root)
    assert package.schema is not None
    entity = next(iter(package.schema.entities))
    ids = list(entity_expressions(package, entity))
    program = program_for(package, entity)
    assert program.ids() == sorted(ids)
    compiled = cache_info().expressions_compiled
    assert program_for(package, entity) is program
    assert cache_info().expressions_compiled == compiled


def test_determinism() -> None:
    program = _build({"x": "tags.map(t, t + string(size)).filter(t, t.size() > 1)", "y": "now + duration('1s')"})
    record = {"tags": ["a", "bb", "ccc"], "size": 4}
    runs = {(repr(program.evaluate("x", record, CTX)), program.evaluate("y", record, CTX)) for _ in range(200)}
    assert runs == {("['a4', 'bb4', 'ccc4']", "2026-01-02T03:04:06Z")}


def test_fields_cel_cannot_name_are_not_bound() -> None:
    schema = SchemaArtifact.model_validate(
        {"entities": {"E": {"fields": {"in": {"type": "text"}, "step": {"type": "text"}, "x": {"type": "text"}}}}}
    )
    program = CompiledProgram.build("sha256:reserved", schema, "E", {"e": "x + step"})
    assert program.evaluate("e", {"in": "a", "step": "ignored", "x": "x-"}, CTX) == "x-details"


NATIVE_VARS = {"name": "string", "size": "int", "amount": "double", "vip": "bool"}
_LITERALS = {
    "string": st.text(
        alphabet=st.characters(blacklist_characters="'\"\\\n\r\x00", blacklist_categories=("Cs",)), max_size=5
    ),
    "int": st.integers(-(2**40), 2**40),
    "double": st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3)),
    "bool": st.booleans(),
}


def _literal(kind: str, value: Any) -> str:
    if kind == "string":
        return f"'{value}'"
    if kind == "bool":
        return "true" if value else "false"
    if kind == "double":
        return repr(float(value)) if "e" not in repr(float(value)) else f"{value:.3f}"
    return str(value)


@st.composite
def _simple_case(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(NATIVE_VARS)))
    kind = NATIVE_VARS[name]
    ops = ["==", "!="] if kind == "bool" else ["==", "!=", "<", "<=", ">", ">="]
    value = draw(_LITERALS[kind])
    data = {n: draw(_LITERALS[k]) for n, k in NATIVE_VARS.items()}
    if draw(st.booleans()):
        data[name] = value  # equal values half of the time
    if kind == "bool" and draw(st.booleans()):
        return f"{draw(st.sampled_from(['', '!']))}{name}", data
    return f"{name} {draw(st.sampled_from(ops))} {_literal(kind, value)}", data


@given(_simple_case())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_native_forms_agree_with_the_cel_runtime(case: tuple[str, dict[str, Any]]) -> None:
    from cel_expr_python import cel

    from crmctl.runtime.cel import native_form

    source, data = case
    native = native_form(source, NATIVE_VARS)
    assert native is not None, source
    types = {"string": cel.Type.STRING, "int": cel.Type.INT, "double": cel.Type.DOUBLE, "bool": cel.Type.BOOL}
    env = cel.NewEnv(variables={n: types[k] for n, k in NATIVE_VARS.items()})
    expected = env.compile(source).eval(data=data).plain_value()
    assert native(data) is expected or native(data) == expected
    assert type(native(data)) is bool


def test_native_forms_only_for_matching_literal_types() -> None:
    from crmctl.runtime.cel import native_form

    for source in ["size < 10.0", "amount > 5", "name == 1", "vip < true", "size + 1 > 2", "name == 'a\\'b'", "now"]:
        assert native_form(source, {**NATIVE_VARS, "now": "timestamp"}) is None, source
    program = _build({"rule:a/when": "name != ''"}, "sha256:native")
    with pytest.raises(EvaluationError, match="field 'name' has no value"):
        program.evaluate_bound("rule:a/when", {})
