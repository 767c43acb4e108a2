"""resolve answers from state this client checked, and only while the log is byte-identical to what it checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.registry.ops import promote
from crmctl.registry.publish import publish
from crmctl.registry.query import resolve
from crmctl.signing import SigningKey
from tests.registry.conftest import LEAD_V1, LEAD_V2, NOW


def test_a_change_by_another_client_is_seen_at_once(
    registry: str, alice: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(registry, LEAD_V1, alice, NOW)
    publish(registry, LEAD_V2, alice, NOW)
    promote(registry, alice, NOW, name="LeadLifecycle", version="1.0.0", channel="prod")
    assert resolve(registry, "LeadLifecycle", channel="prod").version == "1.0.0"
    assert list((tmp_path / "state" / "replayed").iterdir())  # the checked state was kept
    # Another engineer, with a cache and state of their own, moves prod.
    monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "other-cache"))
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(tmp_path / "other-state"))
    promote(registry, alice, NOW, name="LeadLifecycle", version="1.1.0", channel="prod")
    monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(tmp_path / "state"))
    assert resolve(registry, "LeadLifecycle", channel="prod").version == "1.1.0"


def test_a_damaged_state_file_only_costs_a_replay(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    publish(registry, LEAD_V1, alice, NOW)
    assert resolve(registry, "LeadLifecycle").version == "1.0.0"
    for path in (tmp_path / "state" / "replayed").iterdir():
        path.write_text("{not json")
    assert resolve(registry, "LeadLifecycle").digest.startswith("jcs-sha256:")


def test_resolve_skips_the_fetch_only_while_a_local_registry_has_not_moved(
    registry: str, alice: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crmctl.registry.store as store

    publish(registry, LEAD_V1, alice, NOW)
    resolve(registry, "LeadLifecycle")
    fetches: list[tuple[str, ...]] = []
    real_git = store.Store.git

    def counting(self: store.Store, *args: str, **kwargs: object) -> object:
        if args[0] == "fetch":
            fetches.append(args)
        return real_git(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.Store, "git", counting)
    assert resolve(registry, "LeadLifecycle").version == "1.0.0"
    assert fetches == []
    publish(registry, LEAD_V2, alice, NOW)
    fetches.clear()
    assert resolve(registry, "LeadLifecycle").version == "1.1.0"
    assert fetches, "main moved: resolve must fetch"


def test_a_state_file_of_the_wrong_shape_only_costs_a_replay(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    import json

    publish(registry, LEAD_V1, alice, NOW)
    assert resolve(registry, "LeadLifecycle").version == "1.0.0"
    for path in (tmp_path / "state" / "replayed").iterdir():
        body = json.loads(path.read_text())
        path.write_text(json.dumps({**body, "packages": ["LeadLifecycle"], "seq": "2"}))
    assert resolve(registry, "LeadLifecycle").version == "1.0.0"


def test_reads_work_when_the_state_directory_is_unusable(
    registry: str, alice: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory is best effort: a state directory that cannot be written only loses the protection it gives."""
    publish(registry, LEAD_V1, alice, NOW)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(blocker / "state"))
    assert resolve(registry, "LeadLifecycle").version == "1.0.0"
    assert resolve(registry, "LeadLifecycle").version == "1.0.0"


def test_a_warm_resolve_reads_the_marker_and_the_remembered_head_in_one_git_call(
    registry: str, alice: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remembering the head on every read added a second `cat-file` to the fast path (a git process is a few
    milliseconds of a 100 ms budget): the entry at the remembered head is read with the marker."""
    import crmctl.registry.store as store

    publish(registry, LEAD_V1, alice, NOW)
    resolve(registry, "LeadLifecycle")
    calls: list[str] = []
    real_git = store.Store.git

    def counting(self: store.Store, *args: str, **kwargs: object) -> object:
        calls.append(args[0])
        return real_git(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.Store, "git", counting)
    assert resolve(registry, "LeadLifecycle").version == "1.0.0"
    assert calls == ["rev-parse", "ls-tree", "cat-file"]


def test_the_fast_path_refuses_a_rollback_to_the_log_it_checked_before_a_write(
    registry: str, alice: SigningKey, tmp_path: Path
) -> None:
    """A publish keeps the state it checked *before* writing; its client remembers the head it wrote. Rolled back
    to the log before the publish, the log tree is the one `resolve` has a state for: the fast path must still see
    that the remembered head is gone."""
    from crmctl.errors import UserError
    from tests.registry import rogue

    publish(registry, LEAD_V1, alice, NOW)
    before = rogue.git(Path(registry), "rev-parse", "main")
    publish(registry, LEAD_V2, alice, NOW)
    rogue.git(Path(registry), "update-ref", "refs/heads/main", before)
    with pytest.raises(UserError, match="history rewritten or rolled back"):
        resolve(registry, "LeadLifecycle")


def test_a_log_with_an_entry_the_replay_refused_still_gets_the_fast_path(
    registry: str, alice: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signed entry the replay refuses (here a version that is not higher) stays in the log forever. The state
    was kept only for a log without any problem, so one such entry made every later `resolve` of every client a
    full replay (1.6 s instead of 0.1 s on the benchmark's registry). The state is the log's answer all the same:
    the refused entry is simply not in it."""
    from tests.registry import rogue

    publish(registry, LEAD_V2, alice, NOW)
    repo = rogue.clone(registry, tmp_path / "rogue")
    body = {
        "name": "LeadLifecycle",
        "version": "1.0.0",
        "scope": "global",
        "digest": "sha256:" + "0" * 64,
        "path": "packages/LeadLifecycle/1.0.0",
        "tag": "LeadLifecycle/v1.0.0",
        "provenance": {
            "signer": {"identity": "alice@example.com", "key": alice.fingerprint()},
            "time": "2026-11-26T09:30:00Z",
            "source": None,
        },
    }
    rogue.append_entry(repo, alice, "alice@example.com", "publish", body, time="2026-11-26T09:30:00Z")
    assert resolve(registry, "LeadLifecycle").version == "1.1.0"  # a full replay, which keeps the state
    import crmctl.registry.trust as trust

    replays: list[object] = []
    real_replay = trust.replay
    monkeypatch.setattr(trust, "replay", lambda *a, **k: replays.append(a) or real_replay(*a, **k))
    assert resolve(registry, "LeadLifecycle").version == "1.1.0"
    assert replays == [], "the second resolve replayed the whole log again"
