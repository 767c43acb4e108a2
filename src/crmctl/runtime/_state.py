"""The form session's state, outcome and errors (see `runtime.session`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmctl.errors import UserError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest

__all__ = ["EVENT_TYPES", "Binding", "EventError", "Outcome", "SessionState"]

EVENT_TYPES = ("load", "change", "next", "back", "goto", "submit")


class EventError(UserError):
    """The form cannot take this event; the state is unchanged."""


@dataclass(frozen=True)
class Binding:
    """The CEL variables an event left bound, so the next event of the session starts from them instead of
    converting every field again: valid for that very `data` mapping (states are values; the engine never changes
    their data in place, and neither may a caller) under the program `program` (package digest, entity)."""

    program: tuple[str, str]
    data: Mapping[str, Any]
    variables: Mapping[str, Any]


@dataclass(frozen=True)
class SessionState:
    """Everything a session remembers between events; JSON round-trips through `to_json`/`from_json`.

    `binding` travels with a state in memory only (not in its JSON, not in comparisons): a state read back from
    JSON binds its data afresh."""

    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    touched: frozenset[str] = frozenset()
    results: Mapping[str, Any] = field(default_factory=dict)  # rule id → last visibility / options result
    view: Mapping[str, Any] = field(default_factory=dict)
    status: str = "new"  # new → editing → submitted
    submit_attempted: bool = False
    events: int = 0
    binding: Binding | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "data": dict(self.data),
            "history": list(self.history),
            "touched": sorted(self.touched),
            "results": dict(self.results),
            "view": dict(self.view),
            "status": self.status,
            "submitAttempted": self.submit_attempted,
            "events": self.events,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SessionState:
        return cls(
            step=doc.get("step"),
            data=dict(doc.get("data") or {}),
            history=tuple(doc.get("history") or ()),
            touched=frozenset(doc.get("touched") or ()),
            results=dict(doc.get("results") or {}),
            view=dict(doc.get("view") or {}),
            status=str(doc.get("status", "new")),
            submit_attempted=bool(doc.get("submitAttempted")),
            events=int(doc.get("events", 0)),
        )


@dataclass(frozen=True)
class Outcome:
    state: SessionState
    effects: list[dict[str, Any]]
    answers: list[tuple[AsyncRequest, AsyncAnswer]] = field(default_factory=list)
    record: Mapping[str, Any] | None = None  # the record to store after a successful submit (every field)

    def answers_json(self) -> list[dict[str, Any]]:
        return [{"request": q.to_json(), "answer": a.to_json()} for q, a in self.answers]
