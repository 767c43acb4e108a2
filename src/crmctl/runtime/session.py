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
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmctl.model.fields import CalculatedField
from crmctl.runtime._run import EventRun
from crmctl.runtime._state import (
    EVENT_TYPES,
    EventError,
    Outcome,
    SessionState,
)
from crmctl.runtime._view import dependency_index, diff_view, visibility_index
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Resolver, Validator
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
        self.l10n = localizer
        self.role = role
        view = model.form.roles.get(role)
        # A role never sees the fields its view hides, nor fields shown only on steps reserved to other roles.
        allowed = [s.id for s in model.steps if not s.roles or role in s.roles]
        reachable = {p for step_id in allowed for p in model.step_fields[step_id]}
        self.allowed_steps = frozenset(allowed)
        self.role_hidden = frozenset(view.hidden if view else ()) | {p for p in model.form_fields if p not in reachable}
        self.role_readonly = frozenset(view.readOnly if view else ())
        # Role hiding is fixed per session; field_visible asks it for every field per event.
        self._hides: dict[str, bool] = {}
        self.validator = Validator(model)
        self.shown_fields = tuple(p for p in model.form_fields if not self._role_hides(p))
        # calculated fields not on the form follow it by name: schema key order is not part of the package's digest
        calculated = sorted(n for n, f in model.program.fields.items() if isinstance(f, CalculatedField))
        self.value_fields = tuple(
            dict.fromkeys([*self.shown_fields, *(n for n in calculated if not self._role_hides(n))])
        )
        self._labels: dict[str, str] = {}
        self.locale_view = {"locale": localizer.locale, "direction": localizer.direction}
        self.visibility_rules = visibility_index(model)
        # Which steps and fields show depends only on the results of the visibility rules: one entry per outcome.
        self.visibility_ids = tuple(dict.fromkeys(r.id for rules in self.visibility_rules.values() for r in rules))
        self.visibility_views: dict[tuple[bool, ...], tuple[dict[str, bool], dict[str, bool]]] = {}
        self.dependency_rules = dependency_index(model)
        self.dependency_ids = tuple(r.id for rules in self.dependency_rules.values() for r in rules)
        # (visibility, required-by-validation, dependency results) → (required, options): both depend on nothing else
        self.presentations: dict[tuple[Any, ...], tuple[dict[str, bool], dict[str, list[str]]]] = {}
        self._value_paths: dict[str, tuple[str, ...]] = {}
        # The role's read-only fields among those presented: the same list in every view of the session.
        self.readonly = sorted(p for p in self.role_readonly if p in self.shown_fields)
        self.async_ids = frozenset(v.id for v in model.validations if v.type == "async")
        self.live_checks = tuple(v for v in self.validator.top if v.mode == "soft" and v.type != "async")
        self._displays: dict[tuple[str, type, Any], str] = {}
        # The variables bound at the end of an event, by the identity of the data they were bound from, so the
        # next event of that session starts from them instead of converting every field again (see _RunView.reuse).
        self.bindings: dict[int, tuple[Mapping[str, Any], dict[str, Any], dict[str, Any]]] = {}

    # --- the state machine -------------------------------------------------------------------------------------

    def apply(
        self, state: SessionState, event: Mapping[str, Any], at: datetime, resolver: Resolver | None = None
    ) -> Outcome:
        """The next state and the effects of `event` at the injected time `at`."""
        kind = event.get("type") if isinstance(event, Mapping) else None
        if kind not in EVENT_TYPES:
            raise EventError(f"unknown event {kind!r}; events are {', '.join(EVENT_TYPES)}")
        if at.tzinfo is None:
            raise EventError("event time must carry a time zone")
        if kind != "load" and state.status == "new":
            raise EventError(f"{kind}: the session has not been loaded yet; send load first")
        if kind == "load" and state.status != "new":
            raise EventError("load: the session is loaded already")
        if state.status == "submitted":
            raise EventError(f"{kind}: {BUILTIN['en']['crmctl.submitted']}")
        run = EventRun(self, state, at, resolver or _no_resolver)
        getattr(run, f"on_{kind}")(event)
        return run.finish()

    # --- helpers shared with the run ------------------------------------------------------------------------------

    def _role_hides(self, path: str) -> bool:
        hidden = self._hides.get(path)
        if hidden is None:
            hidden = self._hides[path] = any(path == h or path.startswith(h + ".") for h in self.role_hidden)
        return hidden

    def value_paths(self, path: str) -> tuple[str, ...]:
        """The presented value fields a write to `path` can change: itself, fields inside it, objects around it."""
        found = self._value_paths.get(path)
        if found is None:
            found = self._value_paths[path] = tuple(
                vf for vf in self.value_fields if vf == path or vf.startswith(path + ".") or path.startswith(vf + ".")
            )
        return found

    def present(self, view: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The effects that present a saved view from scratch: what a renderer needs after a restart."""
        return diff_view(self, {}, view, self.value_fields, None)

    def label(self, path: str) -> str:
        text = self._labels.get(path)
        if text is None:
            text = self._labels[path] = self.l10n.field_label(self.model.entity, path)
        return text

    def display(self, value: Any, path: str) -> str:
        """`value` of the field at `path` formatted for the locale; formatting is slow and values recur."""
        if not isinstance(value, str | int | float):
            return self.l10n.format_value(value, self.model.fields[path], entity=self.model.entity, path=path)
        key = (path, type(value), value)
        text = self._displays.get(key)
        if text is None:
            if len(self._displays) >= 4096:
                self._displays.clear()
            text = self.l10n.format_value(value, self.model.fields[path], entity=self.model.entity, path=path)
            self._displays[key] = text
        return text

    def message(self, key: str, params: Mapping[str, Any] | None = None) -> str:
        return self.l10n.message(key, params)

    def step_allowed(self, step_id: str) -> bool:
        return step_id in self.allowed_steps
