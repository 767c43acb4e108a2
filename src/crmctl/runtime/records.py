"""The record engine: check, calculate and validate one record of one entity of one package version.

This is the form session's submit without the form: no steps, no visibility, no roles hiding fields. For an
input (JSON-like field values) `RecordEngine.check` does, in order:

1. former names (`model.aliases`): a key naming a field by a former name, at any depth, becomes the field's
   name; data naming one field twice (by its name and a former one) is refused;
2. field defaults (`model.defaults`): a field without a value gets its default, objects' members and array
   items included;
3. input checks: unknown fields, calculated fields (never entered), value
   types (`values.to_cel`: integers for `integer` numbers, dates, datetimes, nested objects), enum values,
   text `maxLength` and array `maxItems`; whole numbers of `number`/`currency` fields are stored as floats,
   as the session stores them;
4. calculated fields in dependency order, then the calculation rules of `onValidate` and `onSave` (lower
   `priority` first), then the calculated fields again, coerced as the session coerces them (whole numbers to
   float for double fields, dates cut to `YYYY-MM-DD`, non-finite results are errors);
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

from crmctl.errors import UserError
from crmctl.model.aliases import NamedTwice
from crmctl.model.fields import ArrayField, CalculatedField, EnumField, NumberField, ObjectField, TextField
from crmctl.runtime.cel import EvaluationError, MissingValueError
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, Finding, Resolver, Validator, is_blank
from crmctl.runtime.form import FormModel, field_at
from crmctl.runtime.values import MAX_TEXT, to_cel

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package
    from crmctl.runtime.form import CompiledRule

__all__ = ["RECORD_ROLE", "RecordEngine", "RecordResult", "merge_patch", "record_effects"]

RECORD_ROLE = "system"
_SHORT = MAX_TEXT // 4  # a str of at most this many characters is within MAX_TEXT bytes of UTF-8
_INT64 = (-(2**63), 2**63 - 1)
_MOMENTS = 4096  # parsed date/datetime texts kept per field


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


@dataclass(frozen=True)
class _Input:
    """What the input check of one top-level field needs, resolved once per engine."""

    fdef: FieldDef
    bound: bool  # CEL can name it (not shadowed by a context variable or a reserved word)
    limited: bool  # enum values, maxLength or maxItems somewhere inside
    fast: str | None  # "str", "float", "int" or "bool": a scalar whose common case skips `to_cel`
    enum: frozenset[str] | None = None  # the values of an enum field
    max_length: int | None = None  # the maxLength of a text field
    nested: bool = False  # limits inside an object or array: checked by `_limits`
    offered: str = ""  # the values of an enum field in order, joined with ", " (for the notOffered message)


_FAST = {"text": "str", "enum": "str", "reference": "str", "file": "str", "currency": "float", "boolean": "bool"}


def _plan(fdef: FieldDef, bound: bool) -> _Input:
    enum = frozenset(fdef.values) if isinstance(fdef, EnumField) else None
    offered = ", ".join(fdef.values) if isinstance(fdef, EnumField) else ""
    max_length = fdef.maxLength if isinstance(fdef, TextField) else None
    nested = isinstance(fdef, ArrayField | ObjectField) and _limited(fdef)
    return _Input(fdef, bound, _limited(fdef), _fast(fdef), enum, max_length, nested, offered)


def _fast(fdef: FieldDef) -> str | None:
    if isinstance(fdef, NumberField):
        return "int" if fdef.integer else "float"
    return _FAST.get(fdef.type)


def _limited(fdef: FieldDef) -> bool:
    if isinstance(fdef, EnumField) or (isinstance(fdef, TextField) and fdef.maxLength is not None):
        return True
    if isinstance(fdef, ArrayField):
        return fdef.maxItems is not None or _limited(fdef.items)
    if isinstance(fdef, ObjectField):
        return any(_limited(sub) for sub in fdef.fields.values())
    return False


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
        self.inputs = {
            name: _plan(fdef, name in program.fields)
            for name, fdef in top.items()
            if not isinstance(fdef, CalculatedField)
        }
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
        # Parsed dates and datetimes by text, per field: imports repeat the same days over and over.
        self._moments: dict[str, dict[str, Any]] = {
            n: {} for n, p in self.inputs.items() if p.fdef.type in ("date", "datetime")
        }

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
            kind = type(value)
            fast = plan.fast
            # The common cases of `to_cel`, inline: this loop runs for every field of every imported row.
            if fast == "str" and kind is str and len(value) <= _SHORT and "\x00" not in value:
                converted = value
            elif fast == "float" and kind is float:
                if value - value != 0.0:  # NaN and infinities have no JSON form
                    detail = f"{key}: expected a finite number, got {value}"
                    errors.append(self.finding(key, "type", "error", "crmctl.type", {"detail": detail}))
                    continue
                converted = value
            elif (fast == "int" and kind is int and _INT64[0] <= value <= _INT64[1]) or (
                fast == "bool" and kind is bool
            ):
                converted = value
            elif kind is str and key in self._moments and value in self._moments[key]:
                converted = self._moments[key][value]
            else:
                try:
                    converted = to_cel(value, plan.fdef, key)
                except UserError as exc:
                    path = getattr(exc, "field", key)
                    errors.append(self.finding(path, "type", "error", "crmctl.type", {"detail": str(exc)}))
                    continue
                if type(converted) is float:
                    value = converted
                elif key in self._moments and len(self._moments[key]) < _MOMENTS:
                    self._moments[key][value] = converted
            if plan.limited:
                if plan.enum is not None and value not in plan.enum:
                    errors.append(
                        self.finding(
                            key, "notOffered", "error", "crmctl.notOffered", {"value": value, "values": plan.offered}
                        )
                    )
                    continue
                if plan.max_length is not None and len(value) > plan.max_length:
                    errors.append(self.finding(key, "maxLength", "error", "crmctl.maxLength", {"max": plan.max_length}))
                    continue
                if plan.nested and not self._limits(value, plan.fdef, key, errors):
                    continue
            data[key] = value
            if plan.bound:
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

    def _limits(self, value: Any, fdef: FieldDef, path: str, errors: list[dict[str, Any]]) -> bool:
        """Enum values, maxLength and maxItems inside a value that already has the right type."""
        ok = True
        if isinstance(fdef, EnumField) and value not in fdef.values:
            errors.append(
                self.finding(
                    path, "notOffered", "error", "crmctl.notOffered", {"value": value, "values": ", ".join(fdef.values)}
                )
            )
            ok = False
        elif isinstance(fdef, TextField) and fdef.maxLength is not None and len(value) > fdef.maxLength:
            errors.append(self.finding(path, "maxLength", "error", "crmctl.maxLength", {"max": fdef.maxLength}))
            ok = False
        elif isinstance(fdef, ArrayField):
            if fdef.maxItems is not None and len(value) > fdef.maxItems:
                errors.append(self.finding(path, "maxItems", "error", "crmctl.maxItems", {"max": fdef.maxItems}))
                ok = False
            for i, item in enumerate(value):
                ok = self._limits(item, fdef.items, f"{path}[{i}]", errors) and ok
        elif isinstance(fdef, ObjectField):
            for key, item in value.items():
                if item is not None:
                    ok = self._limits(item, fdef.fields[key], f"{path}.{key}", errors) and ok
        return ok

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
                data[calc.name] = bound[calc.name] = value  # the common case of `coerce` and `to_cel`
                continue
            if value is not None:
                value = coerce(calc.expr_id, value, calc.field_def, failures)
            if value is None:
                data.pop(calc.name, None)
                if calc.name in program.zeros:
                    bound[calc.name] = program.zeros[calc.name]
                else:
                    bound.pop(calc.name, None)
            else:
                data[calc.name] = value
                if calc.name in program.fields:
                    bound[calc.name] = to_cel(value, calc.field_def, calc.name)

    def _apply_rule(
        self, rule: CompiledRule, data: dict[str, Any], bound: dict[str, Any], failures: dict[str, str]
    ) -> None:
        from crmctl.runtime.form import set_field

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
        value = coerce(rule.expr_id, value, self.model.fields[target], failures)
        if value is None:
            return
        updated = set_field(data, target, value)
        data.clear()
        data.update(updated)
        top = target.split(".")[0]
        if top in self.model.program.fields:
            bound[top] = to_cel(data[top], self.model.program.fields[top], top)


def coerce(expr_id: str, value: Any, fdef: FieldDef, failures: dict[str, str]) -> Any:
    """A result as the field stores it, as the session coerces it; None (and a failure) when it does not fit."""
    kind = fdef.resultType if isinstance(fdef, CalculatedField) else fdef.type
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        failures[expr_id] = "the result is not a finite number"
        return None
    if kind == "date" and isinstance(value, str) and len(value) >= 10:
        return value[:10]
    if kind in ("number", "currency") and isinstance(value, int) and not isinstance(value, bool):
        return value if getattr(fdef, "integer", False) else float(value)
    try:
        to_cel(value, fdef, expr_id)
    except UserError as exc:
        failures[expr_id] = f"result does not fit the field: {exc}"
        return None
    return value


def _expr_field(expr_id: str) -> str | None:
    if expr_id.startswith("calc:"):
        return expr_id.split(".", 1)[1] if "." in expr_id else None
    return None
