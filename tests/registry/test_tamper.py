"""An attacker with write access to a real registry: every tampering is found by `registry verify`.

Each case clones the registry's bare repository, edits it as a person with push rights could (new commits,
force-pushed branches and tags, forged entries signed with a key that is trusted for something else), pushes,
and asserts that `crmctl registry verify` exits 1 naming the problem, and that the other commands refuse where
docs/registry.md says they must: every command but verify refuses a damaged log (REG101-REG105) or rewritten
history (REG501), `resolve` refuses an index that does not match the log, and a version whose artifacts no
longer match the log cannot be used by `diff --against registry:` (`open_version_tree`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.errors import UserError
from crmctl.registry import open_version_tree
from crmctl.registry.log import entry_bytes, entry_hash, entry_path, make_entry
from crmctl.registry.ops import add_signer, init_registry, promote
from crmctl.registry.publish import prepare, publish
from crmctl.signing import NAMESPACE_PACKAGE, SigningKey, generate_key
from tests.registry.conftest import LEAD_V1, LEAD_V2, NOW, demo

LEAD = "packages/LeadLifecycle"
Capture = pytest.CaptureFixture[str]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: LeadLifecycle 1.0.0 and 1.1.0 published, 1.1.0 promoted to prod, bob trusted for tenant:acme.

    Log: 1 init (alice, admin of *), 2 publish 1.0.0, 3 publish 1.1.0, 4 promote 1.1.0 -> prod, 5 signer-add bob.
    """
    root = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CRMCTL_CACHE_DIR", str(root / "cache"))
        env.setenv("CRMCTL_STATE_DIR", str(root / "state"))
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        env.setenv("GIT_CONFIG_GLOBAL", str(root / "gitconfig"))
        alice = generate_key(root / "keys" / "alice", "alice@example.com")
        bob = generate_key(root / "keys" / "bob", "bob@example.com")
        generate_key(root / "keys" / "mallory", "mallory@example.com")
        location = str(root / "reg")
        init_registry(location, alice, "alice@example.com", NOW)
        publish(location, LEAD_V1, alice, NOW)
        publish(location, LEAD_V2, alice, NOW)
        promote(location, alice, NOW, name="LeadLifecycle", version="1.1.0", channel="prod")
        add_signer(
            location,
            alice,
            NOW,
            identity="bob@example.com",
            public_key=bob.public_key(),
            scopes=["tenant:acme"],
            admin=False,
        )
    return root


@dataclass
class Attacker:
    """A plain (non-bare) clone of the registry with push rights, and the keys the attack may use."""

    registry: str
    clone: Path
    keys: Path
    tmp: Path

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", "-C", str(self.clone), *args], capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def key(self, name: str) -> SigningKey:
        return SigningKey.load(self.keys / name)

    def commit_and_push(self, message: str = "tamper") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", "origin", "HEAD:main")

    def entry(self, seq: int) -> dict[str, object]:
        return dict(json.loads((self.clone / entry_path(seq)).read_bytes()))

    def write_entry(self, seq: int, entry: dict[str, object]) -> None:
        (self.clone / entry_path(seq)).write_bytes(entry_bytes(entry))

    def head_hash(self) -> str:
        last = sorted((self.clone / "log").iterdir())[-1]
        return entry_hash(last.read_bytes())


@pytest.fixture
def attacker(template: Path, tmp_path: Path, capsys: Capture) -> Iterator[Attacker]:
    location = tmp_path / "reg"
    shutil.copytree(template / "reg", location)
    clone = tmp_path / "attacker"
    subprocess.run(["git", "clone", "-q", str(location), str(clone)], check=True)
    # Sanity, and the client's remembered head: the untouched registry verifies clean first.
    code, out = _verify(str(location), capsys)
    assert code == 0 and out["ok"] is True and out["seq"] == 5, out
    yield Attacker(str(location), clone, template / "keys", tmp_path)


def _verify(registry: str, capsys: Capture) -> tuple[int, dict[str, object]]:
    code = run(["registry", "verify", "--registry", registry, "--format", "json"])
    result: dict[str, object] = json.loads(capsys.readouterr().out)["result"]
    return code, result


def _problems(registry: str, capsys: Capture) -> list[tuple[str, str]]:
    code, out = _verify(registry, capsys)
    assert code == 1, out
    problems = out["findings"]
    assert isinstance(problems, list)
    return [(p["code"], f"{p['subject']}: {p['message']}") for p in problems]


# --- the mutations -------------------------------------------------------------------------------------------


def edit_artifact(a: Attacker) -> None:
    schema = a.clone / LEAD / "1.0.0" / "artifacts" / "schema.json"
    document = json.loads(schema.read_text())
    document["entities"]["Lead"]["fields"]["backdoor"] = {"type": "text"}
    schema.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    a.commit_and_push("fix a typo")


def edit_canonical_and_digest(a: Attacker) -> None:
    version = a.clone / LEAD / "1.1.0"
    canonical = (version / "canonical.json").read_bytes().replace(b'"1.1.0"', b'"9.9.9"', 1)
    (version / "canonical.json").write_bytes(canonical)
    (version / "digest").write_text(f"{entry_hash(canonical)}\n")
    a.commit_and_push()


def edit_canonical_digest_and_log(a: Attacker) -> None:
    """As above, and the publish entry's digest too: now the log entry's own signature breaks."""
    edit_canonical_and_digest(a)
    entry = a.entry(3)
    entry["body"]["digest"] = (a.clone / LEAD / "1.1.0" / "digest").read_text().strip()  # type: ignore[index]
    a.write_entry(3, entry)
    a.commit_and_push()


def swap_signature_with_other_version(a: Attacker) -> None:
    shutil.copy(a.clone / LEAD / "1.0.0" / "signature.sig", a.clone / LEAD / "1.1.0" / "signature.sig")
    a.commit_and_push()


def swap_signature_with_other_key(a: Attacker) -> None:
    version = a.clone / LEAD / "1.1.0"
    forged = a.key("mallory").sign((version / "digest").read_bytes(), NAMESPACE_PACKAGE)
    (version / "signature.sig").write_text(forged)
    a.commit_and_push()


def delete_log_entry(a: Attacker) -> None:
    (a.clone / entry_path(4)).unlink()
    a.commit_and_push()


def reorder_log_entries(a: Attacker) -> None:
    """Entries 2 and 3 trade places, renumbered so each file's seq matches its name."""
    two, three = a.entry(2), a.entry(3)
    two["seq"], three["seq"] = 3, 2
    a.write_entry(2, three)
    a.write_entry(3, two)
    a.commit_and_push()


def edit_entry_time(a: Attacker) -> None:
    entry = a.entry(2)
    entry["time"] = "2020-01-01T00:00:00Z"
    a.write_entry(2, entry)
    a.commit_and_push()


def edit_entry_signer(a: Attacker) -> None:
    entry = a.entry(3)
    entry["signer"] = {"identity": "bob@example.com", "key": a.key("bob").fingerprint()}
    a.write_entry(3, entry)
    a.commit_and_push()


def move_tag(a: Attacker) -> None:
    a.git("tag", "-f", "-a", "-m", "moved", "LeadLifecycle/v1.0.0", "HEAD")
    a.git("push", "-q", "-f", "origin", "refs/tags/LeadLifecycle/v1.0.0")


def delete_tag(a: Attacker) -> None:
    a.git("push", "-q", "origin", ":refs/tags/LeadLifecycle/v1.1.0")


def delete_version_directory(a: Attacker) -> None:
    a.git("rm", "-q", "-r", f"{LEAD}/1.0.0")
    a.commit_and_push("remove an old version")


def forge_publish_by_tenant_signer(a: Attacker) -> None:
    """bob is trusted for tenant:acme only; he publishes a global package with a perfectly formed entry."""
    bob = a.key("bob")
    prepared = prepare(demo(a.tmp / "forged", "1.0.0", name="Payroll"))
    path, tag = "packages/Payroll/1.0.0", "Payroll/v1.0.0"
    provenance = {
        "signer": {"identity": "bob@example.com", "key": bob.fingerprint()},
        "time": "2026-11-26T09:30:00Z",
        "source": None,
    }
    digest_line = (prepared.digest + "\n").encode()
    files = {
        "canonical.json": prepared.canonical,
        "digest": digest_line,
        "signature.sig": bob.sign(digest_line, NAMESPACE_PACKAGE).encode(),
        "provenance.json": (json.dumps(provenance, indent=2, sort_keys=True) + "\n").encode(),
        **{f"artifacts/{rel}": data for rel, data in prepared.artifacts.items()},
    }
    for rel, data in files.items():
        (a.clone / path / rel).parent.mkdir(parents=True, exist_ok=True)
        (a.clone / path / rel).write_bytes(data)
    body = {
        "name": "Payroll",
        "version": "1.0.0",
        "scope": "global",
        "digest": prepared.digest,
        "path": path,
        "tag": tag,
        "provenance": provenance,
    }
    entry = make_entry(6, a.head_hash(), "publish", body, identity="bob@example.com", key=bob, now=NOW)
    a.write_entry(6, entry)
    _forge_index(
        a,
        entry,
        {
            "Payroll": {
                "scope": "global",
                "latest": "1.0.0",
                "channels": {},
                "versions": {
                    "1.0.0": {"digest": prepared.digest, "seq": 6, "time": entry["time"], "signer": "bob@example.com"}
                },
            }
        },
    )
    a.commit_and_push("publish Payroll 1.0.0")
    a.git("tag", "-a", "-m", "publish Payroll 1.0.0", tag, "HEAD")
    a.git("push", "-q", "origin", f"refs/tags/{tag}")


def forge_signer_add_by_non_admin(a: Attacker) -> None:
    """bob (not an admin) grants mallory every scope."""
    body = {
        "identity": "mallory@example.com",
        "public_key": a.key("mallory").public_key(),
        "scopes": ["*"],
        "admin": True,
    }
    entry = make_entry(6, a.head_hash(), "signer-add", body, identity="bob@example.com", key=a.key("bob"), now=NOW)
    a.write_entry(6, entry)
    _forge_index(a, entry, {})
    a.commit_and_push("signer add mallory")


def _forge_index(a: Attacker, entry: dict[str, object], packages: dict[str, object]) -> None:
    """What a careful attacker does so that readers of index.json see a consistent registry."""
    index = json.loads((a.clone / "index.json").read_text())
    index["log"] = {"seq": entry["seq"], "head": entry_hash(entry_bytes(entry))}
    index["packages"].update(packages)
    (a.clone / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def index_not_json(a: Attacker) -> None:
    (a.clone / "index.json").write_text('{"format": 1, "packages": ')
    a.commit_and_push()


def index_wrong_log_head(a: Attacker) -> None:
    index = json.loads((a.clone / "index.json").read_text())
    index["log"]["head"] = "sha256:" + "0" * 64
    (a.clone / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    a.commit_and_push()


def index_wrong_version_digest(a: Attacker) -> None:
    index = json.loads((a.clone / "index.json").read_text())
    index["packages"]["LeadLifecycle"]["versions"]["1.1.0"]["digest"] = "sha256:" + "0" * 64
    (a.clone / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    a.commit_and_push()


def index_channel_redirected(a: Attacker) -> None:
    """prod points at 1.1.0 in the log; the attacker points it at 1.0.0 in index.json only."""
    index = json.loads((a.clone / "index.json").read_text())
    index["packages"]["LeadLifecycle"]["channels"]["prod"] = "1.0.0"
    (a.clone / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    a.commit_and_push()


def rollback_force_push(a: Attacker) -> None:
    """Drop every commit from the 1.1.0 publish on (and its tag), as if 1.1.0 had never existed."""
    published_v1 = a.git("log", "--format=%H", "-1", "--", entry_path(2))
    a.git("reset", "-q", "--hard", published_v1)
    a.git("push", "-q", "-f", "origin", "HEAD:main", ":refs/tags/LeadLifecycle/v1.1.0")


def rewrite_with_valid_entries(a: Attacker) -> None:
    """A trusted signer rewrites history: the promotion of 1.1.0 is replaced by a validly signed promotion of
    1.0.0. The new log is flawless; only a client's memory of the old head can tell."""
    promoted = a.git("log", "--format=%H", "-1", "--", entry_path(4))
    a.git("push", "-q", "-f", "origin", f"{promoted}~1:refs/heads/main")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CRMCTL_CACHE_DIR", str(a.tmp / "other-cache"))
        env.setenv("CRMCTL_STATE_DIR", str(a.tmp / "other-state"))
        promote(a.registry, a.key("alice"), NOW, name="LeadLifecycle", version="1.0.0", channel="prod")


@dataclass(frozen=True)
class Case:
    mutate: Callable[[Attacker], None]
    expected: dict[str, str]  # code -> a fragment of "subject: message" of one problem with that code
    # Exit codes of `publish` (an unrelated new package) and `resolve LeadLifecycle --channel prod`, when the
    # documentation says they must refuse; None = not asserted (the docs do not require a refusal).
    publish: int | None = None
    resolve: int | None = None
    refuse_tree: str | None = field(default=None)  # a version `open_version_tree` must refuse


CASES = {
    "artifact-edited": Case(
        edit_artifact, {"REG203": "LeadLifecycle@1.0.0", "REG207": "changed after"}, refuse_tree="1.0.0"
    ),
    "canonical-and-digest-edited": Case(
        edit_canonical_and_digest,
        {"REG202": "canonical.json does not hash to the logged", "REG207": "LeadLifecycle@1.1.0"},
    ),
    "canonical-digest-and-log-edited": Case(
        edit_canonical_digest_and_log,
        {"REG104": "log/00000003.json", "REG103": "log/00000004.json", "REG206": "packages/LeadLifecycle/1.1.0"},
        publish=2,
        refuse_tree="1.1.0",
    ),
    "signature-of-another-version": Case(swap_signature_with_other_version, {"REG204": "LeadLifecycle@1.1.0"}),
    "signature-of-another-key": Case(swap_signature_with_other_key, {"REG204": "LeadLifecycle@1.1.0"}),
    "log-entry-deleted": Case(delete_log_entry, {"REG102": "", "REG103": "log/00000005.json"}, publish=2),
    "log-entries-reordered": Case(reorder_log_entries, {"REG103": "log/00000002.json"}, publish=2),
    "log-entry-time-edited": Case(
        edit_entry_time, {"REG104": "log/00000002.json", "REG103": "log/00000003.json"}, publish=2
    ),
    "log-entry-signer-edited": Case(
        edit_entry_signer, {"REG105": "log/00000003.json: signed by an unknown key"}, publish=2
    ),
    "tag-moved": Case(move_tag, {"REG205": "tag LeadLifecycle/v1.0.0 does not point at the commit"}),
    "tag-deleted": Case(delete_tag, {"REG205": "tag LeadLifecycle/v1.1.0 is missing"}),
    "version-directory-deleted": Case(
        delete_version_directory,
        {"REG201": "LeadLifecycle@1.0.0: missing", "REG207": "LeadLifecycle@1.0.0"},
        refuse_tree="1.0.0",
    ),
    "publish-by-signer-of-another-tenant": Case(
        forge_publish_by_tenant_signer, {"REG105": "log/00000006.json"}, publish=2
    ),
    "signer-add-by-non-admin": Case(forge_signer_add_by_non_admin, {"REG105": "log/00000006.json"}, publish=2),
    "index-not-json": Case(index_not_json, {"REG401": "index.json differs"}, resolve=2),
    "index-wrong-log-head": Case(index_wrong_log_head, {"REG401": "index.json differs"}, resolve=2),
    "index-wrong-version-digest": Case(index_wrong_version_digest, {"REG401": "index.json differs"}),
    "index-channel-redirected": Case(index_channel_redirected, {"REG401": "index.json differs"}, resolve=2),
    "history-rolled-back": Case(
        rollback_force_push, {"REG501": "history rewritten or rolled back"}, publish=2, resolve=2
    ),
    "history-rewritten-with-valid-entries": Case(
        rewrite_with_valid_entries, {"REG501": "log/00000005.json"}, publish=2, resolve=2
    ),
}


PARAMS = [pytest.param(case, id=name) for name, case in CASES.items()]


@pytest.mark.parametrize("case", PARAMS)
def test_tampering_is_detected(case: Case, attacker: Attacker, capsys: Capture) -> None:
    case.mutate(attacker)
    problems = _problems(attacker.registry, capsys)
    for code, fragment in case.expected.items():
        found = [text for c, text in problems if c == code]
        assert any(fragment in text for text in found), (code, fragment, problems)
    if case.publish is not None:
        alice = attacker.keys / "alice"
        package = demo(attacker.tmp / "new", "1.0.0", name="Other")
        before = _refs(attacker.registry)
        published = run(["publish", str(package), "--registry", attacker.registry, "--key", str(alice)])
        err = capsys.readouterr().err
        assert published == case.publish, err
        assert "verify" in err  # every refusal points at `crmctl registry verify`
        assert _refs(attacker.registry) == before
    if case.resolve is not None:
        resolved = run(["resolve", "LeadLifecycle", "--channel", "prod", "--registry", attacker.registry])
        captured = capsys.readouterr()
        assert resolved == case.resolve and captured.out == "", captured
        assert "verify" in captured.err
    if case.refuse_tree is not None:
        with pytest.raises(UserError) as refused:
            open_version_tree(attacker.registry, "LeadLifecycle", case.refuse_tree)
        assert "registry verify" in str(refused.value.hint)


def _refs(registry: str) -> str:
    return subprocess.run(["git", "ls-remote", registry], capture_output=True, text=True, check=True).stdout


def test_verify_lists_every_problem_of_several_tamperings_at_once(attacker: Attacker, capsys: Capture) -> None:
    delete_tag(attacker)
    swap_signature_with_other_key(attacker)
    edit_artifact(attacker)
    codes = {code for code, _ in _problems(attacker.registry, capsys)}
    assert {"REG203", "REG204", "REG205", "REG207"} <= codes


def test_rollback_is_invisible_to_a_client_without_memory_but_not_to_one_that_verified(
    attacker: Attacker, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remembered head is what catches a clean rollback: a fresh client sees a valid, shorter registry."""
    rollback_force_push(attacker)
    assert "REG501" in {code for code, _ in _problems(attacker.registry, capsys)}
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(attacker.tmp / "fresh-state"))
    code, out = _verify(attacker.registry, capsys)
    assert code == 0 and out["seq"] == 2
