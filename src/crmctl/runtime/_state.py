"""The form session's state, outcome, errors and built-in messages (see `runtime.session`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmctl.errors import UserError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest

__all__ = ["BUILTIN_MESSAGES", "BUILTIN_TRANSLATIONS", "EVENT_TYPES", "EventError", "Outcome", "SessionState"]

EVENT_TYPES = ("load", "change", "next", "back", "goto", "submit")
BUILTIN_MESSAGES = {
    "crmctl.required": "This field is required.",
    "crmctl.notOffered": "This value is not offered here.",
    "crmctl.ruleError": "A rule could not be evaluated: {detail}",
    "crmctl.lastStep": "This is the last step; submit the form.",
    "crmctl.firstStep": "This is the first step.",
    "crmctl.notReached": "That step has not been reached yet.",
    "crmctl.stepHidden": "That step is not available.",
    "crmctl.guardFailed": "The rule {rule} does not allow this.",
    "crmctl.submitted": "The form was submitted already.",
}
# The built-in messages in the languages of the reference packages; a package overrides any of them by defining
# the same key in its localization `messages` (for any locale).
BUILTIN_TRANSLATIONS = {
    "de": {
        "crmctl.required": "Dieses Feld ist erforderlich.",
        "crmctl.notOffered": "Dieser Wert wird hier nicht angeboten.",
        "crmctl.ruleError": "Eine Regel konnte nicht ausgewertet werden: {detail}",
        "crmctl.lastStep": "Dies ist der letzte Schritt; bitte absenden.",
        "crmctl.firstStep": "Dies ist der erste Schritt.",
        "crmctl.notReached": "Dieser Schritt wurde noch nicht erreicht.",
        "crmctl.stepHidden": "Dieser Schritt ist nicht verfügbar.",
        "crmctl.guardFailed": "Die Regel {rule} erlaubt das nicht.",
        "crmctl.submitted": "Das Formular wurde bereits abgesendet.",
    },
    "fr": {
        "crmctl.required": "Ce champ est obligatoire.",
        "crmctl.notOffered": "Cette valeur n'est pas proposée ici.",
        "crmctl.ruleError": "Une règle n'a pas pu être évaluée : {detail}",
        "crmctl.lastStep": "C'est la dernière étape ; veuillez soumettre le formulaire.",
        "crmctl.firstStep": "C'est la première étape.",
        "crmctl.notReached": "Cette étape n'a pas encore été atteinte.",
        "crmctl.stepHidden": "Cette étape n'est pas disponible.",
        "crmctl.guardFailed": "La règle {rule} ne le permet pas.",
        "crmctl.submitted": "Le formulaire a déjà été soumis.",
    },
    "ar": {
        "crmctl.required": "هذا الحقل مطلوب.",
        "crmctl.notOffered": "هذه القيمة غير متاحة هنا.",
        "crmctl.ruleError": "تعذّر تقييم قاعدة: {detail}",
        "crmctl.lastStep": "هذه هي الخطوة الأخيرة؛ يرجى الإرسال.",
        "crmctl.firstStep": "هذه هي الخطوة الأولى.",
        "crmctl.notReached": "لم يتم الوصول إلى هذه الخطوة بعد.",
        "crmctl.stepHidden": "هذه الخطوة غير متاحة.",
        "crmctl.guardFailed": "القاعدة {rule} لا تسمح بذلك.",
        "crmctl.submitted": "تم إرسال النموذج بالفعل.",
    },
}


class EventError(UserError):
    """The form cannot take this event; the state is unchanged."""


@dataclass(frozen=True)
class SessionState:
    """Everything a session remembers between events; JSON round-trips through `to_json`/`from_json`."""

    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    touched: frozenset[str] = frozenset()
    results: Mapping[str, Any] = field(default_factory=dict)  # rule id → last visibility / options result
    view: Mapping[str, Any] = field(default_factory=dict)
    status: str = "new"  # new → editing → submitted
    submit_attempted: bool = False
    events: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "data": dict(self.data), "history": list(self.history),
                "touched": sorted(self.touched), "results": dict(self.results), "view": dict(self.view),
                "status": self.status, "submitAttempted": self.submit_attempted, "events": self.events}  # fmt: skip

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SessionState:
        return cls(step=doc.get("step"), data=dict(doc.get("data") or {}), history=tuple(doc.get("history") or ()),
                   touched=frozenset(doc.get("touched") or ()), results=dict(doc.get("results") or {}),
                   view=dict(doc.get("view") or {}), status=str(doc.get("status", "new")),
                   submit_attempted=bool(doc.get("submitAttempted")), events=int(doc.get("events", 0)))  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    state: SessionState
    effects: list[dict[str, Any]]
    answers: list[tuple[AsyncRequest, AsyncAnswer]] = field(default_factory=list)
    record: Mapping[str, Any] | None = None  # the record to store after a successful submit (every field)

    def answers_json(self) -> list[dict[str, Any]]:
        return [{"request": q.to_json(), "answer": a.to_json()} for q, a in self.answers]
