"""Baselines: fingerprints by semantic path survive moved lines; multiset semantics."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from crmctl.errors import InputError
from crmctl.lint import lint_package
from crmctl.lint.baseline import apply_baseline, read_baseline, write_baseline
from crmctl.model.diagnostics import Diagnostic, Location
from crmctl.model.package import load_package
from tests.lint.conftest import BAD_RULES


def test_baseline_survives_moving_lines(bad_package: Path, tmp_path: Path) -> None:
    before = lint_package(load_package(bad_package))
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline, before)
    body = json.loads(baseline.read_text())
    assert body["version"] == 1
    assert body["findings"][0]["path"] == "rule:big"
    (bad_package / "rules.yaml").write_text("# a comment moves everything down\n\n" + BAD_RULES)
    after = lint_package(load_package(bad_package))
    assert after[0].location.line == before[0].location.line + 2
    kept, covered = apply_baseline(after, read_baseline(baseline))
    assert (kept, covered) == ([], 1)


def test_new_finding_is_not_baselined(bad_package: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline, lint_package(load_package(bad_package)))
    extra = "  - {id: small, scope: global, trigger: onLoad, capability: visibility, when: 'amount < 1'}\n"
    (bad_package / "rules.yaml").write_text(BAD_RULES + extra)
    kept, covered = apply_baseline(lint_package(load_package(bad_package)), read_baseline(baseline))
    assert covered == 1
    assert [d.path for d in kept] == ["rule:small"]


def test_multiset_semantics() -> None:
    same = Diagnostic("RUL309", "rule id 'r' is used twice", Location("rules.yaml", 3), path="rule:r")
    kept, covered = apply_baseline([same, same], read_counts([same]))
    assert (len(kept), covered) == (1, 1)


def read_counts(found: list[Diagnostic]) -> Counter[str]:
    return Counter(d.fingerprint() for d in found)


@pytest.mark.parametrize("text", ["{", '{"version": 2, "findings": []}', '{"version": 1, "findings": [{}]}'])
def test_unreadable_baseline_is_an_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(InputError):
        read_baseline(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "b.json:1:66: nesting is deeper than 64 levels"),
        (b'{"version": ' + b"1" * 5_000 + b"}", "b.json:1:13: integer has 5000 digits; the limit is 4300"),
        (b'{"version": 1, "findings": [\xff]}', "b.json:1:29: file is not valid UTF-8 (byte 0xff)"),
        (b"{", "b.json:1:2: JSON syntax: Expecting property name enclosed in double quotes"),
    ],
)
def test_a_baseline_past_the_json_limits_is_located(tmp_path: Path, data: bytes, message: str) -> None:
    # Deep nesting gave a RecursionError traceback, a long integer or invalid UTF-8 a ValueError traceback.
    path = tmp_path / "b.json"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_baseline(path)
    assert info.value.message == f"{tmp_path}/{message}"
