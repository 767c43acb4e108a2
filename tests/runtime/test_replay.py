"""Replay: byte-for-byte against the pinned version, every divergence reported, differences against another."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.model.package import load_package
from crmctl.runtime.replay import replay, same_json
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Store
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
V2 = REPO / "packages" / "LeadLifecycle" / "v2"
START = datetime(2026, 11, 26, 9, tzinfo=UTC)
EVENTS = [
    {"type": "change", "field": "firstName", "value": "Ada"},
    {"type": "change", "field": "lastName", "value": "Lovelace"},
    {"type": "change", "field": "phone", "value": "+44 1"},
    {"type": "next"},
    {"type": "change", "field": "company", "value": "ACME"},
    {"type": "change", "field": "companySize", "value": 300},
    {"type": "next"},
    {"type": "submit"},
]


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[Runtime, list[dict[str, Any]]]]:
    with Store.open(tmp_path / "rt.duckdb") as store:
        runtime = Runtime(store, "default")
        config = runtime.configure(load_package(V1), entity=None, form=None, role=None, locale=None)
        for sid in ("a", "b"):
            at = START
            runtime.start(config, sid, at)
            for event in EVENTS:
                at += timedelta(seconds=1)
                runtime.apply(sid, event, at)
        yield runtime, list(store.events("default"))


def test_pinned_replay_reproduces_everything(logged: tuple[Runtime, list[dict[str, Any]]]) -> None:
    runtime, entries = logged
    report = replay(runtime, entries)
    assert (report.ok, report.sessions, report.events) == (True, 2, 18)
    only_b = replay(runtime, entries, sessions={"b"})
    assert (only_b.sessions, only_b.events) == (1, 9)


def test_every_divergence_is_reported_and_replay_goes_on(logged: tuple[Runtime, list[dict[str, Any]]]) -> None:
    runtime, entries = logged
    tampered = copy.deepcopy(entries)
    # session a, event 7 (companySize): the recorded score differs — with and without the recorded hash
    sixth = tampered[6]
    for effect in sixth["effects"]:
        if effect.get("field") == "score":
            effect["value"] = 99.0
    sixth.pop("effectsHash")
    seventh = next(e for e in tampered if e["session"] == "b" and e["event"]["type"] == "next")
    seventh["effectsHash"] = "sha256:" + "0" * 64
    report = replay(runtime, tampered)
    assert [(d.session, d.index) for d in report.divergences] == [("a", 7), ("b", 5)]
    first = report.divergences[0]
    assert first.categories == ("effects", "calculated")
    assert [e["value"] for e in first.missing if e["effect"] == "set"] == [99.0]
    assert [e["value"] for e in first.extra if e["effect"] == "set"] == [30.0]
    assert report.events == 18  # the replay went on past both
    assert report.to_json()["differingEvents"] == 2


def test_against_v2_classifies_differences(logged: tuple[Runtime, list[dict[str, Any]]]) -> None:
    runtime, entries = logged
    report = replay(runtime, entries, against=load_package(V2))
    assert report.against == "LeadLifecycle@1.1.0"
    assert not report.ok and report.totals()["rejected"] == 0  # phone answers to v2's mobilePhone alias
    assert report.per_session["a"] == report.per_session["b"]


def test_same_json_is_strict_about_json_types() -> None:
    assert same_json({"a": [1, "x", None]}, {"a": [1, "x", None]})
    assert not same_json({"a": 1}, {"a": 1.0})
    assert not same_json({"a": True}, {"a": 1})
    assert not same_json({"a": 0.0}, {"a": -0.0})
    assert not same_json([1, 2], [1, 2, 3])
    assert not same_json({"a": 1}, {"b": 1})


def test_an_entry_with_a_broken_time_is_a_divergence_not_a_crash(logged: tuple[Runtime, list[dict[str, Any]]]) -> None:
    runtime, entries = logged
    broken = copy.deepcopy(entries)
    broken[3]["at"] = "yesterday"
    report = replay(runtime, broken)
    first = report.divergences[0]
    assert (first.session, first.index, first.categories) == ("a", 4, ("rejected",))
    assert "not an ISO 8601 time" in (first.error or "")
    assert report.events == 18  # it went on: the events after it differ, since the state missed a step


# --- divergences are classified: presentation or behavioral -------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rewording_is_presentation_and_anything_else_is_behavioral(
    logged: tuple[Runtime, list[dict[str, Any]]], data: st.DataObject
) -> None:
    from crmctl.runtime.replay import _PRESENTATION, _divergence

    _, entries = logged
    recorded = [e for entry in entries for e in entry["effects"]]
    chosen = data.draw(st.lists(st.sampled_from(recorded), min_size=1, max_size=6))
    reworded, touched = copy.deepcopy(chosen), False
    for effect in reworded:
        for key in _PRESENTATION.get(effect["effect"], ()):
            if data.draw(st.booleans()):
                effect[key] = (
                    [data.draw(_TEXT) for _ in effect[key]] if isinstance(effect[key], list) else data.draw(_TEXT)
                )
                touched = True
        for finding in effect.get("report") or []:
            if data.draw(st.booleans()):
                finding["message"], touched = data.draw(_TEXT), True
    item = _divergence("s", 1, 1, {"type": "x"}, chosen, reworded)
    if touched and item.missing:
        assert item.classification == "presentation"
    # a change of anything else is behaviour: another value, another field, an effect more or less
    changed = copy.deepcopy(reworded)
    victim = data.draw(st.sampled_from(changed))
    mutation = data.draw(st.sampled_from(["drop", "add", "value"]))
    if mutation == "drop":
        changed.remove(victim)
    elif mutation == "add":
        changed.append({"effect": "hide", "field": "somethingElse"})
    else:
        keys = [k for k in victim if k not in (*_PRESENTATION.get(victim["effect"], ()), "effect", "report")]
        if not keys:
            return
        victim[data.draw(st.sampled_from(keys))] = ["another value"]
    assert _divergence("s", 1, 1, {"type": "x"}, chosen, changed).classification == "behavioral"


def test_classification_edge_cases() -> None:
    from crmctl.runtime.replay import _divergence

    submit = {
        "effect": "submit",
        "ok": False,
        "report": [{"field": "f", "code": "c", "severity": "error", "message": "m"}],
    }
    worded = copy.deepcopy(submit)
    worded["report"][0]["message"] = "other words"
    assert _divergence("s", 1, 1, {}, [submit], [worded]).classification == "presentation"
    worded["report"][0]["severity"] = "warning"
    assert _divergence("s", 1, 1, {}, [submit], [worded]).classification == "behavioral"
    record = {"effect": "record", "id": "r", "data": {"a": 1}, "warnings": [{"code": "w", "message": "m"}]}
    relabelled = {**record, "warnings": [{"code": "w", "message": "n"}]}
    assert _divergence("s", 1, 1, {}, [record], [relabelled], "record").classification == "presentation"
    assert _divergence("s", 1, 1, {}, [record], [{**record, "data": {"a": 2}}], "record").classification == "behavioral"
    # the same effects in another order, or a logged hash that does not match them: behavioral, to be safe
    assert _divergence("s", 1, 1, {}, [submit, record], [record, submit]).classification == "behavioral"
    # workflow reasons are the engine's account of what happened, not text for people
    refused = {"effect": "refused", "transition": "t", "reason": "not from state a"}
    other = {**refused, "reason": "role x may not take it"}
    assert _divergence("s", 1, 1, {}, [refused], [other], "workflow").classification == "behavioral"
    assert _divergence("s", 1, 1, {}, ["odd"], ["odder"]).classification == "behavioral"
