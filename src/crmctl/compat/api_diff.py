"""What a package change does to its records API: the two generated OpenAPI documents, compared.

The documents are what clients see (`crmctl.api.documents.openapi`), so the API section is derived from them, not
from the field definitions: a change the generator does not show is no API change. Each schema is compared in its
direction: request bodies and the list filter are what clients send (fewer accepted values narrow them), the
records' `data` is what clients read (another type or a missing property breaks readers, more values is a note).
The old package is read through the new version's aliases, like every comparer (`crmctl.compat.renames`), and a
property renamed with an alias is compared under its new name."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmctl.api.documents import entities, openapi
from crmctl.model.fields import ArrayField, ObjectField

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crmctl.compat.change import Collector
    from crmctl.model.fields import FieldDef
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = ["diff_api"]

_METHODS = ("get", "put", "post", "patch", "delete")
_MEANING = ("type", "format", "x-crmctl-reference", "x-crmctl-currency", "x-crmctl-file")
_REQUEST, _RESPONSE = "request", "response"


@dataclass(frozen=True)
class _Finding:
    kind: str
    path: str  # the record path: `Lead.phone`, `Lead.address.zip`, `Lead.lines[].sku`
    where: str  # the schema or operation: `Lead.Create`, `listLead filter`
    detail: str = ""


class _Walk:
    """One comparison of two documents, collecting findings by record path."""

    def __init__(self, renames: dict[str, dict[str, str]]) -> None:
        self.renames = renames  # record path of an object -> {former name: new name}
        self.findings: list[_Finding] = []

    def add(self, kind: str, path: str, where: str, detail: str = "") -> None:
        self.findings.append(_Finding(kind, path, where, detail))

    def compare(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str, side: str) -> None:
        old, old_nullable = _unwrap(old)
        new, new_nullable = _unwrap(new)
        # Like a required property a client omits, one it can no longer null narrows requests unless a default
        # stands in for the value (the record class's reading: writers without a value get the default).
        if side == _REQUEST and old_nullable and not new_nullable and "default" not in new:
            self.add("api-request-narrowed", path, where, "null no longer removes it")
        old_meaning = {k: old.get(k) for k in _MEANING}
        new_meaning = {k: new.get(k) for k in _MEANING}
        if old_meaning != new_meaning:
            self._retyped(old_meaning, new_meaning, path, where, side)
            return
        if old.get("type") == "object":
            self._object(old, new, path, where, side)
        elif old.get("type") == "array":
            self._bound(old, new, "maxItems", path, where, side)
            self.compare(old["items"], new["items"], f"{path}[]", where, side)
        else:
            self._enum(old.get("enum"), new.get("enum"), path, where, side)
            self._bound(old, new, "maxLength", path, where, side)

    def _retyped(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str, side: str) -> None:
        if {k: v for k, v in old.items() if k != "type"} == {k: v for k, v in new.items() if k != "type"}:
            pair = (old["type"], new["type"])
            if pair == ("number", "integer"):
                if side == _REQUEST:
                    self.add("api-request-narrowed", path, where, "whole numbers only")
                return
            if pair == ("integer", "number"):
                if side == _RESPONSE:
                    self.add("api-response-widened", path, where, "may be a fraction")
                return
        kind = "api-request-type-changed" if side == _REQUEST else "api-response-type-changed"
        self.add(kind, path, where, f"{_describe(old)} → {_describe(new)}")

    def _object(self, old: dict[str, Any], new: dict[str, Any], path: str, where: str, side: str) -> None:
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        renamed = {former: name for former, name in self.renames.get(path, {}).items() if name in new_props}
        for name, schema in old_props.items():
            target = name if name in new_props else renamed.get(name)
            sub = f"{path}.{target or name}"
            if target is None:
                kind = "api-request-property-removed" if side == _REQUEST else "api-response-property-removed"
                self.add(kind, sub, where)
                continue
            if target != name:
                self.add("api-property-renamed", sub, where, f"was {name}")
            self.compare(schema, new_props[target], sub, where, side)
            required_now = target in new_required and name not in old_required
            if side == _REQUEST and required_now and "default" not in new_props[target]:
                self.add("api-request-narrowed", sub, where, "now required")
            if side == _RESPONSE and name in old_required and target not in new_required:
                self.add("api-response-widened", sub, where, "may be absent")
        for name in sorted(set(new_props) - set(old_props) - set(renamed.values())):
            sub = f"{path}.{name}"
            if side == _REQUEST and name in new_required and "default" not in new_props[name]:
                self.add("api-required-property-added", sub, where)
            else:
                self.add("api-property-added", sub, where)

    def _enum(self, old: list[Any] | None, new: list[Any] | None, path: str, where: str, side: str) -> None:
        if old == new:
            return
        if side == _REQUEST and new is not None:
            lost = [v for v in old or () if v not in new] if old is not None else None
            if lost is None:
                self.add("api-request-narrowed", path, where, "only the enum values are accepted")
            elif lost:
                self.add("api-request-narrowed", path, where, f"{_values(lost)} no longer accepted")
        if side == _RESPONSE and old is not None:
            gained = [v for v in new if v not in old] if new is not None else None
            if gained is None:
                self.add("api-response-widened", path, where, "any text, not only the enum values")
            elif gained:
                self.add("api-response-widened", path, where, f"may be {_values(gained)}")

    def _bound(self, old: dict[str, Any], new: dict[str, Any], key: str, path: str, where: str, side: str) -> None:
        before, after = old.get(key), new.get(key)
        if before == after:
            return
        narrowed = after is not None and (before is None or after < before)
        detail = f"{key} {'none' if before is None else before} → {'none' if after is None else after}"
        if narrowed and side == _REQUEST:
            self.add("api-request-narrowed", path, where, detail)
        elif not narrowed and side == _RESPONSE:
            self.add("api-response-widened", path, where, detail)


def _unwrap(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A merge patch's optional property is `anyOf: [schema, {type: null}]` (null removes it)."""
    options = schema.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        return next(o for o in options if o != {"type": "null"}), True
    return schema, False


def _describe(meaning: dict[str, Any]) -> str:
    text = str(meaning["type"])
    if meaning.get("format"):
        text += f" ({meaning['format']})"
    for key, label in (("x-crmctl-reference", "to"), ("x-crmctl-currency", "in")):
        if meaning.get(key):
            text += f" {label} {meaning[key]}"
    return text + (" file id" if meaning.get("x-crmctl-file") else "")


def _values(values: list[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """operationId -> (`POST /records/Lead`, entity tag)."""
    return {
        op["operationId"]: (f"{method.upper()} {route}", op["tags"][0])
        for route, item in document["paths"].items()
        for method, op in item.items()
        if method in _METHODS
    }


def _list_filter(document: dict[str, Any], entity: str) -> dict[str, Any] | None:
    params = document["paths"][f"/records/{entity}"]["get"]["parameters"]
    return next((p["schema"] for p in params if p.get("name") == "filter"), None)


def _renames(package: Package) -> dict[str, dict[str, str]]:
    """Former names by the record path of the object that holds them, from the new version's `aliases`."""
    out: dict[str, dict[str, str]] = defaultdict(dict)

    def visit(prefix: str, fields: Mapping[str, FieldDef]) -> None:
        for name, fdef in fields.items():
            out[prefix].update((alias, name) for alias in fdef.aliases)
            inner, sub = fdef, f"{prefix}.{name}"
            while isinstance(inner, ArrayField):
                inner, sub = inner.items, f"{sub}[]"
            if isinstance(inner, ObjectField):
                visit(sub, inner.fields)

    for entity, definition in entities(package).items():
        visit(entity, definition.fields)
    return out


def _json_path(record_path: str) -> JsonPath:
    """`Lead.lines[].sku` → the position of that field in schema.yaml."""
    entity, *names = record_path.split(".")
    path: list[str | int] = ["entities", entity]
    for name in names:
        path += ["fields", name.replace("[]", ""), *["items"] * name.count("[]")]
    return tuple(path)


def diff_api(c: Collector) -> None:
    """Append the records API's changes (kinds `api-*`, codes CMP9xx) between `c.old_pkg` and `c.new_pkg`."""
    old_doc, new_doc = openapi(c.old_pkg), openapi(c.new_pkg)
    old_ops, new_ops = _operations(old_doc), _operations(new_doc)
    walk = _Walk(_renames(c.new_pkg))
    for op_id in sorted(old_ops.keys() - new_ops.keys()):
        walk.add("api-operation-removed", old_ops[op_id][1], f"{op_id} ({old_ops[op_id][0]})")
    for op_id in sorted(new_ops.keys() - old_ops.keys()):
        walk.add("api-operation-added", new_ops[op_id][1], f"{op_id} ({new_ops[op_id][0]})")
    old_schemas, new_schemas = old_doc["components"]["schemas"], new_doc["components"]["schemas"]
    for entity in sorted({tag for _, tag in old_ops.values()} & {tag for _, tag in new_ops.values()}):
        walk.compare(old_schemas[f"{entity}.Data"], new_schemas[f"{entity}.Data"], entity, f"{entity}.Data", _RESPONSE)
        for schema in (f"{entity}.Create", f"{entity}.Patch"):
            walk.compare(old_schemas[schema], new_schemas[schema], entity, schema, _REQUEST)
        old_filter, new_filter = _list_filter(old_doc, entity), _list_filter(new_doc, entity)
        empty = {"type": "object", "properties": {}}
        walk.compare(old_filter or empty, new_filter or empty, entity, f"list{entity} filter", _REQUEST)
    _report(c, walk.findings)


def _report(c: Collector, findings: list[_Finding]) -> None:
    """One change per kind and record path, naming every schema or operation it shows in."""
    grouped: dict[tuple[str, str], list[_Finding]] = defaultdict(list)
    for finding in findings:
        grouped[(finding.kind, finding.path)].append(finding)
    required = {path for kind, path in grouped if kind == "api-required-property-added"}
    for (kind, path), group in sorted(grouped.items()):
        if kind == "api-property-added" and path in required:
            continue
        wheres = ", ".join(dict.fromkeys(f.where for f in group))
        details = "; ".join(dict.fromkeys(f.detail for f in group if f.detail))
        message = _MESSAGES[kind].format(path=path, where=wheres) + (f": {details}" if details else "")
        removed = kind in {"api-operation-removed", "api-response-property-removed", "api-request-property-removed"}
        location = ("schema", _json_path(path))
        renamed_from = next((f.detail.removeprefix("was ") for f in group if kind == "api-property-renamed"), None)
        old = ("schema", _json_path(path.rsplit(".", 1)[0] + "." + renamed_from)) if renamed_from else location
        c.add(kind, path, message, old=old if not kind.endswith("-added") else None, new=None if removed else location)


_MESSAGES = {
    "api-operation-removed": "operations of {path} were removed: {where}",
    "api-operation-added": "operations of {path} were added: {where}",
    "api-response-property-removed": "{path} is no longer in responses ({where})",
    "api-response-type-changed": "{path} changed type in responses ({where})",
    "api-response-widened": "{path} in responses may hold what clients have not seen ({where})",
    "api-request-property-removed": "requests can no longer send {path} ({where})",
    "api-request-type-changed": "{path} changed type in requests ({where})",
    "api-request-narrowed": "requests accept fewer values for {path} ({where})",
    "api-required-property-added": "requests must now send {path} ({where})",
    "api-property-added": "{path} was added to the API ({where})",
    "api-property-renamed": "{path} was renamed in the API ({where})",
}
