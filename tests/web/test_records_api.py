"""The records API against a real uvicorn: each operation, each error status the document declares, ETag races,
cursor pagination, and records that `crmctl records` reads afterwards from the same store."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from tests.web.server import CLAIMS, LEAD_V1, LEAD_V2, Running, running_app

API = "/api/LeadLifecycle"
LEADS = f"{API}/records/Lead"
PATCH = "application/merge-patch+json"


def _lead(**extra: Any) -> dict[str, Any]:
    return {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", **extra}


def _create(client: httpx.Client, **extra: Any) -> httpx.Response:
    response = client.post(LEADS, json=_lead(**extra))
    assert response.status_code == 201, response.text
    return response


def _patch(client: httpx.Client, record_id: str, body: Any, if_match: str | None) -> httpx.Response:
    headers = {"content-type": PATCH} | ({"if-match": if_match} if if_match is not None else {})
    return client.patch(f"{LEADS}/{record_id}", content=json.dumps(body).encode(), headers=headers)


def _problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(f"/{kind}") and body["status"] == status
    return body


# -- documents ---------------------------------------------------------------------------------------------------


def test_the_served_document_names_its_mount(lead_server: Running) -> None:
    with lead_server.client() as client:
        document = client.get(f"{API}/openapi.json").json()
        schemas = client.get(f"{API}/schema.json").json()
        sdl = client.get(f"{API}/schema.graphql")
    assert document["servers"][0]["url"] == f"{lead_server.url}api/LeadLifecycle"
    assert "/records/Lead/{id}" in document["paths"]
    assert schemas["Lead"]["title"] == "Lead"
    assert sdl.status_code == 200 and "type Query" in sdl.text


def test_an_unknown_package_or_entity_is_404(lead_server: Running) -> None:
    with lead_server.client() as client:
        _problem(client.get("/api/Nope/openapi.json"), 404, "unknown-package")
        _problem(client.get(f"{API}/records/Nope"), 404, "unknown-entity")
        _problem(client.post(f"{API}/records/Nope", json={}), 404, "unknown-entity")


# -- create and get ----------------------------------------------------------------------------------------------


def test_create_answers_201_with_location_etag_and_the_pinned_version(lead_server: Running) -> None:
    with lead_server.client() as client:
        created = _create(client, companySize=12)
        record = created.json()
        assert record["id"] == "id-000001" and record["revision"] == 1
        assert record["packageVersion"] == "1.0.0"
        assert created.headers["etag"] == '"1"'
        assert created.headers["location"] == f"{lead_server.url}api/LeadLifecycle/records/Lead/id-000001"
        fetched = client.get(created.headers["location"])
    assert fetched.status_code == 200 and fetched.json() == record
    assert fetched.headers["etag"] == '"1"'


def test_an_invalid_record_is_a_422_with_the_validation_report(lead_server: Running) -> None:
    with lead_server.client() as client:
        body = _problem(client.post(LEADS, json={"firstName": "Ada", "companySize": -1}), 422, "validation-failed")
        assert {(e["field"], e["severity"]) for e in body["errors"]} >= {("lastName", "error")}
        assert all(set(e) == {"field", "code", "severity", "message"} for e in body["errors"])
        assert client.get(LEADS).json()["items"] == []  # nothing written


@pytest.mark.parametrize(
    ("content", "content_type", "status", "kind"),
    [
        (b"{", "application/json", 400, "malformed-body"),
        (b"[1]", "application/json", 400, "bad-request"),
        (b"{}", "text/plain", 415, "unsupported-media-type"),
    ],
)
def test_a_bad_create_body_is_refused(
    lead_server: Running, content: bytes, content_type: str, status: int, kind: str
) -> None:
    with lead_server.client() as client:
        _problem(client.post(LEADS, content=content, headers={"content-type": content_type}), status, kind)


def test_an_unknown_record_is_404(lead_server: Running) -> None:
    with lead_server.client() as client:
        _problem(client.get(f"{LEADS}/missing"), 404, "record-not-found")
        _problem(_patch(client, "missing", {"company": "X"}, '"1"'), 404, "record-not-found")


# -- update ------------------------------------------------------------------------------------------------------


def test_patch_merges_and_moves_the_etag(lead_server: Running) -> None:
    with lead_server.client() as client:
        record_id = _create(client, company="Analytical", phone="+44 1").json()["id"]
        updated = _patch(client, record_id, {"company": "Engines", "phone": None}, '"1"')
        assert updated.status_code == 200, updated.text
        data = updated.json()["data"]
        assert data["company"] == "Engines" and "phone" not in data and data["firstName"] == "Ada"
        assert updated.json()["revision"] == 2 and updated.headers["etag"] == '"2"'
        assert _patch(client, record_id, {"company": "Star"}, "*").status_code == 200  # any revision


def test_patch_preconditions_and_validation(lead_server: Running) -> None:
    with lead_server.client() as client:
        record_id = _create(client).json()["id"]
        _problem(_patch(client, record_id, {"company": "X"}, None), 428, "precondition-required")
        _problem(_patch(client, record_id, {"company": "X"}, '"7"'), 412, "precondition-failed")
        _problem(_patch(client, record_id, {"company": "X"}, 'W/"1"'), 412, "precondition-failed")  # weak: never
        body = _problem(_patch(client, record_id, {"lastName": None}, '"1"'), 422, "validation-failed")
        assert any(e["field"] == "lastName" for e in body["errors"])
        _problem(_patch(client, record_id, [1], '"1"'), 400, "bad-request")
        wrong_type = client.patch(f"{LEADS}/{record_id}", json={"company": "X"}, headers={"if-match": '"1"'})
        _problem(wrong_type, 415, "unsupported-media-type")
        assert client.get(f"{LEADS}/{record_id}").json()["revision"] == 1  # nothing written


def test_two_clients_with_the_same_etag_one_wins(lead_server: Running) -> None:
    with lead_server.client() as client:
        record_id = _create(client).json()["id"]
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def race(n: int) -> None:
        with lead_server.client() as own:
            barrier.wait()
            statuses.append(_patch(own, record_id, {"company": f"c{n}"}, '"1"').status_code)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * 7
    with lead_server.client() as client:
        assert client.get(f"{LEADS}/{record_id}").json()["revision"] == 2


# -- list --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "x"},
        {"limit": "²"},  # str.isdigit, but int() refuses it: was a 500
        {"limit": "٣"},  # an Arabic-Indic 3: was taken as 3
        {"sort": "nope"},
        {"filter[nope]": "1"},
        {"filter[companySize]": "many"},
        {"filter[companySize]": "nan"},
        {"filter[companySize]": "1.5"},
        {"filter[companySize]": "1_0"},  # float() takes these; a JSON number is not spelt so
        {"filter[companySize]": "١٢"},
        {"filter[companySize]": " 12"},
        {"filter[industry]": "sofware"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMl0"},
        {"surprise": "1"},
    ],
)
def test_a_bad_list_query_is_400(lead_server: Running, query: dict[str, str]) -> None:
    with lead_server.client() as client:
        _problem(client.get(LEADS, params=query), 400, "bad-request")


def test_boolean_filters_take_true_or_false(lead_server: Running) -> None:
    users = f"{API}/records/User"
    with lead_server.client() as client:
        created = client.post(users, json={"displayName": "Grace", "email": "grace@example.com", "active": False})
        assert created.status_code == 201, created.text
        assert client.get(users, params={"filter[active]": "true"}).json()["items"] == []
        assert [r["id"] for r in client.get(users, params={"filter[active]": "false"}).json()["items"]] == [
            created.json()["id"]
        ]
        _problem(client.get(users, params={"filter[active]": "yes"}), 400, "bad-request")


def test_a_cursor_is_bound_to_its_filter_and_sort(lead_server: Running) -> None:
    with lead_server.client() as client:
        for n in range(3):
            _create(client, companySize=n + 1)
        cursor = client.get(LEADS, params={"limit": 1, "sort": "companySize"}).json()["nextCursor"]
        assert cursor is not None
        _problem(client.get(LEADS, params={"limit": 1, "cursor": cursor}), 400, "bad-request")
        _problem(client.get(LEADS, params=[("limit", "1"), ("limit", "2")]), 400, "bad-request")


SIZES = st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=0, max_size=40)


@pytest.fixture(scope="module")
def list_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_app([LEAD_V1], tmp_path_factory.mktemp("list") / "sandbox.duckdb") as running:
        yield running


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=SIZES,
    limit=st.integers(1, 7),
    sort=st.sampled_from([None, "companySize", "-companySize", "industry", "-firstName"]),
    industry=st.sampled_from([None, "software", "finance"]),
)
def test_pages_concatenate_to_the_sorted_filtered_list(
    list_server: Running, sizes: list[int | None], limit: int, sort: str | None, industry: str | None
) -> None:
    entity = "Lead"
    with list_server.client() as client:
        batch = client.post(f"{API}/records/{entity}", json=_lead()).json()["id"]  # a marker: one per example
        for n, size in enumerate(sizes):
            extra: dict[str, Any] = {"firstName": f"{batch}-{n % 5}", "industry": ["software", "finance"][n % 2]}
            if size is not None:
                extra["companySize"] = size
            _create(client, **extra)
        everything = _all_pages(client, {"limit": "500"})
        base: dict[str, str] = {"limit": str(limit)} | ({"sort": sort} if sort else {})
        if industry:
            base["filter[industry]"] = industry
        pages = _all_pages(client, base)
    expected = [r for r in everything if industry is None or r["data"].get("industry") == industry]
    if sort is not None:
        name = sort.removeprefix("-")
        present = sorted((r for r in expected if r["data"].get(name) is not None), key=lambda r: r["id"])
        present.sort(key=lambda r: r["data"][name], reverse=sort.startswith("-"))
        expected = present + sorted((r for r in expected if r["data"].get(name) is None), key=lambda r: r["id"])
    assert [r["id"] for r in pages] == [r["id"] for r in expected]
    assert len({r["id"] for r in pages}) == len(pages)


def _all_pages(client: httpx.Client, query: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.get(LEADS, params=query | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= int(query["limit"])
        found += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            return found


# -- the same store, the same engines ----------------------------------------------------------------------------


def test_records_created_over_http_are_the_cli_s_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "sandbox.duckdb"
    with running_app([LEAD_V1], store) as running, running.client() as client:
        record_id = _create(client, company="Analytical").json()["id"]
        assert _patch(client, record_id, {"company": "Engines"}, '"1"').status_code == 200
    capsys.readouterr()
    argv = ["records", "get", record_id, "--entity", "Lead", "--store", str(store), "--format", "json"]
    assert run(argv) == 0
    record = json.loads(capsys.readouterr().out)["result"]
    assert record["data"]["company"] == "Engines" and record["revision"] == 2
    assert record["package"]["version"] == "1.0.0"
    assert run(["log", "verify", "--store", str(store), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["ok"] is True
    assert run(["replay", "--store", str(store), "--format", "json"]) == 0  # the API's writes replay identically
    replayed = json.loads(capsys.readouterr().out)["result"]
    assert replayed["events"] == 2 and replayed["differingEvents"] == 0


def test_an_update_moves_the_record_to_the_served_version(tmp_path: Path) -> None:
    store = tmp_path / "sandbox.duckdb"
    with running_app([LEAD_V1], store) as running, running.client() as client:
        record_id = _create(client).json()["id"]
    with running_app([LEAD_V2], store) as running, running.client() as client:
        before = client.get(f"{LEADS}/{record_id}")
        assert before.json()["packageVersion"] == "1.0.0"  # read as its pinned version
        moved = _patch(client, record_id, {"company": "Engines"}, before.headers["etag"])
        assert moved.status_code == 200, moved.text
        assert moved.json()["packageVersion"] == client.get(f"{API}/openapi.json").json()["info"]["version"]
        assert moved.json()["packageVersion"] != "1.0.0"


def test_a_missing_validation_provider_is_a_503_problem_not_a_crash(tmp_path: Path) -> None:
    """ClaimsIntake's Claim has async validations; without their provider the write cannot be validated: a
    declared 503 `provider-unavailable` naming the provider, nothing written (it was a 500 with a stack trace)."""
    claim = {"claimNumber": "CL-1", "policyNumber": "P-1", "incidentDate": "2026-10-01", "consentDataProcessing": True}
    with running_app([CLAIMS], tmp_path / "sandbox.duckdb") as running, running.client() as client:
        refused = client.post("/api/ClaimsIntake/records/Claim", json=claim)
        body = _problem(refused, 503, "provider-unavailable")
        assert "duplicateDetector" in body["detail"] and "Traceback" not in refused.text
        assert client.get("/api/ClaimsIntake/records/Claim").json()["items"] == []
        document = client.get("/api/ClaimsIntake/openapi.json").json()
    paths = document["paths"]
    assert "503" in paths["/records/Claim"]["post"]["responses"]
    assert "503" in paths["/records/Claim/{id}"]["patch"]["responses"]
    assert "503" not in paths["/records/Adjuster"]["post"]["responses"]


def test_nulls_the_engine_takes_are_ones_the_document_allows(tmp_path: Path) -> None:
    """null for an optional field on create is no value at the top level and kept inside objects; the document
    said `string` for both, so a client generated from it choked on the record read back (and the server took a
    body the document called invalid)."""
    import jsonschema

    adjuster = {"fullName": "Ann", "email": None}
    with running_app([LEAD_V1, CLAIMS], tmp_path / "sandbox.duckdb") as running, running.client() as client:
        document = client.get("/api/ClaimsIntake/openapi.json").json()
        created = client.post("/api/ClaimsIntake/records/Adjuster", json=adjuster)
    assert created.status_code == 201 and "email" not in created.json()["data"]
    schemas = {"components": document["components"]}

    def valid(name: str, value: Any) -> bool:
        schema = {**schemas, "$ref": f"#/components/schemas/{name}"}
        return jsonschema.Draft202012Validator(schema).is_valid(value)

    assert valid("Adjuster.Create", adjuster) and valid("Adjuster", created.json())
    nested = {"claimNumber": "C", "policyNumber": "P", "incidentDate": "2026-10-01", "consentDataProcessing": True}
    assert valid("Claim.Create", nested | {"incidentAddress": {"street": None}, "witnesses": [{"name": None}]})
    assert valid("Claim.Data", nested | {"incidentAddress": {"street": None}})
    assert not valid("Claim.Data", nested | {"policy": None})  # a top-level null is never stored
    assert not valid("Claim.Create", nested | {"claimNumber": None})  # required: never null


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ('{"firstName": "A\\ud800", "lastName": "B"}', "not valid Unicode"),  # was a 500: no canonical JSON
        ('{"firstName": "A", "lastName": "B", "companySize": NaN}', "NaN"),
        ('{"firstName": "A", "lastName": "B", "companySize": 1e400}', "too large a number"),
        ('{"firstName": "A", "firstName": "Z", "lastName": "B"}', "repeats the key 'firstName'"),  # was: Z stored
    ],
)
def test_json_the_store_cannot_hold_or_parsers_disagree_on_is_a_400(lead_server: Running, raw: str, said: str) -> None:
    with lead_server.client() as client:
        answer = client.post(LEADS, content=raw.encode(), headers={"content-type": "application/json"})
        body = _problem(answer, 400, "malformed-body")
        assert said in body["detail"]
        assert client.get(LEADS).json()["items"] == []
