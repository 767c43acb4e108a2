"""The record engine: check, calculate and validate one record of one entity of one package version.

This is the form session's submit without the form: no steps, no visibility, no roles hiding fields. For an
input (JSON-like field values) `RecordEngine.check` does, in order:

1. former names (`model.aliases`): a key naming a field by a former name, at any depth, becomes the field's
   name; data naming one field twice (by its name and a former one) is refused;
2. field defaults (`model.defaults`): a field without a value gets its default, objects' members and array
   items included;
3. input checks: unknown fields, calculated fields (never entered), then each value through the one value
   pipeline (`values.FieldValues.store`, the form session's too): types (integers for `integer` numbers, dates,
   datetimes, nested objects), enum values, text `maxLength` and array `maxItems`; whole numbers of
   `number`/`currency` fields are stored as floats, as the session stores them (arrays and objects are stored
   as given: records written before the pipeline was shared must replay byte for byte);
4. calculated fields in dependency order, then the calculation rules of `onValidate` and `onSave` (lower
   `priority` first), then the calculated fields again, each result stored as the session stores it
   (`FieldValues.store_result`: whole numbers to float for double fields, dates cut to `YYYY-MM-DD` and then
   checked, non-finite results and results that do not fit the field are errors);
5. every validation of the entity (async ones only with an injected resolver, their answers returned to be
   logged), the non-workflow guards of `onValidate` and `onSave`, and the schema's `required` fields.

Hard findings reject the record; soft ones are kept as warnings. Findings are localized JSON objects
(`field`, `code`, `severity`, `message`), the shape of a submit report. The record is bound once
(`CompiledProgram` variables) and every expression runs over that binding; everything that only depends on
the package version is precomputed once per engine. Records run with `role` "system" and `step` "".

Evaluation is pure: the clock arrives as `at`; the engine never reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crmctl.model.aliases import NamedTwice
from crmctl.model.fields import CalculatedField
from crmctl.runtime.cel import EvaluationError, MissingValueError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Finding, Resolver, Validator, is_blank
from crmctl.runtime.form import FormModel, bind_value, field_at, set_field
from crmctl.runtime.values import ResultError, ValueLimitError, ValueRefusedError

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.runtime.form import CompiledRule
    from crmctl.runtime.values import FieldValues, Limit

__all__ = ["RECORD_ROLE", "RecordEngine", "RecordResult", "merge_patch", "record_body", "record_effects"]

RECORD_ROLE = "system"


@dataclass(frozen=True)
class RecordResult:
    """Accepted data with its warnings, or the findings that reject it (`ok` False, `data` as far as it got)."""

    ok: bool
    data: dict[str, Any]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[AsyncRequest, AsyncAnswer]] = field(default_factory=list)

    def answers_json(self) -> list[dict[str, Any]]:
        return [{"request": q.to_json(), "answer": a.to_json()} for q, a in self.answers]


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: objects merge recursively, null removes a key, anything else replaces."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


def record_effects(record_id: str, result: RecordResult) -> list[dict[str, Any]]:
    """The effects logged for an accepted record (what replay compares)."""
    return [{"effect": "record", "id": record_id, "data": result.data, "warnings": result.warnings}]


def record_body(
    op: str,
    package: Mapping[str, str],
    engine: RecordEngine,
    record_id: str,
    stamp: str,
    values: Mapping[str, Any],
    result: RecordResult,
) -> dict[str, Any]:
    """The log entry's body for an accepted create or update (`package`: the version's name, version, digest)."""
    return {
        "session": f"record:{engine.entity}:{record_id}",
        "at": stamp,
        "kind": "record",
        "op": op,
        "package": package,
        "entity": engine.entity,
        "locale": engine.locale,
        "input": dict(values),
        "effects": record_effects(record_id, result),
        "answers": result.answers_json(),
    }


class RecordEngine:
    """Checks records of one entity of one package version in one locale. Build once, `check` many times."""

    def __init__(self, package: Package, entity: str, locale: str | None = None) -> None:
        from crmctl.runtime.l10n import Localizer

        self.package = package
        self.model = FormModel.for_entity(package, entity)
        self.entity = entity
        self.l10n = Localizer(package, locale)
        self.locale = self.l10n.locale
        self.validator = Validator(self.model)
        program = self.model.program
        assert package.schema is not None
        top = package.schema.entities[entity].fields
        # How each enterable field's values are checked and stored (`values.FieldValues`, shared with the form).
        self.inputs: dict[str, FieldValues] = {
            name: self.model.values[name] for name, fdef in top.items() if not isinstance(fdef, CalculatedField)
        }
        self.bound_inputs = frozenset(name for name in self.inputs if name in program.fields)  # CEL can name them
        self.calculated_names = frozenset(n for n, f in top.items() if isinstance(f, CalculatedField))
        self.aliases = dict(self.model.aliases)
        self.rename = self.model.rename
        self.calc_rules = tuple(
            r
            for trigger in ("onValidate", "onSave")
            for r in self.model.rules_for(trigger)
            if r.rule.capability == "calculation"
        )
        self.guards = tuple(
            r
            for trigger in ("onValidate", "onSave")
            for r in self.model.rules_for(trigger)
            if r.rule.capability == "guard" and r.rule.scope != "workflow"
        )
        self.required = tuple(
            p for p, f in sorted(self.model.fields.items()) if f.required and not isinstance(f, CalculatedField)
        )
        self._template = dict(program.zeros)
        self._template.update(step="", role=RECORD_ROLE, locale=self.locale)
        self._labels: dict[str, str] = {}

    @property
    def ref(self) -> tuple[str, str]:
        return self.model.name, self.model.version

    # --- texts ---------------------------------------------------------------------------------------------------

    def label(self, path: str) -> str:
        text = self._labels.get(path)
        if text is None:
            text = self._labels[path] = self.l10n.field_label(self.entity, path)
        return text

    def message(self, key: str, params: Mapping[str, Any] | None = None) -> str:
        """A message in the engine's locale: the package's, or crmctl's built-in one (`runtime.messages`)."""
        return self.l10n.message(key, params)

    def finding(
        self, path: str | None, code: str, severity: str, key: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        full = dict(params)
        if path and path.split("[")[0] in self.model.fields:
            full.setdefault("field", self.label(path.split("[")[0]))
        return {"field": path, "code": code, "severity": severity, "message": self.message(key, full)}

    # --- the check -------------------------------------------------------------------------------------------

    def strip_calculated(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Stored data without its calculated values (what an update merges its patch into)."""
        return {k: v for k, v in data.items() if k not in self.calculated_names}

    def renamed(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with this version's field names: a former name (`aliases`), at any depth, is the field's;
        `NamedTwice` when it names a field twice."""
        return self.rename(data) if self.rename is not None else dict(data)

    def patched(self, base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
        """What an update checks: the JSON merge `patch` applied to stored data `base` without its calculated
        values, both read with this version's field names (so `{"phone": null}` clears a field renamed from
        `phone`); `NamedTwice` when either names a field twice."""
        return merge_patch(self.strip_calculated(self.renamed(base)), self.renamed(patch))

    def refusal(self, error: NamedTwice) -> dict[str, Any]:
        """The finding that refuses data naming a field twice."""
        return self.finding(error.field, "type", "error", "crmctl.type", {"detail": error.message})

    def update_base(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """What an update merges its patch into, for data stored under this engine's version: the data as this
        version reads it (former names are the fields', a field without a value has its default), without its
        calculated values. The stored version decides, not the one an update moves the record to: `records update`
        and `replay` both ask the engine of the version the data was stored under, then `patched` on the target."""
        data = self.renamed(stored)
        return self.strip_calculated(self.model.fill(data) if self.model.fill is not None else data)

    def check(self, values: Mapping[str, Any], at: datetime, resolver: Resolver | None = None) -> RecordResult:
        """Check, calculate and validate `values` at the injected time `at`."""
        if self.rename is not None:  # former names (`aliases`) at any depth are the field's current name
            try:
                values = self.rename(values)
            except NamedTwice as exc:
                return RecordResult(False, {}, [], [self.refusal(exc)])
        if self.model.fill is not None:  # a field without a value has its default (model.defaults)
            values = self.model.fill(values)
        errors: list[dict[str, Any]] = []
        data: dict[str, Any] = {}
        bound = self._template.copy()
        bound["now"] = at.astimezone(UTC)
        bound_inputs = self.bound_inputs
        for key, value in values.items():
            plan = self.inputs.get(key)
            if plan is None:
                if key in self.calculated_names:
                    errors.append(self.finding(key, "calculated", "error", "crmctl.calculatedInput", {}))
                else:
                    errors.append(
                        self.finding(
                            str(key),
                            "unknownField",
                            "error",
                            "crmctl.unknownField",
                            {"entity": self.entity, "name": key},
                        )
                    )
                continue
            if value is None:
                continue
            try:
                stored, converted = plan.store(value, key)
            except ValueLimitError as exc:
                errors.extend(self.limit_finding(limit) for limit in exc.limits)
                continue
            except ValueRefusedError as exc:
                errors.append(self.finding(exc.field, "type", "error", "crmctl.type", {"detail": exc.reason}))
                continue
            # Arrays and objects are stored as given (their whole numbers and null members as they came): records
            # stored so replay byte for byte. The form session stores them as `FieldValues` does.
            data[key] = value if plan.nested else stored
            if key in bound_inputs:
                bound[key] = converted
        # A rejected row lists every problem at once: the checks run on the values that passed their input check,
        # and say nothing more about the fields that did not.
        refused = {str(e["field"]).split("[")[0].split(".")[0] for e in errors}
        failures: dict[str, str] = {}
        self._calculate(data, bound, failures)
        if self.calc_rules:
            for rule in self.calc_rules:
                self._apply_rule(rule, data, bound, failures)
            self._calculate(data, bound, failures)
        answers: list[tuple[AsyncRequest, AsyncAnswer]] = []
        found = self.validator.run(data, bound, resolver=resolver, answers=answers, errors=failures)
        for rule in self.guards:
            if not self._holds(rule, bound, failures):
                target = rule.rule.target if rule.rule.target in self.model.fields else None
                found.append(
                    Finding(rule.id, target, "error", rule.rule.message or "crmctl.guardFailed", {"rule": rule.id})
                )
        for path in self.required:
            nested = "." in path
            value = field_at(data, path) if nested else data.get(path)
            parent_set = not nested or field_at(data, path.rsplit(".", 1)[0]) is not None
            if is_blank(value) and parent_set and not any(f.field == path and f.severity == "error" for f in found):
                found.append(Finding("required", path, "error", "crmctl.required"))
        warnings: list[dict[str, Any]] = []
        for item in found:
            if item.field is not None and item.field.split(".")[0] in refused:
                continue
            params = dict(item.params)
            out = self.finding(item.field, item.validation, item.severity, item.message_key, params)
            (warnings if item.severity == "warning" else errors).append(out)
        for expr_id, detail in sorted(failures.items()):
            errors.append(
                self.finding(
                    _expr_field(expr_id), "ruleError", "error", "crmctl.ruleError", {"detail": f"{expr_id}: {detail}"}
                )
            )
        return RecordResult(not errors, data, warnings, errors, answers)

    def limit_finding(self, limit: Limit) -> dict[str, Any]:
        """The finding for a value over a limit of its field (`notOffered`, `maxLength`, `maxItems`)."""
        if limit.code == "notOffered":
            params: dict[str, Any] = {"value": limit.value, "values": ", ".join(limit.allowed)}
        else:
            params = {"max": limit.maximum}
        return self.finding(limit.path, limit.code, "error", f"crmctl.{limit.code}", params)

    def _evaluate(self, expr_id: str, bound: Mapping[str, Any], failures: dict[str, str]) -> Any:
        try:
            return self.model.program.evaluate_bound(expr_id, bound)
        except MissingValueError:
            return None
        except EvaluationError as exc:
            failures[expr_id] = exc.detail
            return None

    def _holds(self, rule: CompiledRule, bound: Mapping[str, Any], failures: dict[str, str]) -> bool:
        return rule.when_id is None or self._evaluate(rule.when_id, bound, failures) is True

    def _calculate(self, data: dict[str, Any], bound: dict[str, Any], failures: dict[str, str]) -> None:
        program = self.model.program
        for calc in self.model.calculated:
            value = self._evaluate(calc.expr_id, bound, failures)
            if type(value) is float and value - value == 0.0 and calc.field_def.resultType in ("number", "currency"):
                data[calc.name] = bound[calc.name] = value  # the common case of `FieldValues.store_result`
                continue
            converted = None
            if value is not None:
                try:
                    value, converted = self.model.values[calc.name].store_result(value, calc.expr_id)
                except ResultError as exc:
                    failures[calc.expr_id] = exc.detail
                    value = None
            if value is None:
                data.pop(calc.name, None)
                if calc.name in program.zeros:
                    bound[calc.name] = program.zeros[calc.name]
                else:
                    bound.pop(calc.name, None)
            else:
                data[calc.name] = value
                if calc.name in program.fields:
                    bound[calc.name] = converted

    def _apply_rule(
        self, rule: CompiledRule, data: dict[str, Any], bound: dict[str, Any], failures: dict[str, str]
    ) -> None:
        target = rule.rule.target
        if (
            rule.expr_id is None
            or not target
            or target not in self.model.fields
            or not self._holds(rule, bound, failures)
        ):
            return
        value = self._evaluate(rule.expr_id, bound, failures)
        if value is None:
            return
        try:
            value, converted = self.model.values[target].store_result(value, rule.expr_id)
        except ResultError as exc:
            failures[rule.expr_id] = exc.detail
            return
        updated = set_field(data, target, value)
        data.clear()
        data.update(updated)
        program = self.model.program
        if target.split(".")[0] in program.fields:
            bind_value(bound, target, converted, program.zeros)


def _expr_field(expr_id: str) -> str | None:
    if expr_id.startswith("calc:"):
        return expr_id.split(".", 1)[1] if "." in expr_id else None
    return None
