"""Former names: a field renamed with `aliases` answers to each of them, at every depth (blueprint §6).

`Renamer` rewrites record data (JSON-like) so that every key is the current name of its field: a value stored by an
older version, or given, under a former name is the field's value. Members of objects follow their own aliases,
inside objects and inside object items of lists. Keys no field answers to are kept as they are (the record engine
reports them). Data that names one field twice — by its name and a former one, or by two former ones — is refused
(`NamedTwice`): which of the two values was meant cannot be told, and keeping either would lose the other silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError
from crmctl.model.fields import ArrayField, ObjectField

if TYPE_CHECKING:
    from crmctl.model.fields import FieldDef

__all__ = ["NamedTwice", "Renamer", "renamer_for"]

_Inner = Callable[[Any, str], Any]


class NamedTwice(InputError):
    """Record data names one field under two keys; `field` is the field's path (current names)."""

    def __init__(self, field: str, first: str, second: str) -> None:
        super().__init__(
            f"keys {first!r} and {second!r} name the same field {field!r} (one is a former name); give it once"
        )
        self.field = field


class Renamer:
    """Rewrites the former names of one field map (see the module docstring); built once by `renamer_for`."""

    def __init__(
        self, names: frozenset[str], former: dict[str, str], inner: dict[str, _Inner], members: dict[str, Renamer]
    ) -> None:
        self._names = names
        self._former = former
        self._inner = inner
        self._members = members  # object fields' own renamers, for paths

    def path(self, path: str) -> str:
        """A dotted field path (`address.zip`, through objects) spelled with the current names."""
        head, dot, rest = path.partition(".")
        name = head if head in self._names else self._former.get(head, head)
        members = self._members.get(name)
        return name + dot + (members.path(rest) if members is not None and rest else rest)

    def __call__(self, data: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """`data` with every key its field's current name (a new mapping); `where` prefixes the paths of errors."""
        out: dict[str, Any] = {}
        given: dict[str, str] = {}
        for key, value in data.items():
            name = key if key in self._names else self._former.get(key, key)
            path = f"{where}.{name}" if where else name
            if name in given:
                raise NamedTwice(path, given[name], key)
            given[name] = key
            inner = self._inner.get(name)
            out[name] = inner(value, path) if inner is not None and value is not None else value
        return out


def renamer_for(fields: Mapping[str, FieldDef]) -> Renamer | None:
    """The renamer of a field map, or None when no field in it, at any depth, has a former name."""
    former = {alias: name for name, fdef in fields.items() for alias in fdef.aliases if alias not in fields}
    members = {
        name: renamer
        for name, fdef in fields.items()
        if isinstance(fdef, ObjectField) and (renamer := renamer_for(fdef.fields)) is not None
    }
    inner = {name: rename for name, fdef in fields.items() if (rename := _inner(fdef, members.get(name))) is not None}
    return Renamer(frozenset(fields), former, inner, members) if former or inner else None


def _inner(fdef: FieldDef, members: Renamer | None) -> _Inner | None:
    """What renames inside a value of `fdef` (object members, items of lists), or None when nothing inside has a
    former name; `members` is the object's renamer when `fdef` is an object."""
    if isinstance(fdef, ObjectField):
        if members is None:
            return None
        return lambda value, where: members(value, where) if isinstance(value, Mapping) else value
    if isinstance(fdef, ArrayField):
        items = fdef.items
        item = _inner(items, renamer_for(items.fields) if isinstance(items, ObjectField) else None)
        if item is None:
            return None
        return lambda value, where: (
            [item(v, f"{where}[{i}]") if v is not None else v for i, v in enumerate(value)]
            if isinstance(value, list)
            else value
        )
    return None
