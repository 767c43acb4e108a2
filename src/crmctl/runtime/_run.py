"""One event applied to a form session: a scratch copy of the state, the rules and navigation it fires, the view
it leaves (see `runtime.session` for the semantics)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.fields import CalculatedField, EnumField, ObjectField
from crmctl.runtime._state import EventError, Outcome, SessionState
from crmctl.runtime._view import diff_view
from crmctl.runtime.cel import Context, EvaluationError, MissingValueError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Finding, Resolver, is_blank
from crmctl.runtime.form import CompiledRule, field_at, set_field
from crmctl.runtime.values import ValueSizeError, to_cel

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef
    from crmctl.runtime.session import Session

__all__ = ["EventRun"]


class EventRun:
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
        effects = diff_view(self.s, self.state.view, new_view, self.value_changes, self.echo)
        effects.extend(self.tail)
        state = SessionState(self.step, self.data, tuple(self.history), self.touched, self.results,
                             new_view, self.status, self.submit_attempted, self.state.events + 1)  # fmt: skip
        self.keep_binding()
        return Outcome(state, effects, self.answers, self.record)
