"""Record values to CEL values and back.

Records hold JSON-like data as stored: strings for text, enum, reference and file; numbers (int when the field
is `integer`); booleans; dates as `YYYY-MM-DD`; datetimes as ISO 8601 with an offset or `Z`; objects as dicts
and arrays as lists. CEL sees dates and datetimes as UTC timestamps. Results go back as the protobuf JSON
mapping spells them: timestamps as RFC 3339 strings with `Z`, durations as seconds with an `s` suffix.

The size guards bound the input of an evaluation: with the compile-time cost limits (expression size and
comprehension nesting) they bound the work of every evaluation without a clock.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.fields import (
    ArrayField,
    CalculatedField,
    CurrencyField,
    NumberField,
    ObjectField,
)
from crmctl.model.numbers import parse_number

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef

__all__ = ["MAX_LIST_ITEMS", "MAX_TEXT", "ValueSizeError", "ValueTypeError", "from_cel", "to_cel", "zero_value"]

MAX_LIST_ITEMS = 10_000
MAX_TEXT = 1 << 20  # bytes of UTF-8 per string value
_INT64 = (-(2**63), 2**63 - 1)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ValueTypeError(UserError):
    """A record value does not have the type its field declares."""

    def __init__(self, field: str, expected: str, got: str) -> None:
        super().__init__(f"{field}: expected {expected}, got {got}")
        self.field = field
        self.expected = expected
        self.got = got


class ValueSizeError(UserError):
    """A record value is larger than the runtime accepts."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def to_cel(value: Any, field_def: FieldDef, name: str = "value") -> Any:
    """The value cel-expr-python takes for `value` of a field declared as `field_def`."""
    if isinstance(field_def, CalculatedField):
        return _scalar(value, field_def.resultType, name, integer=False)
    if isinstance(field_def, ObjectField):
        if not isinstance(value, dict):
            raise ValueTypeError(name, "object", _kind(value))
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = field_def.fields.get(key) if isinstance(key, str) else None
            if sub is None:
                raise ValueTypeError(f"{name}.{key}", "a field the object declares", "an unknown key")
            if item is not None:
                out[key] = to_cel(item, sub, f"{name}.{key}")
        return out
    if isinstance(field_def, ArrayField):
        if not isinstance(value, list | tuple):
            raise ValueTypeError(name, "array", _kind(value))
        if len(value) > MAX_LIST_ITEMS:
            raise ValueSizeError(name, f"{len(value)} items; the limit is {MAX_LIST_ITEMS}")
        return [to_cel(item, field_def.items, f"{name}[{i}]") for i, item in enumerate(value)]
    integer = isinstance(field_def, NumberField) and field_def.integer
    kind = "currency" if isinstance(field_def, CurrencyField) else field_def.type
    return _scalar(value, kind, name, integer=integer)


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
            return float(value)
        except OverflowError:  # an int of more than 308 digits
            raise ValueSizeError(name, "number beyond the range of a double") from None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueTypeError(name, "boolean", _kind(value))
        return value
    if not isinstance(value, str):
        raise ValueTypeError(name, _EXPECTED.get(kind, "string"), _kind(value))
    if len(value) > MAX_TEXT // 4 and len(value.encode("utf-8")) > MAX_TEXT:
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
