"""Two processes stepping one form session, or one workflow instance, of a shared (PostgreSQL) store: the second
write is a conflict, nothing of it written; the log holds one process's steps only, so replay reproduces them.

The race is made deterministic: the other process's step runs between this one's read and its write (inside
the read call this process makes). Each "process" is a store connection of its own, as two processes have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from crmctl.model.package import load_package
from crmctl.runtime.scenario import Player, TenantLog
from crmctl.runtime.service import Runtime, SessionConfig
from crmctl.runtime.storage.errors import StoreConflictError
from crmctl.runtime.storage.locator import StoreURL
from crmctl.runtime.store import Store
from tests.conftest import REPO

V1 = REPO / "packages" / "LeadLifecycle" / "v1"
AT = datetime(2026, 11, 26, 9, tzinfo=UTC)
DATA = {"firstName": "A", "lastName": "B", "owner": "alice"}


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[Store, Store]]:
    with Store.open(StoreURL(pg_url)) as one, Store.open(StoreURL(pg_url)) as other:
        yield one, other


def _meanwhile(monkeypatch: pytest.MonkeyPatch, target: object, name: str, other: Callable[[], object]) -> None:
    """`target.name` runs `other` (the other process's step) once, after its first read."""
    original = getattr(target, name)
    done: list[bool] = []

    def read(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        if not done:
            done.append(True)
            other()
        return found

    monkeypatch.setattr(target, name, read)


def _runtimes(two: tuple[Store, Store]) -> tuple[Runtime, Runtime, SessionConfig]:
    """This process's runtime, the other's, and a LeadLifecycle form session's configuration."""
    mine, theirs = Runtime(two[0], "default"), Runtime(two[1], "default")
    return mine, theirs, mine.configure(load_package(V1), entity=None, form=None, role=None, locale=None)


def _sessions(store: Store) -> list[tuple[str, str]]:
    return [(e["session"], e["event"]["type"]) for e in store.events("default")]


@pytest.mark.parametrize("step", ["apply", "discard"])
def test_a_session_moved_by_another_process_meanwhile_is_a_conflict(
    two: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    one = two[0]
    mine, theirs, config = _runtimes(two)
    mine.start(config, "s", AT)
    _meanwhile(monkeypatch, one, "get_draft", lambda: theirs.apply("s", {"type": "next"}, AT))
    with pytest.raises(StoreConflictError, match="session s moved on in another process meanwhile"):
        mine.apply("s", {"type": "back"}, AT) if step == "apply" else mine.discard("s", AT)
    assert _sessions(one) == [("s", "load"), ("s", "next")]
    assert one.verify_log("default") == [] and one.get_draft("default", "s") is not None
    assert mine.apply("s", {"type": "back"}, AT)  # run again: it goes on from where the session is now
    assert _sessions(one)[-1] == ("s", "back")


def test_a_session_started_by_another_process_meanwhile_is_a_conflict(
    two: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    one = two[0]
    mine, theirs, config = _runtimes(two)
    _meanwhile(monkeypatch, one, "get_draft", lambda: theirs.start(config, "s", AT))
    with pytest.raises(StoreConflictError, match="session s was started by another process meanwhile"):
        mine.start(config, "s", AT)
    assert _sessions(one) == [("s", "load")]


def test_an_instance_started_or_moved_by_another_process_meanwhile_is_a_conflict(
    two: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, other = two
    package = load_package(V1)
    mine = Player.for_tenant(one, "default", package, None, AT)
    theirs = Player.for_tenant(other, "default", package, None, AT)
    start = {"type": "start", "instance": "w", "data": DATA}
    _meanwhile(monkeypatch, TenantLog, "stored", lambda: theirs.play(start))
    with pytest.raises(StoreConflictError, match="workflow instance w was started by another process meanwhile"):
        mine.play(start)
    monkeypatch.undo()
    assert [e["input"]["type"] for e in one.events("default")] == ["start"]
    # both now drive w: the one that moves it first wins, the other's step is a conflict
    mine = Player.for_tenant(one, "default", package, None, AT)
    theirs.play({"type": "fire", "instance": "w", "transition": "disqualify"})
    with pytest.raises(StoreConflictError, match="workflow instance w was moved on by another process"):
        mine.play({"type": "fire", "instance": "w", "transition": "disqualify"})
    assert [e["input"]["type"] for e in one.events("default")] == ["start", "fire"]
    assert one.verify_log("default") == []
