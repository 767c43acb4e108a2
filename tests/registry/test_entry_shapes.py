"""Log entries of every shape: a forgery is never taken for a signer's mistake, and nothing crashes the replay.

Before, the replay judged an entry's body before its signature, and commands other than `verify` accept a log
whose invalid entries (REG106) are merely skipped: so anyone with push access and no key at all could append an
unsigned entry with an invalid body (`"channel": "prod\\n"`, an extra key, an unknown type), every client accepted
the registry, `registry log` showed the forgery as signed by whoever it named, and the next honest change chained
onto it. A body of the wrong type (`"public_key": 5`, `"ssh-rsa ..."`, `"key": []`, `"seq": null`) crashed every
command, `verify` included, with a traceback. And a format-1 entry carried any extra key, a `seq` of `true` or
`2.0`, `"scopes": "*"` for `["*"]`.

Now an entry is authenticated first (its signer's key, its signature); only a signed entry is judged, and it must
have exactly the documented keys with the documented types (REG106, not applied, shown as such by `registry log`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.cli.main import run
from crmctl.errors import UserError
from crmctl.registry.log import canonical_json, entry_bytes, entry_hash, entry_path
from crmctl.registry.publish import publish
from crmctl.registry.query import log_entries, resolve
from crmctl.registry.trust import replay
from crmctl.registry.verify import verify_registry
from crmctl.signing import NAMESPACE_LOG, SigningKey, generate_key
from tests.registry import rogue
from tests.registry.conftest import NOW, demo

STAMP = "2026-11-26T09:30:00Z"
Capture = pytest.CaptureFixture[str]


@pytest.fixture
def published(registry: str, alice: SigningKey, tmp_path: Path) -> Path:
    """Demo 1.0.0 published (entries 1-2); an attacker's clone."""
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    return rogue.clone(registry, tmp_path / "rogue")


def _forge(repo: Path, entry: dict[str, Any]) -> None:
    """Append `entry` as the next log file, with whatever signature it carries, and push."""
    logs = sorted((repo / "log").glob("*.json"))
    entry = {"seq": len(logs) + 1, "prev": entry_hash(logs[-1].read_bytes()), **entry}
    (repo / entry_path(len(logs) + 1)).write_bytes(entry_bytes(entry))
    rogue.rederive(repo)  # index.json and allowed_signers as the log says: nothing gives the forgery away
    rogue.push(repo, "forged")


ALICE = {"identity": "alice@example.com", "key": ""}  # the key is filled in by the test
FORGED_BODIES = {
    "a newline in a channel": ("promote", {"name": "Demo", "version": "1.0.0", "channel": "prod\n"}),
    "an extra key": ("promote", {"name": "Demo", "version": "1.0.0", "channel": "prod", "approved": True}),
    "an unknown type": ("rename", {"name": "Demo", "to": "Other"}),
    "a missing key": ("promote", {"name": "Demo", "version": "1.0.0"}),
    "a body that is no object": ("promote", ["Demo", "1.0.0", "prod"]),
    "a public key of another type": (
        "signer-add",
        {"identity": "eve@example.com", "public_key": "ssh-rsa AAAA", "scopes": ["*"], "admin": True},
    ),
    "a public key that is a number": (
        "signer-add",
        {"identity": "eve@example.com", "public_key": 5, "scopes": ["*"], "admin": True},
    ),
}


@pytest.mark.parametrize("case", sorted(FORGED_BODIES))
def test_an_unsigned_entry_is_a_forgery_whatever_its_body(
    case: str, registry: str, published: Path, alice: SigningKey, capsys: Capture
) -> None:
    kind, body = FORGED_BODIES[case]
    signer = {**ALICE, "key": alice.fingerprint()}
    _forge(published, {"type": kind, "time": STAMP, "signer": signer, "body": body, "signature": "forged"})
    with pytest.raises(UserError, match="the registry's log is damaged"):
        resolve(registry, "Demo")
    assert run(["registry", "log", "--registry", registry]) == 2
    assert "log signature does not verify" in capsys.readouterr().err
    problems = verify_registry(registry, NOW).problems
    assert ("REG104", entry_path(3)) in {(p.code, p.subject) for p in problems}, problems


def test_an_unsigned_entry_under_an_unknown_key_or_without_a_signer_is_refused(registry: str, published: Path) -> None:
    body = {"name": "Demo", "version": "1.0.0", "channel": "prod"}
    _forge(published, {"type": "promote", "time": STAMP, "signer": "alice", "body": body, "signature": "forged"})
    with pytest.raises(UserError, match="damaged"):
        resolve(registry, "Demo")
    assert {p.code for p in verify_registry(registry, NOW).problems} == {"REG105"}


def _signed(entry: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    unsigned = {k: v for k, v in entry.items() if k != "signature"}
    return {**unsigned, "signature": key.sign(canonical_json(unsigned).encode(), NAMESPACE_LOG)}


SIGNED_BUT_MALFORMED = {
    "an extra key in the entry": lambda e: {**e, "note": "approved by the CISO"},
    "an extra key in the body": lambda e: {**e, "body": {**e["body"], "approved": True}},
    "an extra key in the signer": lambda e: {**e, "signer": {**e["signer"], "name": "Alice"}},
    "a seq of 3.0": lambda e: {**e, "seq": 3.0},  # equal to 3 in Python, but not an integer
    "an unknown type": lambda e: {**e, "type": "rename"},
    "a channel that is a list": lambda e: {**e, "body": {**e["body"], "channel": ["prod"]}},
}


@pytest.mark.parametrize("case", sorted(SIGNED_BUT_MALFORMED))
def test_a_signed_entry_of_another_shape_is_invalid_and_not_applied(
    case: str, registry: str, published: Path, alice: SigningKey, capsys: Capture
) -> None:
    logs = sorted((published / "log").glob("*.json"))
    entry = {
        "seq": 3,
        "prev": entry_hash(logs[-1].read_bytes()),
        "type": "promote",
        "time": STAMP,
        "signer": {"identity": "alice@example.com", "key": alice.fingerprint()},
        "body": {"name": "Demo", "version": "1.0.0", "channel": "prod"},
    }
    entry = _signed(SIGNED_BUT_MALFORMED[case](entry), alice)
    (published / entry_path(3)).write_bytes(entry_bytes(entry))
    rogue.rederive(published)
    rogue.push(published, "odd entry")
    problems = verify_registry(registry, NOW).problems
    assert ("REG106", entry_path(3)) in {(p.code, p.subject) for p in problems}, problems
    with pytest.raises(UserError, match="no channel 'prod'"):  # the entry is not applied
        resolve(registry, "Demo", channel="prod")
    # `registry log` shows it, as what it is: not applied
    assert log_entries(registry)[-1]["problem"]["code"] == "REG106"
    capsys.readouterr()
    assert run(["registry", "log", "--registry", registry]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "(not applied: REG106" in last and "-> prod" not in last, last


def test_registry_log_marks_every_entry_the_replay_did_not_apply(
    registry: str, published: Path, alice: SigningKey, capsys: Capture
) -> None:
    """A signed entry refused for its content (here: a version not higher than the published one) is in the log
    forever; `registry log` must not present it as a change that happened."""
    body = {
        "name": "Demo",
        "version": "0.9.0",
        "scope": "global",
        "digest": "sha256:" + "0" * 64,
        "path": "packages/Demo/0.9.0",
        "tag": "Demo/v0.9.0",
        "provenance": {
            "signer": {"identity": "alice@example.com", "key": alice.fingerprint()},
            "time": STAMP,
            "source": None,
        },
    }
    rogue.append_entry(published, alice, "alice@example.com", "publish", body, time=STAMP)
    entries = log_entries(registry)
    assert [e["problem"] and e["problem"]["code"] for e in entries] == [None, None, "REG302"]
    assert run(["registry", "log", "--registry", registry]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "not applied" not in "".join(out[:2])
    assert "publish Demo@0.9.0" not in out[2] and "not applied: REG302" in out[2], out[2]
    assert run(["registry", "log", "--registry", registry, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)["result"]["entries"]
    assert shown[2]["problem"]["code"] == "REG302" and shown[0]["problem"] is None


# Property: whatever one value of a valid log becomes (re-signed by its signer, or left with its now-wrong
# signature), the replay never raises, and an entry whose signature no longer verifies is never merely "invalid".


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SigningKey]:
    root = tmp_path_factory.mktemp("shapes")
    return {name: generate_key(root / name, name) for name in ("alice", "bob")}


def _template(keys: dict[str, SigningKey]) -> list[dict[str, Any]]:
    alice, bob = keys["alice"], keys["bob"]
    a = {"identity": "alice@example.com", "key": alice.fingerprint()}
    b = {"identity": "bob@example.com", "key": bob.fingerprint()}
    answer = {
        "changes": [
            {
                "against": "0.9.0",
                "code": "CMP106",
                "kind": "field-made-required",
                "path": "Lead.phone",
                "records": {"total": 3, "affected": 0},
                "shown_safe": True,
            },
            {"against": "0.9.0", "code": "CMP401", "kind": "hard-validation-added", "path": "v:x"},
        ],
        "evidence": {"tenant": "acme"},
        "accepted": "restates the import check",
    }
    bodies: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            "init",
            a,
            {
                "format": 1,
                "admin": {"identity": "alice@example.com", "public_key": alice.public_key(), "scopes": ["*"]},
            },
        ),
        (
            "signer-add",
            a,
            {"identity": "bob@example.com", "public_key": bob.public_key(), "scopes": ["global"], "admin": False},
        ),
        (
            "publish",
            b,
            {
                "name": "A",
                "version": "1.0.0",
                "scope": "global",
                "digest": "sha256:" + "a" * 64,
                "path": "packages/A/1.0.0",
                "tag": "A/v1.0.0",
                "data_dependent": answer,
                "provenance": {
                    "signer": b,
                    "time": STAMP,
                    "source": {"repository": "https://h/r", "commit": "c" * 40, "path": "pkg", "dirty": False},
                },
            },
        ),
        ("promote", b, {"name": "A", "version": "1.0.0", "channel": "prod"}),
        ("signer-remove", a, {"identity": "bob@example.com", "key": bob.fingerprint(), "reason": "left"}),
    ]
    return [
        {"seq": n, "type": kind, "time": STAMP, "signer": signer, "body": body}
        for n, (kind, signer, body) in enumerate(bodies, start=1)
    ]


def _chain(entries: list[dict[str, Any]], keys: dict[str, SigningKey], unsigned: int | None) -> list[bytes]:
    by_fingerprint = {key.fingerprint(): key for key in keys.values()}
    files, prev = [], None
    for position, entry in enumerate(entries, start=1):
        entry = {**entry, "prev": prev} if isinstance(entry, dict) else entry
        if isinstance(entry, dict):
            signer = entry.get("signer")
            fp = signer.get("key") if isinstance(signer, dict) else None
            key = by_fingerprint.get(fp) if isinstance(fp, str) else None
            signature = (key or keys["alice"]).sign(canonical_json(entry).encode(), NAMESPACE_LOG)
            entry = {**entry, "signature": "forged" if position == unsigned else signature}
        data = (canonical_json(entry) + "\n").encode()
        files.append(data)
        prev = entry_hash(data)
    return files


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*at, index))
    return found


def _replaced(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    copied = copy.copy(value)
    copied[at[0]] = _replaced(value[at[0]], at[1:], new)
    return copied


ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["", "*", "ssh-ed25519 AAAA", "ssh-rsa AAAA", "1.0.0", "prod\n", "A" * 300]),
    st.lists(st.sampled_from(["*", "global", 1, None]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "identity", "key", "total"]), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data(), new=ODD, extra=st.booleans(), signed=st.booleans())
def test_no_value_anywhere_in_a_log_crashes_the_replay(
    keys: dict[str, SigningKey], data: st.DataObject, new: Any, extra: bool, signed: bool
) -> None:
    template = _template(keys)
    assert not replay([(entry_path(n), d) for n, d in enumerate(_chain(template, keys, None), 1)]).problems
    position = data.draw(st.integers(min_value=1, max_value=len(template)))
    entry = template[position - 1]
    at = data.draw(st.sampled_from(_paths(entry)))
    target = entry
    for step in at:
        target = target[step]
    if extra and isinstance(target, dict):
        mutated = _replaced(entry, at, {**target, "unexpected": new})
    else:
        mutated = _replaced(entry, at, new)
    entries = [*template[: position - 1], mutated, *template[position:]]
    files = _chain(entries, keys, None if signed else position)
    state = replay([(entry_path(n), d) for n, d in enumerate(files, start=1)])  # never raises
    codes = {p.subject: p.code for p in state.problems}
    assert all(code.startswith("REG1") for code in codes.values()), state.problems
    if not signed and mutated != entry:
        # The entry's signature was made for other bytes: a forgery, never a skipped "invalid" entry.
        assert codes.get(entry_path(position)) in ("REG101", "REG104", "REG105"), state.problems


@pytest.mark.parametrize("kind", [[], {}, ["publish"], {"publish": 1}, 1, None, True])
def test_an_entry_type_that_is_no_text_is_a_problem_not_a_crash(keys: dict[str, SigningKey], kind: Any) -> None:
    # before: a list or object as the type of a validly signed entry raised TypeError (unhashable) in the replay
    template = _template(keys)
    for position in range(1, len(template) + 1):
        entries = [*template[: position - 1], {**template[position - 1], "type": kind}, *template[position:]]
        state = replay([(entry_path(n), d) for n, d in enumerate(_chain(entries, keys, None), start=1)])
        codes = {p.code for p in state.problems if p.subject == entry_path(position)}
        assert codes and all(code.startswith("REG1") for code in codes), state.problems


SAFE = {
    "against": "1.0.0",
    "code": "CMP106",
    "kind": "field-made-required",
    "path": "Lead.phone",
    "records": {"total": 3, "affected": 0},
    "shown_safe": True,
}
OPEN = {"against": "1.0.0", "code": "CMP401", "kind": "hard-validation-added", "path": "validation:x"}
HIT = {**OPEN, "records": {"total": 3, "affected": 2}}


def _answer(*changes: dict[str, Any], evidence: Any = None, accepted: Any = "why") -> dict[str, Any]:
    return {"changes": list(changes), "evidence": evidence, "accepted": accepted}


@pytest.mark.parametrize(
    "value",
    [
        _answer({**OPEN, "note": "x"}),  # a key DataGate.record never writes
        _answer({**OPEN, "against": "latest"}),  # not a version
        _answer({**OPEN, "shown_safe": False}),  # shown_safe is true or absent
        _answer(SAFE, evidence=None, accepted=None),  # shown safe by records, but no evidence was given
        _answer({**SAFE, "records": {"total": 3, "affected": 1}}, evidence={"tenant": "t"}, accepted=None),
        _answer({**OPEN, "records": {"total": 3}}, evidence={"tenant": "t"}),
        _answer({**OPEN, "records": {"total": 3, "affected": 4}}, evidence={"tenant": "t"}),
        _answer({**OPEN, "records": {"total": -1, "affected": 0}}, evidence={"tenant": "t"}),
        _answer({**OPEN, "records": {"total": True, "affected": 0}}, evidence={"tenant": "t"}),
        _answer(HIT, evidence=None),  # record counts without evidence
        _answer(OPEN, evidence={"tenant": "t", "store": "/srv/x.duckdb"}),
        _answer(SAFE, evidence={"tenant": "t"}, accepted="why"),  # nothing left to accept
        _answer(OPEN, accepted="line one\nline two"),  # --accept-data-dependent takes one printable line
        _answer(OPEN, accepted="\x1b]0;x\x07"),
        _answer(OPEN, accepted="x" * 501),
    ],
)
def test_a_data_dependent_answer_has_exactly_the_shape_publish_writes(value: dict[str, Any]) -> None:
    from crmctl.registry.data_gate import check_record

    with pytest.raises(ValueError, match="data_dependent"):
        check_record(value)


@pytest.mark.parametrize(
    "value",
    [
        _answer(OPEN),
        _answer(SAFE, evidence={"tenant": ""}, accepted=None),
        _answer(SAFE, HIT, OPEN, evidence={"tenant": "acme"}),
    ],
)
def test_every_answer_publish_writes_is_accepted(value: dict[str, Any]) -> None:
    from crmctl.registry.data_gate import check_record

    check_record(value)
