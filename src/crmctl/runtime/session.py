"""The form session: a pure state machine, (state, event) → (new state, effects).

Events (JSON objects, as logged): `{"type": "load", "data": {...}}` (data optional: a prefill), `{"type":
"change", "field": PATH, "value": V}` (null clears), `{"type": "next"}`, `{"type": "back"}`, `{"type": "goto",
"step": ID}`, `{"type": "submit"}`. An event the form cannot take (unknown field or step, a wrong type, a
read-only or hidden field, a value not offered) raises `EventError` and changes nothing.

Effects are JSON objects in a stable order: the presentation as it changed (`locale` with the text direction,
`step`, `show`/`hide`, `readonly`,
`required`, `options`, `set`, `message`/`clear`, `error`) followed by what the event itself caused (`blocked`,
`submit`). Presentation effects are the difference between the view before and after the event, so the first
event (load) presents everything and later events only what changed. Fields a role may not see never appear.

Rules run on their triggers (load: onLoad, then onEnterStep; change: onChange; next: onExitStep of the step
left, then onEnterStep of the step entered; submit: onSubmitAttempt, onValidate, onSave); among the rules of one
trigger lower `priority` runs first, then file order. Per trigger the capabilities run in this order:
calculation, then calculated fields, then dependency and visibility (in rule order: neither changes what the
other reads); guards and transitions are consulted by the navigation that fires them. A field without a value
reads as its type's zero value. A condition that reads an unset nested key is false. Evaluating is pure: the
clock arrives with each event (`at`) and async answers through an injected resolver, returned so the caller
logs them.

How it is built: a `Session` computes its `SessionIndex` (`runtime._session_index`: what the form, the role and the
locale decide before any event) once; `apply` checks the event against the state, then an `EventRun`
(`runtime._run`) applies it to a scratch copy, the method for its kind taken from the table `HANDLERS`, and
`finish` returns the outcome. Presentation effects are view differences (`runtime._view.diff_view`); the state
and outcome types live in `runtime._state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmctl.runtime._run import HANDLERS, EventRun
from crmctl.runtime._session_index import SessionIndex
from crmctl.runtime._state import EVENT_TYPES, EventError, Outcome, SessionState
from crmctl.runtime._view import diff_view
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Resolver
from crmctl.runtime.messages import BUILTIN

if TYPE_CHECKING:
    from crmctl.runtime.form import FormModel
    from crmctl.runtime.l10n import Localizer

__all__ = ["EVENT_TYPES", "EventError", "Outcome", "Session", "SessionState"]


def _no_resolver(request: AsyncRequest) -> AsyncAnswer:
    raise EventError(f"validation {request.validation}: no provider {request.provider!r} is registered")


class Session:
    """One form of one package version, seen by one role in one locale. `apply` is the state machine."""

    def __init__(self, model: FormModel, localizer: Localizer, role: str) -> None:
        roles = model.package.manifest.roles if model.package.manifest else []
        if roles and role not in roles:
            raise EventError(f"{model.name}: unknown role {role!r}; the package declares {', '.join(roles)}")
        self.model = model
        self.role = role
        self.index = SessionIndex(model, localizer, role)

    def apply(
        self, state: SessionState, event: Mapping[str, Any], at: datetime, resolver: Resolver | None = None
    ) -> Outcome:
        """The next state and the effects of `event` at the injected time `at`."""
        kind = event.get("type") if isinstance(event, Mapping) else None
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise EventError(f"unknown event {kind!r}; events are {', '.join(EVENT_TYPES)}")
        if at.tzinfo is None:
            raise EventError("event time must carry a time zone")
        if kind != "load" and state.status == "new":
            raise EventError(f"{kind}: the session has not been loaded yet; send load first")
        if kind == "load" and state.status != "new":
            raise EventError("load: the session is loaded already")
        if state.status == "submitted":
            raise EventError(f"{kind}: {BUILTIN['en']['crmctl.submitted']}")
        run = EventRun(self.index, state, at, resolver or _no_resolver)
        handler(run, event)
        return run.finish()

    def present(self, view: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The effects that present a saved view from scratch: what a renderer needs after a restart."""
        return diff_view(self.index, {}, view, self.index.value_fields, None)

    def display(self, value: Any, path: str) -> str:
        """`value` of the field at `path` formatted for the session's locale (as a `set` effect's `display`)."""
        return self.index.display(value, path)
