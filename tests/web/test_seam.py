"""The server's skeleton: it serves its page and index, answers errors as problems, and refuses strangers."""

from __future__ import annotations

from tests.web.server import Running


def test_index_lists_the_served_package(lead_server: Running) -> None:
    with lead_server.client() as client:
        page = client.get("/")
        assert page.status_code == 200 and "crmctl sandbox" in page.text
        listed = client.get("/_sandbox/packages").json()
    assert [p["name"] for p in listed["packages"]] == ["LeadLifecycle"]
    assert listed["packages"][0]["errors"] == 0


def test_unknown_route_is_a_problem_without_a_trace(lead_server: Running) -> None:
    with lead_server.client() as client:
        response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-found")


def test_a_foreign_host_header_is_refused(lead_server: Running) -> None:
    with lead_server.client() as client:
        response = client.get("/", headers={"host": "attacker.example"})
    assert response.status_code == 421
