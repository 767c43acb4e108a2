"""Async validation providers: script answers first, then entry-point providers; failures are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import run
from crmctl.runtime import providers
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, ProviderError
from crmctl.runtime.providers import provider_resolver, registered_providers
from tests.conftest import REPO

CLAIMS = str(REPO / "packages" / "ClaimsIntake")


def _request(provider: str, value: Any = "AB-1") -> AsyncRequest:
    return AsyncRequest("policyActive", provider, {"check": "active"}, value)


class Policies:
    def __init__(self) -> None:
        self.asked: list[AsyncRequest] = []

    def check(self, request: AsyncRequest) -> AsyncAnswer:
        self.asked.append(request)
        if request.value == "boom":
            raise RuntimeError("service unavailable")
        return AsyncAnswer(request.value != "lapsed", "checked")


class Point:
    """Stands in for an importlib.metadata entry point."""

    def __init__(self, name: str, target: Any) -> None:
        self.name, self.value, self.target = name, f"tests:{name}", target

    def load(self) -> Any:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def test_table_answers_win_then_providers_answer() -> None:
    service = Policies()
    resolve = provider_resolver({"duplicateDetector": True}, {"policyService": service})
    assert resolve(_request("duplicateDetector")) == AsyncAnswer(True)
    assert resolve(_request("policyService", "lapsed")) == AsyncAnswer(False, "checked")
    assert [r.value for r in service.asked] == ["lapsed"]
    with pytest.raises(ProviderError, match="provider 'policyService' failed: service unavailable"):
        resolve(_request("policyService", "boom"))
    with pytest.raises(ProviderError, match=r"no provider 'nobody'.*crmctl\.validation_providers"):
        resolve(_request("nobody"))


def test_entry_points_are_loaded_lazily_and_classes_instantiated(monkeypatch: pytest.MonkeyPatch) -> None:
    class Yes:
        def check(self, request: AsyncRequest) -> bool:
            return True

    points = [Point("policyService", Yes), Point("broken", ImportError("no module named acme"))]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: points if group == providers.GROUP else [])
    found = registered_providers()
    assert sorted(found) == ["broken", "policyService"]
    assert found["policyService"].check(_request("policyService")) == AsyncAnswer(True)  # a bare bool is wrapped
    with pytest.raises(ProviderError, match=r"provider 'broken' \(tests:broken\) does not load: no module named"):
        found["broken"].check(_request("broken"))


def test_records_ask_providers_unless_no_async(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "rt.duckdb")
    claim = json.dumps(
        {
            "policyNumber": "AB-1234567",
            "claimNumber": "C-1",
            "incidentDate": "2026-11-20",
            "reportedAt": "2026-11-21T10:00:00Z",
            "consentDataProcessing": True,
        }
    )
    args = [
        "records",
        "create",
        CLAIMS,
        "-e",
        "Claim",
        "--data",
        claim,
        "--store",
        store,
        "--now",
        "2026-11-26T09:00:00Z",
    ]
    assert run(args) == 2
    assert "no provider 'duplicateDetector'" in capsys.readouterr().err
    assert run([*args, "--no-async", "--id", "c1"]) == 0
    assert "created Claim c1" in capsys.readouterr().out
