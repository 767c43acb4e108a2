"""`crmctl diff OLD NEW --records STORE`: data-dependent changes answered from a runtime store built here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compat._cli import invoke

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "compat"
STAMP = "2026-11-26T10:00:00Z"


def case(name: str) -> tuple[str, str]:
    return str(FIXTURES / name / "old"), str(FIXTURES / name / "new")


def record(tenant: str, id_: str, data: dict[str, Any], version: str = "1.0.0", package: str = "Demo") -> Any:
    from crmctl.runtime.store import StoredRecord

    return StoredRecord(tenant, "Lead", id_, package, version, "sha256:" + "0" * 64, data, 1, STAMP, STAMP)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    from crmctl.runtime.store import Store

    path = tmp_path / "runtime.duckdb"
    with Store.open(path) as opened:
        opened.put_records(
            [
                record("acme", "lead-0001", {"firstName": "Ann", "phone": "+47 1"}),
                record("acme", "lead-0002", {"firstName": "Bob"}),
                record("acme", "lead-0003", {"firstName": "Cy", "phone": ""}, "1.1.0"),
                record("acme", "lead-0004", {"firstName": "Di"}, "1.1.0"),
                record("acme", "other-0001", {"firstName": "Ed"}, package="Other"),
            ]
        )
        opened.put_records([record("globex", "lead-0001", {"firstName": "Fay"})])
    return path


def test_text_output_answers_the_change_and_a_change_that_breaks_stored_records_fails(store: Path) -> None:
    result = invoke("diff", *case("field_made_required"), "--records", str(store), "--tenant", "acme")
    assert result.code == 1, result.err  # data-dependent, and the records show it breaks three of them
    assert "result: FAIL (0 changes in failing classes: breaking; 1 more breaks stored records)" in result.out
    assert f"stored records ({store}, tenant acme): 4 Demo records read" in result.out
    assert "  CMP106 field-made-required Lead.phone: field Lead.phone became required" in result.out
    assert (
        "    3 of 4 Lead records lack a value (1.0.0: 1, 1.1.0: 2); e.g. lead-0002, lead-0003, lead-0004" in result.out
    )
    failing = invoke(
        "diff",
        *case("field_made_required"),
        "--records",
        str(store),
        "--tenant",
        "acme",
        "--fail-on",
        "data-dependent",
        "--records-limit",
        "1",
    )
    assert failing.code == 1
    assert "(1.0.0: 1, 1.1.0: 2); e.g. lead-0002, …" in failing.out


def test_a_data_dependent_change_the_records_show_safe_passes(tmp_path: Path) -> None:
    from crmctl.runtime.store import Store

    path = tmp_path / "safe.duckdb"
    with Store.open(path) as opened:
        opened.put_records([record("acme", "lead-0001", {"firstName": "Ann", "phone": "+47 1"})])
    result = invoke("diff", *case("field_made_required"), "--records", str(path), "-f", "json")
    assert result.code == 0, result.out
    summary = json.loads(result.out)["result"]["summary"]
    assert (summary["failed"], summary["failedByRecords"]) == (0, 0)
    assert invoke("diff", *case("field_made_required")).code == 0  # without evidence: a warning, as documented
    assert invoke("diff", *case("field_made_required"), "--fail-on", "data-dependent").code == 1


def test_json_output_has_a_records_section_that_matches_the_shipped_schema(store: Path) -> None:
    from crmctl.cli.contract import validation_errors

    result = invoke("diff", *case("field_made_required"), "--records", str(store), "--tenant", "globex", "-f", "json")
    document = json.loads(result.out)
    assert validation_errors(document) == []
    body = document["result"]
    records = body["summary"]["records"]
    assert (records["tenant"], records["package"], records["records"]) == ("globex", "Demo", 1)
    (impact,) = records["impacts"]
    assert impact["code"] == "CMP106" and impact["path"] == "Lead.phone"
    assert (impact["affected"], impact["total"], impact["byVersion"]) == (1, 1, {"1.0.0": 1})
    assert impact["examples"] == ["lead-0001"]
    (finding,) = [f for f in body["findings"] if f["extra"]["section"] == "package"]
    (api,) = [f for f in body["findings"] if f["extra"]["section"] == "api"]
    assert (api["code"], api["severity"]) == ("CMP908", "warning")  # clients, not stored records: not counted
    assert finding["severity"] == "error"  # the records show it breaks one: it fails the diff
    assert (body["summary"]["failed"], body["summary"]["failedByRecords"]) == (1, 1)
    assert finding["extra"]["records"] == "1 of 1 Lead records lack a value (1.0.0: 1); e.g. lead-0001"
    assert "records" not in finding["message"]


@pytest.mark.parametrize("fmt", ["sarif", "github"])
def test_sarif_and_github_carry_the_counts_in_the_message(store: Path, fmt: str) -> None:
    result = invoke("diff", *case("field_made_required"), "--records", str(store), "--tenant", "acme", "-f", fmt)
    assert "[stored records: 3 of 4 Lead records lack a value (1.0.0: 1, 1.1.0: 2)" in result.out


def test_several_tenants_need_tenant_and_a_single_one_is_the_default(store: Path, tmp_path: Path) -> None:
    result = invoke("diff", *case("field_made_required"), "--records", str(store))
    assert result.code == 2
    assert "holds several tenants (acme, globex); pick one with --tenant" in result.err
    from crmctl.runtime.store import Store

    single = tmp_path / "single.duckdb"
    with Store.open(single) as opened:
        opened.put_records([record("solo", "lead-0009", {})])
    assert (
        "1 of 1 Lead records lack a value" in invoke("diff", *case("field_made_required"), "--records", str(single)).out
    )


def test_a_missing_store_is_an_error_and_no_file_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    result = invoke("diff", *case("field_made_required"), "--records", str(missing))
    assert result.code == 2
    assert f"--records {missing}: no runtime store at this path" in result.err
    assert not missing.exists()


def test_without_records_the_records_section_is_null() -> None:
    result = invoke("diff", *case("field_made_required"), "-f", "json")
    summary = json.loads(result.out)["result"]["summary"]
    assert (summary["records"], summary["failedByRecords"]) == (None, None)
