"""The running server against the document it serves, with schemathesis (property-based): for every operation,
generated requests (valid ones, then invalid ones) never get a server error, and every answer's status, headers,
content type and body are ones the document declares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.server import CLAIMS, LEAD_V1, Running, running_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 40  # per operation and mode: the whole file stays well under a minute


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    # ClaimsIntake too: every field type, three entities, nested objects and arrays, async validations — answered
    # by a provider that accepts everything (without one a write is a declared 503, which schemathesis counts as a
    # server error; test_records_api covers it), so generated Claims reach the store.
    from crmctl.runtime import providers
    from crmctl.runtime.checks import AsyncAnswer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(providers, "provider_resolver", lambda: lambda request: AsyncAnswer(True))
        with running_app([LEAD_V1, CLAIMS], tmp_path_factory.mktemp("schemathesis") / "sandbox.duckdb") as running:
            with running.client() as client:  # records for get and update to find (generated ids mostly miss)
                for n in range(3):
                    lead = {"firstName": f"F{n}", "lastName": "L"}
                    assert client.post("api/LeadLifecycle/records/Lead", json=lead).status_code == 201
            yield running


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("package", "entity"), [("LeadLifecycle", "Lead"), ("ClaimsIntake", "Claim")])
def test_every_operation_conforms_to_the_served_document(
    served: Running, mode: schemathesis.GenerationMode, package: str, entity: str
) -> None:
    base = f"{served.url}api/{package}"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {f"POST /records/{entity}", f"PATCH /records/{entity}/{{id}}"}
    checks = [*CHECKS, negative_data_rejection] if mode is schemathesis.GenerationMode.NEGATIVE else CHECKS
    unsatisfiable: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base, checks=checks)

        try:
            conforms()
        except Unsatisfiable:  # nothing in this operation can be invalid (a get: any id is valid)
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            unsatisfiable.append(operation.label)
    assert all(label.startswith("GET ") and label.endswith("/{id}") for label in unsatisfiable), unsatisfiable


def test_the_served_document_is_a_valid_openapi_document(served: Running) -> None:
    from openapi_spec_validator import validate

    with served.client() as client:
        validate(client.get("api/LeadLifecycle/openapi.json").json())
