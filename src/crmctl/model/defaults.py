"""Field defaults: the value a field has wherever a record has none (blueprint §6, schema evolution).

A field's `default` is a constant of the field's type. A field that declares one never has no value: a record
written without it stores the default, a record read from a version that did not know the field reads the
default, and a form starts with it (and a cleared input returns to it). "No value" is an absent key or `null`;
an empty text or list is a value. Defaults of an object's members apply inside every object that is present (an
absent object stays absent unless the object field has a default of its own), and inside every object item of an
array. An array's items never have a default of their own: an item is never absent.

A declared default is type-checked with the field (`model.fields.check_default`: a package with a default that
does not fit its field never loads); `DefaultFiller` fills the defaults into record data, and is the one function the
runtime's readers and writers use.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from crmctl.model.fields import FieldDef

__all__ = ["DefaultFiller", "declares_default", "filled_default", "filler_for"]


def declares_default(fdef: FieldDef) -> bool:
    """Whether the field, or any member or item inside it, declares a default."""
    if getattr(fdef, "default", None) is not None:
        return True
    if fdef.type == "object":
        return any(declares_default(sub) for sub in fdef.fields.values())
    if fdef.type == "array":
        return declares_default(fdef.items)
    return False


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
