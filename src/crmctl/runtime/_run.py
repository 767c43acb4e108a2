"""One event applied to a form session: a scratch copy of the state, the rules and navigation it fires, the checks
that apply and the view it leaves (see `runtime.session` for the semantics).

An `EventRun` reads the form through the session's `SessionIndex` (computed once per session, never the `Session`
itself) and changes only its own copy of the state. `HANDLERS` names the method that takes each kind of event;
`finish` builds the new state and the effects. Values enter through the one value pipeline (`values.FieldValues`
of `FormModel.values`), which yields the stored value and the value CEL reads in one pass; the CEL variables
follow every write (`set_value`) and travel with the new state (`Binding`), so the next event of the session
starts from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crmctl.model.fields import CalculatedField, EnumField, ObjectField
from crmctl.runtime._state import Binding, EventError, Outcome, SessionState
from crmctl.runtime._view import diff_view
from crmctl.runtime.cel import Context, EvaluationError, MissingValueError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Finding, Resolver, is_blank
from crmctl.runtime.form import CompiledRule, bind_value, field_at, set_field
from crmctl.runtime.values import (
    Limit,
    ResultError,
    ValueLimitError,
    ValueRefusedError,
    ValueSizeError,
    to_cel,
)

if TYPE_CHECKING:
    from crmctl.runtime._session_index import SessionIndex

__all__ = ["HANDLERS", "EventRun"]


class EventRun:
    """One event being applied: a mutable scratch copy of the state, thrown away on EventError."""

    def __init__(self, index: SessionIndex, state: SessionState, at: datetime, resolver: Resolver) -> None:
        self.index = index
        self.model = index.model
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
        self.program_key = (self.model.program.digest, self.model.program.entity)
        self._bound: dict[str, Any] | None = self.reuse(state.binding)
        self.echo: tuple[str, Any] | None = None
        self.record: dict[str, Any] | None = None
        self.changed: set[str] = set()  # paths written by this event (the presented values follow only these)
        self.value_changes: list[str] = []
        # While the view is computed rule results no longer change, so visibility is worked out once per target.
        self._visible: dict[tuple[str, str], bool] | None = None

    # --- binding ---------------------------------------------------------------------------------------------

    def reuse(self, binding: Binding | None) -> dict[str, Any] | None:
        """The variables the previous event bound, when they were bound from this state's very data by this
        program: the state's data is a value, so they still hold; only the context changes."""
        if binding is None or binding.data is not self.data or binding.program != self.program_key:
            return None
        bound = dict(binding.variables)
        bound.update(step=self.step or "", role=self.index.role, now=self.at, locale=self.index.locale)
        return bound

    def bound(self) -> dict[str, Any]:
        if self._bound is None:
            ctx = Context(self.step or "", self.index.role, self.at, self.index.locale)
            self._bound = self.model.program.bind(self.data, ctx, zero_absent=True)
        return self._bound

    def set_value(self, path: str, value: Any, cel: Any) -> None:
        """Write `value` (as stored; None clears) at `path`; `cel` is the value CEL reads for it, from the same
        pass of the value pipeline, so the bound variables follow without converting the value again."""
        self.data = set_field(self.data, path, value)
        self.changed.add(path)
        if self._bound is not None and path.partition(".")[0] in self.model.program.fields:
            bind_value(self._bound, path, cel, self.model.program.zeros)

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

        With `dirty` (onChange), only rules reading a changed field (or the clock) run; the others keep their last
        result, or none yet: onChange means "when what the rule reads changes".
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
        """Whether a rule runs: every rule of a trigger runs, except on change, where a rule runs when a field it
        reads changed (or when it reads the clock): typing a name does not run a rule about the company size."""
        return dirty is None or bool(rule.reads & dirty) or "now" in rule.reads

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
        try:
            value, cel = self.model.values[target].store_result(value, rule.expr_id)
        except ResultError as exc:
            self.errors[rule.expr_id] = exc.detail
            return
        if field_at(self.data, target) != value:
            self.set_value(target, value, cel)
            if dirty is not None:
                dirty.add(target.split(".")[0])

    def recalculate(self, dirty: set[str] | None) -> None:
        for calc in self.model.calculated:
            if dirty is not None and not (calc.reads & dirty) and "now" not in calc.reads and calc.name in self.data:
                continue
            value = self.evaluate(calc.expr_id)
            cel = None
            if value is not None:
                try:
                    value, cel = self.model.values[calc.name].store_result(value, calc.expr_id)
                except ResultError as exc:
                    self.errors[calc.expr_id] = exc.detail
                    value = None
            if self.data.get(calc.name) != value:
                self.set_value(calc.name, value, cel)
                if dirty is not None:
                    dirty.add(calc.name)

    def guards(self, trigger: str, *, scope_target: str | None, action: str) -> bool:
        """True when every guard of `trigger` (on `scope_target` or global) holds; else a `blocked` effect."""
        for rule in self.model.rules_for(trigger):
            if rule.rule.capability != "guard" or rule.rule.scope == "workflow":
                continue
            if rule.rule.scope != "global" and self.model.rule_step(rule) != scope_target:
                continue
            if not self.condition(rule):
                key = rule.rule.message or "crmctl.guardFailed"
                self.tail.append(
                    {
                        "effect": "blocked",
                        "action": action,
                        "rule": rule.id,
                        "reason": self.index.message(key, {"rule": rule.id}),
                    }
                )
                return False
        return True

    # --- events ----------------------------------------------------------------------------------------------

    def on_load(self, event: Mapping[str, Any]) -> None:
        prefill = event.get("data") or {}
        if not isinstance(prefill, Mapping):
            raise EventError("load: data must be an object of field values")
        for name, value in sorted(prefill.items()):
            path = self.resolve(str(name))
            self.set_value(path, *self.check_input(path, value, prefill=True))
        for name in self.model.fill.plan if self.model.fill is not None else ():
            self.fill_default(name)  # a new record starts with every default, fields the role cannot see too
        first = self.first_step()
        self.set_step(first)
        self.run_trigger("onLoad")
        self.run_trigger("onEnterStep", target=first)

    def first_step(self) -> str:
        for step in self.model.steps:
            if self.step_visible(step.id):
                return step.id
        raise EventError(f"no step of the form is visible to role {self.index.role!r}")

    def on_change(self, event: Mapping[str, Any]) -> None:
        path = event.get("field")
        if not isinstance(path, str):
            raise EventError("change: field must be a field path")
        path = self.resolve(path)
        value, cel = self.check_input(path, event.get("value"))
        self.set_value(path, value, cel)
        self.fill_default(path.split(".")[0])  # a cleared field returns to its default; a new object gets its own
        if path not in self.touched:
            self.touched = self.touched | {path}
        self.echo = (path, value)
        self.run_trigger("onChange", dirty={path.split(".")[0]})

    def fill_default(self, name: str) -> None:
        """Give top-level field `name` its default when it has no value, and its members theirs (as stored)."""
        if self.model.fill is None:
            return
        current = self.data.get(name)
        filled = self.model.fill.value(name, current)
        if filled is not None and filled != current:
            try:
                self.set_value(name, *self.model.values[name].store(filled, name))
            except ValueLimitError as exc:
                raise EventError(exc.limits[0].message) from None

    def resolve(self, path: str) -> str:
        """The field a path names, following `aliases` at every depth (a renamed field keeps answering to its former
        name)."""
        return self.model.rename.path(path) if self.model.rename is not None else path

    def check_input(self, path: str, value: Any, *, prefill: bool = False) -> tuple[Any, Any]:
        """`(stored, cel)` for a value entered at `path` (`values.FieldValues`: whole numbers of `number`/`currency`
        fields become floats); EventError if refused."""
        fdef = self.model.fields.get(path)
        if fdef is None or self.index.role_hides(path):
            raise EventError(f"{self.model.entity} has no field {path!r}")
        if isinstance(fdef, CalculatedField):
            raise EventError(f"{path}: calculated fields are never entered")
        if isinstance(fdef, ObjectField) and not prefill:
            raise EventError(f"{path}: change the fields of the object one by one ({path}.<field>)")
        if not prefill:
            if path not in self.model.form_fields:
                raise EventError(f"{path}: the field is not on the form")
            if path in self.index.role_readonly:
                raise EventError(f"{path}: read-only for role {self.index.role}")
            # the view presented after the previous event says what is visible now (rules run after the input)
            shown = self.state.view.get("visible", {}).get(path)
            if not (self.field_visible(path) if shown is None else shown):
                raise EventError(f"{path}: the field is hidden")
        if value is None:
            return None, None
        try:
            if isinstance(fdef, ObjectField):  # only a prefill: the types first, then each member as a change of it
                cel = to_cel(value, fdef, path)
                members = {
                    key: self.check_input(f"{path}.{key}", item, prefill=True)[0]
                    for key, item in value.items()
                    if item is not None
                }
                return members, cel
            offered = self.offered(path) if isinstance(fdef, EnumField) and not prefill else None
            return self.model.values[path].store(value, path, offered=offered)
        except ValueLimitError as exc:
            raise EventError(_limit_message(exc.limits[0])) from None
        except ValueSizeError as exc:
            raise EventError(str(exc)) from exc
        except ValueRefusedError as exc:
            raise EventError(str(exc)) from None

    def on_next(self, event: Mapping[str, Any]) -> None:
        current = self.step or ""
        if not self.guards("onExitStep", scope_target=current, action="next"):
            return
        destination = None
        for rule in self.model.rules_for("onExitStep"):
            if (
                rule.rule.capability == "transition"
                and rule.rule.target in (current, None)
                and rule.rule.goto
                and self.step_visible(rule.rule.goto)
                and self.condition(rule)
            ):
                destination = rule.rule.goto
                break
        destination = destination or self.following(current)
        if destination is None:
            self.tail.append(
                {"effect": "blocked", "action": "next", "rule": None, "reason": self.index.message("crmctl.lastStep")}
            )
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
            self.tail.append(
                {"effect": "blocked", "action": "back", "rule": None, "reason": self.index.message("crmctl.firstStep")}
            )
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
            self.tail.append(
                {"effect": "blocked", "action": "goto", "rule": None, "reason": self.index.message("crmctl.stepHidden")}
            )
            return
        if target not in self.history:
            self.tail.append(
                {"effect": "blocked", "action": "goto", "rule": None, "reason": self.index.message("crmctl.notReached")}
            )
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
            report = self.full_validation(None) + [f for f in report if f.validation in self.index.async_ids]
        self.report = report
        report.extend(
            Finding(expr_id, None, "error", "crmctl.ruleError", {"detail": f"{expr_id}: {detail}"})
            for expr_id, detail in sorted(self.errors.items())
        )
        ok = not any(f.severity == "error" for f in report)
        effect: dict[str, Any] = {"effect": "submit", "ok": ok, "report": [self.finding_json(f) for f in report]}
        if ok:
            # the stored record holds every value; the effect shows only what the role may see
            self.record = dict(self.data)
            effect["record"] = {k: v for k, v in self.data.items() if not self.index.role_hides(k)}
            self.status = "submitted"
        self.tail.append(effect)

    # --- validation ------------------------------------------------------------------------------------------

    def full_validation(self, resolver: Resolver | None) -> list[Finding]:
        """Every applicable check: validations (async ones only with a resolver), onValidate guards, required
        fields, values no longer offered."""
        found = self.index.validator.run(
            self.data, self.bound(), select=self.checked, resolver=resolver, answers=self.answers, errors=self.errors
        )
        for rule in self.model.rules_for("onValidate"):
            if rule.rule.capability == "guard" and rule.rule.scope != "workflow" and not self.condition(rule):
                target = rule.rule.target if rule.rule.target in self.model.fields else None
                found.append(
                    Finding(rule.id, target, "error", rule.rule.message or "crmctl.guardFailed", {"rule": rule.id})
                )
        for path in self.index.shown_fields:
            if not self.field_visible(path) or path in self.index.role_readonly:
                continue
            fdef = self.model.fields[path]
            value = field_at(self.data, path)
            if (
                fdef.required
                and is_blank(value)
                and not isinstance(fdef, CalculatedField)
                and not any(f.field == path and f.severity == "error" for f in found)
            ):
                found.append(Finding("required", path, "error", "crmctl.required"))
            offered = self.offered(path) if isinstance(fdef, EnumField) and value is not None else None
            if offered is not None and value not in offered:
                found.append(
                    Finding(
                        "notOffered", path, "error", "crmctl.notOffered", {"value": value, "values": ", ".join(offered)}
                    )
                )
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
        live = {check.id for check in self.index.live_checks if reads[check.id] & touched_tops}
        if not live:
            return []
        return self.index.validator.run(
            self.data, self.bound(), errors=self.errors, select=lambda check: check.id in live and self.checked(check)
        )

    def finding_json(self, finding: Finding) -> dict[str, Any]:
        params = dict(finding.params)
        if finding.field:
            params.setdefault("field", self.index.label(finding.field))
        return {
            "field": finding.field,
            "code": finding.validation,
            "severity": finding.severity,
            "message": self.index.message(finding.message_key, params),
        }

    # --- presentation ----------------------------------------------------------------------------------------

    def step_visible(self, step_id: str) -> bool:
        memo = self._visible
        if memo is not None and (hit := memo.get(("step", step_id))) is not None:
            return hit
        shown = self.index.step_allowed(step_id) and all(
            self.results.get(r.id, True) for r in self._visibility_rules("step", step_id)
        )
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
        if self.index.role_hides(path):
            return False
        step = self.model.field_step.get(path)
        if step is not None and not self.step_visible(step):
            return False
        if not all(self.results.get(r.id, True) for r in self._visibility_rules("field", path)):
            return False
        group = self.model.field_group.get(path)
        return group is None or all(self.results.get(r.id, True) for r in self._visibility_rules("component", group))

    def _visibility_rules(self, scope: str, target: str) -> list[CompiledRule]:
        return self.index.visibility_rules.get((scope, target), [])

    def offered(self, path: str) -> list[str]:
        values = self.model.options(path) or []
        for rule in self.index.dependency_rules.get(path, []):
            chosen = self.results.get(rule.id)
            if chosen is not None:
                return [v for v in values if v in chosen]
        return values

    def values(self) -> dict[str, Any]:
        """The presented values: the previous event's, updated where this event wrote (all of them on load)."""
        data = self.data
        old = self.state.view.get("values")
        if old is None:
            paths = list(self.index.value_fields)
            values: dict[str, Any] = {}
        else:
            # In the order of the value fields, not of a set: the values are saved with the state (drafts).
            written = {vf for path in self.changed for vf in self.index.value_paths(path)}
            paths = [p for p in self.index.value_fields if p in written]
            values = dict(old)
        for p in paths:
            v = data.get(p) if "." not in p else field_at(data, p)
            if v is None or isinstance(v, dict):
                values.pop(p, None)
            else:
                values[p] = v
        self.value_changes = paths
        return values

    def options_key(self) -> tuple[tuple[str, ...] | None, ...]:
        """The results of the dependency rules: with the visibility, all that decides the offered options."""
        results = self.results
        return tuple(
            None if (chosen := results.get(rule_id)) is None else tuple(chosen) for rule_id in self.index.dependency_ids
        )

    def view(self) -> dict[str, Any]:
        self._visible = {}
        index = self.index
        key = tuple(bool(self.results.get(rule_id, True)) for rule_id in index.visibility_ids)
        visible, steps = index.visibility_view(key, self._visibility)  # shared between states: never modified
        required_by = index.validator.required_when(self.bound)
        required, options = index.presentation(
            (key, tuple(required_by.items()), self.options_key()), lambda: self._presentation(visible, required_by)
        )
        values = self.values()
        messages = {}
        for finding in self.live_findings():
            item = self.finding_json(finding)
            if finding.field is None or visible.get(finding.field, True):
                messages[f"{finding.field or ''}#{finding.validation}"] = item
        return {
            "locale": self.index.locale_view,
            "step": self.step,
            "steps": steps,
            "visible": visible,
            "readonly": self.index.readonly,
            "required": required,
            "options": options,
            "values": values,
            "messages": messages,
            "errors": dict(sorted(self.errors.items())) if self.errors else {},
        }

    def _visibility(self) -> tuple[dict[str, bool], dict[str, bool]]:
        shown = {p: self.field_visible(p) for p in self.index.shown_fields}
        steps = {s.id: self.step_visible(s.id) for s in self.model.steps if s.id in self.index.allowed_steps}
        return shown, steps

    def _presentation(
        self, visible: Mapping[str, bool], required_by: Mapping[str, bool]
    ) -> tuple[dict[str, bool], dict[str, list[str]]]:
        fields = self.model.fields
        shown = [p for p in self.index.shown_fields if visible[p]]
        required = {p: True for p in shown if fields[p].required or required_by.get(p, False)}
        options = {p: self.offered(p) for p in shown if isinstance(fields[p], EnumField)}
        return required, options

    def finish(self) -> Outcome:
        new_view = self.view()
        effects = diff_view(self.index, self.state.view, new_view, self.value_changes, self.echo)
        effects.extend(self.tail)
        state = SessionState(
            self.step,
            self.data,
            tuple(self.history),
            self.touched,
            self.results,
            new_view,
            self.status,
            self.submit_attempted,
            self.state.events + 1,
            None if self._bound is None else Binding(self.program_key, self.data, self._bound),
        )
        return Outcome(state, effects, self.answers, self.record)


def _limit_message(limit: Limit) -> str:
    """The event error for a value over a limit: a field entered on the form (a path without an item index)
    names the values offered; a value inside an array says which values the field declares."""
    if limit.code == "notOffered" and "[" not in limit.path:
        return f"{limit.path}: {limit.value!r} is not offered; choose one of {', '.join(limit.allowed)}"
    return limit.message


HANDLERS: Mapping[str, Callable[[EventRun, Mapping[str, Any]], None]] = {
    "load": EventRun.on_load,
    "change": EventRun.on_change,
    "next": EventRun.on_next,
    "back": EventRun.on_back,
    "goto": EventRun.on_goto,
    "submit": EventRun.on_submit,
}
"""The method of `EventRun` that takes each kind of event (`EVENT_TYPES`, in that order)."""
