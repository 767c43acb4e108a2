"""Tenants isolated by PostgreSQL itself (row-level security, forced on the tables' owner): SQL that forgets its
tenant sees and touches nothing of another tenant's, nothing at all outside a tenant scope, and cannot write
another tenant's row; a role the policies do not hold is reported. And `Records.query` (filters, sort, keyset
pages over text, number and boolean fields) answers the same on both backends."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import quote

import psycopg
import pytest

from crmctl.errors import UsageError
from crmctl.runtime.storage.locator import StoreURL
from crmctl.runtime.storage.tables import TABLES
from crmctl.runtime.store import Store
from tests.postgres import PostgresServer
from tests.runtime.store_contract.rows import events, record


@pytest.fixture
def shared(pg_url: str) -> Iterator[Store]:
    """A PostgreSQL store holding records, drafts and events of two tenants."""
    with Store.open(StoreURL(pg_url)) as store:
        for tenant in ("acme", "globex"):
            store.put_records([record("L1", tenant=tenant), record("L2", tenant=tenant)])
            store.append_events(tenant, events(3))
        yield store


def test_a_query_that_forgets_its_tenant_sees_only_its_scope(shared: Store) -> None:
    db = shared.connection
    with db.tenant("acme"):
        assert {row[0] for row in db.all("SELECT * FROM records")} == {"acme"}
        assert db.all("SELECT count(*) FROM events") == [(3,)]
    with db.tenant("nobody"):
        assert db.all("SELECT * FROM records") == [] and db.all("SELECT * FROM events") == []
    assert db.all("SELECT * FROM records") == []  # outside any scope: nothing at all
    assert db.all("SELECT * FROM events") == []
    with db.tenant(None):  # the store as a whole, asked for explicitly
        assert db.all("SELECT count(*) FROM records") == [(4,)]


def test_update_and_delete_without_a_tenant_touch_only_the_scope(shared: Store) -> None:
    db = shared.connection
    with shared.transaction(), db.tenant("acme"):
        assert db.changed("UPDATE records SET revision = 9") == 2
        assert db.changed("DELETE FROM events") == 3
    assert db.changed("DELETE FROM records") == 0  # outside any scope
    assert [r.revision for r in shared.list_records("globex")] == [1, 1]
    assert shared.head("acme") is None and shared.verify_log("globex") == []
    assert shared.head("globex") is not None and shared.head("globex")[0] == 3  # type: ignore[index]


def test_another_tenants_row_is_refused_by_the_policy(shared: Store) -> None:
    db = shared.connection
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):  # noqa: SIM117
        with shared.transaction(), db.tenant("acme"):
            db.all("UPDATE records SET tenant = 'globex' WHERE id = 'L1'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):  # noqa: SIM117
        with shared.transaction(), db.tenant("acme"):
            db.all(
                "INSERT INTO events (tenant, seq, session, at, entry, hash) "
                "VALUES ('globex', 99, 's', now(), '{}', 'h')"
            )
    assert shared.head("globex") == (3, shared.head("globex")[1])  # type: ignore[index]
    assert shared.count_records("acme") == shared.count_records("globex") == 2


def test_the_tables_owner_is_held_too(shared: Store) -> None:
    rows = shared.connection.all(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) FROM pg_class c "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY 1"
    )
    tenanted = {
        name: (enabled, forced, owner) for name, enabled, forced, owner in rows if name not in ("meta", "packages")
    }
    assert set(tenanted) == {t.name for t in TABLES.values() if t.tenanted}
    assert {"drafts", "events", "records", "workflow_instances", "webhook_outbox"} <= set(tenanted)
    assert set(tenanted.values()) == {(True, True, "crmctl")}  # the role querying above owns them: held anyway


def _schema(url: str) -> str:
    found = re.search(r"search_path%3D(\w+)", url)
    assert found is not None
    return found[1]


def test_a_role_that_bypasses_the_policies_is_reported(postgres_server: PostgresServer, pg_url: str) -> None:
    Store.open(StoreURL(pg_url)).close()
    schema = _schema(pg_url)
    superuser = StoreURL(postgres_server.url(user=postgres_server.superuser, schema=schema))
    with Store.open(superuser, read_only=True) as store:
        assert store.info()["isolation"] == (
            f"bypassed: role {postgres_server.superuser} is a superuser; connect as a role without it to have "
            "tenants isolated"
        )
    postgres_server.admin(
        "DO $$ BEGIN CREATE ROLE bypasser LOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"GRANT USAGE ON SCHEMA {schema} TO bypasser",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO bypasser",
    )
    with Store.open(StoreURL(postgres_server.url(user="bypasser", schema=schema)), read_only=True) as store:
        assert store.info()["isolation"].startswith("bypassed: role bypasser has BYPASSRLS")


def _people(store: Store) -> None:
    rows = [
        ("p1", {"name": "Ada", "age": 36, "vip": True}),
        ("p2", {"name": "Bob", "age": 7.5, "vip": False}),
        ("p3", {"name": "ada", "age": "36", "vip": "true"}),  # text where a number, a boolean is expected
        ("p4", {"name": "Cy", "age": 36, "vip": True}),
        ("p5", {"age": -2}),
        ("p6", {"name": "D?%s", "age": 100, "vip": True}),
    ]
    store.put_records([replace(record(id_), data=data) for id_, data in rows])
    store.put_records([replace(record("p1", tenant="other"), data={"name": "Ada", "age": 36})])
    store.put_records([replace(record("q1"), package_name="elsewhere", data={"name": "Ada"})])


def _ids(store: Store, **query: object) -> list[str]:
    return [r.id for r in store.records.query("acme", "Lead", "crm", limit=query.pop("limit", 50), **query)]  # type: ignore[arg-type]


def test_records_query_answers_the_same_on_both_backends(any_store: Store) -> None:
    store = any_store
    _people(store)
    assert _ids(store) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert _ids(store, equal=[("name", "text", "Ada")]) == ["p1"]
    assert _ids(store, equal=[("name", "text", "D?%s")]) == ["p6"]
    assert _ids(store, equal=[("age", "number", 36)]) == ["p1", "p4"]
    assert _ids(store, equal=[("age", "number", 36), ("vip", "boolean", True)]) == ["p1", "p4"]
    assert _ids(store, equal=[("vip", "boolean", False)]) == ["p2"]
    assert _ids(store, equal=[("missing", "text", "x")]) == []
    assert _ids(store, sort=("age", "number", False)) == ["p5", "p2", "p1", "p4", "p6", "p3"]
    assert _ids(store, sort=("age", "number", True)) == ["p6", "p1", "p4", "p2", "p5", "p3"]
    assert _ids(store, sort=("name", "text", False)) == ["p1", "p2", "p4", "p6", "p3", "p5"]
    assert _ids(store, sort=("vip", "boolean", True)) == ["p1", "p4", "p6", "p2", "p3", "p5"]
    # Keyset pages of two: the same records as one page, in the same order, whatever the sort.
    for sort in [None, ("age", "number", False), ("age", "number", True), ("name", "text", False)]:
        whole = store.records.query("acme", "Lead", "crm", sort=sort, limit=50)  # type: ignore[arg-type]
        paged: list[str] = []
        after = None
        while True:
            page = store.records.query("acme", "Lead", "crm", sort=sort, after=after, limit=2)  # type: ignore[arg-type]
            paged += [r.id for r in page]
            if len(page) < 2:
                break
            last = page[-1]
            value = None if sort is None else last.data.get(sort[0])
            if sort is not None and not isinstance(value, int | float) and sort[1] == "number":
                value = None
            after = (value, last.id)
        assert paged == [r.id for r in whole], sort


def test_text_orders_by_code_point_whatever_the_databases_collation(postgres_server: PostgresServer) -> None:
    """A database collating by language ("a" < "B") must not change the order of ids, pages or text sorts: the
    store's text columns and the text it reads from JSON compare by code point, as DuckDB's do."""
    name = "icu_" + uuid.uuid4().hex[:8]
    try:
        postgres_server.admin(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C' OWNER crmctl"
        )
    except psycopg.Error as error:  # pragma: no cover - a server built without ICU
        pytest.skip(f"no ICU collation on this server: {error}")
    with Store.open(StoreURL(postgres_server.url(database=name))) as store:
        store.put_records([replace(record(id_), data={"name": id_}) for id_ in ("b", "B", "a", "A")])
        assert [r.id for r in store.list_records("acme")] == ["A", "B", "a", "b"]
        assert [r.id for r in store.iter_records("acme", batch=1)] == ["A", "B", "a", "b"]
        assert _ids(store, sort=("name", "text", True)) == ["b", "a", "B", "A"]


def test_a_failure_inside_a_nested_scope_comes_out_as_itself(shared: Store) -> None:
    """Leaving a nested scope restores the outer one; after a statement the database refused, the transaction is
    aborted and cannot restore anything: the refusal, not "transaction aborted", is what the caller sees."""
    db = shared.connection
    with pytest.raises(psycopg.errors.DivisionByZero), shared.transaction(), db.tenant("acme"), db.tenant("globex"):
        db.all("SELECT 1/0")
    with shared.transaction(), db.tenant("acme"):
        with pytest.raises(ValueError, match="inner"), db.tenant(None):
            raise ValueError("inner")
        assert db.all("SELECT current_setting('crmctl.tenant', true)") == [("acme",)]
    assert len(shared.list_records("acme")) == 2


def test_the_whole_store_scope_is_never_a_tenant_id(shared: Store) -> None:
    """`*` is what the policy admits as the whole store: only `tenant(None)` asks for it; a tenant id that is no id
    (`*`, or one the grammar refuses) is refused before it reaches the database."""
    db = shared.connection
    for bad in ("*", "", "ACME", "acme "):
        with pytest.raises(UsageError, match="tenant"), db.tenant(bad):
            db.all("SELECT count(*) FROM records")
    with pytest.raises(UsageError, match="tenant"):
        db.read("*", "SELECT count(*) FROM records")


def test_a_session_default_scope_from_the_url_is_ignored(shared: Store, pg_url: str) -> None:
    """`crmctl.tenant` set for the session (`options=-ccrmctl.tenant=*` in the URL, or ALTER ROLE ... SET) would
    be the scope of every query outside a transaction: the connection clears it, so outside a scope is nothing."""
    assert pg_url.endswith(quote(f"-csearch_path={_schema(pg_url)}", safe=""))
    with Store.open(StoreURL(pg_url + quote(" -ccrmctl.tenant=*", safe=""))) as store:
        assert store.connection.all("SELECT count(*) FROM records") == [(0,)]
        assert len(store.list_records("acme")) == 2
