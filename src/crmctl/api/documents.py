"""The records API of a package, as documents: `openapi`, `json_schemas` and `graphql_sdl`.

One mapping from field definitions to value schemas (`value_schema`) serves all three; records are read and
written through `/records/{Entity}` like `crmctl records`. Every function is pure and deterministic: the same
package gives the same document, byte for byte, once serialised with sorted keys (`dumps`)."""

from __future__ import annotations

import json
import re
from typing import Any

from crmctl.api import DEFAULT_SERVER
from crmctl.model.fields import (
    ArrayField,
    CalculatedField,
    CurrencyField,
    EntityDef,
    EnumField,
    FieldDef,
    NumberField,
    ObjectField,
    ReferenceField,
    TextField,
)
from crmctl.model.package import Package

__all__ = [
    "DEFAULT_SERVER",
    "MAX_PAGE",
    "dumps",
    "entities",
    "filter_schema",
    "filterable",
    "graphql_sdl",
    "json_schemas",
    "openapi",
    "package_server",
    "value_schema",
]

MAX_PAGE = 500
_DEFAULT_PAGE = 50
_SCALAR_TYPES = ("text", "number", "currency", "boolean", "enum", "date", "datetime", "reference", "file")
_PROBLEM = "application/problem+json"
_GRAPHQL_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
_RESERVED_ENUM_VALUES = frozenset({"true", "false", "null"})
_BUILT_IN_TYPES = frozenset({"String", "Int", "Float", "Boolean", "ID", "Query", "Mutation", "Subscription"})


def entities(package: Package) -> dict[str, EntityDef]:
    """The package's entities by name, sorted (none when it has no schema)."""
    return dict(sorted(package.schema.entities.items())) if package.schema else {}


def dumps(document: Any) -> str:
    """A document as the commands write it: JSON, sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- values ------------------------------------------------------------------------------------------------


def value_schema(fdef: FieldDef, *, writing: bool = False) -> dict[str, Any]:
    """The JSON Schema (2020-12, the dialect of OpenAPI 3.1) of the values the runtime stores for `fdef`.

    `writing` leaves calculated fields out of nested objects (they are never entered); at the top level the
    caller decides."""
    schema = _type_schema(fdef, writing=writing)
    if fdef.description:
        schema["description"] = fdef.description
    if fdef.deprecated:
        schema["deprecated"] = True
    if isinstance(fdef, CalculatedField):
        schema["readOnly"] = True
    default = getattr(fdef, "default", None)
    if default is not None:
        schema["default"] = default
    return schema


def _type_schema(fdef: FieldDef, *, writing: bool) -> dict[str, Any]:
    kind = fdef.resultType if isinstance(fdef, CalculatedField) else fdef.type
    if isinstance(fdef, ObjectField):
        fields = {n: f for n, f in fdef.fields.items() if not (writing and isinstance(f, CalculatedField))}
        return _object(fields, writing=writing)
    if isinstance(fdef, ArrayField):
        schema: dict[str, Any] = {"type": "array", "items": value_schema(fdef.items, writing=writing)}
        if fdef.maxItems is not None:
            schema["maxItems"] = fdef.maxItems
        return schema
    if isinstance(fdef, TextField):
        return {"type": "string"} | ({"maxLength": fdef.maxLength} if fdef.maxLength is not None else {})
    if isinstance(fdef, EnumField):
        return {"type": "string", "enum": list(fdef.values)}
    if isinstance(fdef, NumberField):
        return {"type": "integer" if fdef.integer else "number"}
    if isinstance(fdef, CurrencyField):
        return {"type": "number", "x-crmctl-currency": fdef.currency}
    if isinstance(fdef, ReferenceField):
        return {"type": "string", "x-crmctl-reference": fdef.to}
    scalars: dict[str, dict[str, Any]] = {
        "text": {"type": "string"},
        "number": {"type": "number"},
        "currency": {"type": "number"},
        "boolean": {"type": "boolean"},
        "date": {"type": "string", "format": "date"},
        "datetime": {"type": "string", "format": "date-time"},
        "file": {"type": "string", "x-crmctl-file": True},
    }
    return dict(scalars[kind])


def _object(fields: dict[str, FieldDef], *, writing: bool, nullable: bool = True) -> dict[str, Any]:
    """A closed object of `fields`; its `required` are the required fields.

    With `nullable`, an optional field may be `null`, as the record engine takes it: null is no value at the top
    level of a record written (nothing is stored), and is stored as given inside an object (nested values are kept
    as they came), so nested objects are nullable in records read too. Only a record's own top-level `data` never
    holds a null."""

    def schema_of(fdef: FieldDef) -> dict[str, Any]:
        value = value_schema(fdef, writing=writing)
        return {"anyOf": [value, {"type": "null"}]} if nullable and not fdef.required else value

    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: schema_of(fdef) for name, fdef in sorted(fields.items())},
    }
    required = sorted(n for n, f in fields.items() if f.required and not isinstance(f, CalculatedField))
    if required:
        schema["required"] = required
    return schema


def _patch(fields: dict[str, FieldDef]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7396) of `fields`, as `crmctl records update` applies it: every key optional,
    objects merge recursively, `null` removes an optional field, anything else replaces."""
    properties: dict[str, Any] = {}
    for name, fdef in sorted(fields.items()):
        if isinstance(fdef, CalculatedField):
            continue
        if isinstance(fdef, ObjectField):
            schema = _patch(dict(fdef.fields))
            if fdef.description:
                schema["description"] = fdef.description
        else:
            schema = value_schema(fdef, writing=True)
        if not fdef.required:
            schema = {"anyOf": [schema, {"type": "null"}]}
        properties[name] = schema
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _entered(entity: EntityDef) -> dict[str, FieldDef]:
    return {n: f for n, f in entity.fields.items() if not isinstance(f, CalculatedField)}


def filterable(entity: EntityDef) -> dict[str, FieldDef]:
    """Top-level fields a list can filter and sort by: the scalars, calculated ones included."""
    return {
        name: fdef
        for name, fdef in sorted(entity.fields.items())
        if (fdef.resultType if isinstance(fdef, CalculatedField) else fdef.type) in _SCALAR_TYPES
    }


def filter_schema(entity: EntityDef) -> dict[str, Any]:
    """The schema of a list's `filter` (`filter[status]=new`): a value of each filterable field's type."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {field: _type_schema(fdef, writing=False) for field, fdef in filterable(entity).items()},
    }


# -- JSON Schema -----------------------------------------------------------------------------------------------


def json_schemas(package: Package) -> dict[str, dict[str, Any]]:
    """One JSON Schema (2020-12) per entity: the `data` of its records as the store holds them."""
    version = package.manifest.version if package.manifest else None
    out: dict[str, dict[str, Any]] = {}
    for name, entity in entities(package).items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:crmctl:{package.name}:{version}:{name}",
            "title": name,
            **_object(dict(entity.fields), writing=False, nullable=False),
        }
        if entity.description:
            schema["description"] = entity.description
        out[name] = schema
    return out


# -- OpenAPI ---------------------------------------------------------------------------------------------------


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_PROBLEM: {"schema": _ref("crmctl.Problem")}}}


def _record(name: str, entity: EntityDef, version: str | None) -> dict[str, Any]:
    return {
        "type": "object",
        "description": entity.description or f"A {name} record.",
        "additionalProperties": False,
        "required": ["id", "revision", "packageVersion", "createdAt", "updatedAt", "data"],
        "properties": {
            "id": {"type": "string", "description": "The record's id."},
            "revision": {"type": "integer", "minimum": 1, "description": "Increases with every update."},
            "packageVersion": {
                "type": "string",
                "description": f"The package version the record is pinned to (this document: {version}).",
            },
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
            "data": _ref(f"{name}.Data"),
        },
    }


def _shared_components() -> dict[str, Any]:
    finding = {
        "type": "object",
        "additionalProperties": False,
        "required": ["field", "code", "severity", "message"],
        "properties": {
            "field": {"type": ["string", "null"], "description": "The field's path, null for the whole record."},
            "code": {"type": "string", "description": "The validation's id or a crmctl check (`required`, ...)."},
            "severity": {"type": "string", "enum": ["error", "warning"]},
            "message": {"type": "string"},
        },
    }
    problem = {
        "type": "object",
        "description": "An error as RFC 9457 problem details; `errors` is the validation report when there is one.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string", "format": "uri-reference"},
            "errors": {"type": "array", "items": _ref("crmctl.ValidationFinding")},
        },
    }
    etag = {"description": "The record's revision as a strong entity tag.", "schema": {"type": "string"}}
    location = {"description": "The created record's URL.", "schema": {"type": "string", "format": "uri-reference"}}
    return {
        "schemas": {"crmctl.Problem": problem, "crmctl.ValidationFinding": finding},
        "headers": {"ETag": etag, "Location": location},
        "parameters": {
            "RecordId": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            "IfMatch": {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "The ETag of the revision the update is based on; another revision answers 412.",
                "schema": {"type": "string"},
            },
            "Limit": {
                "name": "limit",
                "in": "query",
                "description": "Most records in one page.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": _DEFAULT_PAGE},
            },
            "Cursor": {
                "name": "cursor",
                "in": "query",
                "description": "The `nextCursor` of the previous page; absent for the first page.",
                "schema": {"type": "string"},
            },
        },
        "responses": {
            "BadRequest": _problem("The request is malformed (not JSON, an unknown parameter, a bad cursor)."),
            "NotFound": _problem("No record with this id."),
            "ValidationFailed": _problem("The record is invalid: nothing was written; `errors` says why."),
            "PreconditionFailed": _problem("If-Match names another revision: the record changed meanwhile."),
            "PreconditionRequired": _problem("An update needs If-Match."),
            "UnsupportedMediaType": _problem("The body is not of the media type the operation takes."),
        },
    }


def _asks_providers(package: Package, entity: str) -> bool:
    """The entity has async validations: a write asks their providers, which may not be installed (503)."""
    found = package.validations.validations if package.validations else []
    return any(v.type == "async" and v.entity == entity for v in found)


def _paths(name: str, entity: EntityDef, providers: bool = False) -> dict[str, Any]:
    record = {"description": f"The {name} record.", "headers": {"ETag": _ref("ETag", "headers")}}
    created = record | {"headers": {"ETag": _ref("ETag", "headers"), "Location": _ref("Location", "headers")}}
    filterable_fields = filterable(entity)
    sort_keys = [key for field in filterable_fields for key in (field, f"-{field}")]
    list_params: list[dict[str, Any]] = [_ref("Limit", "parameters"), _ref("Cursor", "parameters")]
    if filterable_fields:
        list_params.append(
            {
                "name": "filter",
                "in": "query",
                "style": "deepObject",
                "explode": True,
                "description": "Records whose fields equal these values (`filter[status]=new`).",
                "schema": filter_schema(entity),
            }
        )
        list_params.append(
            {
                "name": "sort",
                "in": "query",
                "description": "Order by this field, descending with a leading `-`; ties and the default by id.",
                "schema": {"type": "string", "enum": sort_keys},
            }
        )
    errors = {"400": _ref("BadRequest", "responses")}
    writes: dict[str, Any] = {}
    if providers:
        writes["503"] = _problem(
            "An async validation's provider is not installed (`provider-unavailable`): nothing was written."
        )
    return {
        f"/records/{name}": {
            "post": {
                "operationId": f"create{name}",
                "summary": f"Create a {name} record.",
                "tags": [name],
                "requestBody": {"required": True, "content": _json(_ref(f"{name}.Create"))},
                "responses": {
                    "201": created | {"content": _json(_ref(name))},
                    "415": _ref("UnsupportedMediaType", "responses"),
                    "422": _ref("ValidationFailed", "responses"),
                }
                | errors
                | writes,
            },
            "get": {
                "operationId": f"list{name}",
                "summary": f"List {name} records, a page at a time.",
                "tags": [name],
                "parameters": list_params,
                "responses": {
                    "200": {"description": "One page.", "content": _json(_ref(f"{name}.Page"))},
                }
                | errors,
            },
        },
        f"/records/{name}/{{id}}": {
            "parameters": [_ref("RecordId", "parameters")],
            "get": {
                "operationId": f"get{name}",
                "summary": f"Get a {name} record.",
                "tags": [name],
                "responses": {
                    "200": record | {"content": _json(_ref(name))},
                    "404": _ref("NotFound", "responses"),
                },
            },
            "patch": {
                "operationId": f"update{name}",
                "summary": f"Update a {name} record with a JSON merge patch (RFC 7396): null removes a field.",
                "tags": [name],
                "parameters": [_ref("IfMatch", "parameters")],
                "requestBody": {
                    "required": True,
                    "content": {"application/merge-patch+json": {"schema": _ref(f"{name}.Patch")}},
                },
                "responses": {
                    "200": record | {"content": _json(_ref(name))},
                    "404": _ref("NotFound", "responses"),
                    "412": _ref("PreconditionFailed", "responses"),
                    "415": _ref("UnsupportedMediaType", "responses"),
                    "422": _ref("ValidationFailed", "responses"),
                    "428": _ref("PreconditionRequired", "responses"),
                }
                | errors
                | writes,
            },
        },
    }


def package_server(package: Package, base: str = DEFAULT_SERVER) -> str:
    """Where a sandbox at `base` serves the package's records API: `crmctl serve` mounts each served package's API
    under `/api/{package}`."""
    return f"{base.rstrip('/')}/api/{package.name}"


def openapi(package: Package, server: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the package's records API, naming `server` (default: the package's API on the
    local sandbox, `package_server`)."""
    server = server or package_server(package)
    manifest = package.manifest
    version = manifest.version if manifest else None
    components = _shared_components()
    schemas = components["schemas"]
    paths: dict[str, Any] = {}
    for name, entity in entities(package).items():
        schemas[name] = _record(name, entity, version)
        schemas[f"{name}.Data"] = _object(dict(entity.fields), writing=False, nullable=False)
        schemas[f"{name}.Create"] = _object(_entered(entity), writing=True)
        schemas[f"{name}.Patch"] = _patch(dict(entity.fields))
        schemas[f"{name}.Page"] = {
            "type": "object",
            "additionalProperties": False,
            "required": ["items", "nextCursor"],
            "properties": {
                "items": {"type": "array", "items": _ref(name)},
                "nextCursor": {"type": ["string", "null"], "description": "Null on the last page."},
            },
        }
        paths.update(_paths(name, entity, _asks_providers(package, name)))
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": f"{package.name} records API",
            "version": version or "0.0.0",
            "description": (manifest.description if manifest else "")
            + "\n\nGenerated by `crmctl api openapi` from the package; served by `crmctl serve`.",
        },
        "servers": [{"url": server, "description": "The local sandbox (`crmctl serve`)."}],
        "tags": [{"name": name} for name in entities(package)],
        "paths": paths,
        "components": components,
    }


# -- GraphQL ---------------------------------------------------------------------------------------------------


class NameClash(ValueError):
    """Two generated GraphQL type names are the same (e.g. entities `Lead` and `LeadInput`)."""


_GRAPHQL_SCALARS = {
    "text": "String",
    "number": "Float",
    "currency": "Float",
    "boolean": "Boolean",
    "date": "Date",
    "datetime": "DateTime",
    "enum": "String",
    "reference": "ID",
    "file": "ID",
}


def _graphql_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class _Sdl:
    """The SDL being written: named blocks, each name once."""

    def __init__(self) -> None:
        self.blocks: dict[str, str] = {}

    def add(self, name: str, block: str) -> None:
        if name in self.blocks:
            raise NameClash(f"two GraphQL types would be named {name!r}")
        if name in _BUILT_IN_TYPES:
            raise NameClash(f"a GraphQL type would be named {name!r}, a name GraphQL or this schema reserves")
        self.blocks[name] = block

    def enum_values(self, fdef: EnumField) -> bool:
        return all(_GRAPHQL_NAME.match(v) and v not in _RESERVED_ENUM_VALUES for v in fdef.values)

    def field_type(self, fdef: FieldDef, path: str, *, writing: bool) -> str:
        """The GraphQL type of `fdef` at `path` (`Entity_field_inner`, also the name of the enum and object types
        it declares, inputs with `Input` appended), without `!`."""
        if isinstance(fdef, ArrayField):
            return f"[{self.field_type(fdef.items, path, writing=writing)}!]"
        if isinstance(fdef, ObjectField):
            type_name = f"{path}Input" if writing else path
            if type_name not in self.blocks:
                self.object_type(type_name, dict(fdef.fields), path, writing=writing)
            return type_name
        if isinstance(fdef, EnumField) and self.enum_values(fdef):
            if path not in self.blocks:
                values = "\n".join(f"  {value}" for value in fdef.values)
                self.add(path, f"enum {path} {{\n{values}\n}}")
            return path
        if isinstance(fdef, NumberField) and fdef.integer:
            return "Int"
        kind = fdef.resultType if isinstance(fdef, CalculatedField) else fdef.type
        return _GRAPHQL_SCALARS[kind]

    def object_type(
        self, type_name: str, fields: dict[str, FieldDef], path: str, *, writing: bool, partial: bool = False
    ) -> None:
        keyword = "input" if writing else "type"
        lines = []
        for name, fdef in sorted(fields.items()):
            if writing and isinstance(fdef, CalculatedField):
                continue
            bang = "!" if fdef.required and not partial and not isinstance(fdef, CalculatedField) else ""
            line = f"  {name}: {self.field_type(fdef, f'{path}_{name}', writing=writing)}{bang}"
            if fdef.deprecated and not writing:
                line += " @deprecated"
            if fdef.description:
                line = f"  {_graphql_string(fdef.description)}\n{line}"
            lines.append(line)
        if not lines:  # every field is calculated: GraphQL has no empty input, so one that carries nothing
            lines.append('  "Unused: every field here is calculated, none is entered."\n  _: Boolean')
        self.add(type_name, f"{keyword} {type_name} {{\n" + "\n".join(lines) + "\n}")


def graphql_sdl(package: Package) -> str:
    """The GraphQL SDL of the package's records API: per entity a record type, its data, inputs to create and
    update, a filter and a sort, a connection; queries `get<Entity>`/`list<Entity>`, mutations
    `create<Entity>`/`update<Entity>`. Raises `NameClash` when two generated names collide."""
    sdl = _Sdl()
    sdl.add("Date", '"A calendar date, `YYYY-MM-DD`."\nscalar Date')
    sdl.add("DateTime", '"An instant, RFC 3339 in UTC."\nscalar DateTime')
    sdl.add(
        "PageInfo",
        "type PageInfo {\n  hasNextPage: Boolean!\n  endCursor: String\n}",
    )
    sdl.add("SortDirection", "enum SortDirection {\n  ASC\n  DESC\n}")
    queries: list[str] = []
    mutations: list[str] = []
    for name, entity in entities(package).items():
        sdl.object_type(f"{name}Data", dict(entity.fields), name, writing=False)
        record = (
            f"type {name} {{\n  id: ID!\n  revision: Int!\n  packageVersion: String!\n  createdAt: DateTime!\n"
            f"  updatedAt: DateTime!\n  etag: String!\n  data: {name}Data!\n}}"
        )
        if entity.description:
            record = f"{_graphql_string(entity.description)}\n{record}"
        sdl.add(name, record)
        sdl.object_type(f"{name}Input", dict(entity.fields), name, writing=True)
        sdl.object_type(f"{name}Patch", dict(entity.fields), name, writing=True, partial=True)
        fields = filterable(entity)
        arguments = "first: Int = 50, after: String"
        if fields:
            filters = [f"  {f}: {sdl.field_type(d, f'{name}_{f}', writing=False)}" for f, d in fields.items()]
            sdl.add(f"{name}Filter", f"input {name}Filter {{\n" + "\n".join(filters) + "\n}")
            sdl.add(f"{name}SortField", f"enum {name}SortField {{\n" + "\n".join(f"  {f}" for f in fields) + "\n}")
            sdl.add(
                f"{name}Sort",
                f"input {name}Sort {{\n  field: {name}SortField!\n  direction: SortDirection = ASC\n}}",
            )
            arguments = f"filter: {name}Filter, sort: {name}Sort, " + arguments
        sdl.add(f"{name}Edge", f"type {name}Edge {{\n  cursor: String!\n  node: {name}!\n}}")
        sdl.add(
            f"{name}Connection",
            f"type {name}Connection {{\n  edges: [{name}Edge!]!\n  pageInfo: PageInfo!\n}}",
        )
        queries.append(f"  get{name}(id: ID!): {name}")
        queries.append(f"  list{name}({arguments}): {name}Connection!")
        mutations.append(f"  create{name}(data: {name}Input!): {name}!")
        mutations.append(f"  update{name}(id: ID!, ifMatch: String!, data: {name}Patch!): {name}!")
    blocks = [sdl.blocks[key] for key in sorted(sdl.blocks)]
    if queries:
        blocks.append("type Query {\n" + "\n".join(queries) + "\n}")
        blocks.append("type Mutation {\n" + "\n".join(mutations) + "\n}")
    else:
        blocks.append('type Query {\n  "The package declares no entities."\n  version: String!\n}')
    return "\n\n".join(blocks) + "\n"
