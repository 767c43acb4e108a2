"""`crmctl export` from a PostgreSQL store gives the same datasets as from a DuckDB store with the same content:
the same files and partitions, Arrow schema and metadata, rows and values, for every kind and option."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from crmctl.runtime.export import ExportOptions, export
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Draft, Store, locate
from crmctl.runtime.store_copy import copy_store
from tests.cli.contract.test_store_copy import build
from tests.runtime.test_export import AT, THING, record, things

# Keys JSONB would order otherwise (by length first), inside arrays and objects: CSV writes arrays as JSON text.
NESTED = {**THING, "tags": ["b", "a"], "address": {"street": "Main", "since": "2020-05-01"}}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> Iterator[tuple[Store, Store]]:
    """The same content in a DuckDB store and (copied by `store copy`) in a PostgreSQL schema."""
    path = tmp_path_factory.mktemp("pg-export") / "rt.duckdb"
    build(str(path))
    with Store.open(path) as store:
        ref = Runtime(store, "default").pin(things())
        store.put_records([record(ref, "t1", NESTED, tenant="default", entity="Thing")])
        store.put_records([record(ref, "t0", THING, tenant="d-z", entity="Thing")])
        for tenant, draft in (("default", "g2"), ("d-z", "g1"), ("default", "g10")):
            store.save_draft(Draft(tenant, draft, "Thing", ref.name, ref.version, ref.digest, NESTED, {}, None, AT))
    url = locate(postgres_server.fresh_url())
    assert copy_store(path, url).verified
    with Store.open(path, read_only=True) as duck, Store.open(url, read_only=True) as pg:
        yield duck, pg


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


CASES = [
    ("records", {}),
    ("records", {"tenant": "d-z"}),
    ("records", {"entity": "Thing", "format": "csv"}),
    ("records", {"format": "csv", "partition_by": ("tenant",)}),
    ("records", {"partition_by": ("tenant", "package_version")}),
    ("drafts", {}),
    ("drafts", {"format": "csv", "entity": "Thing"}),
    ("events", {}),
    ("events", {"tenant": "default", "partition_by": ("kind",)}),
    ("events", {"format": "csv"}),
    ("workflows", {}),
    ("workflows", {"format": "csv", "tenant": "default"}),
]


@pytest.mark.parametrize(("kind", "options"), CASES, ids=[f"{k}-{'-'.join(map(str, o.values()))}" for k, o in CASES])
def test_postgresql_exports_the_same_datasets_as_duckdb(
    pair: tuple[Store, Store], tmp_path: Path, kind: str, options: dict[str, Any]
) -> None:
    duck, pg = pair
    reports = [
        export(store, kind, ExportOptions(tmp_path / name, **options)) for store, name in ((duck, "d"), (pg, "p"))
    ]
    assert reports[0].rows == reports[1].rows > 0
    assert [(d.name, d.rows, d.package_digests) for d in reports[0].datasets] == [
        (d.name, d.rows, d.package_digests) for d in reports[1].datasets
    ]
    mine, theirs = _files(tmp_path / "d"), _files(tmp_path / "p")
    assert list(mine) == list(theirs)
    for name, path in mine.items():
        if path.suffix == ".csv":
            assert path.read_bytes() == theirs[name].read_bytes(), name
            continue
        a, b = pq.ParquetFile(path), pq.ParquetFile(theirs[name])
        assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True), name
        assert a.metadata.metadata == b.metadata.metadata, name
        assert a.read().equals(b.read()), name


def test_a_record_whose_data_is_no_object_is_named(pg_url: str, tmp_path: Path) -> None:
    from crmctl.runtime.export import ExportError
    from crmctl.runtime.storage.errors import StoreIntegrityError
    from tests.postgres import PostgresServer  # noqa: F401 - the server behind pg_url

    with Store.open(locate(pg_url)) as store:
        ref = Runtime(store, "t1").pin(things())
        store.put_records([record(ref, "x", THING, entity="Thing")])
        with store.connection.transaction(), store.connection.tenant("t1"):
            store.connection.changed("UPDATE records SET data = '[1]'::jsonb")
        with pytest.raises((StoreIntegrityError, ExportError), match="record t1/Thing/x is a JSON list"):
            export(store, "records", ExportOptions(tmp_path / "out"))
    assert not list((tmp_path / "out").rglob("*.parquet"))
