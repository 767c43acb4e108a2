"""The records API a package describes (`crmctl api openapi`), served over the sandbox's store.

Each served package's API is mounted under `/api/{package}`: its OpenAPI document (`openapi.json`, naming this
mount as its server), JSON Schemas (`schema.json`) and GraphQL SDL (`schema.graphql`), and the operations the
document promises on `/records/{Entity}`. Records go through the same `RecordService` as `crmctl records`: the
same engine validates them, the same log entry records them, and they carry the version they are pinned to. The
list is filtered, sorted and cut in the store (`Records.query`): a page costs the same with a million
records. Every status and body is one the document declares (tests/web/test_records_schemathesis.py checks it)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from crmctl.api.documents import MAX_PAGE, filter_schema, filterable, graphql_sdl, json_schemas, openapi
from crmctl.model.fields import CalculatedField, FieldDef
from crmctl.web.problems import ProblemError, read_json
from crmctl.web.sandbox import Sandbox

if TYPE_CHECKING:
    from crmctl.model.fields import EntityDef
    from crmctl.model.package import Package
    from crmctl.runtime.record_service import RecordOutcome
    from crmctl.runtime.storage.records import Kind
    from crmctl.runtime.store import StoredRecord

__all__ = ["DEFAULT_PAGE", "MERGE_PATCH", "routes"]

DEFAULT_PAGE = 50
MERGE_PATCH = "application/merge-patch+json"
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_KINDS: dict[str, Kind] = {"number": "number", "currency": "number", "boolean": "boolean"}  # the others: text


def routes(sandbox: Sandbox) -> Sequence[BaseRoute]:
    api = _RecordsApi(sandbox)
    return [
        Mount(
            "/api/{package}",
            routes=[
                Route("/openapi.json", api.document, methods=["GET"]),
                Route("/schema.json", api.schemas, methods=["GET"]),
                Route("/schema.graphql", api.graphql, methods=["GET"]),
                Route("/records/{entity}", api.create, methods=["POST"]),
                Route("/records/{entity}", api.list, methods=["GET"]),
                Route("/records/{entity}/{id}", api.get, methods=["GET"]),
                Route("/records/{entity}/{id}", api.update, methods=["PATCH"]),
            ],
        )
    ]


def _mount(request: Request) -> str:
    """This package's API as the client reached it (the base URL it used, then the mount)."""
    return f"{str(request.base_url).rstrip('/')}/api/{request.path_params['package']}"


def _etag(record: StoredRecord) -> str:
    return f'"{record.revision}"'


def _record_json(record: StoredRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "revision": record.revision,
        "packageVersion": record.package_version,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "data": record.data,
    }


def _kind(fdef: FieldDef) -> Kind:
    return _KINDS.get(fdef.resultType if isinstance(fdef, CalculatedField) else fdef.type, "text")


def _bad(detail: str) -> ProblemError:
    return ProblemError(400, "bad-request", "Bad request", detail)


def _unavailable(error: Exception) -> ProblemError:
    """An async validation's provider is not installed: the record cannot be validated, by no fault of the
    client's (`crmctl records` says the same and exits 2). Nothing was written."""
    return ProblemError(503, "provider-unavailable", "A validation provider is not available", str(error))


def _not_found(entity: str, record_id: str) -> ProblemError:
    return ProblemError(404, "record-not-found", "No such record", f"no {entity} record {record_id!r}")


class _RecordsApi:
    """The handlers; each resolves the package (as last loaded) and the entity, then calls the store through
    `sandbox.call`."""

    def __init__(self, sandbox: Sandbox) -> None:
        from crmctl.runtime.providers import provider_resolver

        self.sandbox = sandbox
        # Async validations ask the registered providers, as `crmctl records` does; found once (finding them
        # scans every installed distribution: 10 ms, a third of a create).
        self.resolver = provider_resolver()

    def _entity(self, request: Request) -> tuple[Package, str, EntityDef]:
        package = self.sandbox.package(request.path_params["package"])
        name = request.path_params["entity"]
        entity = package.schema.entities.get(name) if package.schema else None
        if entity is None:
            raise ProblemError(404, "unknown-entity", "No such entity", f"{package.name} declares no entity {name!r}")
        return package, name, entity

    def _stored(self, package: Package, entity: str, record_id: str) -> StoredRecord:
        """The record as the store holds it (not as its version reads it): a record of another package with the
        same entity name is not this API's."""
        record = self.sandbox.store.get_record(self.sandbox.settings.tenant, entity, record_id)
        if record is None or record.package_name != package.name:
            raise _not_found(entity, record_id)
        return record

    def _answer(self, outcome: RecordOutcome, status: int, headers: dict[str, str] | None = None) -> Response:
        """The stored record (as its version reads it), or the validation report as a 422 problem."""
        if outcome.record is None:
            result = outcome.result
            raise ProblemError(
                422,
                "validation-failed",
                "The record is invalid",
                "nothing was written; `errors` says why",
                errors=[*result.errors, *result.warnings],
            )
        record, _ = self.sandbox.records.read(outcome.record)
        return JSONResponse(_record_json(record), status, headers={"etag": _etag(record), **(headers or {})})

    # -- documents ----------------------------------------------------------------------------------------------

    async def document(self, request: Request) -> Response:
        package = self.sandbox.package(request.path_params["package"])
        return JSONResponse(openapi(package, _mount(request)))

    async def schemas(self, request: Request) -> Response:
        return JSONResponse(json_schemas(self.sandbox.package(request.path_params["package"])))

    async def graphql(self, request: Request) -> Response:
        from crmctl.api.documents import NameClash

        package = self.sandbox.package(request.path_params["package"])
        try:
            return PlainTextResponse(graphql_sdl(package))
        except NameClash as clash:
            raise ProblemError(409, "no-graphql-schema", "No GraphQL schema", str(clash)) from None

    # -- operations ---------------------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        package, entity, _ = self._entity(request)
        values = await read_json(request)
        if not isinstance(values, dict):
            raise _bad("the body must be a JSON object: the record's fields")
        from crmctl.runtime.checks import ProviderError

        record_id, at = self.sandbox.new_id(), self.sandbox.clock()
        try:
            outcome = await self.sandbox.call(
                self.sandbox.records.create, package, entity, record_id, values, at, self.resolver
            )
        except ProviderError as error:
            raise _unavailable(error) from None
        location = f"{_mount(request)}/records/{entity}/{record_id}"
        return self._answer(outcome, 201, {"location": location})

    async def get(self, request: Request) -> Response:
        package, entity, _ = self._entity(request)
        record_id = request.path_params["id"]

        def read() -> StoredRecord:
            return self.sandbox.records.read(self._stored(package, entity, record_id))[0]

        record = await self.sandbox.call(read)
        return JSONResponse(_record_json(record), headers={"etag": _etag(record)})

    async def update(self, request: Request) -> Response:
        from crmctl.compat.moves import move_check

        package, entity, _ = self._entity(request)
        record_id = request.path_params["id"]
        condition = request.headers.get("if-match")
        patch = await read_json(request, media_types=(MERGE_PATCH,))
        if condition is None:
            raise ProblemError(428, "precondition-required", "If-Match required", "send the record's ETag as If-Match")
        if not isinstance(patch, dict):
            raise _bad("the body must be a JSON object: a merge patch of the record's fields")
        at = self.sandbox.clock()

        def apply() -> RecordOutcome:
            # One call under the store's lock: the revision checked is the revision updated (two clients with the
            # same ETag: one wins, the other gets 412).
            stored = self._stored(package, entity, record_id)
            tags = {tag.strip() for tag in condition.split(",")}
            if "*" not in tags and _etag(stored) not in tags:
                raise ProblemError(
                    412,
                    "precondition-failed",
                    "The record changed",
                    f"If-Match names another revision; the record is at {_etag(stored)}",
                )
            return self.sandbox.records.update(
                entity, record_id, patch, at, package=package, resolver=self.resolver, move_check=move_check
            )

        from crmctl.runtime.checks import ProviderError

        try:
            outcome = await self.sandbox.call(apply)
        except ProviderError as error:
            raise _unavailable(error) from None
        return self._answer(outcome, 200)

    async def list(self, request: Request) -> Response:
        package, entity, entity_def = self._entity(request)
        page = _Page.parse(request.query_params.multi_items(), filterable(entity_def))
        _check_filters(page, entity_def)
        tenant = self.sandbox.settings.tenant

        def query() -> tuple[list[StoredRecord], str | None]:
            found = self.sandbox.store.records.query(
                tenant, entity, package.name, equal=page.equal, sort=page.sort, after=page.after, limit=page.limit + 1
            )
            more = len(found) > page.limit
            shown = found[: page.limit]
            cursor = page.cursor_after(shown[-1]) if more else None
            return [self.sandbox.records.read(record)[0] for record in shown], cursor

        records, cursor = await self.sandbox.call(query)
        return JSONResponse({"items": [_record_json(r) for r in records], "nextCursor": cursor})


class _Page:
    """A list request: its equality filters, sort, limit and the position its cursor continues from. The cursor
    is opaque to clients: base64url of JSON [filters, sort, last sort value, last id], refused unless the request
    repeats the filters and sort it was made for."""

    def __init__(
        self,
        filters: dict[str, tuple[Kind, Any]],
        sort_key: str | None,
        fields: Mapping[str, FieldDef],
        limit: int,
    ) -> None:
        self.filters, self.sort_key, self.limit = filters, sort_key, limit
        self.equal = [(name, kind, value) for name, (kind, value) in sorted(filters.items())]
        self.sort: tuple[str, Kind, bool] | None = None
        if sort_key is not None:
            name = sort_key.removeprefix("-")
            self.sort = (name, _kind(fields[name]), sort_key.startswith("-"))
        self.after: tuple[Any, str] | None = None

    @classmethod
    def parse(cls, params: list[tuple[str, str]], fields: Mapping[str, FieldDef]) -> _Page:
        seen: set[str] = set()
        filters: dict[str, tuple[Kind, Any]] = {}
        sort_key: str | None = None
        limit, cursor = DEFAULT_PAGE, None
        for key, value in params:
            if key in seen:
                raise _bad(f"the query names {key!r} twice")
            seen.add(key)
            if key == "limit":
                # ASCII digits only: str.isdigit() takes `²` (int() then fails: a 500) and `٣` (3).
                if not (value.isascii() and value.isdigit() and len(value) <= 4) or not 1 <= int(value) <= MAX_PAGE:
                    raise _bad(f"limit must be an integer from 1 to {MAX_PAGE}")
                limit = int(value)
            elif key == "cursor":
                cursor = value
            elif key == "sort":
                if value.removeprefix("-") not in fields:
                    raise _bad(f"sort by one of {', '.join(fields) or 'nothing'}, descending with a leading '-'")
                sort_key = value
            elif key.startswith("filter[") and key.endswith("]") and key[7:-1] in fields:
                name = key[7:-1]
                kind = _kind(fields[name])
                filters[name] = (kind, _filter_value(name, kind, value))
            else:
                raise _bad(f"unknown query parameter {key!r}")
        page = cls(filters, sort_key, fields, limit)
        if cursor is not None:
            page.after = page._position(cursor)
        return page

    def _scope(self) -> list[Any]:
        return [sorted([name, value] for name, (_, value) in self.filters.items()), self.sort_key]

    def _position(self, cursor: str) -> tuple[Any, str]:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)))
        except (ValueError, UnicodeError, binascii.Error, RecursionError):
            decoded = None
        if not (isinstance(decoded, list) and len(decoded) == 4 and isinstance(decoded[3], str)):
            raise _bad("the cursor is not one this API made; start again without it")
        last = decoded[2]  # reaches the store's query: only a value of the sorted field's kind (or none) may
        kind = self.sort[1] if self.sort is not None else None
        if last is not None and (kind is None or _comparable(kind, last) is None or _comparable(kind, last) != last):
            raise _bad("the cursor is not one this API made; start again without it")
        if decoded[:2] != self._scope():
            raise _bad("the cursor belongs to another filter or sort; repeat the query it came from")
        return decoded[2], decoded[3]

    def cursor_after(self, record: StoredRecord) -> str:
        """The cursor of the page after `record` (as stored: the value the store sorted by)."""
        last = None
        if self.sort is not None:
            name, kind, _ = self.sort
            last = _comparable(kind, record.data.get(name))
        text = json.dumps([*self._scope(), last, record.id], separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def _check_filters(page: _Page, entity: EntityDef) -> None:
    """Refuse filter values the document's `filter` schema does not allow (an enum value misspelt, text longer
    than the field takes, a date that is none): such a filter is a mistake, not a query that finds nothing."""
    from jsonschema import Draft202012Validator, FormatChecker

    values = {name: value for name, (_, value) in page.filters.items()}
    error = next(
        iter(Draft202012Validator(filter_schema(entity), format_checker=FormatChecker()).iter_errors(values)), None
    )
    if error is not None:
        where = "".join(f"[{part}]" for part in error.absolute_path)
        raise _bad(f"filter{where}: {error.message}")


def _comparable(kind: Kind, value: Any) -> Any:
    """A stored value as the store compares it (`Records.query`): None when it has no value of that kind."""
    if kind == "number":
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return value if isinstance(value, str) else None


def _filter_value(name: str, kind: Kind, text: str) -> Any:
    """A filter's query text as the value the store compares (`filter[amount]=12.5`, `filter[vip]=true`)."""
    if kind == "boolean":
        if text not in ("true", "false"):
            raise _bad(f"filter[{name}] must be true or false")
        return text == "true"
    if kind == "number":
        # A JSON number's spelling: float() also takes `1_000`, ` 12 `, `١٢` and `nan`.
        number = float(text) if _NUMBER.fullmatch(text) else float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            raise _bad(f"filter[{name}] must be a number")
        return number
    return text
