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
calculation, then calculated fields, dependency, visibility; guards and transitions are consulted by the
navigation that fires them. A field without a value reads as its type's zero value. A condition that reads an
unset nested key is false. Evaluating is pure: the clock arrives with each event (`at`) and async answers
through an injected resolver, returned so the caller logs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.fields import CalculatedField, EnumField, ObjectField
from crmctl.runtime.cel import Context, EvaluationError, MissingValueError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Finding, Resolver, Validator, is_blank
from crmctl.runtime.form import CompiledRule, FormModel, field_at, set_field
from crmctl.runtime.values import MAX_TEXT, ValueSizeError, to_cel

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef
    from crmctl.runtime.l10n import Localizer

__all__ = ["EVENT_TYPES", "EventError", "Outcome", "Session", "SessionState"]

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
_MAX_EVENT_VALUE = MAX_TEXT


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
        # Role hiding and step access are fixed per session; field_visible asks them for every field per event.
        self._hides: dict[str, bool] = {}
        self._step_allowed: dict[str, bool] = {}
        self.validator = Validator(model)
        self.shown_fields = tuple(p for p in model.form_fields if not self._role_hides(p))
        # calculated fields not on the form follow it by name: schema key order is not part of the package's digest
        calculated = sorted(n for n, f in model.program.fields.items() if isinstance(f, CalculatedField))
        self.value_fields = tuple(dict.fromkeys([*self.shown_fields, *(n for n in calculated
                                                                        if not self._role_hides(n))]))  # fmt: skip
        self._labels: dict[str, str] = {}
        self.locale_view = {"locale": localizer.locale, "direction": localizer.direction}
        self.visibility_rules = _visibility_index(model)
        # Which steps and fields show depends only on the results of the visibility rules: one entry per outcome.
        self.visibility_ids = tuple(dict.fromkeys(r.id for rules in self.visibility_rules.values() for r in rules))
        self.visibility_views: dict[tuple[bool, ...], tuple[dict[str, bool], dict[str, bool]]] = {}
        self.dependency_rules = _dependency_index(model)
        self.dependency_ids = tuple(r.id for rules in self.dependency_rules.values() for r in rules)
        # (visibility, required-by-validation, dependency results) → (required, options): both depend on nothing else
        self.presentations: dict[tuple[Any, ...], tuple[dict[str, bool], dict[str, list[str]]]] = {}
        self._value_paths: dict[str, tuple[str, ...]] = {}
        self._readonly: list[str] | None = None
        self.async_ids = frozenset(v.id for v in model.validations if v.type == "async")
        self.live_checks = tuple(v for v in self.validator.top if v.mode == "soft" and v.type != "async")
        self._displays: dict[tuple[str, type, Any], str] = {}
        # The variables bound at the end of an event, by the identity of the data they were bound from, so the
        # next event of that session starts from them instead of converting every field again (see _Run.reuse).
        self.bindings: dict[int, tuple[Mapping[str, Any], dict[str, Any], dict[str, Any]]] = {}

    # --- the state machine -------------------------------------------------------------------------------------

    def apply(self, state: SessionState, event: Mapping[str, Any], at: datetime,
              resolver: Resolver | None = None) -> Outcome:  # fmt: skip
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
            raise EventError(f"{kind}: {BUILTIN_MESSAGES['crmctl.submitted']}")
        run = _Run(self, state, at, resolver or _no_resolver)
        getattr(run, f"on_{kind}")(event)
        return run.finish()

    # --- helpers shared with the run ------------------------------------------------------------------------------

    def _role_hides(self, path: str) -> bool:
        hidden = self._hides.get(path)
        if hidden is None:
            hidden = self._hides[path] = any(path == h or path.startswith(h + ".") for h in self.role_hidden)
        return hidden

    def readonly_of(self, visible: Mapping[str, bool]) -> list[str]:
        """The role's read-only fields among those presented (the same list for every event of a session)."""
        if self._readonly is None:
            self._readonly = sorted(p for p in self.role_readonly if p in visible)
        return self._readonly

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
        return _diff_view(self, {}, view, self.value_fields, None)

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
        text = self.l10n.message(key, params)
        if text == key and key in BUILTIN_MESSAGES:
            language = self.l10n.locale.split("-")[0].lower()
            text = BUILTIN_TRANSLATIONS.get(language, {}).get(key) or BUILTIN_MESSAGES[key]
            for name, value in (params or {}).items():
                text = text.replace("{" + name + "}", str(value))
        return text

    def step_allowed(self, step_id: str) -> bool:
        allowed = self._step_allowed.get(step_id)
        if allowed is None:
            step = self.model.step(step_id)
            allowed = self._step_allowed[step_id] = step is not None and (not step.roles or self.role in step.roles)
        return allowed


class _Run:
    """One event being applied: a mutable scratch copy of the state, thrown away on EventError."""

    def __init__(self, session: Session, state: SessionState, at: datetime, resolver: Resolver) -> None:
        self.s = session
        self.model = session.model
        self.state = state
        self.at = at.astimezone(UTC)
        self.resolver = resolver
        self.data: Mapping[str, Any] = state.data  # never changed in place: set_value builds a new mapping
        self.step = state.step
        self.history = list(state.history)
        self.touched: frozenset[str] = state.touched
        self.results: dict[str, Any] = dict(state.results)
        self.status = "editing" if state.status == "new" else state.status
        self.submit_attempted = state.submit_attempted
        self.errors: dict[str, str] = dict(state.view.get("errors", {}))
        self.tail: list[dict[str, Any]] = []
        self.answers: list[tuple[AsyncRequest, AsyncAnswer]] = []
        self.report: list[Finding] | None = None
        self._bound: dict[str, Any] | None = self.reuse(state.data)
        self.echo: tuple[str, Any] | None = None
        self.record: dict[str, Any] | None = None
        self.changed: set[str] = set()  # paths written by this event (the presented values follow only these)
        self.value_changes: list[str] = []
        # While the view is computed rule results no longer change, so visibility is worked out once per target.
        self._visible: dict[tuple[str, str], bool] | None = None

    # --- binding ---------------------------------------------------------------------------------------------

    def reuse(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """The variables the previous event bound from `data`, when it is that very (unchanged) mapping."""
        hit = self.s.bindings.get(id(data))
        if hit is None or hit[0] is not data or hit[1] != data:
            return None
        bound = dict(hit[2])
        bound.update(step=self.step or "", role=self.s.role, now=self.at, locale=self.s.l10n.locale)
        return bound

    def keep_binding(self) -> None:
        if self._bound is None:
            return
        if len(self.s.bindings) >= 256:
            self.s.bindings.clear()
        self.s.bindings[id(self.data)] = (self.data, dict(self.data), self._bound)

    def bound(self) -> dict[str, Any]:
        if self._bound is None:
            ctx = Context(self.step or "", self.s.role, self.at, self.s.l10n.locale)
            self._bound = self.model.program.bind(self.data, ctx, zero_absent=True)
        return self._bound

    def set_value(self, path: str, value: Any) -> None:
        self.data = set_field(self.data, path, value)
        self.changed.add(path)
        top = path.split(".")[0]
        if self._bound is not None and top in self.model.program.fields:
            current = self.data.get(top)
            if current is not None:
                self._bound[top] = to_cel(current, self.model.program.fields[top], top)
            elif top in self.model.program.zeros:
                self._bound[top] = self.model.program.zeros[top]
            else:
                self._bound.pop(top, None)

    def set_step(self, step: str) -> None:
        self.step = step
        if self._bound is not None:
            self._bound["step"] = step

    def evaluate(self, expr_id: str) -> Any:
        """The value of an expression; None when it reads an unset key; None with an error effect on failure."""
        try:
            value = self.model.program.evaluate_bound(expr_id, self.bound())
        except MissingValueError:
            value = None
        except EvaluationError as exc:
            self.errors[expr_id] = exc.detail
            return None
        if self.errors:
            self.errors.pop(expr_id, None)
        return value

    def condition(self, rule: CompiledRule) -> bool:
        return rule.when_id is None or self.evaluate(rule.when_id) is True

    # --- rules -----------------------------------------------------------------------------------------------

    def run_trigger(self, trigger: str, dirty: set[str] | None = None, target: str | None = None) -> None:
        """Run the calculation, dependency and visibility rules of `trigger`, then recompute calculated fields.

        With `dirty` (onChange), a rule whose inputs did not change keeps its last result: evaluation is pure.
        With `target` (onEnterStep), only rules of that step run: step rules targeting it, field and component
        rules whose target is shown on it, and global rules.
        """
        rules = self.model.rules_for(trigger)
        if target is not None:
            rules = tuple(r for r in rules if self.model.rule_step(r) in (None, target))
        for rule in rules:
            if rule.rule.capability == "calculation" and self.fresh(rule, dirty) and self.condition(rule):
                self.calculate(rule, dirty)
        self.recalculate(dirty)
        for rule in rules:
            capability = rule.rule.capability
            if capability in ("visibility", "dependency") and self.fresh(rule, dirty):
                if capability == "visibility":
                    self.results[rule.id] = self.condition(rule)
                else:
                    self.results[rule.id] = self.options(rule)

    def fresh(self, rule: CompiledRule, dirty: set[str] | None) -> bool:
        return dirty is None or rule.id not in self.results or bool(rule.reads & dirty) or "now" in rule.reads

    def options(self, rule: CompiledRule) -> list[str] | None:
        if not self.condition(rule) or rule.expr_id is None:
            return None
        value = self.evaluate(rule.expr_id)
        if not isinstance(value, list):
            return None
        return [str(v) for v in value]

    def calculate(self, rule: CompiledRule, dirty: set[str] | None) -> None:
        target = rule.rule.target
        if rule.expr_id is None or not target or target not in self.model.fields:
            return
        value = self.evaluate(rule.expr_id)
        if value is None:
            return
        value = self.coerce(rule.expr_id, value, self.model.fields[target])
        if value is not None and field_at(self.data, target) != value:
            self.set_value(target, value)
            if dirty is not None:
                dirty.add(target.split(".")[0])

    def recalculate(self, dirty: set[str] | None) -> None:
        for calc in self.model.calculated:
            if dirty is not None and not (calc.reads & dirty) and "now" not in calc.reads and calc.name in self.data:
                continue
            value = self.evaluate(calc.expr_id)
            if value is not None:
                value = self.coerce(calc.expr_id, value, calc.field_def)
            if self.data.get(calc.name) != value:
                self.set_value(calc.name, value)
                if dirty is not None:
                    dirty.add(calc.name)

    def coerce(self, expr_id: str, value: Any, fdef: FieldDef) -> Any:
        kind = fdef.resultType if isinstance(fdef, CalculatedField) else fdef.type
        if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
            self.errors[expr_id] = "the result is not a finite number"
            return None
        if kind == "date" and isinstance(value, str) and len(value) >= 10:
            return value[:10]
        if kind in ("number", "currency") and isinstance(value, int) and not isinstance(value, bool):
            integer = getattr(fdef, "integer", False)
            return value if integer else float(value)
        try:
            to_cel(value, fdef, expr_id)
        except UserError as exc:
            self.errors[expr_id] = f"result does not fit the field: {exc}"
            return None
        return value

    def guards(self, trigger: str, *, scope_target: str | None, action: str) -> bool:
        """True when every guard of `trigger` (on `scope_target` or global) holds; else a `blocked` effect."""
        for rule in self.model.rules_for(trigger):
            if rule.rule.capability != "guard" or rule.rule.scope == "workflow":
                continue
            if rule.rule.scope != "global" and self.model.rule_step(rule) != scope_target:
                continue
            if not self.condition(rule):
                key = rule.rule.message or "crmctl.guardFailed"
                self.tail.append({"effect": "blocked", "action": action, "rule": rule.id,
                                  "reason": self.s.message(key, {"rule": rule.id})})  # fmt: skip
                return False
        return True

    # --- events ----------------------------------------------------------------------------------------------

    def on_load(self, event: Mapping[str, Any]) -> None:
        prefill = event.get("data") or {}
        if not isinstance(prefill, Mapping):
            raise EventError("load: data must be an object of field values")
        for name, value in sorted(prefill.items()):
            path = self.resolve(str(name))
            self.set_value(path, self.check_input(path, value, prefill=True))
        first = self.first_step()
        self.set_step(first)
        self.run_trigger("onLoad")
        self.run_trigger("onEnterStep", target=first)

    def first_step(self) -> str:
        for step in self.model.steps:
            if self.step_visible(step.id):
                return step.id
        raise EventError(f"no step of the form is visible to role {self.s.role!r}")

    def on_change(self, event: Mapping[str, Any]) -> None:
        path = event.get("field")
        if not isinstance(path, str):
            raise EventError("change: field must be a field path")
        path = self.resolve(path)
        value = self.check_input(path, event.get("value"))
        self.set_value(path, value)
        if path not in self.touched:
            self.touched = self.touched | {path}
        self.echo = (path, value)
        self.run_trigger("onChange", dirty={path.split(".")[0]})

    def resolve(self, path: str) -> str:
        """The field a path names, following `aliases` (a renamed field keeps answering to its former name)."""
        head, dot, rest = path.partition(".")
        if head not in self.model.fields and head in self.model.aliases:
            return self.model.aliases[head] + dot + rest
        return path

    def check_input(self, path: str, value: Any, *, prefill: bool = False) -> Any:
        """The value as stored (whole numbers of `number`/`currency` fields become floats); EventError if refused."""
        fdef = self.model.fields.get(path)
        if fdef is None or self.s._role_hides(path):
            raise EventError(f"{self.model.entity} has no field {path!r}")
        if isinstance(fdef, CalculatedField):
            raise EventError(f"{path}: calculated fields are never entered")
        if isinstance(fdef, ObjectField) and not prefill:
            raise EventError(f"{path}: change the fields of the object one by one ({path}.<field>)")
        if not prefill:
            if path not in self.model.form_fields:
                raise EventError(f"{path}: the field is not on the form")
            if path in self.s.role_readonly:
                raise EventError(f"{path}: read-only for role {self.s.role}")
            # the view presented after the previous event says what is visible now (rules run after the input)
            shown = self.state.view.get("visible", {}).get(path)
            if not (self.field_visible(path) if shown is None else shown):
                raise EventError(f"{path}: the field is hidden")
        if value is None:
            return None
        try:
            converted = to_cel(value, fdef, path)
        except ValueSizeError as exc:
            raise EventError(str(exc)) from exc
        except UserError as exc:
            raise EventError(str(exc)) from None
        if isinstance(fdef, EnumField):
            allowed = fdef.values if prefill else self.offered(path)
            if value not in allowed:
                raise EventError(f"{path}: {value!r} is not offered; choose one of {', '.join(allowed)}")
        return converted if isinstance(converted, float) else value

    def on_next(self, event: Mapping[str, Any]) -> None:
        current = self.step or ""
        if not self.guards("onExitStep", scope_target=current, action="next"):
            return
        destination = None
        for rule in self.model.rules_for("onExitStep"):
            if (rule.rule.capability == "transition" and rule.rule.target in (current, None)
                    and rule.rule.goto and self.step_visible(rule.rule.goto) and self.condition(rule)):  # fmt: skip
                destination = rule.rule.goto
                break
        destination = destination or self.following(current)
        if destination is None:
            self.tail.append({"effect": "blocked", "action": "next", "rule": None,
                              "reason": self.s.message("crmctl.lastStep")})  # fmt: skip
            return
        self.enter(destination, action="next", push=current)

    def enter(self, destination: str, *, action: str, push: str | None) -> None:
        previous = self.step
        self.set_step(destination)
        if push is not None and not self.guards("onEnterStep", scope_target=destination, action=action):
            self.set_step(previous or destination)
            return
        if push is not None:
            self.history.append(push)
        self.run_trigger("onEnterStep", target=destination)

    def following(self, current: str) -> str | None:
        ids = [s.id for s in self.model.steps]
        for step_id in ids[ids.index(current) + 1 :] if current in ids else []:
            if self.step_visible(step_id):
                return step_id
        return None

    def on_back(self, event: Mapping[str, Any]) -> None:
        while self.history and not self.step_visible(self.history[-1]):
            self.history.pop()
        if not self.history:
            self.tail.append({"effect": "blocked", "action": "back", "rule": None,
                              "reason": self.s.message("crmctl.firstStep")})  # fmt: skip
            return
        self.enter(self.history.pop(), action="back", push=None)

    def on_goto(self, event: Mapping[str, Any]) -> None:
        target = event.get("step")
        if not isinstance(target, str) or self.model.step(target) is None:
            steps = ", ".join(s.id for s in self.model.steps)
            raise EventError(f"goto: no step {target!r}; the form has {steps}")
        if target == self.step:
            return
        if not self.step_visible(target):
            self.tail.append({"effect": "blocked", "action": "goto", "rule": None,
                              "reason": self.s.message("crmctl.stepHidden")})  # fmt: skip
            return
        if target not in self.history:
            self.tail.append({"effect": "blocked", "action": "goto", "rule": None,
                              "reason": self.s.message("crmctl.notReached")})  # fmt: skip
            return
        del self.history[self.history.index(target) :]
        self.enter(target, action="goto", push=None)

    def on_submit(self, event: Mapping[str, Any]) -> None:
        self.submit_attempted = True
        if not self.guards("onSubmitAttempt", scope_target=None, action="submit"):
            return
        self.run_trigger("onValidate")
        report = self.full_validation(self.resolver)
        if not any(f.severity == "error" for f in report) and not self.errors:
            self.run_trigger("onSave")
            if not self.guards("onSave", scope_target=None, action="submit"):
                return
            # onSave calculations may change values: check again (async answers stand, they are not asked twice)
            report = self.full_validation(None) + [f for f in report if f.validation in self.s.async_ids]
        self.report = report
        report.extend(Finding(expr_id, None, "error", "crmctl.ruleError", {"detail": f"{expr_id}: {detail}"})
                      for expr_id, detail in sorted(self.errors.items()))  # fmt: skip
        ok = not any(f.severity == "error" for f in report)
        effect: dict[str, Any] = {"effect": "submit", "ok": ok, "report": [self.finding_json(f) for f in report]}
        if ok:
            # the stored record holds every value; the effect shows only what the role may see
            self.record = dict(self.data)
            effect["record"] = {k: v for k, v in self.data.items() if not self.s._role_hides(k)}
            self.status = "submitted"
        self.tail.append(effect)

    # --- validation ------------------------------------------------------------------------------------------

    def full_validation(self, resolver: Resolver | None) -> list[Finding]:
        """Every applicable check: validations (async ones only with a resolver), onValidate guards, required
        fields, values no longer offered."""
        found = self.s.validator.run(self.data, self.bound(), select=self.checked, resolver=resolver,
                                     answers=self.answers, errors=self.errors)  # fmt: skip
        for rule in self.model.rules_for("onValidate"):
            if rule.rule.capability == "guard" and rule.rule.scope != "workflow" and not self.condition(rule):
                target = rule.rule.target if rule.rule.target in self.model.fields else None
                found.append(Finding(rule.id, target, "error", rule.rule.message or "crmctl.guardFailed",
                                     {"rule": rule.id}))  # fmt: skip
        for path in self.s.shown_fields:
            if not self.field_visible(path) or path in self.s.role_readonly:
                continue
            fdef = self.model.fields[path]
            value = field_at(self.data, path)
            if (fdef.required and is_blank(value) and not isinstance(fdef, CalculatedField)
                    and not any(f.field == path and f.severity == "error" for f in found)):  # fmt: skip
                found.append(Finding("required", path, "error", "crmctl.required"))
            if isinstance(fdef, EnumField) and value is not None and value not in self.offered(path):
                found.append(Finding("notOffered", path, "error", "crmctl.notOffered", {"value": value}))
        return found

    def checked(self, check: Any) -> bool:
        """Validations of fields hidden from the user (by a rule or the role) do not apply."""
        return check.field is None or self.field_visible(check.field) or check.field not in self.model.form_fields

    def live_findings(self) -> list[Finding]:
        """What shows while typing: soft checks of touched fields; after a submit attempt every check."""
        if self.submit_attempted:
            return self.full_validation(None) if self.report is None else self.report
        touched_tops = {p.split(".")[0] for p in self.touched}
        reads = self.model.validation_reads
        if not any(reads[check.id] & touched_tops for check in self.s.live_checks):
            return []

        def soft_and_touched(check: Any) -> bool:
            return (check.mode == "soft" and check.type != "async" and bool(reads[check.id] & touched_tops)
                    and self.checked(check))  # fmt: skip

        return self.s.validator.run(self.data, self.bound(), select=soft_and_touched, errors=self.errors)

    def finding_json(self, finding: Finding) -> dict[str, Any]:
        params = dict(finding.params)
        if finding.field:
            params.setdefault("field", self.s.label(finding.field))
        return {"field": finding.field, "code": finding.validation, "severity": finding.severity,
                "message": self.s.message(finding.message_key, params)}  # fmt: skip

    # --- presentation ----------------------------------------------------------------------------------------

    def step_visible(self, step_id: str) -> bool:
        memo = self._visible
        if memo is not None and (hit := memo.get(("step", step_id))) is not None:
            return hit
        shown = self.s.step_allowed(step_id) and all(self.results.get(r.id, True)
                                                     for r in self._visibility_rules("step", step_id))  # fmt: skip
        if memo is not None:
            memo["step", step_id] = shown
        return shown

    def field_visible(self, path: str) -> bool:
        memo = self._visible
        if memo is not None and (hit := memo.get(("field", path))) is not None:
            return hit
        shown = self._field_visible(path)
        if memo is not None:
            memo["field", path] = shown
        return shown

    def _field_visible(self, path: str) -> bool:
        if self.s._role_hides(path):
            return False
        step = self.model.field_step.get(path)
        if step is not None and not self.step_visible(step):
            return False
        if not all(self.results.get(r.id, True) for r in self._visibility_rules("field", path)):
            return False
        group = self.model.field_group.get(path)
        return group is None or all(self.results.get(r.id, True) for r in self._visibility_rules("component", group))

    def _visibility_rules(self, scope: str, target: str) -> list[CompiledRule]:
        return self.s.visibility_rules.get((scope, target), [])

    def offered(self, path: str) -> list[str]:
        values = self.model.options(path) or []
        for rule in self.s.dependency_rules.get(path, []):
            chosen = self.results.get(rule.id)
            if chosen is not None:
                return [v for v in values if v in chosen]
        return values

    def values(self) -> dict[str, Any]:
        """The presented values: the previous event's, updated where this event wrote (all of them on load)."""
        data = self.data
        old = self.state.view.get("values")
        if old is None:
            paths: Iterable[str] = self.s.value_fields
            values: dict[str, Any] = {}
        else:
            paths = {vf for path in self.changed for vf in self.s.value_paths(path)}
            values = dict(old)
        for p in paths:
            v = data.get(p) if "." not in p else field_at(data, p)
            if v is None or isinstance(v, dict):
                values.pop(p, None)
            else:
                values[p] = v
        self.value_changes = [p for p in self.s.value_fields if p in paths]
        return values

    def options_key(self) -> tuple[tuple[str, ...] | None, ...]:
        """The results of the dependency rules: with the visibility, all that decides the offered options."""
        results = self.results
        return tuple(None if (chosen := results.get(rule_id)) is None else tuple(chosen)
                     for rule_id in self.s.dependency_ids)  # fmt: skip

    def view(self) -> dict[str, Any]:
        self._visible = {}
        key = tuple(bool(self.results.get(rule_id, True)) for rule_id in self.s.visibility_ids)
        known = self.s.visibility_views.get(key)
        if known is None:
            if len(self.s.visibility_views) >= 1024:
                self.s.visibility_views.clear()
            shown = {p: self.field_visible(p) for p in self.s.shown_fields}
            steps_shown = {s.id: self.step_visible(s.id) for s in self.model.steps if s.id in self.s.allowed_steps}
            known = self.s.visibility_views[key] = (shown, steps_shown)
        visible, steps = known  # shared between states: views are never modified once built
        required_by = self.s.validator.required_when(self.bound)
        cached = self.s.presentations.get((key, tuple(required_by.items()), self.options_key()))
        if cached is None:
            if len(self.s.presentations) >= 1024:
                self.s.presentations.clear()
            required = {p: True for p in self.s.shown_fields
                        if visible[p] and (self.model.fields[p].required or required_by.get(p, False))}  # fmt: skip
            options = {p: self.offered(p) for p in self.s.shown_fields
                       if visible[p] and isinstance(self.model.fields[p], EnumField)}  # fmt: skip
            cached = self.s.presentations[key, tuple(required_by.items()), self.options_key()] = (required, options)
        required, options = cached
        values = self.values()
        messages = {}
        for finding in self.live_findings():
            item = self.finding_json(finding)
            if finding.field is None or visible.get(finding.field, True):
                messages[f"{finding.field or ''}#{finding.validation}"] = item
        return {
            "locale": self.s.locale_view,
            "step": self.step,
            "steps": steps,
            "visible": visible,
            "readonly": self.s.readonly_of(visible),
            "required": required,
            "options": options,
            "values": values,
            "messages": messages,
            "errors": dict(sorted(self.errors.items())) if self.errors else {},
        }

    def finish(self) -> Outcome:
        new_view = self.view()
        effects = _diff_view(self.s, self.state.view, new_view, self.value_changes, self.echo)
        effects.extend(self.tail)
        state = SessionState(self.step, self.data, tuple(self.history), self.touched, self.results,
                             new_view, self.status, self.submit_attempted, self.state.events + 1)  # fmt: skip
        self.keep_binding()
        return Outcome(state, effects, self.answers, self.record)


def _visibility_index(model: FormModel) -> dict[tuple[str, str], list[CompiledRule]]:
    index: dict[tuple[str, str], list[CompiledRule]] = {}
    seen: set[str] = set()
    for rules in model.rules.values():
        for rule in rules:
            if rule.rule.capability == "visibility" and rule.rule.target and rule.id not in seen:
                seen.add(rule.id)
                scope = "field" if rule.rule.scope == "global" else rule.rule.scope
                index.setdefault((scope, rule.rule.target), []).append(rule)
    return index


def _dependency_index(model: FormModel) -> dict[str, list[CompiledRule]]:
    index: dict[str, list[CompiledRule]] = {}
    seen: set[str] = set()
    for rules in model.rules.values():
        for rule in sorted(rules, key=lambda r: r.sort_key):
            if rule.rule.capability == "dependency" and rule.rule.target and rule.id not in seen:
                seen.add(rule.id)
                index.setdefault(rule.rule.target, []).append(rule)
    return index


def _diff_view(s: Session, old: Mapping[str, Any], new: Mapping[str, Any], value_changes: Iterable[str],
               echo: tuple[str, Any] | None) -> list[dict[str, Any]]:  # fmt: skip
    model = s.model
    out: list[dict[str, Any]] = []
    if new["locale"] != old.get("locale"):  # the first event says how to write: locale and text direction
        out.append({"effect": "locale", **new["locale"]})
    if new["step"] != old.get("step") and new["step"] is not None:
        step = model.step(new["step"])
        assert step is not None
        out.append({"effect": "step", "step": step.id, "label": s.l10n.step_label(step.id), "mode": step.mode,
                    "fields": [p for p in model.step_fields[step.id] if p in new["visible"]]})  # fmt: skip
    # Most events change little: a part equal to its old self (one C-level comparison) yields no effects.
    old_steps = old.get("steps", {})
    for step_id, shown in new["steps"].items() if new["steps"] != old_steps else ():
        if old_steps.get(step_id, True) != shown:
            out.append({"effect": "show" if shown else "hide", "step": step_id})
    old_visible = old.get("visible", {})
    for path, shown in new["visible"].items() if new["visible"] != old_visible else ():
        if old_visible.get(path) != shown:
            out.append({"effect": "show", "field": path, "label": s.label(path)} if shown
                       else {"effect": "hide", "field": path})  # fmt: skip
    if not old:
        out.extend({"effect": "readonly", "field": p} for p in new["readonly"])
    old_required = old.get("required", {})
    if new["required"] != old_required:
        out.extend(
            {"effect": "required", "field": path, "value": new["required"].get(path, False)}
            for path in new["visible"]
            if new["required"].get(path, False) != old_required.get(path, False)
        )
    old_options = old.get("options", {})
    for path, values in new["options"].items() if new["options"] != old_options else ():
        if old_options.get(path) != values:
            out.append({"effect": "options", "field": path, "values": values,
                        "labels": [s.l10n.picklist(model.entity, path, v) for v in values]})  # fmt: skip
    old_values = old.get("values", {})
    new_values = new["values"]
    for path in value_changes:  # only the fields this event wrote can differ
        before, after = old_values.get(path), new_values.get(path)
        if before == after and type(before) is type(after):
            continue
        if echo is not None and echo == (path, after):
            continue
        effect: dict[str, Any] = {"effect": "set", "field": path, "value": after}
        if after is not None:
            effect["display"] = s.display(after, path)
        out.append(effect)
    old_messages = old.get("messages", {})
    if new["messages"] == old_messages and new["errors"] == old.get("errors", {}):
        return out
    for key, item in new["messages"].items():
        if old_messages.get(key) != item:
            out.append({"effect": "message", **item})
    for key, item in old_messages.items():
        if key not in new["messages"]:
            out.append({"effect": "clear", "field": item["field"], "code": item["code"]})
    old_errors = old.get("errors", {})
    for expr_id, detail in new["errors"].items():
        if old_errors.get(expr_id) != detail:
            out.append({"effect": "error", "rule": expr_id,
                        "message": s.message("crmctl.ruleError", {"detail": detail})})  # fmt: skip
    return out


def now_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")
