"""Simulation scripts and workflow scenarios: the models of the files `crmctl simulate --script` and `crmctl
workflow simulate|coverage` read, and their located checks.

Both files are a mapping (`now`, then `answers` or `records`, and `events`) whose events are one-key mappings,
`- change: {field: email, value: a@b.co}`; a script may also be a bare list of events, and an event without
arguments a bare word (`- next`). The argument models below are the one definition of what each event takes:
the loaders check every event's arguments with them, and the JSON Schemas shipped for editors
(`script.schema.json`, `scenario.schema.json`, see `model.jsonschemas`) are generated from the same models.

`check_events` turns a document's events into (where, kind, arguments) with every mistake reported as a located
InputError (`file:line:col: ...`, exit 2); what the arguments mean (durations, moments, records) is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, create_model

from crmctl.errors import InputError
from crmctl.model.durations import CLOCK_DURATION_PATTERN

if TYPE_CHECKING:
    from crmctl.model.source import SourceDoc

__all__ = [
    "SCENARIO_STEPS",
    "SCRIPT_EVENTS",
    "ScenarioDocument",
    "ScriptBody",
    "ScriptDocument",
    "check_events",
]


class _Args(BaseModel):
    """The arguments of one event: no other keys; numbers given for names are read as text (`instance: 1`)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


Duration = Field(
    description="a duration: a number and a unit, s m h d or w (30s, 5m, 2h, 3d, 1w)", pattern=CLOCK_DURATION_PATTERN
)
Moment = Field(description="an ISO 8601 moment with a zone, e.g. 2026-11-23T08:00:00Z")


class ActorRef(_Args):
    user: str
    role: str


ActorField = Field(None, alias="as", description="who acts: user/role (bob/salesManager) or {user, role}")


# --- simulation scripts (`crmctl simulate --script`, `crmctl draft resume --script`) -----------------------------


class NoArgs(_Args):
    """An event without arguments (`- next`, `- next: {}`)."""


class LoadArgs(_Args):
    data: dict[str, Any] = Field(default_factory=dict, description="field values to load into the form")


class ChangeArgs(_Args):
    field: str = Field(description="the field's path, e.g. email or address.city")
    value: Any = Field(None, description="the new value; null clears the field")


class GotoArgs(_Args):
    step: str = Field(description="the id of the step to go to")


# event -> the model of its arguments (`advance` takes a duration instead)
SCRIPT_EVENTS: dict[str, type[_Args] | None] = {
    "load": LoadArgs,
    "change": ChangeArgs,
    "next": NoArgs,
    "back": NoArgs,
    "goto": GotoArgs,
    "submit": NoArgs,
    "advance": None,
    "quit": NoArgs,
}


# --- workflow scenarios (`crmctl workflow simulate --script`, `crmctl workflow coverage`) --------------------------


class StartArgs(_Args):
    instance: str = Field(description="the new instance's id (once per tenant)")
    record: str | None = Field(None, description="the name of a record under `records`")
    data: dict[str, Any] | None = Field(None, description="the record's field values, when not a named record")
    as_: str | ActorRef | None = ActorField


class FireArgs(_Args):
    instance: str
    transition: str | None = Field(None, description="the transition's id")
    as_: str | ActorRef | None = ActorField


class DecideArgs(_Args):
    instance: str
    decision: str | None = Field(None, description="approve or reject (an approval), or one of the task's outcomes")
    as_: str | ActorRef | None = ActorField
    comment: str | None = None


class ClaimArgs(_Args):
    instance: str
    as_: str | ActorRef | None = ActorField


class ChangeFieldArgs(_Args):
    instance: str
    field: str | None = Field(None, description="the field's path in the instance's record")
    value: Any = Field(None, description="the new value; null clears the field")


# step -> the model of its arguments (`advance` takes a duration, `advance-to` a moment)
SCENARIO_STEPS: dict[str, type[_Args] | None] = {
    "start": StartArgs,
    "fire": FireArgs,
    "decide": DecideArgs,
    "claim": ClaimArgs,
    "change": ChangeFieldArgs,
    "advance": None,
    "advance-to": None,
}


def _one_key(name: str, kind: str, args: Any) -> Any:
    """The model of an event `{kind: args}`, for the JSON Schema."""
    model: Any = create_model(  # type: ignore[call-overload]
        name, __config__=ConfigDict(extra="forbid"), **{kind.replace("-", "_"): (args, Field(alias=kind))}
    )
    return model


def _events_union(events: Mapping[str, type[_Args] | None], timed: dict[str, Any], *, script: bool) -> Any:
    """The union of the one-key models of `events`; a script's events may also be bare words or have null
    arguments (`- next`, `- submit:`)."""
    members: list[Any] = []
    if script:
        members.append(Literal[tuple(k for k, v in events.items() if v is NoArgs)])
    suffix = "Event" if script else "Step"
    for kind, args in events.items():
        shape = timed[kind] if args is None else (args | None if script else args)
        members.append(_one_key(f"{kind.title().replace('-', '')}{suffix}", kind, shape))
    union: Any = members[0]
    for member in members[1:]:
        union = union | member
    return union


_DURATION = Annotated[str, Duration]
_MOMENT = Annotated[str, Moment]
_ScriptEvent = _events_union(SCRIPT_EVENTS, {"advance": _DURATION}, script=True)
_ScenarioStep = _events_union(SCENARIO_STEPS, {"advance": _DURATION, "advance-to": _MOMENT}, script=False)


class ScriptBody(BaseModel):
    """A simulation script written as a mapping: `now`, `answers` and `events`."""

    model_config = ConfigDict(extra="forbid")
    now: str | None = Moment
    answers: dict[str, Any] = Field(default_factory=dict, description="a provider's recorded answer, by provider")
    events: list[_ScriptEvent] = Field(default_factory=list)  # type: ignore[valid-type]


class ScriptDocument(RootModel[list[_ScriptEvent] | ScriptBody]):  # type: ignore[valid-type]
    """A simulation script: a list of events, or a mapping with `now`, `answers` and `events`."""


class ScenarioDocument(BaseModel):
    """A workflow scenario: `now`, named `records` and a list of `events` (start, fire, decide, claim, change,
    advance, advance-to)."""

    model_config = ConfigDict(extra="forbid")
    now: str | None = Moment
    records: dict[str, dict[str, Any]] = Field(default_factory=dict, description="a record's field values, by name")
    events: list[_ScenarioStep] = Field(default_factory=list)  # type: ignore[valid-type]


# --- located checks ------------------------------------------------------------------------------------------------


def check_events(
    doc: SourceDoc, prefix: tuple[str | int, ...], items: list[Any], *, scenario: bool
) -> list[tuple[str, str, Any]]:
    """Every event of `items` (the list at `prefix` in `doc`) as (where, kind, arguments), its arguments checked
    with their model; a located InputError at the first mistake. `advance` (and `advance-to`) keep their raw
    value, to be read by the caller."""
    events = SCENARIO_STEPS if scenario else SCRIPT_EVENTS
    what = "step" if scenario else "event"
    names = ", ".join(events)
    checked: list[tuple[str, str, Any]] = []
    for i, item in enumerate(items):
        where = str(doc.loc((*prefix, i)))
        if not scenario and isinstance(item, str) and item in events:
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            raise InputError(f"{where}: {'a' if scenario else 'an'} {what} is a mapping with one key: {names}")
        ((kind, args),) = item.items()
        if kind not in events:
            raise InputError(f"{where}: unknown {what} {kind!r}; {what}s are {names}")
        model = events[kind]
        if model is None:
            checked.append((where, kind, args))
            continue
        if args is None and not scenario:
            args = {}
        try:
            model.model_validate(args)
        except ValidationError as exc:
            raise InputError(_explain(doc, (*prefix, i, kind), where, kind, args, exc, scenario)) from None
        checked.append((where, kind, args))
    return checked


def _explain(
    doc: SourceDoc,
    path: tuple[str | int, ...],
    where: str,
    kind: str,
    args: Any,
    exc: ValidationError,
    scenario: bool,
) -> str:
    """The first mistake of an event's arguments, in words."""
    errors = exc.errors()
    if not isinstance(args, dict):
        if scenario:
            return f"{where}: {kind} takes a mapping with at least an instance"
        return f"{where}: {kind} takes a mapping of arguments, e.g. {kind}: {{}}"
    # an argument missing or unknown (a mistake inside an argument, as in `as: {user: bob}`, is worded below)
    missing = [str(e["loc"][0]) for e in errors if e["type"] == "missing" and len(e["loc"]) == 1]
    extra = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1]
    if scenario and "instance" in missing:
        return f"{where}: {kind} takes a mapping with at least an instance"
    if extra:
        return f"{where}: {kind} has no argument {sorted(extra)[0]!r}"
    if missing:
        wanted = {"field": "a field (and a value; null clears)", "step": "a step"}.get(missing[0], missing[0])
        return f"{where}: {kind} needs {wanted}"
    first = errors[0]
    key = str(first["loc"][0])
    return f"{doc.loc((*path, key))}: {kind}: {key}: {first['msg']}"
