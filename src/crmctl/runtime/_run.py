"""One event applied to a form session: a scratch copy of the state, the rules and navigation it fires, the view
it leaves (see `runtime.session` for the semantics)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.fields import (
    ArrayField,
    CalculatedField,
    CurrencyField,
    EnumField,
    NumberField,
    ObjectField,
    TextField,
)
from crmctl.runtime._run_view import _RunView
from crmctl.runtime._state import EventError, Outcome, SessionState
from crmctl.runtime._view import diff_view
from crmctl.runtime.checks import Finding
from crmctl.runtime.form import CompiledRule, field_at
from crmctl.runtime.values import ValueSizeError, to_cel

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef

__all__ = ["EventRun"]


class EventRun(_RunView):
    """One event being applied: a mutable scratch copy of the state, thrown away on EventError."""

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
        if isinstance(value, float) and not math.isfinite(value):
            self.errors[expr_id] = "the result is not a finite number"
            return None
        if kind == "date" and isinstance(value, str) and len(value) >= 10:
            value = value[:10]  # a timestamp's day; still checked below like any other result
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
                self.tail.append(
                    {
                        "effect": "blocked",
                        "action": action,
                        "rule": rule.id,
                        "reason": self.s.message(key, {"rule": rule.id}),
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
            self.set_value(path, self.check_input(path, value, prefill=True))
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
        raise EventError(f"no step of the form is visible to role {self.s.role!r}")

    def on_change(self, event: Mapping[str, Any]) -> None:
        path = event.get("field")
        if not isinstance(path, str):
            raise EventError("change: field must be a field path")
        path = self.resolve(path)
        value = self.check_input(path, event.get("value"))
        self.set_value(path, value)
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
            self.set_value(name, _stored(filled, self.model.fields[name], name))

    def resolve(self, path: str) -> str:
        """The field a path names, following `aliases` at every depth (a renamed field keeps answering to its former
        name)."""
        return self.model.rename.path(path) if self.model.rename is not None else path

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
            to_cel(value, fdef, path)  # the type and size checks
        except ValueSizeError as exc:
            raise EventError(str(exc)) from exc
        except UserError as exc:
            raise EventError(str(exc)) from None
        if isinstance(fdef, ObjectField):  # only a prefill: each member as a change of it would store it
            return {
                key: self.check_input(f"{path}.{key}", item, prefill=True)
                for key, item in value.items()
                if item is not None
            }
        if isinstance(fdef, EnumField):
            allowed = fdef.values if prefill else self.offered(path)
            if value not in allowed:
                raise EventError(f"{path}: {value!r} is not offered; choose one of {', '.join(allowed)}")
            return value
        return _stored(value, fdef, path)

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
                {"effect": "blocked", "action": "next", "rule": None, "reason": self.s.message("crmctl.lastStep")}
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
                {"effect": "blocked", "action": "back", "rule": None, "reason": self.s.message("crmctl.firstStep")}
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
                {"effect": "blocked", "action": "goto", "rule": None, "reason": self.s.message("crmctl.stepHidden")}
            )
            return
        if target not in self.history:
            self.tail.append(
                {"effect": "blocked", "action": "goto", "rule": None, "reason": self.s.message("crmctl.notReached")}
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
            report = self.full_validation(None) + [f for f in report if f.validation in self.s.async_ids]
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
            effect["record"] = {k: v for k, v in self.data.items() if not self.s._role_hides(k)}
            self.status = "submitted"
        self.tail.append(effect)

    def finish(self) -> Outcome:
        new_view = self.view()
        effects = diff_view(self.s, self.state.view, new_view, self.value_changes, self.echo)
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
        )
        self.keep_binding()
        return Outcome(state, effects, self.answers, self.record)


def _stored(value: Any, fdef: FieldDef, path: str) -> Any:
    """A value of the right type as the record stores it: whole numbers of double fields as floats, enum values
    checked, `maxLength` and `maxItems` enforced, inside arrays and objects too (as the record engine does)."""
    if isinstance(fdef, ArrayField):
        if fdef.maxItems is not None and len(value) > fdef.maxItems:
            raise EventError(f"{path}: {len(value)} items; at most {fdef.maxItems}")
        return [_stored(item, fdef.items, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(fdef, ObjectField):
        return {
            key: _stored(item, fdef.fields[key], f"{path}.{key}") for key, item in value.items() if item is not None
        }
    if isinstance(fdef, EnumField) and value not in fdef.values:
        raise EventError(f"{path}: {value!r} is not one of {', '.join(fdef.values)}")
    if isinstance(fdef, TextField) and fdef.maxLength is not None and len(value) > fdef.maxLength:
        raise EventError(f"{path}: {len(value)} characters; at most {fdef.maxLength}")
    if isinstance(fdef, NumberField | CurrencyField) and not isinstance(value, bool) and isinstance(value, int):
        return value if isinstance(fdef, NumberField) and fdef.integer else float(value)
    return value
