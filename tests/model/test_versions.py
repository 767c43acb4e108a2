"""One semver precedence for the format, the registry, compat and the runtime's exports."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import crmctl.model.versions as versions_module
from crmctl.compat.records_impact import RecordsCheck
from crmctl.model.artifacts import SEMVER as FORMAT_SEMVER
from crmctl.model.versions import MAX_VERSION_LENGTH, SEMVER, is_version, version_core, version_key
from crmctl.registry.names import version_key as registry_key
from tests.compat.test_records_impact import BASE, Rec, diff


def test_precedence() -> None:
    ordered = [
        "0.9.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
        "2.0.0",
    ]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert version_key("1.0.0+build.7") == version_key("1.0.0")
    assert registry_key is version_key and FORMAT_SEMVER is SEMVER
    assert re.match(SEMVER, "1.0") is None


def test_a_version_is_the_whole_text_in_ascii_digits_and_bounded() -> None:
    """`$` also matched before a final newline, `\\d` matched every script's digits (`1\\u0660.0.0` sorted as 10.0.0),
    and a pre-release of 5,000 digits made `int()` raise inside the precedence."""
    assert is_version("1.2.3-rc.1+build.5")
    for text in ("1.0.0\n", "1\u0660.0.0", "1.0.0-\u0661", "1.0.0-" + "9" * 5000, "1.0.0-" + "a" * MAX_VERSION_LENGTH):
        assert not is_version(text), text
        assert version_key(text) == (0, 0, 0, 0, ())
    assert is_version("1.0.0-" + "a" * (MAX_VERSION_LENGTH - 6))


# --- one order everywhere: every sort of versions in the tree agrees with SemVer 2.0.0 precedence ----------------

_IDENTIFIERS = st.sampled_from(["alpha", "beta", "rc", "a-b", "-", "x1", "1a", "0", "1", "2", "9", "10", "11", "100"])
_VERSIONS = st.builds(
    lambda core, pre, build: f"{core[0]}.{core[1]}.{core[2]}" + (f"-{'.'.join(pre)}" if pre else "") + build,
    st.tuples(*[st.sampled_from([0, 1, 2, 10, 11]) for _ in range(3)]),
    st.lists(_IDENTIFIERS, max_size=3),
    st.sampled_from(["", "+build.7", "+001"]),
)


def _spec_compare(a: str, b: str) -> int:
    """SemVer 2.0.0 §11, written from the text of the spec (not from `version_key`): -1, 0 or 1."""

    def parts(v: str) -> tuple[list[int], list[str] | None]:
        v = v.split("+", 1)[0]
        core, _, pre = v.partition("-")
        return [int(n) for n in core.split(".")], (pre.split(".") if pre else None)

    (core_a, pre_a), (core_b, pre_b) = parts(a), parts(b)
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    if pre_a is None or pre_b is None:  # a pre-release has lower precedence than its normal version
        return (pre_a is None) - (pre_b is None)
    for x, y in zip(pre_a, pre_b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():  # numeric identifiers have lower precedence than alphanumeric ones
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1  # ASCII order
    return (len(pre_a) > len(pre_b)) - (len(pre_a) < len(pre_b))


def _agrees(ordered: list[str]) -> bool:
    return all(_spec_compare(a, b) <= 0 for a, b in itertools.pairwise(ordered))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_VERSIONS, min_size=2, max_size=8))
def test_version_key_is_semver_precedence(versions: list[str]) -> None:
    assert all(is_version(v) for v in versions)
    assert _agrees(sorted(versions, key=version_key))
    for a, b in itertools.pairwise(versions):
        assert (version_key(a) > version_key(b)) - (version_key(a) < version_key(b)) == _spec_compare(a, b)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(_VERSIONS, min_size=1, max_size=8))
def test_records_impact_lists_versions_in_semver_precedence(versions: list[str]) -> None:
    # compat sorted the core numerically, then the text: 1.0.0 before 1.0.0-alpha, beta.11 before beta.2.
    result = diff({**BASE, "phone": {"type": "text", "required": True}})
    records = [Rec(f"lead-{i}", {}, v) for i, v in enumerate(versions)]
    found = RecordsCheck(result).measure(records).impacts
    (impact,) = [i for i in found if i.change.kind.id == "field-made-required"]
    assert set(impact.by_version) == set(versions)
    assert _agrees(list(impact.by_version))


def test_records_impact_regressions() -> None:
    result = diff({**BASE, "phone": {"type": "text", "required": True}})
    versions = ["1.0.0", "1.0.0-beta.2", "1.0.0-alpha", "1.0.0-beta.11"]
    (impact,) = [i for i in RecordsCheck(result).measure([Rec(v, {}, v) for v in versions]).impacts]
    assert list(impact.by_version) == ["1.0.0-alpha", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0"]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(_VERSIONS, min_size=1, max_size=6), st.lists(_VERSIONS, min_size=1, max_size=6))
def test_bump_checks_compare_the_core_as_precedence_does(old: list[str], new: list[str]) -> None:
    # compat judges a bump on MAJOR.MINOR.PATCH; that core order is the precedence order of the releases.
    for a, b in itertools.product(old, new):
        release_a, release_b = a.split("-")[0].split("+")[0], b.split("-")[0].split("+")[0]
        core_order = (version_core(a) > version_core(b)) - (version_core(a) < version_core(b))
        assert core_order == _spec_compare(release_a, release_b)


def test_one_semver_order_in_the_tree() -> None:
    # Every sort of versions goes through `crmctl.model.versions` (the registry re-exports it); no module keeps a
    # precedence or a core pattern of its own.
    source = Path(versions_module.__file__).parents[1]
    offenders = [
        str(path.relative_to(source))
        for path in sorted(source.rglob("*.py"))
        if path.name != "versions.py" or path.parent.name != "model"
        if re.search(r"def \w*version_key\b|\(\[0-9\]\+\)\\\.\(\[0-9\]\+\)", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
