"""The validation engine (blueprint §9): required, regex, range, cross-field, async and composite checks.

Each validation answers True (valid), False (invalid) or None (does not apply: its `when` is false, or the value
it checks is absent; presence is the job of `required`). Cross-field expressions follow SQL CHECK semantics:
an expression that reads an unset nested key does not apply. Validations referenced by a composite are its
building blocks and are only evaluated inside it. Async validations go through an injected `Resolver`; every
answer is returned with its request so the caller records it and a replay answers from the record, never the
provider.

Results are `Finding`s (validation id, field path, severity, message key and parameters); the caller
localizes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from crmctl.errors import UserError
from crmctl.model.fields import is_blank
from crmctl.model.ranges import in_range
from crmctl.model.regex import compile_pattern
from crmctl.runtime.cel import EvaluationError, MissingValueError
from crmctl.runtime.form import field_at

if TYPE_CHECKING:
    from crmctl.model.artifacts import Validation
    from crmctl.runtime.form import FormModel

__all__ = [
    "AsyncAnswer",
    "AsyncProvider",
    "AsyncRequest",
    "Finding",
    "ProviderError",
    "Resolver",
    "Validator",
    "is_blank",
]


class ProviderError(UserError):
    """An async validation names a provider nobody registered, or a recorded answer is missing on replay."""


@dataclass(frozen=True)
class AsyncRequest:
    validation: str
    provider: str
    params: Mapping[str, Any]
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "validation": self.validation,
            "provider": self.provider,
            "params": dict(self.params),
            "value": self.value,
        }


@dataclass(frozen=True)
class AsyncAnswer:
    ok: bool
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok} if self.detail is None else {"ok": self.ok, "detail": self.detail}


class AsyncProvider(Protocol):
    """Answers async validations, e.g. a policy service. Registered by name with the runtime."""

    def check(self, request: AsyncRequest) -> AsyncAnswer: ...


Resolver = Callable[[AsyncRequest], AsyncAnswer]


@dataclass(frozen=True)
class Finding:
    validation: str
    field: str | None
    severity: str  # "error" (hard) or "warning" (soft)
    message_key: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Validator:
    """Runs the validations of one form model over one record."""

    def __init__(self, model: FormModel) -> None:
        self.model = model
        self.by_id = {v.id: v for v in model.validations}
        members = {m for v in model.validations if v.type == "composite" for m in v.validations}
        self.top = tuple(v for v in model.validations if v.id not in members)
        required = [v for v in self.top if v.type == "required" and v.field and v.mode == "hard"]
        self.required_always = {v.field: True for v in required if v.when is None and v.field}
        self.required_conditional = tuple(
            v for v in required if v.when is not None and v.field not in self.required_always
        )

    def run(
        self,
        data: Mapping[str, Any],
        bound: Mapping[str, Any],
        *,
        select: Callable[[Validation], bool] | None = None,
        resolver: Resolver | None = None,
        answers: list[tuple[AsyncRequest, AsyncAnswer]] | None = None,
        errors: dict[str, str] | None = None,
    ) -> list[Finding]:
        """Findings of the selected top-level validations, in declaration order.

        Async validations run only with a `resolver`; each answer is appended to `answers`. Evaluation errors
        (other than unset values) are written to `errors` by expression id and count as invalid.
        """
        found: list[Finding] = []
        run = _Run(self, data, bound, resolver, answers if answers is not None else [], errors)
        for check in self.top:
            if select is not None and not select(check):
                continue
            if check.type == "async" and resolver is None:
                continue
            if run.valid(check) is False:
                found.append(
                    Finding(
                        check.id,
                        check.field,
                        "warning" if check.mode == "soft" else "error",
                        check.message,
                        run.params(check),
                    )
                )
        return found

    def required_when(self, bound: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> dict[str, bool]:
        """Field paths made required by `required` validations whose condition holds. `bound` may be a function
        giving the variables, called only when some such validation has a `when` to evaluate."""
        out = dict(self.required_always)
        if self.required_conditional:
            run = _Run(self, {}, bound() if callable(bound) else bound, None, [], None)
            for check in self.required_conditional:
                assert check.field is not None
                out[check.field] = out.get(check.field, False) or run.applies(check)
        return out


class _Run:
    def __init__(
        self,
        validator: Validator,
        data: Mapping[str, Any],
        bound: Mapping[str, Any],
        resolver: Resolver | None,
        answers: list[tuple[AsyncRequest, AsyncAnswer]],
        errors: dict[str, str] | None,
    ) -> None:
        self.validator = validator
        self.program = validator.model.program
        self.data = data
        self.bound = bound
        self.resolver = resolver
        self.answers = answers
        self.errors = errors
        self.memo: dict[str, bool | None] = {}

    def _eval(self, expr_id: str) -> Any:
        try:
            return self.program.evaluate_bound(expr_id, self.bound)
        except MissingValueError:
            return None
        except EvaluationError as exc:
            if self.errors is not None:
                self.errors[expr_id] = exc.detail
            return False

    def applies(self, check: Validation) -> bool:
        return check.when is None or self._eval(f"validation:{check.id}/when") is True

    def params(self, check: Validation) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if check.min is not None:
            out["min"] = check.min
        if check.max is not None:
            out["max"] = check.max
        if check.field:
            value = field_at(self.data, check.field)
            if value is not None and not isinstance(value, dict | list):
                out["value"] = value
        return out

    def valid(self, check: Validation) -> bool | None:
        if check.id in self.memo:
            return self.memo[check.id]
        result = self._valid(check) if self.applies(check) else None
        self.memo[check.id] = result
        return result

    def _valid(self, check: Validation) -> bool | None:
        value = field_at(self.data, check.field) if check.field else None
        kind = check.type
        if kind == "required":
            return not is_blank(value)
        if kind == "cross-field":
            result = self._eval(f"validation:{check.id}/expression")
            return None if result is None else result is True
        if kind == "composite":
            return _combine(
                check.operator or "all",
                (self.valid(self.validator.by_id[m]) for m in check.validations if m in self.validator.by_id),
            )
        if is_blank(value):
            return None
        if kind == "regex":
            return isinstance(value, str) and compile_pattern(check.pattern or "").fullmatch(value)
        if kind == "range":
            return in_range(value, check.min, check.max)
        if kind == "async":
            return None if self.resolver is None else self._ask(check, value)
        return None  # pragma: no cover - every type is handled above

    def _params(self, check: Validation) -> dict[str, Any]:
        """Provider parameters; a string naming a field of the entity (`onDate: incidentDate`) is that field's
        value, so providers get data, not field names."""
        fields = self.validator.model.fields
        return {
            key: field_at(self.data, value) if isinstance(value, str) and value in fields else value
            for key, value in check.params.items()
        }

    def _ask(self, check: Validation, value: Any) -> bool:
        assert self.resolver is not None
        request = AsyncRequest(check.id, check.provider or "", self._params(check), value)
        answer = self.resolver(request)
        self.answers.append((request, answer))
        return answer.ok


def _combine(operator: str, results: Iterable[bool | None]) -> bool | None:
    """all/any/not over members evaluated lazily, in order: `all` stops at the first invalid member and `any` at
    the first valid one, so a costly member (an async provider) is not asked when the answer is already known.
    Members that do not apply are skipped; when none applies, neither does the composite."""
    applied = False
    for result in results:
        if result is None:
            continue
        if operator == "not":
            return not result
        applied = True
        if operator == "all" and not result:
            return False
        if operator == "any" and result:
            return True
    if not applied:
        return None
    return operator == "all"
