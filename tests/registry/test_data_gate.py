"""The publish gate for data-dependent changes: refused unless stored records show them safe or the publisher
accepts them with a reason; whichever was used is signed into the log entry and shown by the audit commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmctl.cli.main import run
from crmctl.errors import UsageError
from crmctl.registry.data_gate import DataGate, check_record, describe
from crmctl.registry.publish import publish
from crmctl.registry.query import log_entries, show
from crmctl.registry.verify import verify_registry
from crmctl.registry.writing import Refused
from crmctl.signing import SigningKey
from tests.conftest import write_package
from tests.registry.conftest import NOW

Capture = pytest.CaptureFixture[str]
MANIFEST = "name: Demo\nversion: {v}\nscope: global\ndescription: A demo package.\nlocales: [en]\n"
LABELS = "labels:\n  Lead.firstName: First name\n  Lead.phone: Phone\n  Lead.doc: Document\n"
FIELDS = {
    "firstName": "{type: text, required: true}",
    "phone": "{type: text, maxLength: 40}",
    "doc": "{type: file}",
}


def demo(root: Path, version: str, **fields: str) -> Path:
    merged = {**FIELDS, **fields}
    schema = "entities:\n  Lead:\n    fields:\n" + "".join(f"      {k}: {v}\n" for k, v in merged.items())
    return write_package(
        root, {"package.yaml": MANIFEST.format(v=version), "schema.yaml": schema, "localization/en.yaml": LABELS}
    )


def store_with(path: Path, *rows: dict[str, Any], tenant: str = "acme") -> Path:
    from crmctl.runtime.store import Store, StoredRecord

    stamp = "2026-11-26T09:00:00Z"
    with Store.open(path) as opened:
        opened.put_records(
            [
                StoredRecord(tenant, "Lead", f"lead-{i}", "Demo", "1.0.0", "sha256:" + "0" * 64, data, 1, stamp, stamp)
                for i, data in enumerate(rows, 1)
            ]
        )
    return path


def call(capsys: Capture, *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def base(registry: str, alice: SigningKey, tmp_path: Path) -> str:
    publish(registry, demo(tmp_path / "v1", "1.0.0"), alice, NOW)
    return registry


def cli(registry: str, key: SigningKey) -> list[str]:
    return ["--registry", registry, "--key", str(key.path)]


def test_a_data_dependent_change_is_refused_without_an_answer(
    base: str, alice: SigningKey, tmp_path: Path, capsys: Capture
) -> None:
    required = demo(tmp_path / "v2", "1.1.0", phone="{type: text, maxLength: 40, required: true}")
    with pytest.raises(Refused) as refused:
        publish(base, required, alice, NOW)
    assert [(p.code, p.message) for p in refused.value.problems] == [
        ("REG305", "data-dependent change CMP106 Lead.phone against 1.0.0: field Lead.phone became required")
    ]
    code, out, _ = call(capsys, "publish", str(required), *cli(base, alice))
    assert code == 1
    assert "--records STORE" in out and "--accept-data-dependent REASON" in out
    assert len(log_entries(base)) == 2  # nothing written


def test_an_acknowledged_change_is_published_with_the_reason_in_the_signed_entry(
    base: str, alice: SigningKey, tmp_path: Path, capsys: Capture
) -> None:
    required = demo(tmp_path / "v2", "1.1.0", phone="{type: text, maxLength: 40, required: true}")
    code, out, _ = call(
        capsys,
        "publish",
        str(required),
        *cli(base, alice),
        "--accept-data-dependent",
        "every stored lead got a phone in the May backfill",
    )
    assert code == 0, out
    assert "1 data-dependent change; 1 accepted: 'every stored lead got a phone in the May backfill'" in out
    entry = log_entries(base)[-1]
    assert entry["signer"]["identity"] == "alice@example.com"
    assert entry["body"]["data_dependent"] == {
        "changes": [{"against": "1.0.0", "code": "CMP106", "kind": "field-made-required", "path": "Lead.phone"}],
        "evidence": None,
        "accepted": "every stored lead got a phone in the May backfill",
    }
    result = verify_registry(base, datetime.now(UTC))
    assert result.ok, result.problems
    assert show(base, "Demo@1.1.0")["data_dependent"] == entry["body"]["data_dependent"]
    assert "data_dependent" not in show(base, "Demo@1.0.0")
    code, out, _ = call(capsys, "registry", "log", "--registry", base)
    assert "alice@example.com publish Demo@1.1.0" in out and "accepted: 'every stored lead got" in out


def test_stored_records_that_show_every_change_safe_are_the_evidence(
    base: str, alice: SigningKey, tmp_path: Path, capsys: Capture
) -> None:
    store = store_with(
        tmp_path / "rt.duckdb", {"firstName": "Ann", "phone": "+1 555"}, {"firstName": "Bo", "phone": "1"}
    )
    tighter = demo(tmp_path / "v2", "1.1.0", phone="{type: text, maxLength: 10, required: true}")
    code, out, _ = call(capsys, "publish", str(tighter), *cli(base, alice), "--records", str(store), "-f", "json")
    assert code == 0, out
    answered = json.loads(out)["result"]["dataDependent"]
    assert answered["accepted"] is None and answered["evidence"] == {"tenant": "acme"}
    assert [(c["code"], c["records"], c["shown_safe"]) for c in answered["changes"]] == [
        ("CMP106", {"total": 2, "affected": 0}, True),
        ("CMP126", {"total": 2, "affected": 0}, True),
    ]
    assert log_entries(base)[-1]["body"]["data_dependent"] == answered
    assert verify_registry(base, datetime.now(UTC)).ok


def test_records_that_a_change_breaks_refuse_it_unless_it_is_also_accepted(
    base: str, alice: SigningKey, tmp_path: Path, capsys: Capture
) -> None:
    store = store_with(tmp_path / "rt.duckdb", {"firstName": "Ann", "phone": "+1"}, {"firstName": "Bo"})
    required = demo(tmp_path / "v2", "1.1.0", phone="{type: text, maxLength: 40, required: true}")
    code, out, _ = call(capsys, "publish", str(required), *cli(base, alice), "--records", str(store))
    assert code == 1
    assert (
        "Demo@1.1.0: REG306 data-dependent change CMP106 Lead.phone against 1.0.0 affects stored records: 1 of 2 "
        "Lead records lack a value (1.0.0: 1); e.g. lead-2"
    ) in out
    code, out, _ = call(
        capsys,
        "publish",
        str(required),
        *cli(base, alice),
        "--records",
        str(store),
        "--accept-data-dependent",
        "lead-2 is backfilled by the import of 2026-12-01",
    )
    assert code == 0, out
    answered = log_entries(base)[-1]["body"]["data_dependent"]
    assert answered["changes"][0]["records"] == {"total": 2, "affected": 1}
    assert "shown_safe" not in answered["changes"][0]
    assert answered["accepted"] == "lead-2 is backfilled by the import of 2026-12-01"


def test_a_change_no_probe_answers_needs_the_acknowledgement_even_with_records(
    base: str, alice: SigningKey, tmp_path: Path
) -> None:
    store = store_with(tmp_path / "rt.duckdb", {"firstName": "Ann"})
    narrowed = demo(tmp_path / "v2", "1.1.0", doc="{type: file, accept: [application/pdf]}")
    with pytest.raises(Refused) as refused:
        publish(base, narrowed, alice, NOW, data=DataGate(_evidence(store)))
    (problem,) = refused.value.problems
    assert problem.code == "REG305"
    assert "the stored records cannot show it safe: no probe answers this kind of change" in problem.message


def _evidence(store: Path) -> Any:
    from crmctl.cli.commands.diff import read_records

    return lambda result: read_records(result, store, None, 10)


def test_every_published_version_is_checked(base: str, alice: SigningKey, tmp_path: Path) -> None:
    publish(
        base,
        demo(tmp_path / "v2", "1.1.0", phone="{type: text, maxLength: 40, required: true}"),
        alice,
        NOW,
        data=DataGate(accept="backfilled"),
    )
    shorter = demo(tmp_path / "v3", "1.2.0", phone="{type: text, maxLength: 20, required: true}")
    with pytest.raises(Refused) as refused:
        publish(base, shorter, alice, NOW)
    found = sorted(p.message.split(":")[0] for p in refused.value.problems)
    assert found == [
        "data-dependent change CMP106 Lead.phone against 1.0.0",
        "data-dependent change CMP126 Lead.phone against 1.0.0",
        "data-dependent change CMP126 Lead.phone against 1.1.0",
    ]


def test_a_compatible_publish_writes_no_new_key_and_old_entries_verify(
    base: str, alice: SigningKey, tmp_path: Path
) -> None:
    publish(base, demo(tmp_path / "v2", "1.1.0", note="{type: text}"), alice, NOW, data=DataGate(accept="unused"))
    assert all("data_dependent" not in e["body"] for e in log_entries(base))
    assert verify_registry(base, datetime.now(UTC)).ok


@pytest.mark.parametrize("reason", ["", "   ", "two\nlines", "bell\x07", "x" * 501])
def test_a_reason_is_one_printable_line(reason: str) -> None:
    with pytest.raises(UsageError, match="--accept-data-dependent: give a reason"):
        DataGate(accept=reason)


def test_tenant_needs_records(base: str, alice: SigningKey, tmp_path: Path, capsys: Capture) -> None:
    code, _, err = call(capsys, "publish", str(demo(tmp_path / "v2", "1.1.0")), *cli(base, alice), "--tenant", "x")
    assert code == 2 and "give --records STORE too" in err
    code, _, err = call(
        capsys,
        "publish",
        str(demo(tmp_path / "v2", "1.1.0")),
        *cli(base, alice),
        "--records",
        str(tmp_path / "missing.duckdb"),
    )
    assert code == 2 and "no runtime store at this path" in err


def test_a_malformed_answer_is_refused_by_the_log_itself(
    base: str, alice: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DataGate, "record", lambda self: {"changes": [], "evidence": None, "accepted": None})
    with pytest.raises(Refused) as refused:
        publish(base, demo(tmp_path / "v2", "1.1.0"), alice, NOW)
    assert [p.code for p in refused.value.problems] == ["REG106"]


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {"changes": [], "evidence": None, "accepted": "x"},
        {"changes": [{"against": "1.0.0", "code": "CMP106", "kind": "k"}], "evidence": None, "accepted": "x"},
        {
            "changes": [{"against": "1.0.0", "code": "CMP106", "kind": "k", "path": "p"}],
            "evidence": None,
            "accepted": None,
        },
        {"changes": [{"against": "1.0.0", "code": "C", "kind": "k", "path": "p"}], "evidence": "x", "accepted": "y"},
        {"changes": [{"against": "1.0.0", "code": "C", "kind": "k", "path": "p"}], "evidence": None, "accepted": ""},
        {
            "changes": [{"against": "1.0.0", "code": "C", "kind": "k", "path": "p"}],
            "evidence": None,
            "accepted": "y",
            "extra": 1,
        },
        *(
            {
                "changes": [{"against": "1.0.0", "code": "C", "kind": "k", "path": "p", "shown_safe": True, **rest}],
                "evidence": {"tenant": "t"},
                "accepted": None,
            }
            for rest in ({}, {"records": {"total": 0, "affected": 0}}, {"records": {"total": 2, "affected": 1}})
        ),
    ],
)
def test_check_record_refuses_every_malformed_shape(value: Any) -> None:
    with pytest.raises(ValueError, match="data_dependent"):
        check_record(value)
    assert describe(value).startswith(("data-dependent changes: malformed", "0 data-dependent", "1 data-dependent"))


@pytest.mark.parametrize("tenant", ["acem", None])
def test_a_store_without_records_of_the_entity_shows_nothing_safe(
    base: str, alice: SigningKey, tmp_path: Path, capsys: Capture, tenant: str | None
) -> None:
    """A mistyped tenant, or an empty store, reads no record: that is no evidence, whatever the probes say."""
    store = store_with(tmp_path / "rt.duckdb", {"firstName": "Bo"}) if tenant else tmp_path / "empty.duckdb"
    if tenant is None:
        from crmctl.runtime.store import Store

        Store.open(store).close()
    required = demo(tmp_path / "v2", "1.1.0", phone="{type: text, maxLength: 40, required: true}")
    picked = ["--tenant", tenant] if tenant else []
    code, out, _ = call(capsys, "publish", str(required), *cli(base, alice), "--records", str(store), *picked)
    assert code == 1, out
    assert "REG305 data-dependent change CMP106 Lead.phone against 1.0.0" in out
    assert f"cannot show it safe: tenant {tenant or '-'} of {store} holds no Lead records of Demo" in out
    code, out, _ = call(
        capsys,
        "publish",
        str(required),
        *cli(base, alice),
        "--records",
        str(store),
        *picked,
        "--accept-data-dependent",
        "no records yet",
        "-f",
        "json",
    )
    assert code == 0, out
    answered = json.loads(out)["result"]["dataDependent"]
    assert answered["changes"][0]["records"] == {"total": 0, "affected": 0}
    assert "shown_safe" not in answered["changes"][0] and answered["accepted"] == "no records yet"
