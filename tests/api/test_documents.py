"""The API documents a package describes: valid for their validators, deterministic, faithful to the fields."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from graphql import GraphQLEnumType, GraphQLNonNull, build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from crmctl.api.documents import NameClash, dumps, graphql_sdl, json_schemas, openapi
from crmctl.model.package import Package, load_package
from tests.conftest import MINIMAL, REPO, write_package

PACKAGES = ["LeadLifecycle/v1", "LeadLifecycle/v2", "ClaimsIntake"]
GOLDEN = REPO / "tests" / "fixtures" / "api" / "LeadLifecycle-v1.openapi.json"
ADA = {"firstName": "Ada", "lastName": "Lovelace", "companySize": 300, "annualRevenue": 2500000.0, "source": "web"}


def _load(name: str) -> Package:
    return load_package(REPO / "packages" / name)


@pytest.mark.parametrize("name", PACKAGES)
def test_reference_packages_give_valid_documents(name: str) -> None:
    package = _load(name)
    validate(openapi(package))
    schema = build_schema(graphql_sdl(package))
    for entity, document in json_schemas(package).items():
        jsonschema.Draft202012Validator.check_schema(document)
        assert schema.query_type is not None and f"get{entity}" in schema.query_type.fields
        assert schema.mutation_type is not None and f"update{entity}" in schema.mutation_type.fields


@pytest.mark.parametrize("name", PACKAGES)
def test_documents_are_byte_identical_twice(name: str) -> None:
    assert dumps(openapi(_load(name))) == dumps(openapi(_load(name)))
    assert graphql_sdl(_load(name)) == graphql_sdl(_load(name))
    assert dumps(json_schemas(_load(name))) == dumps(json_schemas(_load(name)))


def test_openapi_golden_lead_lifecycle_v1() -> None:
    text = dumps(openapi(_load("LeadLifecycle/v1")))
    if os.environ.get("CRMCTL_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), f"regenerate with CRMCTL_UPDATE_GOLDEN=1 ({GOLDEN})"


def test_openapi_operations_headers_and_errors() -> None:
    document = openapi(_load("LeadLifecycle/v1"))
    collection, item = document["paths"]["/records/Lead"], document["paths"]["/records/Lead/{id}"]
    assert collection["post"]["operationId"] == "createLead"
    assert set(collection["post"]["responses"]) == {"201", "400", "415", "422"}
    assert item["patch"]["parameters"] == [{"$ref": "#/components/parameters/IfMatch"}]
    assert set(collection["post"]["responses"]["201"]["headers"]) == {"ETag", "Location"}
    assert {"412", "428", "422", "404"} <= set(item["patch"]["responses"])
    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    problem = document["components"]["responses"]["ValidationFailed"]["content"]
    assert list(problem) == ["application/problem+json"]
    finding = document["components"]["schemas"]["crmctl.ValidationFinding"]
    assert finding["required"] == ["field", "code", "severity", "message"]
    names = {p.get("name") for p in collection["get"]["parameters"] if "name" in p}
    assert names == {"filter", "sort"}
    sort = next(p for p in collection["get"]["parameters"] if p.get("name") == "sort")
    assert {"score", "-score", "status", "-status"} <= set(sort["schema"]["enum"])
    record = document["components"]["schemas"]["Lead"]
    assert "packageVersion" in record["required"] and "1.0.0" in record["properties"]["packageVersion"]["description"]
    assert document["servers"] == [
        {"url": "http://127.0.0.1:8000/api/LeadLifecycle", "description": "The local sandbox (`crmctl serve`)."}
    ]


def test_record_schema_follows_the_fields() -> None:
    schemas = openapi(_load("LeadLifecycle/v1"))["components"]["schemas"]
    data, create, patch = schemas["Lead.Data"], schemas["Lead.Create"], schemas["Lead.Patch"]
    assert data["properties"]["score"]["readOnly"] is True and "score" not in create["properties"]
    assert create["required"] == ["firstName", "lastName"] and "required" not in patch
    # a merge patch: null removes an optional field, never a required one
    assert patch["properties"]["company"]["anyOf"][1] == {"type": "null"}
    assert patch["properties"]["firstName"]["type"] == "string" and "score" not in patch["properties"]
    assert data["properties"]["companySize"]["type"] == "integer"
    assert data["properties"]["industry"]["enum"][0] == "software"
    assert data["properties"]["owner"]["x-crmctl-reference"] == "User"
    assert data["properties"]["nextFollowUp"]["format"] == "date"
    assert data["properties"]["firstName"]["maxLength"] == 80
    lead = json_schemas(_load("LeadLifecycle/v1"))["Lead"]
    jsonschema.validate(ADA, lead)
    for bad in ({**ADA, "companySize": 2.5}, {**ADA, "source": "tv"}, {"firstName": "A"}, {**ADA, "nope": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, lead)


NESTED = """\
entities:
  Order:
    fields:
      lines:
        type: array
        maxItems: 5
        items:
          type: object
          fields:
            sku: {type: text, required: true}
            qty: {type: number, integer: true}
            kind: {type: enum, values: [a-b, "1x"]}
            total: {type: calculated, expression: "1.0", resultType: number}
      tags: {type: array, items: {type: enum, values: [hot, cold]}}
      old: {type: boolean, deprecated: true, default: false}
      doc: {type: file}
      at: {type: datetime}
"""


def test_nested_objects_arrays_and_odd_enums(tmp_path: Path) -> None:
    package = load_package(write_package(tmp_path / "p", {**MINIMAL, "schema.yaml": NESTED}))
    assert package.valid, package.diagnostics
    document = openapi(package)
    validate(document)
    lines = document["components"]["schemas"]["Order.Data"]["properties"]["lines"]
    assert lines["maxItems"] == 5 and lines["items"]["required"] == ["sku"]
    assert document["components"]["schemas"]["Order.Data"]["properties"]["old"] == {
        "type": "boolean",
        "deprecated": True,
        "default": False,
    }
    assert document["paths"]["/records/Order/{id}"]["patch"]["requestBody"]["content"].keys() == {
        "application/merge-patch+json"
    }
    # null is "no value" for an optional field written (the engine stores nothing at the top level, keeps it
    # inside objects): requests may send it, nested values read back may hold it, a record's top level never does
    create_lines = document["components"]["schemas"]["Order.Create"]["properties"]["lines"]
    assert create_lines["anyOf"][1] == {"type": "null"}
    assert "total" not in create_lines["anyOf"][0]["items"]["properties"]
    assert lines["items"]["properties"]["qty"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert lines["items"]["properties"]["sku"] == {"type": "string"}
    schema = build_schema(graphql_sdl(package))
    line_type: Any = schema.get_type("Order_lines")
    assert isinstance(line_type.fields["sku"].type, GraphQLNonNull)
    assert str(line_type.fields["kind"].type) == "String"  # `a-b` is no GraphQL name
    assert isinstance(schema.get_type("Order_tags"), GraphQLEnumType)
    assert str(schema.get_type("Order_linesInput").fields["qty"].type) == "Int"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("second", "clash"),
    [("LeadInput", "LeadInput"), ("Query", "Query"), ("String", "String"), ("PageInfo", "PageInfo")],
)
def test_generated_graphql_names_that_clash_are_refused(tmp_path: Path, second: str, clash: str) -> None:
    schema = f"entities:\n  Lead:\n    fields: {{a: {{type: text}}}}\n  {second}:\n    fields: {{a: {{type: text}}}}\n"
    package = load_package(write_package(tmp_path / "p", {**MINIMAL, "schema.yaml": schema}))
    assert package.valid
    with pytest.raises(NameClash, match=clash):
        graphql_sdl(package)
    validate(openapi(package))  # REST names are dotted, so they never clash


# -- generated packages -------------------------------------------------------------------------------------

_NAMES = st.from_regex(r"\A[a-z][a-zA-Z0-9]{0,6}\Z")
_SCALAR = st.sampled_from(
    [
        "{type: text, maxLength: 9}",
        "{type: number, integer: true}",
        "{type: number}",
        "{type: currency, currency: EUR}",
        "{type: boolean}",
        "{type: enum, values: [x, y-z]}",
        "{type: enum, values: [p, q]}",
        "{type: date}",
        "{type: datetime}",
        "{type: reference, to: E0}",
        "{type: file}",
        "{type: calculated, expression: '1.0', resultType: number}",
    ]
)


@st.composite
def _field(draw: st.DrawFn, depth: int = 0) -> str:
    required = draw(st.booleans())
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        inner = draw(st.dictionaries(_NAMES, _field(depth + 1), min_size=1, max_size=3))
        body = "{type: object, fields: {" + ", ".join(f"{k}: {v}" for k, v in inner.items()) + "}}"
        if draw(st.booleans()):
            body = "{type: array, items: " + body + "}"
    else:
        body = draw(_SCALAR)
        if "calculated" in body:
            return body
    return body[:-1] + f", required: {str(required).lower()}}}"


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_NAMES, _field(), min_size=1, max_size=4), min_size=1, max_size=3))
def test_generated_packages_give_valid_documents(tmp_path_factory: pytest.TempPathFactory, shapes: list[Any]) -> None:
    lines = ["entities:"]
    for index, fields in enumerate(shapes):
        lines.append(f"  E{index}:\n    fields:")
        lines += [f"      {name}: {body}" for name, body in fields.items()]
    root = tmp_path_factory.mktemp("gen")
    package = load_package(write_package(root, {**MINIMAL, "schema.yaml": "\n".join(lines) + "\n"}))
    if not package.valid:
        return  # a shape the model refuses (e.g. an object of calculated fields only) is not an API
    validate(openapi(package))
    build_schema(graphql_sdl(package))
    for document in json_schemas(package).values():
        jsonschema.Draft202012Validator.check_schema(document)


def test_a_record_the_runtime_stores_fits_its_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from crmctl.cli.main import run

    v1 = str(REPO / "packages" / "LeadLifecycle" / "v1")
    store = ["--store", str(tmp_path / "s.duckdb"), "--now", "2026-11-25T09:00:00Z", "-f", "json"]
    data = {**ADA, "email": "ada@example.com", "industry": "software", "nextFollowUp": "2026-12-01", "phone": None}
    assert run(["records", "create", v1, "-e", "Lead", "--id", "r1", "--data", json.dumps(data), *store]) == 0
    record = json.loads(capsys.readouterr().out)["result"]["record"]
    lead = json_schemas(_load("LeadLifecycle/v1"))["Lead"]
    jsonschema.validate(record["data"], lead)  # the calculated score included, the null phone absent
    assert record["data"]["score"] == 70.0 and "phone" not in record["data"]
    patch_schema = openapi(_load("LeadLifecycle/v1"))["components"]["schemas"]["Lead.Patch"]
    patch = {"company": None, "status": "contacted"}
    jsonschema.validate(patch, patch_schema)
    assert run(["records", "update", "-e", "Lead", "r1", "--data", json.dumps(patch), *store]) == 0
    updated = json.loads(capsys.readouterr().out)["result"]["record"]
    jsonschema.validate(updated["data"], lead)
    assert "company" not in updated["data"] and updated["revision"] == 2


def test_a_package_without_entities_still_gives_valid_documents(tmp_path: Path) -> None:
    files = {k: v for k, v in MINIMAL.items() if k != "schema.yaml"}
    package = load_package(write_package(tmp_path / "p", files))
    validate(openapi(package))
    assert openapi(package)["paths"] == {} and json_schemas(package) == {}
    schema = build_schema(graphql_sdl(package))
    assert schema.query_type is not None and list(schema.query_type.fields) == ["version"]
