"""`runtime.export`: the type mapping, the union of versions, partitions, CSV, metadata and atomic writes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmctl.model.package import Package, load_package, load_tree
from crmctl.model.tree import MemoryTree
from crmctl.runtime.export import ExportError, ExportOptions, export
from crmctl.runtime.packages import PackageRef
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Draft, Store, StoredRecord
from tests.conftest import REPO

V1 = load_package(REPO / "packages" / "LeadLifecycle" / "v1")
V2 = load_package(REPO / "packages" / "LeadLifecycle" / "v2")
AT = "2026-11-26T10:00:00Z"
ALL_TYPES = """\
entities:
  Thing:
    fields:
      title: {type: text}
      count: {type: number, integer: true}
      ratio: {type: number}
      exact: {type: number, precision: 10, scale: 3}
      price: {type: currency, currency: EUR, scale: 4}
      flag: {type: boolean}
      color: {type: enum, values: [red, green]}
      day: {type: date}
      moment: {type: datetime}
      link: {type: reference, to: Thing}
      doc: {type: file}
      total: {type: calculated, expression: "1.0", resultType: number}
      address:
        type: object
        fields:
          street: {type: text}
          since: {type: date}
      tags: {type: array, items: {type: text}}
"""
THING = {
    "title": "a",
    "count": 3,
    "ratio": 0.5,
    "exact": 1.25,
    "price": 9.5,
    "flag": True,
    "color": "red",
    "day": "2026-01-02",
    "moment": "2026-11-26T10:00:00Z",
    "link": "t2",
    "doc": "file-1",
    "total": 1.0,
    "address": {"street": "Main", "since": "2020-05-01"},
    "tags": ["x", "y"],
}


def things(version: str = "1.0.0", schema: str = ALL_TYPES) -> Package:
    files = {
        "package.yaml": f"name: Things\nversion: {version}\nscope: global\ndescription: T.\nlocales: [en]\n",
        "localization/en.yaml": "labels: {}\n",
        "schema.yaml": schema,
    }
    package = load_tree(MemoryTree({k: v.encode() for k, v in files.items()}, "Things"))
    assert package.valid, package.diagnostics
    return package


def record(ref: PackageRef, id_: str, data: dict[str, Any], tenant: str = "t1", entity: str = "Lead") -> StoredRecord:
    return StoredRecord(tenant, entity, id_, ref.name, ref.version, ref.digest, data, 1, AT, AT)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "rt.duckdb") as opened:
        yield opened


@pytest.fixture
def leads(store: Store) -> Store:
    """Leads of v1 and v2 in tenant t1, one v2 lead in t2."""
    one, two = Runtime(store, "t1").pin(V1), Runtime(store, "t1").pin(V2)
    store.put_records(
        [
            record(
                one,
                "a",
                {
                    "firstName": "Ada",
                    "lastName": "L",
                    "phone": "+49",
                    "companySize": 300,
                    "annualRevenue": 2500000.5,
                    "industry": "software",
                },
            )
        ]
    )
    store.put_records(
        [
            record(
                two,
                "b",
                {
                    "firstName": "Bo",
                    "lastName": "M",
                    "mobilePhone": "+33",
                    "preferredLanguage": "fr",
                    "consentMarketing": True,
                },
            )
        ]
    )
    store.put_records([record(two, "c", {"firstName": "Cy", "lastName": "N"}, tenant="t2")])
    return store


def test_every_field_type_maps_to_its_parquet_type(store: Store, tmp_path: Path) -> None:
    ref = Runtime(store, "t1").pin(things())
    store.put_records([record(ref, "t1", THING, entity="Thing")])
    report = export(store, "records", ExportOptions(tmp_path / "out"))
    path = tmp_path / "out" / "records" / "Thing" / "part-0.parquet"
    assert report.datasets[0].files == [str(path)] and report.rows == 1
    table = pq.read_table(path)
    expected = {
        "title": pa.string(),
        "count": pa.int64(),
        "ratio": pa.float64(),
        "exact": pa.decimal128(10, 3),
        "price": pa.decimal128(38, 4),
        "flag": pa.bool_(),
        "color": pa.dictionary(pa.int32(), pa.string()),
        "day": pa.date32(),
        "moment": pa.timestamp("us", "UTC"),
        "link": pa.string(),
        "doc": pa.string(),
        "total": pa.float64(),
        "address": pa.struct([("since", pa.date32()), ("street", pa.string())]),
        "tags": pa.list_(pa.string()),
        "id": pa.string(),
        "revision": pa.int32(),
        "created_at": pa.timestamp("us", "UTC"),
        "package_digest": pa.string(),
    }
    assert {name: table.schema.field(name).type for name in expected} == expected
    row = table.to_pylist()[0]
    assert row["price"] == Decimal("9.5000") and row["exact"] == Decimal("1.250") and row["count"] == 3
    assert row["day"] == date(2026, 1, 2) and row["moment"] == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert row["address"] == {"street": "Main", "since": date(2020, 5, 1)} and row["tags"] == ["x", "y"]
    assert row["color"] == "red" and row["flag"] is True and row["id"] == "t1"


def test_metadata_names_version_kind_entity_and_digests(leads: Store, tmp_path: Path) -> None:
    export(leads, "records", ExportOptions(tmp_path / "out"))
    meta = pq.ParquetFile(tmp_path / "out" / "records" / "Lead" / "part-0.parquet").metadata.metadata
    digests = {ref.digest for ref in (Runtime(leads, "t1").pin(V1), Runtime(leads, "t1").pin(V2))}
    assert meta[b"crmctl.export"] == b"records" and meta[b"crmctl.entity"] == b"Lead"
    assert meta[b"crmctl.version"]
    assert set(json.loads(meta[b"crmctl.package_digests"])) == digests


def test_versions_export_into_one_dataset_with_the_union_of_columns(leads: Store, tmp_path: Path) -> None:
    export(leads, "records", ExportOptions(tmp_path / "out"))
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "out" / "records" / "Lead" / "part-0.parquet").to_pylist()}
    assert set(rows) == {"a", "b", "c"}
    old, new = rows["a"], rows["b"]
    assert old["package_version"] == "1.0.0" and new["package_version"] == "1.1.0"
    assert old["preferredLanguage"] is None and old["consentMarketing"] is None  # v2 columns: null in v1 rows
    assert new["preferredLanguage"] == "fr" and new["consentMarketing"] is True
    # `phone` was renamed to `mobilePhone` with an alias: v1's values land in the newer column.
    assert old["mobilePhone"] == "+49" and new["mobilePhone"] == "+33" and "phone" not in old
    assert old["annualRevenue"] == Decimal("2500000.50") and old["companySize"] == 300


def test_a_field_retyped_between_versions_is_an_error_naming_both(store: Store, tmp_path: Path) -> None:
    one = Runtime(store, "t1").pin(things("1.0.0", "entities:\n  Thing:\n    fields: {n: {type: number}}\n"))
    two = Runtime(store, "t1").pin(things("2.0.0", "entities:\n  Thing:\n    fields: {n: {type: text}}\n"))
    store.put_records([record(one, "a", {"n": 1.0}, entity="Thing"), record(two, "b", {"n": "x"}, entity="Thing")])
    with pytest.raises(ExportError, match=r"Thing\.n is .* in Things 2\.0\.0 but double in Things 1\.0\.0"):
        export(store, "records", ExportOptions(tmp_path / "out"))
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_partitions_are_hive_directories(leads: Store, tmp_path: Path) -> None:
    report = export(leads, "records", ExportOptions(tmp_path / "out", partition_by=("tenant", "package_version")))
    root = tmp_path / "out" / "records" / "Lead"
    assert sorted(str(Path(f).relative_to(root)) for f in report.datasets[0].files) == [
        "tenant=t1/package_version=1.0.0/part-0.parquet",
        "tenant=t1/package_version=1.1.0/part-0.parquet",
        "tenant=t2/package_version=1.1.0/part-0.parquet",
    ]
    part = pq.read_table(root / "tenant=t1" / "package_version=1.0.0" / "part-0.parquet")
    assert part.num_rows == 1 and "tenant" not in part.schema.names  # the directory names carry it
    meta = pq.ParquetFile(root / "tenant=t2" / "package_version=1.1.0" / "part-0.parquet").metadata.metadata
    assert len(json.loads(meta[b"crmctl.package_digests"])) == 1
    with pytest.raises(ExportError, match="--partition-by nope: not a column"):
        export(leads, "records", ExportOptions(tmp_path / "x", partition_by=("nope",)))


def test_csv_flattens_objects_and_writes_arrays_as_json(store: Store, tmp_path: Path) -> None:
    ref = Runtime(store, "t1").pin(things())
    store.put_records([record(ref, "t1", THING, entity="Thing")])
    export(store, "records", ExportOptions(tmp_path / "out", "csv"))
    lines = (tmp_path / "out" / "records" / "Thing" / "part-0.csv").read_text().splitlines()
    header = lines[0].replace('"', "").split(",")
    assert "address.street" in header and "address.since" in header and "address" not in header
    cells = dict(zip(header, next(csv.reader([lines[1]])), strict=True))
    assert json.loads(cells["tags"]) == ["x", "y"]
    assert cells["address.street"] == "Main" and cells["price"] == "9.5000" and cells["color"] == "red"


def test_records_of_a_version_are_written_in_tenant_and_id_order(store: Store, tmp_path: Path) -> None:
    ref = Runtime(store, "t1").pin(V1)
    for tenant, id_ in [("t2", "a"), ("t1", "z"), ("t1", "b"), ("t2", "0"), ("t1", "m")]:
        store.put_records([record(ref, id_, {"firstName": "A", "lastName": "B"}, tenant=tenant)])
    updated = replace(record(ref, "b", {"firstName": "C", "lastName": "D"}), revision=2)  # the one after 1
    store.put_records([updated], mode="update")
    export(store, "records", ExportOptions(tmp_path / "out"))
    table = pq.read_table(tmp_path / "out" / "records" / "Lead" / "part-0.parquet", columns=["tenant", "id"])
    assert list(zip(table.column("tenant").to_pylist(), table.column("id").to_pylist(), strict=True)) == [
        ("t1", "b"),
        ("t1", "m"),
        ("t1", "z"),
        ("t2", "0"),
        ("t2", "a"),
    ]


def test_tenant_and_entity_filters(leads: Store, tmp_path: Path) -> None:
    Runtime(leads, "t1").pin(things())
    only = export(leads, "records", ExportOptions(tmp_path / "a", tenant="t2"))
    assert [(d.name, d.rows) for d in only.datasets] == [("Lead", 1)]
    assert export(leads, "records", ExportOptions(tmp_path / "b", entity="User")).datasets == []
    assert export(leads, "records", ExportOptions(tmp_path / "c", entity="Lead")).rows == 3


def test_drafts_and_events(leads: Store, tmp_path: Path) -> None:
    ref = Runtime(leads, "t1").pin(V1)
    leads.save_draft(
        Draft("t1", "d1", "Lead", ref.name, ref.version, ref.digest, {"firstName": "Ada"}, {}, "personal", AT)
    )
    leads.append_events("t1", [{"session": "s1", "at": AT, "kind": "form", "package": ref.to_json()}])
    drafts = export(leads, "drafts", ExportOptions(tmp_path / "out"))
    table = pq.read_table(tmp_path / "out" / "drafts" / "drafts.parquet")
    assert drafts.rows == 1 and json.loads(table.column("data")[0].as_py()) == {"firstName": "Ada"}
    assert table.schema.field("updated_at").type == pa.timestamp("us", "UTC")
    export(leads, "events", ExportOptions(tmp_path / "out", tenant="t1"))
    events = pq.ParquetFile(tmp_path / "out" / "events" / "events.parquet")
    assert events.schema_arrow.names == ["tenant", "seq", "session", "at", "kind", "entry", "hash"]
    row = events.read().to_pylist()[0]
    assert row["kind"] == "form" and row["seq"] == 1 and json.loads(row["entry"])["hash"] == row["hash"]
    assert json.loads(events.metadata.metadata[b"crmctl.package_digests"]) == [ref.digest]
    with pytest.raises(ExportError, match="drop --entity"):
        export(leads, "events", ExportOptions(tmp_path / "out", entity="Lead"))


def test_a_failure_mid_write_leaves_no_file(leads: Store, tmp_path: Path) -> None:
    def boom(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(leads, "records", ExportOptions(tmp_path / "out", partition_by=("tenant",)), boom)
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_a_killed_export_leaves_no_final_file(tmp_path: Path) -> None:
    with Store.open(tmp_path / "rt.duckdb") as opened:
        ref = Runtime(opened, "t1").pin(V1)
        opened.put_records([record(ref, f"r{i:06d}", {"firstName": "A", "lastName": "B"}) for i in range(300_000)])
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from crmctl.runtime.export import ExportOptions, export
        from crmctl.runtime.store import Store

        def slow(done, total):
            print("batch", flush=True)
            time.sleep(30)

        with Store.open(Path({str(tmp_path / "rt.duckdb")!r}), read_only=True) as store:
            export(store, "records", ExportOptions(Path({str(tmp_path / "out")!r})), slow)
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO) as child:
        assert child.stdout is not None and child.stdout.readline() == "batch\n"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    directory = tmp_path / "out" / "records" / "Lead"
    assert not (directory / "part-0.parquet").exists()
    assert all(p.name.endswith(".tmp") for p in directory.iterdir())  # a half file is only ever a temp file


def test_an_unwritable_directory_is_named(leads: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError, match=f"cannot write the export to {blocker}/out"):
        export(leads, "records", ExportOptions(blocker / "out"))
