"""Schema artifact: entities and their typed fields (blueprint §6). Data only: no UI, validation or behaviour."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "FIELD_TYPES",
    "ArrayField",
    "BooleanField",
    "CalculatedField",
    "CurrencyField",
    "DateField",
    "DatetimeField",
    "EntityDef",
    "EnumField",
    "FieldDef",
    "FileField",
    "NumberField",
    "ObjectField",
    "ReferenceField",
    "SchemaArtifact",
    "TextField",
    "check_default",
    "is_blank",
    "number_digits",
    "value_problem",
]

IDENT = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
FIELD_TYPES = (
    "text",
    "number",
    "currency",
    "boolean",
    "enum",
    "date",
    "datetime",
    "reference",
    "file",
    "calculated",
    "object",
    "array",
)
RESULT_TYPES = Literal["text", "number", "currency", "boolean", "date", "datetime"]
_DEFAULT = (
    "The value the field has wherever a record has none: a record written without it stores it, a record of a "
    "version that did not know the field reads it, and a new form starts with it. Must fit the field's type."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FieldBase(_Strict):
    description: str | None = Field(None, description="What the field holds, for people and AI agents.")
    required: bool = Field(False, description="A record must carry a value for this field.")
    aliases: list[Annotated[str, Field(pattern=IDENT)]] = Field(
        default_factory=list,
        description="Former names of this field. A rename is only allowed by keeping the old name here.",
    )
    deprecated: bool = Field(False, description="Still stored and readable, but no longer offered for new input.")

    @field_validator("default", check_fields=False)
    @classmethod
    def _default_fits(cls, value: Any, info: ValidationInfo) -> Any:
        """A default is checked against the field's other options, which pydantic validated before it (`default`
        is each field type's last attribute); when one of them failed, that failure is the one reported."""
        if value is None:
            return value
        needed = [n for n, f in cls.model_fields.items() if f.is_required() and n != "default"]
        if any(n not in info.data for n in needed):
            return value
        problem = check_default(cls.model_construct(**info.data, default=value))  # type: ignore[call-arg, arg-type]
        if problem is not None:
            raise PydanticCustomError("default", "{problem}", {"problem": problem})
        return value


class TextField(_FieldBase):
    """Free text."""

    type: Literal["text"]
    maxLength: int | None = Field(None, ge=1, description="Longest value the store accepts, in characters.")
    multiline: bool = Field(False, description="Holds several lines of text.")
    default: str | None = Field(None, description=_DEFAULT)


class NumberField(_FieldBase):
    """A number. CEL sees it as `double`, or as `int` when `integer: true`."""

    type: Literal["number"]
    integer: bool = Field(False, description="Whole numbers only (CEL type `int`).")
    precision: int | None = Field(None, ge=1, le=38, description="Total significant digits stored.")
    scale: int | None = Field(None, ge=0, le=38, description="Digits after the decimal point stored.")
    default: int | float | None = Field(None, description=_DEFAULT)


class CurrencyField(_FieldBase):
    """A money amount in one ISO 4217 currency. CEL sees it as `double`."""

    type: Literal["currency"]
    currency: str = Field(..., pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code, e.g. EUR.")
    scale: int = Field(2, ge=0, le=6, description="Digits after the decimal point stored.")
    default: int | float | None = Field(None, description=_DEFAULT)


class BooleanField(_FieldBase):
    """True or false."""

    type: Literal["boolean"]
    default: bool | None = Field(None, description=_DEFAULT)


class EnumField(_FieldBase):
    """One value out of a closed list. Labels per locale live in localization `picklists`."""

    type: Literal["enum"]
    values: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]] = Field(
        ..., min_length=1, description="The allowed values, in display order."
    )
    default: str | None = Field(None, description=_DEFAULT)


class DateField(_FieldBase):
    """A calendar date (ISO 8601 `YYYY-MM-DD`). CEL sees it as `timestamp` at midnight UTC."""

    type: Literal["date"]
    default: str | None = Field(None, description=_DEFAULT)


class DatetimeField(_FieldBase):
    """An instant in time, stored in UTC. CEL sees it as `timestamp`."""

    type: Literal["datetime"]
    default: str | None = Field(None, description=_DEFAULT)


class ReferenceField(_FieldBase):
    """The id of a record of another entity of this package. CEL sees it as `string`."""

    type: Literal["reference"]
    to: str = Field(..., pattern=IDENT, description="Name of the referenced entity.")


class FileField(_FieldBase):
    """An uploaded file, stored by id. CEL sees it as `string`."""

    type: Literal["file"]
    accept: list[str] = Field(default_factory=list, description="Accepted MIME types, e.g. application/pdf.")
    maxSizeBytes: int | None = Field(None, ge=1, description="Largest accepted file.")


class CalculatedField(_FieldBase):
    """A value computed by a CEL expression over other fields; never entered by people."""

    type: Literal["calculated"]
    expression: str = Field(..., min_length=1, description="CEL expression computing the value.")
    resultType: RESULT_TYPES = Field(..., description="Type of the computed value.")


class ObjectField(_FieldBase):
    """A nested group of fields. CEL sees it as `map(string, dyn)`."""

    type: Literal["object"]
    fields: dict[Annotated[str, Field(pattern=IDENT)], FieldDef] = Field(
        ..., min_length=1, description="The nested fields, by name."
    )
    default: dict[str, Any] | None = Field(None, description=_DEFAULT)


class ArrayField(_FieldBase):
    """A list of values of one item type. CEL sees it as `list(T)`."""

    type: Literal["array"]
    items: FieldDef = Field(..., description="Definition of each item.")
    maxItems: int | None = Field(None, ge=1, description="Most items a record may hold.")
    default: list[Any] | None = Field(None, description=_DEFAULT)

    @field_validator("items")
    @classmethod
    def _items_have_no_default(cls, value: Any) -> Any:
        if getattr(value, "default", None) is not None:
            raise PydanticCustomError(
                "default",
                "an item of a list is never absent, so it has no default; give the array field a default list instead",
            )
        return value


FieldDef = Annotated[
    TextField
    | NumberField
    | CurrencyField
    | BooleanField
    | EnumField
    | DateField
    | DatetimeField
    | ReferenceField
    | FileField
    | CalculatedField
    | ObjectField
    | ArrayField,
    Field(discriminator="type"),
]

ObjectField.model_rebuild()
ArrayField.model_rebuild()


class EntityDef(_Strict):
    """A kind of record, e.g. Lead."""

    description: str | None = None
    fields: dict[Annotated[str, Field(pattern=IDENT)], FieldDef] = Field(..., description="Fields by name.")

    def field_def(self, path: str) -> FieldDef | None:
        """The definition of `path` (dotted through object fields and arrays of objects), or None."""
        fields: dict[str, FieldDef] | None = self.fields
        found: FieldDef | None = None
        for part in path.split("."):
            if fields is None or part not in fields:
                return None
            found = fields[part]
            inner = found
            while isinstance(inner, ArrayField):
                inner = inner.items
            fields = inner.fields if isinstance(inner, ObjectField) else None
        return found


class SchemaArtifact(_Strict):
    """`schema.yaml`: what data exists."""

    entities: dict[Annotated[str, Field(pattern=IDENT)], EntityDef] = Field(..., description="Entities by name.")


# -- what a field accepts (a declared default is checked with it) ------------------------------------------

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
