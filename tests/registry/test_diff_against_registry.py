"""`crmctl diff PATH --against registry:NAME@VERSION|CHANNEL`: a pull request compared with what is published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.registry.ops import promote
from crmctl.registry.publish import publish
from crmctl.signing import SigningKey
from tests.registry.conftest import LEAD_V1, LEAD_V2, NOW


@pytest.fixture
def published(registry: str, alice: SigningKey) -> str:
    publish(registry, LEAD_V1, alice, NOW)
    publish(registry, LEAD_V2, alice, NOW)
    promote(registry, alice, NOW, name="LeadLifecycle", version="1.0.0", channel="prod")
    return registry


def _diff(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = run(["diff", *args, "--format", "json"])
    result: dict[str, object] = json.loads(capsys.readouterr().out)["result"]
    return code, result


@pytest.mark.parametrize(
    ("ref", "old_version", "changes"),
    [
        ("registry:LeadLifecycle@1.0.0", "1.0.0", True),
        ("registry:LeadLifecycle@prod", "1.0.0", True),
        ("registry:LeadLifecycle", "1.1.0", False),
        ("registry:LeadLifecycle@1.1.0", "1.1.0", False),
    ],
)
def test_versions_channels_and_latest(
    published: str, ref: str, old_version: str, changes: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    code, body = _diff([str(LEAD_V2), "--against", ref, "--registry", published], capsys)
    summary = body["summary"]
    assert isinstance(summary, dict)
    assert code == 0
    assert summary["old"]["version"] == old_version
    assert summary["old"]["source"].startswith("registry:LeadLifecycle@")
    assert bool(body["findings"]) is changes


def test_registry_from_the_environment(
    published: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRMCTL_REGISTRY", published)
    code, body = _diff([str(LEAD_V1), "--against", "registry:LeadLifecycle@1.1.0"], capsys)
    assert code == 1  # going back from 1.1.0 to 1.0.0 removes fields
    assert body["summary"]["proposedBump"] == "major"  # type: ignore[index]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("registry:LeadLifecycle@9.9.9", "not published"),
        ("registry:LeadLifecycle@staging", "no channel"),
        ("registry:Nope@1.0.0", "not published"),
        ("registry:@1.0.0", "expected registry:NAME@VERSION"),
        ("registry:../x@1.0.0", ""),
    ],
)
def test_bad_registry_refs_exit_2(published: str, ref: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", str(LEAD_V2), "--against", ref, "--registry", published]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_registry_configured_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CRMCTL_REGISTRY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run(["diff", str(LEAD_V2), "--against", "registry:LeadLifecycle@1.0.0"]) == 2
    assert "registry" in capsys.readouterr().err


def test_open_registry_ref_is_the_one_registry_source_of_diff_and_replay(published: str) -> None:
    # diff and replay --against both open `registry:REF` through crmctl.registry.open_registry_ref (replay used to
    # import diff's private helper).
    from crmctl.errors import UsageError
    from crmctl.registry import open_registry_ref

    assert open_registry_ref("LeadLifecycle@prod", published).label == "registry:LeadLifecycle@1.0.0"
    with pytest.raises(UsageError, match="expected registry:NAME@VERSION"):
        open_registry_ref("@1.0.0", published)
