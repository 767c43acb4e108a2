"""Entry times: well-formed, never decreasing, inside the signer's validity, not ahead of the verifying clock.

Before, any string verified: a garbage time, 2099, or a time before the signer existed. Now the replay refuses an
entry whose time is malformed, earlier than the entry before it, or earlier than its signer's `signer-add`
(REG109; such an entry is not applied, like any other refused entry), and `verify` also reports an entry dated
more than CLOCK_SKEW after its own clock (which depends on the reader, so it never changes what the log says).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from crmctl.errors import UserError
from crmctl.registry.log import CLOCK_SKEW, entry_bytes, format_time, parse_time
from crmctl.registry.ops import add_signer, promote
from crmctl.registry.publish import publish
from crmctl.registry.query import log_entries, resolve, show
from crmctl.registry.verify import verify_registry
from crmctl.signing import SigningKey
from tests.registry import rogue
from tests.registry.conftest import NOW, demo, make_key

STAMP = format_time(NOW)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
def promoted(registry: str, alice: SigningKey, tmp_path: Path) -> Path:
    """Demo 1.0.0 and 1.1.0 published, prod -> 1.0.0 (entries 1-4; 1-3 at NOW, the promotion an hour later); an
    attacker's clone."""
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    publish(registry, demo(tmp_path / "b", "1.1.0"), alice, NOW)
    promote(registry, alice, LATER, name="Demo", version="1.0.0", channel="prod")
    return rogue.clone(registry, tmp_path / "rogue")


def _promote_at(repo: Path, key: SigningKey, time: str, identity: str = "alice@example.com") -> None:
    rogue.append_entry(
        repo, key, identity, "promote", {"name": "Demo", "version": "1.1.0", "channel": "prod"}, time=time
    )


@pytest.mark.parametrize(
    "time, message",
    [
        ("garbage", "is not a UTC time"),
        ("2026-11-26 09:30:00", "is not a UTC time"),
        ("2026-11-26T09:30:00+00:00", "is not a UTC time"),
        ("2026-11-26T09:30:00.5Z", "is not a UTC time"),
        ("2026-02-30T09:30:00Z", "is not a UTC time"),
        ("2026-11-26T24:00:00Z", "is not a UTC time"),
        ("\uff12026-11-26T09:30:00Z", "is not a UTC time"),
        ("2026-11-26T09:30:00Z\n", "is not a UTC time"),
        ("2026-11-26T10:29:59Z", "is earlier than the entry before it (2026-11-26T10:30:00Z)"),
        ("2026-11-26T09:29:59Z", "is before its signer alice@example.com was added (2026-11-26T09:30:00Z)"),
        ("2020-01-01T00:00:00Z", "is before its signer alice@example.com was added"),
    ],
)
def test_a_malformed_or_decreasing_time_is_refused_and_the_entry_ignored(
    registry: str, promoted: Path, alice: SigningKey, time: str, message: str
) -> None:
    _promote_at(promoted, alice, time)
    problems = verify_registry(registry, LATER).problems
    assert [(p.code, p.subject) for p in problems] == [("REG109", "log/00000005.json")], problems
    assert message in problems[0].message
    assert resolve(registry, "Demo", channel="prod").version == "1.0.0"  # the entry was not applied
    # Readers go on (REG109 is not a damaged log); the next honest change simply follows it.
    promote(registry, alice, LATER, name="Demo", version="1.1.0", channel="prod")
    assert resolve(registry, "Demo", channel="prod").version == "1.1.0"


def test_a_time_before_the_signer_was_added_is_refused(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    """bob was added at NOW + 1 h; an entry he dates before that (back-dated into a time he could not sign) is
    refused, even though it is later than the entry before his addition."""
    bob = make_key(tmp_path, "bob")
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    add_signer(
        registry,
        alice,
        NOW + timedelta(hours=1),
        identity="bob@example.com",
        public_key=bob.public_key(),
        scopes=["global"],
        admin=False,
    )
    repo = rogue.clone(registry, tmp_path / "rogue")
    _promote_at(repo, bob, format_time(NOW + timedelta(minutes=30)), identity="bob@example.com")
    later = NOW + timedelta(hours=2)
    problems = verify_registry(registry, later).problems
    assert [(p.code, p.subject) for p in problems] == [("REG109", "log/00000004.json")], problems
    assert "before its signer bob@example.com was added (2026-11-26T10:30:00Z)" in problems[0].message


def test_a_removed_signer_signs_nothing_afterwards(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    bob = make_key(tmp_path, "bob")
    add_signer(
        registry, alice, NOW, identity="bob@example.com", public_key=bob.public_key(), scopes=["global"], admin=False
    )
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    from crmctl.registry.ops import remove_signer

    remove_signer(registry, alice, NOW + timedelta(hours=1), identity="bob@example.com")
    repo = rogue.clone(registry, tmp_path / "rogue")
    # Dated before his removal, appended after it: still refused (the log's order is what counts).
    rogue.append_entry(
        repo,
        bob,
        "bob@example.com",
        "promote",
        {"name": "Demo", "version": "1.0.0", "channel": "prod"},
        time=format_time(NOW + timedelta(hours=1)),
    )
    problems = verify_registry(registry, NOW + timedelta(hours=2)).problems
    assert [(p.code, p.subject) for p in problems] == [("REG105", "log/00000005.json")], problems


def test_an_entry_in_the_future_is_reported_by_verify_and_stops_writers(
    registry: str, promoted: Path, alice: SigningKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _promote_at(promoted, alice, "2099-01-01T00:00:00Z")
    problems = verify_registry(registry, LATER).problems
    assert [(p.code, p.subject) for p in problems] == [("REG109", "log/00000005.json")], problems
    assert "is in the future (this clock: 2026-11-26T10:30:00Z, allowed skew 5 minutes)" in problems[0].message
    # The log says what it says whatever the clock: readers apply the entry (the replay never reads a clock) ...
    assert resolve(registry, "Demo", channel="prod").version == "1.1.0"
    # ... and a verifier whose clock has reached 2099 finds nothing wrong.
    assert verify_registry(registry, datetime(2099, 1, 1, tzinfo=UTC)).ok
    # A writer refuses to extend a log that lies in its future: every later entry would have to lie too.
    with pytest.raises(UserError, match="more than 5 minutes after this machine's clock") as refused:
        promote(registry, alice, LATER, name="Demo", version="1.0.0", channel="prod")
    assert "check this machine's clock" in str(refused.value.hint)
    code = run(
        ["promote", "Demo@1.0.0", "--to", "prod", "--registry", registry, "--key", str(tmp_path / "keys" / "alice")]
    )
    assert code == 2 and "after this machine's clock" in capsys.readouterr().err


def test_a_writer_whose_clock_is_a_little_behind_dates_its_entry_as_the_last_one(
    registry: str, alice: SigningKey, tmp_path: Path
) -> None:
    """Two publishers' clocks never agree: within CLOCK_SKEW, the later writer takes the last entry's time, so
    times never decrease, and the provenance says the same time as the entry."""
    ahead = NOW + CLOCK_SKEW - timedelta(seconds=1)
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, ahead)
    publish(registry, demo(tmp_path / "b", "1.1.0"), alice, NOW)
    entries = log_entries(registry)
    assert [e["time"] for e in entries[1:]] == [format_time(ahead)] * 2
    assert show(registry, "Demo@1.1.0")["provenance"]["time"] == format_time(ahead)
    assert verify_registry(registry, NOW).ok


def test_the_cli_verifies_against_the_wall_clock(
    registry: str, promoted: Path, alice: SigningKey, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = format_time(datetime.now(UTC) + timedelta(hours=1))
    _promote_at(promoted, alice, soon)
    assert run(["registry", "verify", "--registry", registry]) == 1
    assert f"log/00000005.json: REG109 time {soon} is in the future" in capsys.readouterr().out


def test_a_publish_whose_provenance_disagrees_with_its_entry_is_invalid(
    registry: str, alice: SigningKey, tmp_path: Path
) -> None:
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    repo = rogue.clone(registry, tmp_path / "rogue")
    body = {
        "name": "Other",
        "version": "1.0.0",
        "scope": "global",
        "digest": "sha256:" + "0" * 64,
        "path": "packages/Other/1.0.0",
        "tag": "Other/v1.0.0",
        "provenance": {
            "signer": {"identity": "alice@example.com", "key": alice.fingerprint()},
            "time": "2020-01-01T00:00:00Z",
            "source": None,
        },
    }
    rogue.append_entry(repo, alice, "alice@example.com", "publish", body, time=STAMP)
    problems = verify_registry(registry, NOW).problems
    assert [(p.code, p.subject) for p in problems] == [("REG106", "log/00000003.json")], problems
    assert "provenance names another signer or time than the entry" in problems[0].message


@settings(max_examples=300, deadline=None, derandomize=True)
@given(moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)))
def test_format_and_parse_time_round_trip(moment: datetime) -> None:
    text = format_time(moment)
    assert parse_time(text) == moment.replace(microsecond=0)
    assert format_time(parse_time(text) or NOW) == text


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(max_size=40) | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"))
def test_parse_time_accepts_exactly_the_one_form(text: str) -> None:
    parsed = parse_time(text)
    assert parsed is None or format_time(parsed) == text


def test_a_future_entry_with_a_malformed_seq_is_reported_not_a_crash(
    registry: str, promoted: Path, alice: SigningKey
) -> None:
    body = {"name": "Demo", "version": "1.1.0", "channel": "prod"}
    entry = rogue.signed_entry(alice, "alice@example.com", "5", None, "promote", body, "2099-01-01T00:00:00Z")

    (promoted / "log" / "00000005.json").write_bytes(entry_bytes(entry))
    rogue.push(promoted, "odd entry")
    problems = {(p.code, p.subject) for p in verify_registry(registry, LATER).problems}
    assert {("REG102", "log/00000005.json"), ("REG103", "log/00000005.json"), ("REG109", "log")} <= problems
