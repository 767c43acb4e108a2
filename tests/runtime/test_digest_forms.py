"""A store written before RFC 8785 (package copies and records under `sha256:` digests) keeps one digest per
version: old records load and check in format 1, and the same version run again is pinned to the same digest
(docs/formats.md, "Old and new together")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmctl.model.canonical import JCS, LEGACY, digest
from crmctl.model.package import load_package
from crmctl.runtime.packages import PackageCopyError, copy_as, load_copy
from crmctl.runtime.record_service import RecordService
from crmctl.runtime.service import Runtime
from crmctl.runtime.store import Store, StoredRecord
from tests.conftest import MINIMAL, REPO, write_package

FORMATS = REPO / "tests" / "fixtures" / "formats"
V1_DIGEST = "sha256:09bf048c7e6b0f9841c9826885a5f79cf4c7f0086fb34fc1579b829a2fa771bb"
JCS_DIGEST = "jcs-sha256:bc2aa65740c646abe63f803b98a455406d1ceaa41776ea8c42ff39131e84fb38"
AT = datetime(2026, 11, 26, 9, tzinfo=UTC)
STAMP = "2026-11-01T08:00:00Z"


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[Store]:
    """What crmctl wrote before: the format-1 canonical bytes under their `sha256:` digest, a record stamped so."""
    with Store.open(tmp_path / "old.duckdb") as store:
        store.put_package(V1_DIGEST, "Formats", "1.0.0", (FORMATS / "canonical-v1.json").read_bytes())
        record = StoredRecord("t", "Lead", "old", "Formats", "1.0.0", V1_DIGEST, {"firstName": "Ada"}, 1, STAMP, STAMP)
        store.put_records([record], mode="create")
        yield store


def test_a_record_stamped_with_a_sha256_digest_loads_and_checks_in_format_1(old_store: Store) -> None:
    record, package = RecordService(Runtime(old_store, "t")).get("Lead", "old")
    assert record.package_digest == V1_DIGEST
    assert package.digest_algorithm == LEGACY and digest(package) == V1_DIGEST
    assert digest(package, JCS) == JCS_DIGEST  # the same content; the record keeps the digest it was stamped with


def test_the_same_version_run_again_is_pinned_to_its_sha256_digest(old_store: Store) -> None:
    service = RecordService(Runtime(old_store, "t"))
    package = load_package(FORMATS / "package")
    assert digest(package) == JCS_DIGEST
    outcome = service.create(package, "Lead", "new", {"firstName": "Bo"}, AT)
    assert outcome.record is not None and outcome.record.package_digest == V1_DIGEST
    assert old_store.package_digests() == [(V1_DIGEST, "Formats", "1.0.0")]  # one version, one digest
    assert digest(package) == V1_DIGEST  # known by that digest from now on (caches, workflow instances)
    old, _ = service.get("Lead", "old")
    new, _ = service.get("Lead", "new")
    assert old.package_digest == new.package_digest


def test_other_content_under_the_same_version_is_still_refused(old_store: Store, tmp_path: Path) -> None:
    changed = tmp_path / "changed"
    import shutil

    shutil.copytree(FORMATS / "package", changed)
    (changed / "package.yaml").write_text((changed / "package.yaml").read_text().replace("ünïcode", "unicode"))
    with pytest.raises(PackageCopyError, match=r"ran in this store as sha256:09bf048c.*Bump the version"):
        Runtime(old_store, "t").pin(load_package(changed))


def test_a_new_store_pins_under_the_jcs_digest(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new.duckdb") as store:
        ref = Runtime(store, "t").pin(load_package(FORMATS / "package"))
        assert ref.digest == JCS_DIGEST
        assert store.get_package(JCS_DIGEST) == (FORMATS / "canonical-jcs.json").read_bytes()
        again = Runtime(store, "t").pinned(JCS_DIGEST)
        assert again.digest_algorithm == JCS and digest(again) == JCS_DIGEST


def test_copy_as_only_matches_the_same_content_in_another_form() -> None:
    package = load_package(FORMATS / "package")
    assert copy_as(package, JCS_DIGEST) is None  # already its form
    assert copy_as(package, "sha256:" + "0" * 64) is None  # another content
    assert copy_as(package, "not a digest") is None
    same = copy_as(package, V1_DIGEST)
    assert same is not None and same[0].digest == V1_DIGEST
    assert same[1] == (FORMATS / "canonical-v1.json").read_bytes()


def test_a_copy_with_a_large_integral_double_loads_back_to_its_digest(tmp_path: Path) -> None:
    """JCS writes the double 1e17 as 100000000000000000; read back as an integer it would have no JCS form (and
    the pinned copy no digest): it is read as the double it was (regression)."""
    files = dict(MINIMAL)
    files["schema.yaml"] = (
        "entities:\n  Lead:\n    fields:\n      firstName: {type: text, required: true}\n"
        "      big: {type: number, default: 1.0e+17}\n"
    )
    package = load_package(write_package(tmp_path / "p", files))
    with Store.open(tmp_path / "s.duckdb") as store:
        ref = Runtime(store, "t").pin(package)
        blob = store.get_package(ref.digest)
        assert blob is not None and b'"default":100000000000000000' in blob
        loaded = load_copy(ref.digest, blob)
        assert digest(loaded) == ref.digest


def test_a_tampered_sha256_copy_is_refused_in_its_form(old_store: Store) -> None:
    blob = (FORMATS / "canonical-v1.json").read_bytes().replace(b"Ratio", b"Ration")
    with pytest.raises(PackageCopyError, match="was edited: its bytes hash to sha256:"):
        load_copy(V1_DIGEST, blob)
