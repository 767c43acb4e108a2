"""Registry fixtures: real git repositories in tmp dirs, per-test cache and state dirs, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmctl.registry.ops import init_registry
from crmctl.signing import SigningKey, generate_key
from tests.conftest import MINIMAL, REPO, write_package

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
LEAD_V1 = REPO / "packages" / "LeadLifecycle" / "v1"
LEAD_V2 = REPO / "packages" / "LeadLifecycle" / "v2"


@pytest.fixture(autouse=True)
def registry_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CRMCTL_KEY", raising=False)


def make_key(tmp_path: Path, name: str) -> SigningKey:
    return generate_key(tmp_path / "keys" / name, f"{name}@example.com")


@pytest.fixture
def alice(tmp_path: Path) -> SigningKey:
    return make_key(tmp_path, "alice")


@pytest.fixture
def registry(tmp_path: Path, alice: SigningKey) -> str:
    location = str(tmp_path / "reg")
    init_registry(location, alice, "alice@example.com", NOW)
    return location


def demo(
    root: Path,
    version: str,
    *,
    scope: str = "global",
    schema: str | None = None,
    labels: str | None = None,
    name: str = "Demo",
) -> Path:
    """The MINIMAL test package at `version`, optionally with another schema / English labels."""
    files = dict(MINIMAL)
    manifest = files["package.yaml"].replace("1.0.0", version).replace("global", scope)
    files["package.yaml"] = manifest.replace("Demo", name)
    if schema is not None:
        files["schema.yaml"] = schema
    if labels is not None:
        files["localization/en.yaml"] = labels
    return write_package(root, files)
