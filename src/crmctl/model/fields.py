"""Schema artifact: entities and their typed fields (blueprint §6). Data only: no UI, validation or behaviour."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from crmctl.model.defaults import check_default

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
