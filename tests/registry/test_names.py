"""Names, versions, channels, scopes and identities: whole-text matches, length limits, no case collisions.

`re.match(r"^...$")` also accepts the text followed by a newline (`$` matches before a final `\\n`): `prod\\n` would
be a second channel and an identity ending in a newline would split its `trust/allowed_signers` line. Every check
matches the whole text, bounds its length, and the log replay applies the same checks to what others wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from crmctl.errors import UsageError
from crmctl.model.artifacts import Manifest
from crmctl.model.versions import SEMVER, version_key
from crmctl.registry.names import (
    MAX_VERSION_LENGTH,
    case_collision,
    check_channel,
    check_identity,
    check_name,
    check_scope,
    check_version,
)
from crmctl.registry.ops import add_signer, promote
from crmctl.registry.publish import publish
from crmctl.registry.query import resolve
from crmctl.registry.verify import verify_registry
from crmctl.registry.writing import Refused
from crmctl.signing import SigningKey
from tests.registry import rogue
from tests.registry.conftest import NOW, demo, make_key

Capture = pytest.CaptureFixture[str]
CHECKS: dict[str, tuple[Callable[[str], str], str]] = {
    "name": (check_name, "Demo"),
    "version": (check_version, "1.0.0"),
    "channel": (check_channel, "prod"),
    "scope": (check_scope, "tenant:acme"),
    "identity": (check_identity, "alice@example.com"),
}
# What must never follow (or precede) an otherwise valid name.
SUFFIXES = ["\n", "\r\n", "\r", " ", "\t", "\x00", "\u2028", "/x", "\n" * 3]


@pytest.mark.parametrize("suffix", SUFFIXES, ids=repr)
@pytest.mark.parametrize("kind", CHECKS)
def test_a_valid_name_with_anything_after_it_is_refused(kind: str, suffix: str) -> None:
    check, valid = CHECKS[kind]
    assert check(valid) == valid
    with pytest.raises(UsageError):
        check(valid + suffix)
    with pytest.raises(UsageError):
        check(suffix + valid)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(kind=st.sampled_from(sorted(CHECKS)), text=st.text(max_size=300))
def test_an_accepted_name_is_a_short_single_token_of_plain_ascii(kind: str, text: str) -> None:
    """Whatever the input, a check accepts it unchanged or refuses it with a UsageError (never anything else), and
    what it accepts is safe as a path segment, a ref and an allowed-signers field: printable ASCII without
    whitespace, quotes, commas or slashes, and short."""
    check = CHECKS[kind][0]
    try:
        accepted = check(text)
    except UsageError as refused:
        assert len(refused.message) < 200  # a megabyte of input does not make a megabyte of message
        return
    assert accepted == text
    assert re.fullmatch(r"[A-Za-z0-9._%+@:*-]+", text), text
    assert len(text) <= {"version": MAX_VERSION_LENGTH, "identity": 128, "scope": 70}.get(kind, 64)


def _manifest_accepts(version: str) -> bool:
    document = {"name": "Demo", "version": version, "scope": "global", "description": "d", "locales": ["en"]}
    try:
        Manifest.model_validate(document, strict=True)
    except ValueError:
        return False
    return True


VERSIONS = st.one_of(
    st.from_regex(SEMVER, fullmatch=True),
    st.from_regex(SEMVER, fullmatch=True).map(lambda v: v + "\n"),
    st.text(alphabet="0123456789.-+abcXYZ\n\u0660\u0967", max_size=40),
    st.integers(min_value=100, max_value=400).map(lambda n: "1.0.0-" + "1" * n),
    st.sampled_from(["1.0.1-a.lock", "1.0.1+b.lock", "1.0.1-lock", "1.0.1-a.locks"]),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(version=VERSIONS)
def test_the_registry_and_the_package_format_accept_the_same_versions(version: str) -> None:
    """One definition of a version: what a package.yaml may declare is exactly what the registry stores, except a
    version ending in `.lock`, which git cannot make a tag of."""
    try:
        check_version(version)
        registry = True
    except UsageError:
        registry = False
    assert registry == (_manifest_accepts(version) and not version.endswith(".lock")), version
    version_key(version)  # total: never raises, whatever the text


@pytest.mark.parametrize(
    "version", ["1\u0660.0.0", "1.0.0-\u0661", "\uff11.0.0", "1.0.0\n", "1.0.0-" + "9" * 5000, "1" * 200 + ".0.0"]
)
def test_look_alike_digits_trailing_newlines_and_huge_numbers_are_not_versions(version: str) -> None:
    """`\\d` matches the digits of every script (`1\\u0660.0.0` would sort as 10.0.0); a pre-release of 5,000 digits
    made `int()` raise inside the precedence (an internal error, exit 3)."""
    with pytest.raises(UsageError):
        check_version(version)
    assert not _manifest_accepts(version)
    assert version_key(version) == (0, 0, 0, 0, ())


def test_a_too_long_version_is_refused_with_its_length_not_its_text() -> None:
    with pytest.raises(UsageError) as refused:
        check_version("1.0.0-" + "a" * 10_000)
    assert "too long for a version (10006 characters)" in refused.value.message
    assert f"at most {MAX_VERSION_LENGTH} characters" in str(refused.value.hint)


def test_the_cli_refuses_bad_names_before_reading_the_registry(registry: str, capsys: Capture, tmp_path: Path) -> None:
    """Exit 2 with a located message, no traceback, for every command that takes a name (the registry path does
    not even need to exist for most of them: names are checked first)."""
    key = str(tmp_path / "keys" / "alice")
    huge = "1.0.0-" + "7" * 5000
    for args in (
        ["resolve", "Demo\n"],
        ["resolve", "Demo", "--channel", "prod\n"],
        ["resolve", "Demo", "--version", "1.0.0\n"],
        ["resolve", "Demo", "--version", huge],
        ["registry", "show", "Demo@1.0.0\n"],
        ["registry", "show", f"Demo@{huge}"],
        ["promote", "Demo@1.0.0", "--to", "prod\n", "--key", key],
        ["promote", f"Demo@{huge}", "--to", "prod", "--key", key],
        ["signer", "add", "bob@example.com\n", "ssh-ed25519 AAAA", "--scope", "global", "--key", key],
    ):
        command = args[:2] if args[0] in ("registry", "signer") else args[:1]
        code = run([*command, *args[len(command) :], "--registry", registry])
        captured = capsys.readouterr()
        assert code == 2, (args, captured)
        assert "Traceback" not in captured.err and len(captured.err) < 600, (args, captured.err)


@pytest.mark.parametrize(
    "version, name, expected",
    [
        ("1.0.0-" + "1" * 5000, "Demo", "5006 characters long; at most 128 are allowed"),
        ("1.0.0", "D" * 5000, "does not match"),
    ],
    ids=["huge-pre-release", "huge-name"],
)
def test_a_package_with_a_huge_version_or_name_is_refused_cleanly(
    registry: str, tmp_path: Path, capsys: Capture, version: str, name: str, expected: str
) -> None:
    """The pre-release used to pass the package format and crash the registry (exit 3); both are now a located
    finding of a reasonable size."""
    package = demo(tmp_path / "huge", version, name=name)
    code = run(
        ["publish", str(package), "--registry", registry, "--key", str(tmp_path / "keys" / "alice"), "--format", "json"]
    )
    out = json.loads(capsys.readouterr().out)["result"]
    assert code == 1 and out["status"] == "refused"
    assert [p for p in out["findings"] if expected in p["message"] and len(p["message"]) < 400], out


def test_entries_with_a_newline_in_a_name_are_invalid_in_the_log(
    registry: str, alice: SigningKey, tmp_path: Path
) -> None:
    """Signed by a trusted admin, yet refused by the replay: `prod\\n` is no second channel, and an identity with
    a newline never reaches `trust/allowed_signers`."""
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    promote(registry, alice, NOW, name="Demo", version="1.0.0", channel="prod")
    repo = rogue.clone(registry, tmp_path / "rogue")
    eve = make_key(tmp_path, "eve")
    time = "2026-11-26T09:30:00Z"
    rogue.append_entry(
        repo,
        alice,
        "alice@example.com",
        "promote",
        {"name": "Demo", "version": "1.0.0", "channel": "prod\n"},
        time=time,
    )
    rogue.append_entry(
        repo,
        alice,
        "alice@example.com",
        "signer-add",
        {
            "identity": "eve@example.com\nmallory@example.com",
            "public_key": eve.public_key(),
            "scopes": ["*"],
            "admin": True,
        },
        time=time,
    )
    result = verify_registry(registry, NOW)
    found = {(p.code, p.subject) for p in result.problems}
    assert found == {("REG106", "log/00000004.json"), ("REG106", "log/00000005.json")}, result.problems
    assert all("not a valid" in p.message for p in result.problems)
    assert b"eve" not in (repo / "trust" / "allowed_signers").read_bytes()
    assert resolve(registry, "Demo", channel="prod").version == "1.0.0"


def test_case_collisions() -> None:
    assert case_collision("demo", ["Demo", "Other"]) == "Demo"
    assert case_collision("Demo", ["Demo"]) is None  # the same spelling is the same name
    assert case_collision("1.0.0-RC.1", ["1.0.0-rc.1", "1.0.0"]) == "1.0.0-rc.1"
    assert case_collision("x", []) is None


@pytest.mark.parametrize(
    "first, second",
    [
        (("Demo", "1.0.0"), ("DEMO", "1.0.0")),
        (("Demo", "1.0.0"), ("demo", "2.0.0")),
        (("Demo", "1.0.0-RC.1"), ("Demo", "1.0.0-rc.1")),
    ],
    ids=["name", "name-other-version", "pre-release"],
)
def test_names_and_versions_that_differ_only_by_case_are_refused(
    registry: str, alice: SigningKey, tmp_path: Path, first: tuple[str, str], second: tuple[str, str]
) -> None:
    """They would be one directory and one tag on macOS and Windows: a clone there silently mixes two versions."""
    publish(registry, demo(tmp_path / "a", first[1], name=first[0]), alice, NOW)
    with pytest.raises(Refused) as refused:
        publish(registry, demo(tmp_path / "b", second[1], name=second[0]), alice, NOW)
    assert [p.code for p in refused.value.problems] == ["REG110"]
    assert "differs only by letter case" in refused.value.problems[0].message
    assert verify_registry(registry, NOW).ok


def test_an_identity_that_differs_only_by_case_is_refused(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    other = make_key(tmp_path, "other")
    with pytest.raises(Refused) as refused:
        add_signer(
            registry,
            alice,
            NOW,
            identity="Alice@Example.com",
            public_key=other.public_key(),
            scopes=["global"],
            admin=False,
        )
    assert refused.value.problems[0].code == "REG110"
    # The same spelling with another key is a second key of the same signer, as before.
    add_signer(
        registry,
        alice,
        NOW,
        identity="alice@example.com",
        public_key=other.public_key(),
        scopes=["global"],
        admin=False,
    )


def test_a_forged_entry_with_a_case_collision_is_reported(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    repo = rogue.clone(registry, tmp_path / "rogue")
    body = {
        "name": "DEMO",
        "version": "2.0.0",
        "scope": "global",
        "digest": "sha256:" + "0" * 64,
        "path": "packages/DEMO/2.0.0",
        "tag": "DEMO/v2.0.0",
        "provenance": {
            "signer": {"identity": "alice@example.com", "key": alice.fingerprint()},
            "time": "2026-11-26T09:30:00Z",
            "source": None,
        },
    }
    rogue.append_entry(repo, alice, "alice@example.com", "publish", body, time="2026-11-26T09:30:00Z")
    problems = verify_registry(registry, NOW).problems
    assert [(p.code, p.subject) for p in problems] == [("REG110", "log/00000003.json")], problems


@pytest.mark.parametrize("version", ["1.0.1-a.lock", "1.0.1+build.lock", "2.0.0-rc.1.lock"])
def test_a_version_git_cannot_tag_is_refused_before_the_registry_is_read(
    registry: str, tmp_path: Path, capsys: Capture, version: str
) -> None:
    """Semver allows `1.0.1-a.lock`, but git refuses a tag whose last component ends in `.lock`: the publish got as
    far as `git tag` and stopped with exit 3, blaming the cache ("remove it and run the command again")."""
    with pytest.raises(UsageError, match=r"git refuses a tag ending in '\.lock'"):
        check_version(version)
    head = rogue.git(Path(registry), "rev-parse", "main")
    code = run(
        [
            "publish",
            str(demo(tmp_path / "p", version)),
            "--registry",
            registry,
            "--key",
            str(tmp_path / "keys" / "alice"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "git refuses a tag ending in '.lock'" in err and "cache" not in err, err
    assert rogue.git(Path(registry), "rev-parse", "main") == head
