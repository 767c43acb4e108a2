"""What a form session presents after an event: the variables bound, the checks that apply, the visibility,
options, values and messages of the view (the base of `runtime._run.EventRun`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crmctl.model.fields import CalculatedField, EnumField
from crmctl.runtime._state import SessionState
from crmctl.runtime.cel import Context, EvaluationError, MissingValueError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Finding, Resolver, is_blank
from crmctl.runtime.form import CompiledRule, field_at, set_field
from crmctl.runtime.values import to_cel

if TYPE_CHECKING:
    from crmctl.runtime.session import Session

__all__: list[str] = []


class _RunView:
    """The state of one event being applied, and the view it leaves; `EventRun` adds the rules and events."""

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

    # --- validation ------------------------------------------------------------------------------------------

    def full_validation(self, resolver: Resolver | None) -> list[Finding]:
        """Every applicable check: validations (async ones only with a resolver), onValidate guards, required
        fields, values no longer offered."""
        found = self.s.validator.run(
            self.data, self.bound(), select=self.checked, resolver=resolver, answers=self.answers, errors=self.errors
        )
        for rule in self.model.rules_for("onValidate"):
            if rule.rule.capability == "guard" and rule.rule.scope != "workflow" and not self.condition(rule):
                target = rule.rule.target if rule.rule.target in self.model.fields else None
                found.append(
                    Finding(rule.id, target, "error", rule.rule.message or "crmctl.guardFailed", {"rule": rule.id})
                )
        for path in self.s.shown_fields:
            if not self.field_visible(path) or path in self.s.role_readonly:
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
        live = {check.id for check in self.s.live_checks if reads[check.id] & touched_tops}
        if not live:
            return []
        return self.s.validator.run(
            self.data, self.bound(), errors=self.errors, select=lambda check: check.id in live and self.checked(check)
        )

    def finding_json(self, finding: Finding) -> dict[str, Any]:
        params = dict(finding.params)
        if finding.field:
            params.setdefault("field", self.s.label(finding.field))
        return {
            "field": finding.field,
            "code": finding.validation,
            "severity": finding.severity,
            "message": self.s.message(finding.message_key, params),
        }

    # --- presentation ----------------------------------------------------------------------------------------

    def step_visible(self, step_id: str) -> bool:
        memo = self._visible
        if memo is not None and (hit := memo.get(("step", step_id))) is not None:
            return hit
        shown = self.s.step_allowed(step_id) and all(
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
            paths = list(self.s.value_fields)
            values: dict[str, Any] = {}
        else:
            # In the order of the value fields, not of a set: the values are saved with the state (drafts).
            written = {vf for path in self.changed for vf in self.s.value_paths(path)}
            paths = [p for p in self.s.value_fields if p in written]
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
            None if (chosen := results.get(rule_id)) is None else tuple(chosen) for rule_id in self.s.dependency_ids
        )

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
        presentation = (key, tuple(required_by.items()), self.options_key())
        cached = self.s.presentations.get(presentation)
        if cached is None:
            if len(self.s.presentations) >= 1024:
                self.s.presentations.clear()
            required = {
                p: True
                for p in self.s.shown_fields
                if visible[p] and (self.model.fields[p].required or required_by.get(p, False))
            }
            options = {
                p: self.offered(p)
                for p in self.s.shown_fields
                if visible[p] and isinstance(self.model.fields[p], EnumField)
            }
            cached = self.s.presentations[presentation] = (required, options)
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
            "readonly": self.s.readonly,
            "required": required,
            "options": options,
            "values": values,
            "messages": messages,
            "errors": dict(sorted(self.errors.items())) if self.errors else {},
        }
