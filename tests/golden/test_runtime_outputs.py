"""Golden outputs of the runtime where the output is the product: replay's report of what another version would do
(text, and JSON for a relabel) and a workflow timeline over several instances.

The traffic is the demo's (scripts/demo), on a virtual clock, so every byte is deterministic. After an intended
change of wording or format, regenerate with `CRMCTL_UPDATE_GOLDEN=1 pytest tests/golden` and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from crmctl.cli.main import run
from tests.conftest import REPO

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
V1 = REPO / "packages" / "LeadLifecycle" / "v1"
V2 = REPO / "packages" / "LeadLifecycle" / "v2"
DEMO = REPO / "scripts" / "demo"
TWO_LEADS = """\
now: 2026-11-23T08:00:00Z
records:
  ada: {firstName: Ada, lastName: Lovelace, email: ada@example.com, owner: alice, companySize: 320,
        annualRevenue: 2500000}
events:
  - start: {instance: lead-b, record: ada}
  - advance: 1d
  - start: {instance: lead-a, record: ada}
  - fire: {instance: lead-b, transition: contact, as: bob/salesManager}
  - advance: 5d
"""


def _check(name: str, output: str) -> None:
    expected = GOLDEN / name
    if os.environ.get("CRMCTL_UPDATE_GOLDEN"):
        expected.write_text(output, encoding="utf-8")
    assert output == expected.read_text(encoding="utf-8"), f"regenerate with CRMCTL_UPDATE_GOLDEN=1 ({expected})"


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A store with the demo's form session and import, and a relabelled copy of v1 (a patch release)."""
    root = tmp_path_factory.mktemp("golden")
    store = str(root / "rt.duckdb")
    quiet = pytest.MonkeyPatch()
    with quiet.context():
        assert (
            run(
                [
                    "simulate",
                    str(V1),
                    "--script",
                    str(DEMO / "lead-monday.yaml"),
                    "--store",
                    store,
                    "--session",
                    "lead-ada",
                    "--format",
                    "json",
                ]
            )
            == 0
        )
        assert (
            run(
                [
                    "draft",
                    "resume",
                    "lead-ada",
                    "--script",
                    str(DEMO / "lead-tuesday.yaml"),
                    "--store",
                    store,
                    "--format",
                    "json",
                ]
            )
            == 0
        )
        assert (
            run(
                [
                    "records",
                    "import",
                    str(V1),
                    str(DEMO / "leads.csv"),
                    "--entity",
                    "Lead",
                    "--store",
                    store,
                    "--now",
                    "2026-11-24T11:00:00Z",
                    "--format",
                    "json",
                ]
            )
            == 0
        )
    relabelled = root / "v1-relabelled"
    shutil.copytree(V1, relabelled)
    en = relabelled / "localization" / "en.yaml"
    en.write_text(
        en.read_text(encoding="utf-8")
        .replace("Lead.firstName: First name", "Lead.firstName: Given name")
        .replace("    referral: Referral", "    referral: Recommendation"),
        encoding="utf-8",
    )
    manifest = relabelled / "package.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.0.1"), "utf-8")
    return store, relabelled


def test_replay_against_the_next_version(traffic: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = traffic
    capsys.readouterr()
    assert run(["replay", "--store", store, "--against", str(V2)]) == 1
    _check("replay-against.text", capsys.readouterr().out)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_replay_against_a_relabel(traffic: tuple[str, Path], capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    store, relabelled = traffic
    capsys.readouterr()
    assert run(["replay", "--store", store, "--against", str(relabelled), "--format", fmt]) == 0
    _check(f"replay-relabel.{fmt}", capsys.readouterr().out)


def test_workflow_timeline_of_several_instances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "two.yaml"
    script.write_text(TWO_LEADS, encoding="utf-8")
    assert run(["workflow", "simulate", str(V2), "--script", str(script), "--store", str(tmp_path / "w.duckdb")]) == 0
    _check("workflow-timeline.text", capsys.readouterr().out)
