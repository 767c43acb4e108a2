"""Record values: the one pipeline from an input to the stored value, CEL values and back.

Records hold JSON-like data as stored: strings for text, enum, reference and file; numbers (int when the field
is `integer`, float otherwise: a whole number entered in a `number` or `currency` field is stored as a float);
booleans; dates as `YYYY-MM-DD`; datetimes as ISO 8601 with an offset or `Z`; objects as dicts and arrays as
lists. CEL sees dates and datetimes as UTC timestamps. Results go back as the protobuf JSON mapping spells them:
timestamps as RFC 3339 strings with `Z`, durations as seconds with an `s` suffix.

`FieldValues` is the one way a value gets into a record, whoever writes it: a form's change or prefill, a
record created, updated or imported, a workflow's `set` action or `change` input (both through the record
engine), and an expression's result written by a calculation. One pass over the value checks its type at
every depth (`ValueTypeError`, `ValueSizeError`: the first problem), then its limits (enum values, `maxLength`,
`maxItems`: `ValueLimitError` with every limit exceeded, in the order of the value), and yields both the
stored value and the value CEL reads, so a caller binds what it stores without converting it again. Callers
turn these typed refusals into their own findings or event errors.

The size guards bound the input of an evaluation: with the compile-time cost limits (expression size and
comprehension nesting) they bound the work of every evaluation without a clock.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
from crmctl.model.numbers import parse_number

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef

__all__ = [
    "MAX_LIST_ITEMS",
    "MAX_TEXT",
    "FieldValues",
    "Limit",
    "ResultError",
    "ValueLimitError",
    "ValueRefusedError",
    "ValueSizeError",
    "ValueTypeError",
    "from_cel",
    "to_cel",
    "zero_value",
]

MAX_LIST_ITEMS = 10_000
MAX_TEXT = 1 << 20  # bytes of UTF-8 per string value
_SHORT = MAX_TEXT // 4  # a str of at most this many characters is within MAX_TEXT bytes of UTF-8
_INT64 = (-(2**63), 2**63 - 1)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENTS = 4096  # parsed date/datetime texts kept per field


class ValueRefusedError(UserError):
    """A value that does not fit its field; `field` is the path of the part refused (`name.member`, `name[2]`).
    The message is located by that path (`companySize: expected integer, ...`); `reason` is the same without it,
    for a finding that names the field on its own (else it would read `companySize: type: companySize: ...`)."""

    field: str
    reason: str


class ValueTypeError(ValueRefusedError):
    """A record value does not have the type its field declares."""

    def __init__(self, field: str, expected: str, got: str) -> None:
        self.reason = f"expected {expected}, got {got}"
        super().__init__(f"{field}: {self.reason}")
        self.field = field
        self.expected = expected
        self.got = got


class ValueSizeError(ValueRefusedError):
    """A record value is larger than the runtime accepts."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class Limit:
    """A limit of the schema that a value of the right type exceeds.

    `code` is `notOffered` (an enum value outside `allowed`), `maxLength` (a text longer than `maximum`
    characters) or `maxItems` (an array of more than `maximum` items); `value` is the part refused."""

    path: str
    code: str
    value: Any
    allowed: tuple[str, ...] = ()
    maximum: int = 0

    @property
    def message(self) -> str:
        """The limit as one sentence, located by its path (the form session's event error)."""
        if self.code == "notOffered":
            return f"{self.path}: {self.value!r} is not one of {', '.join(self.allowed)}"
        unit = "characters" if self.code == "maxLength" else "items"
        return f"{self.path}: {len(self.value)} {unit}; at most {self.maximum}"


class ValueLimitError(ValueRefusedError):
    """A value of the right type exceeds limits of its field: `limits`, every one, in the order of the value."""

    def __init__(self, limits: Sequence[Limit]) -> None:
        super().__init__(limits[0].message)
        self.field = limits[0].path
        self.reason = limits[0].message.removeprefix(f"{self.field}: ")
        self.limits = tuple(limits)


class ResultError(UserError):
    """An expression's result does not fit the field it is written to; `detail` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def to_cel(value: Any, field_def: FieldDef, name: str = "value") -> Any:
    """The value cel-expr-python takes for `value` of a field declared as `field_def` (types and sizes checked,
    limits not: stored data is bound this way)."""
    return _convert(value, field_def, name, None, None)


def _convert(value: Any, fdef: FieldDef, name: str, limits: list[Limit] | None, allowed: Sequence[str] | None) -> Any:
    """The CEL value of `value`: the first type or size problem raises; with `limits`, every limit the value
    exceeds is appended to it (`allowed` replaces the values of an enum field at this level)."""
    if isinstance(fdef, CalculatedField):
        return _scalar(value, fdef.resultType, name, integer=False)
    if isinstance(fdef, ObjectField):
        if not isinstance(value, dict):
            raise ValueTypeError(name, "object", _kind(value))
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = fdef.fields.get(key) if isinstance(key, str) else None
            if sub is None:
                raise ValueTypeError(f"{name}.{key}", "a field the object declares", "an unknown key")
            if item is not None:
                out[key] = _convert(item, sub, f"{name}.{key}", limits, None)
        return out
    if isinstance(fdef, ArrayField):
        if not isinstance(value, list | tuple):
            raise ValueTypeError(name, "array", _kind(value))
        if len(value) > MAX_LIST_ITEMS:
            raise ValueSizeError(name, f"{len(value)} items; the limit is {MAX_LIST_ITEMS}")
        if limits is not None and fdef.maxItems is not None and len(value) > fdef.maxItems:
            limits.append(Limit(name, "maxItems", value, maximum=fdef.maxItems))
        return [_convert(item, fdef.items, f"{name}[{i}]", limits, None) for i, item in enumerate(value)]
    integer = isinstance(fdef, NumberField) and fdef.integer
    kind = "currency" if isinstance(fdef, CurrencyField) else fdef.type
    converted = _scalar(value, kind, name, integer=integer)
    if limits is not None:
        if isinstance(fdef, EnumField):
            choices = fdef.values if allowed is None else allowed
            if value not in choices:
                limits.append(Limit(name, "notOffered", value, allowed=tuple(choices)))
        elif isinstance(fdef, TextField) and fdef.maxLength is not None and len(value) > fdef.maxLength:
            limits.append(Limit(name, "maxLength", value, maximum=fdef.maxLength))
    return converted


def _scalar(value: Any, kind: str, name: str, *, integer: bool) -> Any:
    if kind in ("number", "currency"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueTypeError(name, "integer" if integer else "number", _not_a_number(value))
        if integer:
            if not isinstance(value, int):
                raise ValueTypeError(name, "integer", _kind(value))
            if not _INT64[0] <= value <= _INT64[1]:
                raise ValueSizeError(name, "integer outside the 64-bit range")
            return value
        try:
            number = float(value)
        except OverflowError:  # an int of more than 308 digits
            raise ValueSizeError(name, "number beyond the range of a double") from None
        if number - number != 0.0:  # NaN and infinities have no JSON form
            raise ValueTypeError(name, "a finite number", str(value))
        return number
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueTypeError(name, "boolean", _kind(value))
        return value
    if not isinstance(value, str):
        raise ValueTypeError(name, _EXPECTED.get(kind, "string"), _kind(value))
    if len(value) > _SHORT and len(value.encode("utf-8")) > MAX_TEXT:
        raise ValueSizeError(name, f"text longer than {MAX_TEXT} bytes")
    if "\x00" in value:  # the C++ CEL runtime would read the text only up to it (and so does PostgreSQL refuse it)
        raise ValueTypeError(name, "text without NUL characters (U+0000)", repr(value[:40]))
    if kind == "date":
        return _date(value, name)
    if kind == "datetime":
        return _datetime(value, name)
    return value


_EXPECTED = {"date": "date 'YYYY-MM-DD'", "datetime": "ISO 8601 datetime with offset"}


def _not_a_number(value: Any) -> str:
    """What a value given for a number is: for text (a CSV cell that did not convert), why it is not one."""
    if isinstance(value, str):
        try:
            float(parse_number(value))
        except ValueError as exc:
            return f"text: {exc}"
        except OverflowError:  # an integer of more than 308 digits
            return f"text: {value[:40]!r}{'…' if len(value) > 40 else ''} is beyond the range of a number"
    return _kind(value)


def _date(value: str, name: str) -> datetime:
    if not _DATE_RE.fullmatch(value):
        raise ValueTypeError(name, _EXPECTED["date"], repr(value))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueTypeError(name, _EXPECTED["date"], repr(value)) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _datetime(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueTypeError(name, _EXPECTED["datetime"], repr(value)) from None
    if moment.tzinfo is None:
        raise ValueTypeError(name, _EXPECTED["datetime"], f"{value!r} (no offset)")
    return moment.astimezone(UTC)


def _stored(value: Any, fdef: FieldDef) -> Any:
    """A value that passed its checks as the record stores it: whole numbers of double fields as floats, objects
    without null members, at every depth."""
    if isinstance(fdef, ArrayField):
        return [_stored(item, fdef.items) for item in value]
    if isinstance(fdef, ObjectField):
        return {key: _stored(item, fdef.fields[key]) for key, item in value.items() if item is not None}
    if isinstance(fdef, NumberField | CurrencyField) and not isinstance(value, bool) and isinstance(value, int):
        return value if isinstance(fdef, NumberField) and fdef.integer else float(value)
    return value


# The scalar fields whose common input skips the general pass: (field type, Python type of the common input).
_FAST: dict[str, type] = {"text": str, "enum": str, "reference": str, "file": str, "currency": float, "boolean": bool}


class FieldValues:
    """How values of one field are checked and stored: built once per field (`FormModel.values`), then `store`
    for each input and `store_result` for each expression result written to the field.

    Both return `(stored, cel)`: the value as the record stores it and the value CEL reads (`to_cel`), from one
    pass over the value."""

    __slots__ = ("_double", "_enum", "_fast", "_max_length", "_moments", "_type", "fdef", "limited", "nested")

    def __init__(self, fdef: FieldDef) -> None:
        self.fdef = fdef
        self.nested = isinstance(fdef, ArrayField | ObjectField)
        self.limited = _limited(fdef)  # enum values, maxLength or maxItems somewhere inside
        self._type = fdef.resultType if isinstance(fdef, CalculatedField) else fdef.type
        self._double = isinstance(fdef, CurrencyField) or (isinstance(fdef, NumberField) and not fdef.integer)
        self._enum = frozenset(fdef.values) if isinstance(fdef, EnumField) else None
        self._max_length = fdef.maxLength if isinstance(fdef, TextField) else None
        self._fast: type | None = (
            (int if fdef.integer else float) if isinstance(fdef, NumberField) else _FAST.get(fdef.type)
        )
        # Parsed dates and datetimes by text: imports repeat the same days over and over.
        self._moments: dict[str, Any] | None = {} if fdef.type in ("date", "datetime") else None

    def store(self, value: Any, path: str, *, offered: Sequence[str] | None = None) -> tuple[Any, Any]:
        """`(stored, cel)` for the input `value` (not None) of this field at `path`.

        `offered` narrows the values of an enum field (the options a form offers). Raises `ValueTypeError` or
        `ValueSizeError` for the first part of the wrong type or size, else `ValueLimitError` with every limit
        exceeded."""
        kind = type(value)
        fast = self._fast
        # The common cases of `_convert`, inline: this runs for every field of every imported row.
        if kind is fast:
            if kind is str:
                if len(value) <= _SHORT and "\x00" not in value:
                    if self.limited:
                        self._text_limits(value, path, offered)
                    return value, value
            elif kind is float:
                if value - value == 0.0:
                    return value, value
            elif kind is bool or _INT64[0] <= value <= _INT64[1]:
                return value, value
        moments = self._moments
        if moments is not None and kind is str:
            hit = moments.get(value)
            if hit is not None:
                return value, hit
        limits: list[Limit] | None = [] if self.limited else None
        cel = _convert(value, self.fdef, path, limits, offered)
        if limits:
            raise ValueLimitError(limits)
        if moments is not None and len(moments) < _MOMENTS:
            moments[value] = cel
        return (cel if type(cel) is float else value) if not self.nested else _stored(value, self.fdef), cel

    def _text_limits(self, value: str, path: str, offered: Sequence[str] | None) -> None:
        if self._enum is not None:
            if value not in (self._enum if offered is None else offered):
                allowed = tuple(self.fdef.values if offered is None else offered)  # type: ignore[union-attr]
                raise ValueLimitError([Limit(path, "notOffered", value, allowed=allowed)])
        elif self._max_length is not None and len(value) > self._max_length:
            raise ValueLimitError([Limit(path, "maxLength", value, maximum=self._max_length)])

    def store_result(self, value: Any, expr_id: str) -> tuple[Any, Any]:
        """`(stored, cel)` for the result `value` (not None) of expression `expr_id` written to this field: whole
        numbers of double fields as floats, a timestamp's day for a date field; types and sizes checked, limits
        not (a calculation is the package's own); arrays and objects stored as the expression built them.
        Raises `ResultError` when the result does not fit."""
        if isinstance(value, float) and not math.isfinite(value):
            raise ResultError("the result is not a finite number")
        kind = self._type
        if kind == "date" and isinstance(value, str) and len(value) >= 10:
            value = value[:10]  # a timestamp's day; checked below like any other result
        elif kind in ("number", "currency") and isinstance(value, int) and not isinstance(value, bool):
            value = float(value) if self._double or isinstance(self.fdef, CalculatedField) else value
        try:
            cel = _convert(value, self.fdef, expr_id, None, None)
        except ValueRefusedError as exc:
            raise ResultError(f"result does not fit the field: {exc}") from None
        return value, cel


def _limited(fdef: FieldDef) -> bool:
    if isinstance(fdef, EnumField) or (isinstance(fdef, TextField) and fdef.maxLength is not None):
        return True
    if isinstance(fdef, ArrayField):
        return fdef.maxItems is not None or _limited(fdef.items)
    if isinstance(fdef, ObjectField):
        return any(_limited(sub) for sub in fdef.fields.values())
    return False


def zero_value(field_def: FieldDef) -> Any:
    """What an expression reads for a field without a value: its type's zero value, as CEL reads unset proto3
    fields ('' for text, 0 / 0.0, false, [], {}). Dates and datetimes have none (None): no moment is a
    meaningful default, so an expression reading an unset date stays unknown instead of seeing 1970."""
    kind = field_def.resultType if isinstance(field_def, CalculatedField) else field_def.type
    if kind == "number":
        return 0 if isinstance(field_def, NumberField) and field_def.integer else 0.0
    return {"currency": 0.0, "boolean": False, "date": None, "datetime": None, "object": {}, "array": []}.get(kind, "")


def from_cel(value: Any) -> Any:
    """A CEL result as JSON-like data (the protobuf JSON mapping for timestamps, durations and bytes)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {_key(k): from_cel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [from_cel(v) for v in value]
    raise TypeError(f"no JSON form for a CEL value of type {type(value).__name__}")


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def format_timestamp(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    text = utc.replace(tzinfo=None).isoformat()
    return text + "Z"


def format_duration(span: timedelta) -> str:
    micros = (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), 1_000_000)
    return f"{sign}{whole}.{frac:06d}".rstrip("0").rstrip(".") + "s" if frac else f"{sign}{whole}s"
