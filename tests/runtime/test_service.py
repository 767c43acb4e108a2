"""Package copies by digest, resolvers for async validations, and the runtime service's refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmctl.errors import InputError, UserError
from crmctl.model.canonical import digest
from crmctl.model.package import load_package
from crmctl.runtime.checks import AsyncAnswer, AsyncRequest, ProviderError
from crmctl.runtime.packages import PackageCopyError, load_copy, make_copy
from crmctl.runtime.service import (
    DraftNotFoundError,
    Runtime,
    iso,
    parse_instant,
    recorded_resolver,
    table_resolver,
)
from crmctl.runtime.store import Store
from tests.conftest import MINIMAL, REPO, write_package

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
AT = datetime(2026, 11, 26, 9, tzinfo=UTC)


def _request(provider: str, value: object) -> AsyncRequest:
    return AsyncRequest("check", provider, {}, value)


def test_copy_round_trip_and_tamper_detection() -> None:
    package = load_package(V1)
    ref, blob = make_copy(package)
    assert ref.digest == digest(package) and (ref.name, ref.version) == ("LeadLifecycle", "1.0.0")
    assert digest(load_copy(ref.digest, blob)) == ref.digest
    with pytest.raises(PackageCopyError, match="was edited: its bytes hash to jcs-sha256:"):
        load_copy(ref.digest, blob.replace(b"Lead", b"Leed", 1))
    garbage = b"not json"
    with pytest.raises(PackageCopyError, match="is not JSON"):
        load_copy("sha256:" + __import__("hashlib").sha256(garbage).hexdigest(), garbage)


def test_a_broken_package_is_not_copied(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", {**MINIMAL, "schema.yaml": "entities:\n  Lead:\n    fields: {a: {type: x}}\n"})
    with pytest.raises(InputError, match=r"does not load cleanly: .*schema\.yaml:3:"):
        make_copy(load_package(root))


def test_table_resolver_answers_by_provider_and_value() -> None:
    resolve = table_resolver(
        {
            "flat": True,
            "byValue": {"A": False, "*": {"ok": True, "detail": "fine"}},
            "strict": {"A": True},
            "bad": "yes",
        }
    )
    assert resolve(_request("flat", "x")) == AsyncAnswer(True)
    assert resolve(_request("byValue", "A")) == AsyncAnswer(False)
    assert resolve(_request("byValue", "B")) == AsyncAnswer(True, "fine")
    with pytest.raises(ProviderError, match="no answer for provider 'missing'"):
        resolve(_request("missing", "x"))
    with pytest.raises(ProviderError, match="has no answer for 'B' and no '\\*' default"):
        resolve(_request("strict", "B"))
    with pytest.raises(ProviderError, match="an answer is true, false or"):
        resolve(_request("bad", "x"))


def test_recorded_resolver_answers_each_logged_request_once() -> None:
    logged = [{"request": {"validation": "check", "provider": "p", "value": 1}, "answer": {"ok": False, "detail": "d"}}]
    resolve = recorded_resolver(logged)
    assert resolve(_request("p", 1)) == AsyncAnswer(False, "d")
    with pytest.raises(ProviderError, match="replay never calls a provider"):
        resolve(_request("p", 1))


def test_instants() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006Z"
    assert parse_instant("2026-01-02T04:04:05+01:00") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(UserError, match="a time needs a zone"):
        parse_instant("2026-01-02T03:04:05")


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    with Store.open(tmp_path / "rt.duckdb") as store:
        yield Runtime(store, "default")


def test_sessions_need_a_draft_and_unique_ids(runtime: Runtime) -> None:
    config = runtime.configure(load_package(V1), entity=None, form=None, role=None, locale=None)
    assert (config.role, config.locale, config.entity) == ("salesRep", "en", "Lead")
    with pytest.raises(DraftNotFoundError, match="no draft 'nope'"):
        runtime.apply("nope", {"type": "next"}, AT)
    runtime.start(config, "s", AT)
    with pytest.raises(UserError, match="session s exists already"):
        runtime.start(config, "s", AT)
    assert [d.draft_id for d in runtime.drafts()] == ["s"]
    with pytest.raises(UserError, match="the store holds no package sha256:0000"):
        Runtime(runtime.store, "default").pinned("sha256:" + "0" * 64)
    # a fresh runtime over the same store loads the pinned copy by digest
    again = Runtime(runtime.store, "default")
    assert again.pinned(config.package.digest).name == "LeadLifecycle"
    assert again.apply("s", {"type": "next"}, AT)[0]["effect"] == "blocked"


def test_a_discarded_session_id_is_not_opened_again_and_says_why(runtime: Runtime) -> None:
    config = runtime.configure(load_package(V1), entity=None, form=None, role=None, locale=None)
    runtime.start(config, "gone", AT)
    assert runtime.discarded("gone") is None
    runtime.discard("gone", AT)
    assert runtime.discarded("gone") is not None and runtime.discarded("never") is None
    with pytest.raises(UserError, match=r"session gone was discarded at 2026-.*open the new one under another id"):
        runtime.start(config, "gone", AT)


def test_an_iterating_runtime_runs_a_version_whose_content_changed(tmp_path: Path) -> None:
    """The sandbox's own store (`crmctl serve`): an edited version is pinned under its new digest, and what ran
    under the old one keeps it; a store of any other command refuses the same edit."""
    edited = write_package(tmp_path / "pkg", MINIMAL)
    with Store.open(tmp_path / "rt.duckdb") as store:
        first = Runtime(store, "default", iterating=True).pin(load_package(edited))
        (edited / "localization" / "en.yaml").write_text("labels:\n  Lead.firstName: Given name\n", encoding="utf-8")
        with pytest.raises(PackageCopyError, match="Bump the version"):
            Runtime(store, "default").pin(load_package(edited))
        second = Runtime(store, "default", iterating=True).pin(load_package(edited))
        assert first.version == second.version and first.digest != second.digest
        assert Runtime(store, "default").pinned(first.digest).name == "Demo"
