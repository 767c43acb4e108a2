"""The one value pipeline (`runtime.values.FieldValues`): forms and records take the same values, one pass per value.

The form session and the record engine used to coerce values each their own way, and drifted (non-finite
numbers, a calculation's result for a date field). Both now call `FieldValues`; these tests hold them to the
same answers, hold the pipeline's fast path to its general pass, and check that a change event converts its
value once.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.package import Package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime import values as values_module
from crmctl.runtime.cel import CompiledProgram
from crmctl.runtime.form import FormModel
from crmctl.runtime.l10n import Localizer
from crmctl.runtime.records import RecordEngine
from crmctl.runtime.session import EVENT_TYPES, EventError, Session, SessionState
from crmctl.runtime.values import (
    FieldValues,
    ResultError,
    ValueLimitError,
    ValueRefusedError,
    ValueSizeError,
    ValueTypeError,
    to_cel,
)

CLOCK = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)

SCHEMA = """\
entities:
  T:
    fields:
      name: {type: text, maxLength: 5}
      note: {type: text}
      kind: {type: enum, values: [a, b]}
      size: {type: number}
      count: {type: number, integer: true}
      price: {type: currency, currency: EUR}
      flag: {type: boolean}
      day: {type: date}
      at: {type: datetime}
      ref: {type: reference, to: T}
      sizes: {type: array, items: {type: number}, maxItems: 2}
      tags: {type: array, items: {type: enum, values: [a, b]}}
      place: {type: object, fields: {city: {type: text, maxLength: 3}, kind: {type: enum, values: [x, y]}}}
      total: {type: calculated, resultType: number, expression: "size * 2.0"}
"""
FORM_FIELDS = ["name", "note", "kind", "size", "count", "price", "flag", "day", "at", "ref", "sizes", "tags"]


def package(schema: str = SCHEMA, rules: str | None = None, fields: list[str] | None = None) -> Package:
    files = {
        "package.yaml": "name: T\nversion: 1.0.0\nscope: global\ndescription: T.\nlocales: [en]\n",
        "localization/en.yaml": "labels: {}\n",
        "schema.yaml": schema,
        "ui.yaml": f"entity: T\nsteps:\n  - id: s\n    fields: [{', '.join(fields or FORM_FIELDS)}]\n",
    }
    if rules is not None:
        files["rules.yaml"] = rules
    return load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "T"))


PACKAGE = package()
MODEL = FormModel.build(PACKAGE)
SESSION = Session(MODEL, Localizer(PACKAGE, "en"), "user")
LOADED = SESSION.apply(SessionState(), {"type": "load"}, CLOCK).state
ENGINE = RecordEngine(PACKAGE, "T")
INPUT_CODES = {"type", "notOffered", "maxLength", "maxItems"}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "a", "b", "z", "Köln", "toolong", "x\x00y", "2026-02-29", "2024-02-29", "1"]),
    st.sampled_from(["2026-11-26T09:00:00Z", "2026-11-26T09:00:00", "2026-11-26", "12", "1e400", "nan"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(st.sampled_from(["city", "q"]), scalars))


def form_change(field: str, value: Any) -> tuple[str, Any] | None:
    """The error of a change event (None when taken), or the value it stored."""
    try:
        out = SESSION.apply(LOADED, {"type": "change", "field": field, "value": value}, CLOCK)
    except EventError as exc:
        return ("refused", str(exc))
    return ("stored", out.state.data.get(field))


def record_check(field: str, value: Any) -> tuple[str, Any]:
    result = ENGINE.check({field: value}, CLOCK)
    refused = [e for e in result.errors if e["code"] in INPUT_CODES]
    if refused:
        return ("refused", refused[0]["field"])
    return ("stored", result.data.get(field))


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FORM_FIELDS), values)
def test_forms_and_records_take_and_store_the_same_values(field: str, value: Any) -> None:
    form = form_change(field, value)
    record = record_check(field, value)
    assert form is not None
    assert form[0] == record[0], (form, record)
    if form[0] == "refused":  # the same part is refused: the form's message starts with the finding's path
        assert form[1].startswith(f"{record[1]}:"), (form, record)
    elif not isinstance(value, list):  # scalars are stored alike, types included (arrays: see the next test)
        assert form[1] == record[1] and type(form[1]) is type(record[1]), (form, record)


def test_arrays_are_stored_normalized_by_forms_and_as_given_by_records() -> None:
    """Records keep arrays and objects as given, so that records written so far replay byte for byte; forms store
    whole numbers of double fields as floats at every depth. Both check them the same way."""
    assert form_change("sizes", [1, 2.5]) == ("stored", [1.0, 2.5])
    stored = record_check("sizes", [1, 2.5])
    assert stored == ("stored", [1, 2.5]) and type(stored[1][0]) is int


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.sampled_from(["note", "size", "count", "price", "flag", "day", "at", "ref", "total"]), values)
def test_the_fast_path_answers_as_the_general_pass(field: str, value: Any) -> None:
    """`FieldValues.store` takes common inputs without the general pass: it must answer as `to_cel` does."""
    fdef = MODEL.fields[field]
    if value is None:
        return
    try:
        expected = to_cel(value, fdef, field)
    except ValueRefusedError as exc:
        with pytest.raises(type(exc)) as info:
            FieldValues(fdef).store(value, field)
        assert str(info.value) == str(exc)
        return
    pipeline = FieldValues(fdef)
    for _ in range(2):  # the second time from the cache of parsed dates
        stored, cel = pipeline.store(value, field)
        assert cel == expected and type(cel) is type(expected)
        assert stored == (expected if type(expected) is float else value)


def test_limits_are_all_reported_in_the_order_of_the_value() -> None:
    place = FieldValues(MODEL.fields["place"])
    with pytest.raises(ValueLimitError) as info:
        place.store({"city": "Berlin", "kind": "z"}, "place")
    assert [(limit.path, limit.code) for limit in info.value.limits] == [
        ("place.city", "maxLength"),
        ("place.kind", "notOffered"),
    ]
    assert info.value.limits[1].message == "place.kind: 'z' is not one of x, y"
    # a type problem anywhere wins over the limits before it: the value is of the wrong kind
    with pytest.raises(ValueTypeError, match=r"place.kind: expected string, got int"):
        place.store({"city": "Berlin", "kind": 1}, "place")
    result = ENGINE.check({"place": {"city": "Berlin", "kind": "z"}}, CLOCK)
    assert [(e["field"], e["code"]) for e in result.errors] == [
        ("place.city", "maxLength"),
        ("place.kind", "notOffered"),
    ]


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_refused_by_forms_as_by_records(number: float) -> None:
    """Regression: the form session stored NaN and infinities (JSON has no form for them); the record engine
    refused them only at the top level, not inside an array."""
    with pytest.raises(EventError, match=rf"size: expected a finite number, got {number}"):
        SESSION.apply(LOADED, {"type": "change", "field": "size", "value": number}, CLOCK)
    result = ENGINE.check({"sizes": [1.0, number]}, CLOCK)
    # the finding names its field: the message does not repeat it (`sizes[1]: type: sizes[1]: ...` in text)
    assert [(e["field"], e["message"]) for e in result.errors] == [
        ("sizes[1]", f"expected a finite number, got {number}")
    ]


def test_a_result_that_is_no_date_is_a_rule_error_in_records_as_in_forms() -> None:
    """Regression: the record engine cut any text of ten characters or more to a date without checking it, and
    then failed binding it (an exception out of `check`); the session reported a rule error. Both report it."""
    schema = SCHEMA + "      due: {type: date}\n"
    rules = (
        "rules:\n  - id: setDue\n    entity: T\n    scope: global\n    target: due\n    trigger: onValidate\n"
        "    capability: calculation\n    expression: \"'not a date at all'\"\n"
    )
    pkg = package(schema, rules)
    result = RecordEngine(pkg, "T").check({"note": "x"}, CLOCK)
    assert result.ok is False
    assert [e["code"] for e in result.errors] == ["ruleError"]
    assert (
        "result does not fit the field: rule:setDue/expression: expected date 'YYYY-MM-DD', got 'not a date'"
        in (result.errors[0]["message"])
    )
    sess = Session(FormModel.build(pkg), Localizer(pkg, "en"), "user")
    state = sess.apply(SessionState(), {"type": "load"}, CLOCK).state
    submitted = sess.apply(state, {"type": "submit"}, CLOCK)
    report = next(e for e in submitted.effects if e["effect"] == "submit")["report"]
    assert [f["code"] for f in report] == ["rule:setDue/expression"]
    assert "result does not fit the field" in report[0]["message"]


def test_store_result_refuses_what_does_not_fit() -> None:
    day = FieldValues(MODEL.fields["day"])
    assert day.store_result("2026-11-26T09:00:00Z", "e") == ("2026-11-26", datetime(2026, 11, 26, tzinfo=UTC))
    with pytest.raises(ResultError, match="not a finite number"):
        FieldValues(MODEL.fields["size"]).store_result(math.nan, "e")
    assert FieldValues(MODEL.fields["size"]).store_result(2, "e") == (2.0, 2.0)
    assert FieldValues(MODEL.fields["count"]).store_result(2, "e") == (2, 2)
    assert FieldValues(MODEL.fields["total"]).store_result(2, "e") == (2.0, 2.0)
    with pytest.raises(ResultError, match="result does not fit the field: e: expected integer, got float"):
        FieldValues(MODEL.fields["count"]).store_result(2.5, "e")
    # a calculation is the package's own: limits do not apply to its results
    assert FieldValues(MODEL.fields["kind"]).store_result("z", "e") == ("z", "z")


def test_a_size_error_stays_a_size_error() -> None:
    with pytest.raises(ValueSizeError, match="the limit is"):
        FieldValues(MODEL.fields["tags"]).store(["a"] * (values_module.MAX_LIST_ITEMS + 1), "tags")
    with pytest.raises(EventError, match="the limit is") as info:
        SESSION.apply(LOADED, {"type": "change", "field": "tags", "value": ["a"] * 10_001}, CLOCK)
    assert isinstance(info.value.__cause__, ValueSizeError)


@pytest.mark.parametrize(
    ("field", "value"),
    [("day", "2026-11-27"), ("at", "2026-11-26T10:00:00+01:00"), ("sizes", [1, 2]), ("name", "Ada"), ("kind", "b")],
)
def test_a_change_event_converts_its_value_once(monkeypatch: pytest.MonkeyPatch, field: str, value: Any) -> None:
    """One change event checks and converts the changed value in one pass (it used to take three: a type check,
    the limits and again for the binding)."""
    passes: list[str] = []
    general = values_module._convert  # white box: the general pass of the pipeline, counted

    def counted(item: Any, fdef: Any, name: str, *args: Any) -> Any:
        if name == field:
            passes.append(name)
        return general(item, fdef, name, *args)

    monkeypatch.setattr(values_module, "_convert", counted)
    session = Session(MODEL, Localizer(PACKAGE, "en"), "user")  # a fresh pipeline: no parsed date cached yet
    state = session.apply(SessionState(), {"type": "load"}, CLOCK).state
    passes.clear()
    session.apply(state, {"type": "change", "field": field, "value": value}, CLOCK)
    assert len(passes) <= 1  # at most the general pass: scalars of the common types take the fast path


def test_the_binding_travels_with_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CEL variables an event bound are handed to the next event with the state, not found again by the
    identity of the data: a state read back from JSON binds afresh, and so does a state of another program."""
    binds: list[str] = []
    original = CompiledProgram.bind

    def counted(self: CompiledProgram, *args: Any, **kwargs: Any) -> dict[str, Any]:
        binds.append(self.entity)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CompiledProgram, "bind", counted)
    state = SESSION.apply(SessionState(), {"type": "load"}, CLOCK).state
    assert state.binding is not None and state.binding.data is state.data
    assert "binding" not in state.to_json() and SessionState.from_json(state.to_json()) == state
    binds.clear()
    after = SESSION.apply(state, {"type": "change", "field": "size", "value": 2}, CLOCK)
    assert binds == []
    assert after.state.binding is not None and after.state.binding.variables["size"] == 2.0
    again = SESSION.apply(
        SessionState.from_json(state.to_json()), {"type": "change", "field": "size", "value": 2}, CLOCK
    )
    assert binds == ["T"]
    assert again.effects == after.effects
    other = package(SCHEMA.replace("size * 2.0", "size * 3.0"))
    other_session = Session(FormModel.build(other), Localizer(other, "en"), "user")
    binds.clear()
    other_session.apply(state, {"type": "change", "field": "size", "value": 2}, CLOCK)
    assert binds == ["T"]  # bound by another program: bound again


def test_every_event_type_has_its_handler() -> None:
    """Dispatch is a table of the event types: each is taken, anything else (a handler's name too) is refused."""
    state = SessionState()
    for kind in EVENT_TYPES:
        event: dict[str, Any] = {"type": kind, "field": "note", "value": "x", "step": "s"}
        state = SESSION.apply(state, event, CLOCK).state
    assert state.status == "submitted"
    with pytest.raises(EventError, match="unknown event 'on_load'"):
        SESSION.apply(LOADED, {"type": "on_load"}, CLOCK)
    with pytest.raises(EventError, match=r"unknown event \['load'\]"):
        SESSION.apply(LOADED, {"type": ["load"]}, CLOCK)
