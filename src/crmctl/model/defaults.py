"""Field defaults: the value a field has wherever a record has none (blueprint §6, schema evolution).

A field's `default` is a constant of the field's type. A field that declares one never has no value: a record
written without it stores the default, a record read from a version that did not know the field reads the
default, and a form starts with it (and a cleared input returns to it). "No value" is an absent key or `null`;
an empty text or list is a value. Defaults of an object's members apply inside every object that is present (an
absent object stays absent unless the object field has a default of its own), and inside every object item of an
array. An array's items never have a default of their own: an item is never absent.

`check_default` type-checks a declared default (the schema model calls it, so a package with a default that does
not fit its field never loads); `DefaultFiller` fills the defaults into record data, and is the one function the
runtime's readers and writers use.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef

__all__ = [
    "DefaultFiller",
    "check_default",
    "declares_default",
    "filled_default",
    "filler_for",
    "is_blank",
    "number_digits",
    "value_problem",
]

_DATE_LENGTH = len("YYYY-MM-DD")


def number_digits(value: int | float) -> tuple[int, int]:
    """(precision, scale) a number needs as a SQL-style decimal: all digits without leading or trailing zeros, and
    the digits after the point. Floats count as written (their shortest repr), so 0.1 is (1, 1)."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number == 0:
        return (0, 0)
    _, digits, exponent = number.normalize().as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    return (max(0, len(digits) + exponent) + scale, scale)


def declares_default(fdef: FieldDef) -> bool:
    """Whether the field, or any member or item inside it, declares a default."""
    if getattr(fdef, "default", None) is not None:
        return True
    if fdef.type == "object":
        return any(declares_default(sub) for sub in fdef.fields.values())
    if fdef.type == "array":
        return declares_default(fdef.items)
    return False


def check_default(fdef: FieldDef) -> str | None:
    """Why the field's declared default does not fit the field, or None (also when it declares none)."""
    default = getattr(fdef, "default", None)
    if default is None:
        return None
    if fdef.required and is_blank(default):
        return f"the default {_short(default)} is empty, which a required field refuses"
    return value_problem(fdef, default, "the default")


def value_problem(fdef: FieldDef, value: Any, where: str) -> str | None:
    """Why `value` (JSON-like) cannot be stored in a field declared as `fdef`, or None; `where` names it."""
    kind = fdef.type
    if kind == "text":
        if not isinstance(value, str):
            return f"{where} must be a text, not {_what(value)}"
        if "\x00" in value:
            return f"{where} must not contain NUL characters (U+0000)"
        limit = fdef.maxLength  # type: ignore[union-attr]
        if limit is not None and len(value) > limit:
            return f"{where} has {len(value)} characters; maxLength is {limit}"
        return None
    if kind in ("number", "currency"):
        return _number_problem(fdef, value, where)
    if kind == "boolean":
        return None if isinstance(value, bool) else f"{where} must be true or false, not {_what(value)}"
    if kind == "enum":
        values = fdef.values  # type: ignore[union-attr]
        if isinstance(value, str) and value in values:
            return None
        return f"{where} {_short(value)} is not one of the values ({', '.join(values)})"
    if kind == "date":
        return None if _is_date(value) else f"{where} must be a date written YYYY-MM-DD, not {_short(value)}"
    if kind == "datetime":
        if _is_datetime(value):
            return None
        return (
            f"{where} must be an ISO 8601 date and time with an offset (e.g. 2026-01-31T09:00:00Z), not {_short(value)}"
        )
    if kind == "object":
        if not isinstance(value, dict):
            return f"{where} must be an object, not {_what(value)}"
        members = fdef.fields  # type: ignore[union-attr]
        for key, item in value.items():
            if key not in members:
                return f"{where} has a member {key!r} the object does not declare ({', '.join(members)})"
            if item is not None:
                problem = value_problem(members[key], item, f"{where}'s {key}")
                if problem is not None:
                    return problem
        for key, sub in members.items():
            item = value.get(key)
            if sub.required and is_blank(item) and (item is not None or getattr(sub, "default", None) is None):
                return f"{where} has no value for the required member {key!r} (and it has no default)"
        return None
    if kind == "array":
        if not isinstance(value, list):
            return f"{where} must be a list, not {_what(value)}"
        limit = fdef.maxItems  # type: ignore[union-attr]
        if limit is not None and len(value) > limit:
            return f"{where} has {len(value)} items; maxItems is {limit}"
        for index, item in enumerate(value):
            if item is None:
                return f"{where}'s item {index} is null; a list holds values only"
            problem = value_problem(fdef.items, item, f"{where}'s item {index}")  # type: ignore[union-attr]
            if problem is not None:
                return problem
        return None
    return f"a {kind} field has no default"


def _number_problem(fdef: FieldDef, value: Any, where: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{where} must be a number, not {_what(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} must be a finite number"
    if getattr(fdef, "integer", False) and not isinstance(value, int):
        return f"{where} must be a whole number (the field is `integer`), not {value!r}"
    precision, scale = number_digits(value)
    limit_scale = getattr(fdef, "scale", None)
    if limit_scale is not None and scale > limit_scale:
        return f"{where} {value!r} has {scale} {_digits(scale)} after the point; scale is {limit_scale}"
    limit_precision = getattr(fdef, "precision", None)
    if limit_precision is not None and precision > limit_precision:
        return f"{where} {value!r} has {precision} {_digits(precision)}; precision is {limit_precision}"
    return None


def _digits(count: int) -> str:
    return "digit" if count == 1 else "digits"


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != _DATE_LENGTH or value[4] != "-" or value[7] != "-":
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or len(value) <= _DATE_LENGTH:
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None


def is_blank(value: Any) -> bool:
    """What `required` calls no value (the runtime's check, compat's probes, a default's check)."""
    return value is None or value == "" or value == [] or value == {}


def _what(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a text", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- filling ------------------------------------------------------------------------------------------------------

Fill = Callable[[Any], Any]


class DefaultFiller:
    """Fills the defaults of a field map into record data (a new mapping; the given one is never changed).

    Built once per field map (`filler_for`), it only visits the fields that declare a default somewhere inside.
    A field has a value when it is set, non-null, under its name or one of its `aliases`.
    """

    def __init__(self, plan: dict[str, tuple[tuple[str, ...], Any, Fill | None]]) -> None:
        self._plan = plan

    @property
    def plan(self) -> list[str]:
        """The names of the fields with a default somewhere inside, in the field map's order."""
        return list(self._plan)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(data)
        for name, (keys, default, inner) in self._plan.items():
            key = next((k for k in keys if out.get(k) is not None), None)
            if key is None:
                if default is not None:
                    out[name] = copy.deepcopy(default)
            elif inner is not None:
                out[key] = inner(out[key])
        return out

    def value(self, name: str, value: Any) -> Any:
        """The value field `name` has when it holds `value` (None: none): its default, or `value` filled inside."""
        entry = self._plan.get(name)
        if entry is None:
            return value
        _, default, inner = entry
        if value is None:
            return copy.deepcopy(default)
        return value if inner is None else inner(value)


def filled_default(fdef: FieldDef) -> Any:
    """The field's default with the defaults of its members filled in (a fresh copy), or None."""
    default = getattr(fdef, "default", None)
    if default is None:
        return None
    inner = _inner(fdef)
    return inner(copy.deepcopy(default)) if inner is not None else copy.deepcopy(default)


def filler_for(fields: Mapping[str, FieldDef]) -> DefaultFiller | None:
    """The filler of a field map, or None when no field in it declares a default (nothing to fill)."""
    plan = {
        name: ((name, *fdef.aliases), filled_default(fdef), _inner(fdef))
        for name, fdef in fields.items()
        if declares_default(fdef)
    }
    return DefaultFiller(plan) if plan else None


def _inner(fdef: FieldDef) -> Fill | None:
    """What fills the inside of a present value of `fdef` (object members, array items), or None."""
    if fdef.type == "object":
        members = filler_for(fdef.fields)
        if members is None:
            return None
        return lambda value: members(value) if isinstance(value, Mapping) else value
    if fdef.type == "array":
        item = _inner(fdef.items)
        if item is None:
            return None
        return lambda value: [item(v) for v in value] if isinstance(value, list) else value
    return None
