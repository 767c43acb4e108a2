"""The lock files the README installs from agree with pyproject.toml's ranges, pin every package with hashes, and
agree with each other, so a fresh clone gets what CI tested and a range change cannot land without a new lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def _pins(name: str) -> dict[str, tuple[str, list[str]]]:
    """Each locked package's version and hashes, read the way pip reads a requirements file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            assert current not in pins, f"{name}: {current} pinned twice"
            pins[current] = (match[2], [])
        elif line.strip().startswith("--hash=sha256:"):
            pins[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return pins


MAIN = _pins("requirements.lock")
TEST = _pins("requirements-test.lock")
RUNTIME_REQS = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
SELF = canonicalize_name(PYPROJECT["project"]["name"])


def _expanded(name: str) -> list[Requirement]:
    """An extra's requirements, with `crmctl[a,b]` (the project naming its own extras) replaced by theirs."""
    found = []
    for requirement in (Requirement(r) for r in EXTRAS[name]):
        if canonicalize_name(requirement.name) == SELF:
            found += [r for extra in sorted(requirement.extras) for r in _expanded(extra)]
        else:
            found.append(requirement)
    return found


TEST_REQS = _expanded("test")


@pytest.mark.parametrize(("lock", "requirements"), [(MAIN, RUNTIME_REQS), (TEST, RUNTIME_REQS + TEST_REQS)])
def test_every_declared_dependency_is_pinned_within_its_range(
    lock: dict[str, tuple[str, list[str]]], requirements: list[Requirement]
) -> None:
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is declared in pyproject.toml but not locked: run `bash scripts/lock`"
        version = lock[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} is outside pyproject.toml's {requirement.specifier}: run `bash scripts/lock`"
        )


@pytest.mark.parametrize("lock", [MAIN, TEST], ids=["requirements.lock", "requirements-test.lock"])
def test_every_pin_carries_hashes(lock: dict[str, tuple[str, list[str]]]) -> None:
    assert lock
    for name, (_, hashes) in lock.items():
        assert hashes, f"{name} has no --hash: pip --require-hashes would refuse the file"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_the_main_lock_is_the_test_lock_without_the_test_tools() -> None:
    for name, (version, _) in MAIN.items():
        assert name in TEST, f"{name} is in requirements.lock only"
        assert TEST[name][0] == version, f"{name}: {version} in requirements.lock, {TEST[name][0]} in the test lock"
    test_tools = {canonicalize_name(r.name) for r in TEST_REQS}
    assert test_tools.isdisjoint(MAIN)


def test_the_readme_commands_install_from_the_lock_files() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    main = re.search(r"<!-- main-command -->\n```\n(.+?)\n```", readme, re.S)
    tests = re.search(r"<!-- test-command -->\n```\n(.+?)\n```", readme, re.S)
    assert main and tests
    assert "--require-hashes -r requirements.lock" in main[1]
    assert "--require-hashes -r requirements-test.lock" in tests[1]
    for command in (main[1], tests[1]):
        assert "--no-deps" in command  # crmctl itself adds nothing the lock did not pin
