"""Turn `crmctl new field` input (a type name and `KEY=VALUE` options) into a validated field definition.

Options are checked against the field model of the chosen type, so every option the format knows is
accepted and nothing else: `values=a,b,c` (enum), `to=Account` (reference), `currency=EUR` (currency),
`integer=true` (number), `expression=...` and `resultType=number` (calculated), `items=text` (array; the
remaining non-array options describe the item, e.g. `items=enum values=a,b`), `fields=street,zip:number`
(object; `name` or `name:type`, text by default), `accept=application/pdf` (file), `maxLength=80`, ...
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from crmctl.errors import InputError
from crmctl.model.fields import (
    FIELD_TYPES,
    ArrayField,
    BooleanField,
    CalculatedField,
    CurrencyField,
    DateField,
    DatetimeField,
    EnumField,
    FileField,
    NumberField,
    ObjectField,
    ReferenceField,
    TextField,
)
from crmctl.model.numbers import parse_number

__all__ = ["FIELD_MODELS", "build_field", "parse_options"]

FIELD_MODELS: dict[str, type[BaseModel]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in (
        TextField,
        NumberField,
        CurrencyField,
        BooleanField,
        EnumField,
        DateField,
        DatetimeField,
        ReferenceField,
        FileField,
        CalculatedField,
        ObjectField,
        ArrayField,
    )
}
_NOT_OPTIONS = ("type", "required", "description")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


def parse_options(pairs: list[str]) -> dict[str, str]:
    """`["values=a,b", "to=User"]` → `{"values": "a,b", "to": "User"}`; a key given twice is an error."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"option {pair!r} is not KEY=VALUE", hint="e.g. --option values=a,b,c")
        if key in options:
            raise InputError(f"option {key!r} is given twice")
        options[key] = value.strip()
    return options


def build_field(
    field_type: str, options: dict[str, str], *, required: bool = False, description: str | None = None
) -> dict[str, Any]:
    """A plain field definition (key order: type, required, options, description), validated by its model."""
    model = _model(field_type)
    options = dict(options)
    definition: dict[str, Any] = {"type": field_type}
    if required:
        definition["required"] = True
    if field_type == "array":
        item_type = options.pop("items", None)
        if item_type is None:
            raise InputError("an array field needs option items=TYPE, e.g. --option items=text")
        own = {k: options.pop(k) for k in list(options) if k in ArrayField.model_fields}
        definition.update(_coerce_all(ArrayField, own))
        definition["items"] = build_field(item_type, options)
    else:
        definition.update(_coerce_all(model, options))
    if description:
        definition["description"] = description
    _validate(model, definition)
    return definition


def _model(field_type: str) -> type[BaseModel]:
    model = FIELD_MODELS.get(field_type)
    if model is None:
        raise InputError(f"unknown field type {field_type!r}; known types: {', '.join(FIELD_TYPES)}")
    return model


def _coerce_all(model: type[BaseModel], options: dict[str, str]) -> dict[str, Any]:
    allowed = [name for name in model.model_fields if name not in _NOT_OPTIONS]
    type_name = get_args(model.model_fields["type"].annotation)[0]
    result: dict[str, Any] = {}
    for key, raw in options.items():
        if key not in allowed:
            raise InputError(f"unknown option {key!r} for {_a(type_name)} field; allowed: {', '.join(sorted(allowed))}")
        result[key] = _coerce(key, raw, model.model_fields[key].annotation)
    return result


def _coerce(key: str, raw: str, annotation: Any) -> Any:
    if key == "fields":
        return _object_fields(raw)
    kinds = _kinds(annotation)
    if bool in kinds:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise InputError(f"option {key}={raw!r}: expected true or false")
    if int in kinds:
        try:
            value = parse_number(raw)
        except ValueError:
            value = None
        if not isinstance(value, int):
            raise InputError(f"option {key}={raw!r}: expected a whole number in ASCII digits")
        return value
    if list in kinds:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _kinds(annotation: Any) -> set[Any]:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        found: set[Any] = set()
        for arg in get_args(annotation):
            found |= _kinds(arg)
        return found
    if origin is typing.Annotated:
        return _kinds(get_args(annotation)[0])
    return {origin or annotation}


def _object_fields(raw: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, _, sub_type = part.partition(":")
        fields[name.strip()] = build_field(sub_type.strip() or "text", {})
    return fields


def _validate(model: type[BaseModel], definition: dict[str, Any]) -> None:
    try:
        model.model_validate(definition)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            if error["type"] == "missing":
                problems.append(f"{_a(definition['type'])} field needs option {loc}=...")
            else:
                problems.append(f"{loc}: {error['msg']}")
        raise InputError("; ".join(problems)) from None


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
