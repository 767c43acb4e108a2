"""`crmctl replay` through the command line: text output for every kind of entry, tampered package copies,
exports that replay from the file alone, and divergences classified as behavioral or presentation (issue 9 §4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
V2 = REPO / "packages" / "LeadLifecycle" / "v2"
DEMO = REPO / "scripts" / "demo"
SCENARIO = REPO / "packages" / "LeadLifecycle" / "scenarios" / "approval.yaml"


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    document = json.loads(capsys.readouterr().out)
    # commands on the JSON contract print an envelope: their answer is its result
    return document["result"] if isinstance(document, dict) and "$schema" in document else document


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The demo's runtime traffic: a form session quit and resumed to a record, an import, a workflow scenario."""
    path = str(tmp_path / "rt.duckdb")
    assert (
        run(["simulate", str(V1), "--script", str(DEMO / "lead-monday.yaml"), "--store", path, "--session", "lead-ada"])
        == 0
    )
    assert run(["draft", "resume", "lead-ada", "--script", str(DEMO / "lead-tuesday.yaml"), "--store", path]) == 0
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
                path,
                "--now",
                "2026-11-24T11:00:00Z",
            ]
        )
        == 0
    )
    assert run(["workflow", "simulate", str(V2), "--script", str(SCENARIO), "--store", path]) == 0
    capsys.readouterr()
    return path


def _relabelled(tmp_path: Path) -> Path:
    """LeadLifecycle 1.0.1: v1 with a field label, a picklist label and a guard message reworded (a patch)."""
    copy = tmp_path / "v1-relabelled"
    shutil.copytree(V1, copy)
    en = copy / "localization" / "en.yaml"
    text = en.read_text(encoding="utf-8")
    for old, new in (
        ("Lead.firstName: First name", "Lead.firstName: Given name"),
        ("    referral: Referral", "    referral: Recommendation"),
        ("Enter an e-mail address or a phone number to continue.", "Give an e-mail or a phone."),
    ):
        assert old in text
        text = text.replace(old, new)
    en.write_text(text, encoding="utf-8")
    manifest = copy / "package.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.0.1"), "utf-8")
    return copy


# --- text output never crashes ------------------------------------------------------------------------------------


def test_text_replay_against_another_version_shows_record_and_workflow_divergences(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: KeyError 'type' (exit 3) at the first record entry that differs; the demo hid it with --limit 3
    assert run(["replay", "--store", store, "--against", str(V2)]) == 1
    text = capsys.readouterr().out
    assert "record:Lead:lead-002 #1 (seq" in text and "record create (annualRevenue, company" in text
    assert '- phone = "+44 1908 640404"' in text and '+ mobilePhone = "+44 1908 640404"' in text
    assert "[behavioral]" in text
    assert run(["replay", "--store", store, "--against", str(V2), "--format", "json"]) == 1
    assert {d["kind"] for d in _json(capsys)["divergences"]} == {"form", "record"}
    # the workflow ran on 1.1.0: against 1.0.0 (one approver) its inputs give other effects, worded as the timeline
    assert run(["replay", "--store", store, "--against", str(V1), "--session", "workflow:lead-ada"]) == 1
    text = capsys.readouterr().out
    assert "workflow:lead-ada #5 (seq 28) decide qualify: rejected [behavioral]" in text
    assert "- 2026-11-26T10:00:00Z approval of qualify requested by alice (salesRep) (sequential, 2 needed)" in text


def test_a_submit_that_stores_another_record_is_shown_field_by_field(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["replay", "--store", store, "--against", str(V2), "--session", "lead-ada"]) == 1
    text = capsys.readouterr().out
    assert "lead-ada #18 (seq 18) submit" in text
    assert '  record - phone = "+44 20 7946 0000"' in text and '  record + preferredLanguage = "en"' in text


def test_divergent_effects_of_no_known_shape_are_printed_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from crmctl.cli.commands.runtime import _replay_text
    from crmctl.runtime.replay import Divergence, ReplayReport

    report = ReplayReport("X@1")
    report.begin("s")
    odd = [
        Divergence("s", 1, 1, "not an event", ("effects",), [{"effect": "step"}], ["text"]),  # type: ignore[arg-type]
        Divergence("record:E:1", 2, 1, {"op": "create", "input": 3}, ("effects",), [1], [2], kind="record"),
        Divergence(
            "workflow:w", 3, 1, {"type": "fire", "transition": "go"}, ("effects",), [{"x": 1}], [], kind="workflow"
        ),
    ]
    for item in odd:
        report.begin(item.session)
        report.add(item.session, item)
    _replay_text(report, 10, frozenset({"behavioral"}))
    text = capsys.readouterr().out
    assert '"not an event"' in text and '- {"effect": "step"}' in text and '+ "text"' in text
    assert "record create (?)" in text and "- 1" in text and "+ 2" in text
    assert "fire go" in text and '- {"x": 1}' in text


def test_an_edited_package_copy_in_the_store_is_reported_not_a_crash(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    with duckdb.connect(store) as con:
        digest, blob = con.execute("SELECT digest, canonical FROM packages WHERE version = '1.0.0'").fetchone()
        edited = bytes(blob).replace(b"First name", b"Given name")
        con.execute("UPDATE packages SET canonical = ? WHERE digest = ?", [edited, digest])
    for fmt in ("text", "json"):
        assert run(["replay", "--store", store, "--format", fmt]) == 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err and "was edited: its bytes hash to" in captured.out
    assert run(["replay", "--store", store, "--format", "json"]) == 1
    report = _json(capsys)
    # every entry pinned to 1.0.0 is refused; the workflow ran on 1.1.0, whose copy is intact
    assert (report["events"], report["differingEvents"], report["totals"]["rejected"]) == (30, 23, 23)
    assert {d["class"] for d in report["divergences"]} == {"behavioral"}


# --- an export replays from the file alone ----------------------------------------------------------------------


def test_an_export_to_standard_output_is_refused_not_written_to_a_file_named_dash(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["log", "export", "--store", store, "--out", "-"]) == 2
    assert "cannot be streamed to standard output" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_an_export_replays_without_the_store(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "log.parquet"
    assert run(["log", "export", "--store", store, "--out", str(export)]) == 0
    Path(store).unlink()  # the original store is gone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # and there is no default store either
    capsys.readouterr()
    assert run(["replay", "--from-export", str(export), "--format", "json"]) == 0
    report = _json(capsys)
    assert (report["events"], report["differingEvents"], report["ok"]) == (30, 0, True)
    assert run(["replay", "--from-export", str(export), "--against", str(V2)]) == 1
    assert "against LeadLifecycle@1.1.0" in capsys.readouterr().out
    assert not (elsewhere / ".crm").exists()  # nothing was created


def test_the_export_carries_exactly_the_pinned_copies(tmp_path: Path, store: str) -> None:
    import hashlib

    from crmctl.runtime.store import read_export_packages

    assert (
        run(
            [
                "simulate",
                str(_relabelled(tmp_path)),
                "--script",
                str(DEMO / "lead-monday.yaml"),
                "--store",
                store,
                "--tenant",
                "other",
                "--session",
                "x",
            ]
        )
        == 0
    )
    export = tmp_path / "default.parquet"
    assert run(["log", "export", "--store", store, "--tenant", "default", "--out", str(export)]) == 0
    copies = read_export_packages(export)
    assert copies is not None
    assert sorted((name, version) for name, version, _ in copies.values()) == [
        ("LeadLifecycle", "1.0.0"),
        ("LeadLifecycle", "1.1.0"),
    ]
    for digest, (_, _, blob) in copies.items():
        assert "jcs-sha256:" + hashlib.sha256(blob).hexdigest() == digest
    everything = tmp_path / "all.parquet"
    assert run(["log", "export", "--store", store, "--out", str(everything)]) == 0
    copies = read_export_packages(everything)
    assert copies is not None and sorted(v for _, v, _ in copies.values()) == ["1.0.0", "1.0.1", "1.1.0"]


def _rewrite_metadata(path: Path, change: dict[bytes, bytes | None]) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if change.get(k, v) is not None}
    metadata.update({k: v for k, v in change.items() if v is not None})
    pq.write_table(table.replace_schema_metadata(metadata), path)


def test_an_export_without_copies_needs_its_store(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "old.parquet"
    assert run(["log", "export", "--store", store, "--out", str(export)]) == 0
    _rewrite_metadata(export, {b"crmctl.packages": None})  # as exports were written before they carried copies
    capsys.readouterr()
    assert run(["replay", "--from-export", str(export), "--store", store]) == 0  # with its store: as before
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert run(["replay", "--from-export", str(export)]) == 2
    err = capsys.readouterr().err
    assert "carries no package copies" in err and "--store" in err
    assert run(["log", "verify", "--export", str(export)]) == 0  # the chain needs no copies


def test_an_edited_copy_in_an_export_is_reported(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow.parquet as pq

    export = tmp_path / "log.parquet"
    assert run(["log", "export", "--store", store, "--out", str(export)]) == 0
    raw = (pq.read_schema(export).metadata or {})[b"crmctl.packages"]
    _rewrite_metadata(export, {b"crmctl.packages": raw.replace(b"First name", b"Given name")})
    capsys.readouterr()
    assert run(["replay", "--from-export", str(export), "--store", str(tmp_path / "none.duckdb")]) == 1
    assert "was edited: its bytes hash to" in capsys.readouterr().out
    _rewrite_metadata(export, {b"crmctl.packages": b"[1, 2]"})
    assert run(["replay", "--from-export", str(export)]) == 2
    assert "package copies in its metadata (crmctl.packages) are not readable" in capsys.readouterr().err


# --- divergences are classified -----------------------------------------------------------------------------------


def test_a_relabel_is_a_presentation_divergence_with_exit_0(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    relabelled = str(_relabelled(tmp_path))
    assert run(["diff", str(V1), relabelled]) == 0
    assert "proposed bump: patch" in capsys.readouterr().out  # what diff calls the same change
    # the form session and the records ran on 1.0.0 (the workflow on 1.1.0 would differ in behaviour)
    only_v1 = ["--session", "lead-ada"]
    assert run(["replay", "--store", store, "--against", relabelled, *only_v1]) == 0  # before: exit 1
    text = capsys.readouterr().out
    assert "2 events differ (2 presentation)" in text
    assert "- show firstName (First name)" in text and "+ show firstName (Given name)" in text
    assert "only presentation differences: exit 0" in text
    assert run(["replay", "--store", store, "--against", relabelled, *only_v1, "--fail-on", "presentation"]) == 1
    capsys.readouterr()
    assert run(["replay", "--store", store, "--against", relabelled, *only_v1, "--format", "json"]) == 0
    report = _json(capsys)
    assert report["classes"] == {"behavioral": 0, "presentation": 2}
    assert report["failOn"] == ["behavioral"] and report["ok"] is True
    assert {d["class"] for d in report["divergences"]} == {"presentation"}
    assert (
        run(
            [
                "replay",
                "--store",
                store,
                "--against",
                str(V2),
                "--fail-on",
                "behavioral,presentation",
                "--format",
                "json",
            ]
        )
        == 1
    )
    assert _json(capsys)["failOn"] == ["behavioral", "presentation"]


def test_fail_on_names_known_classes(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["replay", "--store", store, "--fail-on", "cosmetic"]) == 2
    assert "unknown divergence class 'cosmetic'; choose from behavioral, presentation" in capsys.readouterr().err
    assert run(["replay", "--store", store, "--fail-on", "presentation,", "--format", "json"]) == 0
    assert _json(capsys)["failOn"] == ["behavioral", "presentation"]


def test_a_record_a_form_created_replays_with_its_later_updates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "rt.duckdb")
    assert (
        run(
            ["simulate", str(V1), "--script", str(DEMO / "lead-monday.yaml"), "--store", store, "--session", "lead-ada"]
        )
        == 0
    )
    assert run(["draft", "resume", "lead-ada", "--script", str(DEMO / "lead-tuesday.yaml"), "--store", store]) == 0
    for patch, package in (('{"company": "ACME"}', []), ('{"companySize": 12}', ["--package", str(V2)])):
        assert (
            run(
                [
                    "records",
                    "update",
                    "lead-ada",
                    "--entity",
                    "Lead",
                    "--data",
                    patch,
                    *package,
                    "--store",
                    store,
                    "--now",
                    "2026-11-25T09:00:00Z",
                ]
            )
            == 0
        )
    capsys.readouterr()
    # before: the updates were refused on replay ("an update without the record it updates earlier in the log"):
    # the record's first entry is the form's submit, in another session
    assert run(["replay", "--store", store, "--format", "json"]) == 0
    report = _json(capsys)
    assert (report["differingEvents"], report["differing"]) == (0, [])
    # before: the record's session alone was refused the same way (the form's session was not read); its report
    # is the full replay's for that session, from the store and from an export
    export = str(tmp_path / "log.parquet")
    assert run(["log", "export", "--store", store, "--out", export]) == 0
    capsys.readouterr()
    for source in (["--store", store], ["--from-export", export]):
        assert run(["replay", *source, "--session", "record:Lead:lead-ada", "--format", "json"]) == 0
        alone = _json(capsys)
        assert (alone["sessions"], alone["events"], alone["differingEvents"]) == (1, 2, 0)
        assert (alone["matchedSessions"], alone["differing"]) == (1, [])


def _calculated_then_entered(tmp_path: Path) -> tuple[str, str]:
    """Shop 1.0.0 with `bonus` calculated, and 2.0.0 where the entered number `extra` took over its name."""
    versions = []
    for version, bonus in (
        ("1.0.0", "bonus: {type: calculated, resultType: number, expression: 'amount * 2.0'}"),
        ("2.0.0", "extra: {type: number, aliases: [bonus]}"),
    ):
        root = tmp_path / version
        (root / "localization").mkdir(parents=True)
        (root / "package.yaml").write_text(
            f"name: Shop\nversion: {version}\nscope: global\ndescription: Orders.\n"
            "locales: [en, fr]\ndefaultLocale: en\n"
        )
        (root / "schema.yaml").write_text(
            "entities:\n  Order:\n    fields:\n      customer: {type: text}\n"
            f"      amount: {{type: number}}\n      {bonus}\n"
        )
        (root / "ui.yaml").write_text("entity: Order\nsteps:\n  - {id: main, fields: [customer, amount]}\n")
        for locale in ("en", "fr") if version == "2.0.0" else ("en",):
            (root / "localization" / f"{locale}.yaml").write_text("labels: {}\n")
        if version == "1.0.0":
            (root / "package.yaml").write_text((root / "package.yaml").read_text().replace("[en, fr]", "[en]"))
        versions.append(str(root))
    return versions[0], versions[1]


def test_an_update_that_moved_the_record_replays_as_it_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 1.0.0 calculates `bonus`; 2.0.0 has no calculated field: an update moving a record to 2.0.0 drops the stored
    # calculated value as 1.0.0 reads the record. Before: replay read the stored data with 2.0.0, kept `bonus` as
    # its alias `extra` and reported a calculated difference (exit 1) in an untouched log.
    v1, v2 = _calculated_then_entered(tmp_path)
    store = ["--store", str(tmp_path / "rt.duckdb")]
    for record_id in ("o1", "o2"):
        assert (
            run(
                [
                    "records",
                    "create",
                    v1,
                    "--entity",
                    "Order",
                    "--id",
                    record_id,
                    "--data",
                    '{"amount": 2}',
                    *store,
                    "--now",
                    "2026-01-01T00:00:00Z",
                ]
            )
            == 0
        )
    assert (
        run(
            [
                "records",
                "update",
                "o1",
                "--entity",
                "Order",
                "--data",
                '{"customer": "b"}',
                "--package",
                v2,
                *store,
                "--now",
                "2026-01-02T00:00:00Z",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run(["replay", *store, "--format", "json"]) == 0
    assert _json(capsys)["differingEvents"] == 0
    assert run(["replay", *store, "--session", "record:Order:o1"]) == 0
    assert "every effect reproduced" in capsys.readouterr().out
    # 1.0.0 does not declare fr: it only reads the stored data, in its default locale (before: exit 2, "locale 'fr'
    # is not declared by the package", for a locale the version the record moves to declares)
    assert (
        run(
            [
                "records",
                "update",
                "o2",
                "--entity",
                "Order",
                "--data",
                '{"customer": "c"}',
                "--package",
                v2,
                "--locale",
                "fr",
                *store,
                "--now",
                "2026-01-02T00:00:00Z",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert _json(capsys)["record"]["data"] == {"amount": 2.0, "customer": "c"}
    assert run(["replay", *store, "--format", "json"]) == 0
    report = _json(capsys)
    assert (report["events"], report["differingEvents"]) == (4, 0)


# --- a log written by an earlier crmctl ------------------------------------------------------------------------

# A lead whose industry stops being offered (companySize < 10 narrows it) before the submit: a notOffered error.
NARROWED = """\
now: 2026-11-23T09:00:00Z
events:
  - change: {field: firstName, value: Ada}
  - change: {field: lastName, value: Lovelace}
  - change: {field: email, value: ada@example.com}
  - next: {}
  - change: {field: company, value: ACME}
  - change: {field: industry, value: finance}
  - change: {field: companySize, value: 5}
  - next: {}
  - submit: {}
"""
OLD_NOT_OFFERED = {  # crmctl's notOffered before it named the value (what crmctl 0.1.0 logged)
    "“finance” is not offered here; choose one of: software, retail, other.": "This value is not offered here.",
    "„finance“ wird hier nicht angeboten; zur Auswahl stehen: software, retail, other.": (
        "Dieser Wert wird hier nicht angeboten."
    ),
}


def _as_written_before(tmp_path: Path) -> str:
    """A store whose log holds what an earlier crmctl wrote for the same sessions: the built-in notOffered message
    in its former wording, in English and German, on an intact hash chain (nothing was edited afterwards)."""
    from crmctl.runtime.eventlog import CHAIN_KEYS, value_hash
    from crmctl.runtime.store import Store

    now, before = tmp_path / "now.duckdb", tmp_path / "before.duckdb"
    script = tmp_path / "narrowed.yaml"
    script.write_text(NARROWED, encoding="utf-8")
    for locale in ("en", "de"):
        assert (
            run(
                [
                    "simulate",
                    str(V1),
                    "--script",
                    str(script),
                    "--store",
                    str(now),
                    "--session",
                    f"lead-{locale}",
                    "--locale",
                    locale,
                    "--format",
                    "json",
                ]
            )
            == 0
        )
    with Store.open(now) as source, Store.open(before) as target:
        for digest, name, version in source.package_digests():
            target.put_package(digest, name, version, source.get_package(digest) or b"")
        bodies = []
        for entry in source.events("default"):
            text = json.dumps({k: v for k, v in entry.items() if k not in CHAIN_KEYS}, ensure_ascii=False)
            for new, old in OLD_NOT_OFFERED.items():
                text = text.replace(json.dumps(new, ensure_ascii=False)[1:-1], old)
            body = json.loads(text)
            body["effectsHash"] = value_hash(body["effects"])
            bodies.append(body)
        assert sum(json.dumps(b, ensure_ascii=False).count("nicht angeboten.") for b in bodies) == 2
        target.append_events("default", bodies)
    return str(before)


def test_a_log_an_earlier_crmctl_wrote_replays_with_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 1: built-in messages live in crmctl, and upgrading crmctl changed the texts a pinned replay of an
    # untouched log produces. The package, its version and the inputs are the log's, so only crmctl can be the cause.
    store = _as_written_before(tmp_path)
    assert run(["log", "verify", "--store", store]) == 0
    capsys.readouterr()
    assert run(["replay", "--store", store]) == 0
    text = capsys.readouterr().out
    assert "2 events differ (2 presentation)" in text
    assert "- error industry [notOffered]: This value is not offered here." in text
    assert "+ error industry [notOffered]: “finance” is not offered here; choose one of: software, retail" in text
    assert "come from crmctl itself" in text and "the log's hash chain is intact): exit 0" in text
    assert run(["replay", "--store", store, "--format", "json"]) == 0
    report = _json(capsys)
    assert (report["ok"], report["failOn"], report["chain"]) == (True, ["behavioral"], {"ok": True, "problems": []})
    assert report["classes"] == {"behavioral": 0, "presentation": 2}
    # asked for, the same differences fail; and from an export (the file alone) the rule is the same
    assert run(["replay", "--store", store, "--fail-on", "presentation"]) == 1
    export = str(tmp_path / "log.parquet")
    assert run(["log", "export", "--store", store, "--out", export]) == 0
    assert run(["replay", "--from-export", export, "--session", "lead-de"]) == 0
    assert "1 event differs (1 presentation)" in capsys.readouterr().out


def test_an_edited_text_still_fails_a_pinned_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the same texts edited into the log afterwards (effectsHash made to match, so replay sees the edit): the chain
    # is broken, so the presentation differences fail as they did before
    import duckdb

    from crmctl.runtime.eventlog import value_hash

    store = str(tmp_path / "rt.duckdb")
    script = tmp_path / "narrowed.yaml"
    script.write_text(NARROWED, encoding="utf-8")
    assert run(["simulate", str(V1), "--script", str(script), "--store", store, "--session", "s1"]) == 0
    with duckdb.connect(store) as con:
        seq, text = con.execute("SELECT seq, entry FROM events WHERE entry LIKE '%not offered%'").fetchall()[0]
        entry = json.loads(text.replace("“finance” is not offered here", "“finance” is fine"))
        entry["effectsHash"] = value_hash(entry["effects"])
        con.execute("UPDATE events SET entry = ? WHERE seq = ?", [json.dumps(entry, ensure_ascii=False), seq])
    capsys.readouterr()
    assert run(["replay", "--store", store]) == 1
    text = capsys.readouterr().out
    assert "1 event differs (1 presentation)" in text
    assert f"the log's hash chain is broken (seq {seq}: LOG001" in text and "the log was edited" in text
    assert run(["replay", "--store", store, "--format", "json"]) == 1
    report = _json(capsys)
    assert report["failOn"] == ["behavioral", "presentation"] and report["chain"]["ok"] is False
    export = str(tmp_path / "log.parquet")
    assert run(["log", "export", "--store", store, "--out", export]) == 0
    assert run(["replay", "--from-export", export]) == 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["effect", "at", "field", "x"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["form", "record", "workflow"]),
            _JSON,
            st.lists(_JSON, max_size=3),
            st.lists(_JSON, max_size=3),
            st.none() | st.text(max_size=5),
        ),
        max_size=4,
    ),
)
def test_text_output_of_any_divergence_never_raises(capsys: pytest.CaptureFixture[str], items: list[Any]) -> None:
    from crmctl.cli.commands.runtime import _replay_text
    from crmctl.runtime.replay import Divergence, ReplayReport

    report = ReplayReport(None)
    for number, (kind, event, missing, extra, error) in enumerate(items):
        divergence = Divergence(f"s{number}", number, 1, event, ("effects",), missing, extra, error, kind=kind)
        report.begin(divergence.session)
        report.add(divergence.session, divergence)
    _replay_text(report, 3, frozenset({"behavioral"}))
    text = capsys.readouterr().out
    assert text.startswith("replayed ")


def test_the_summary_counts_agree_with_their_nouns(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12 ("1 rows"): replay said "replayed 2 events of 1 sessions"."""
    from crmctl.cli.commands.runtime import _replay_text
    from crmctl.runtime.replay import ReplayReport

    report = ReplayReport(None)
    report.begin("s1")
    report.events = 1
    _replay_text(report, 3)
    assert (
        capsys.readouterr().out
        == "replayed 1 event of 1 session against the pinned versions: every effect reproduced\n"
    )
