"""`registry verify`: every check of docs/registry.md, as a list of problems (empty = clean).

Each published version is loaded once from its canonical artifacts and reused for every pair diff, so the
gates are re-checked in full on every run without any cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.registry.log import entry_path
from crmctl.registry.names import version_key
from crmctl.registry.opening import MARKER, open_registry, remember
from crmctl.registry.trust import Problem
from crmctl.signing import NAMESPACE_PACKAGE, SignatureError, verify

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.registry.opening import Opened
    from crmctl.registry.trust import Version

__all__ = ["VerifyResult", "verify_registry"]

_VERSION_FILES = ("canonical.json", "digest", "signature.sig", "provenance.json", "artifacts/package.json")


@dataclass
class VerifyResult:
    location: str
    registry_id: str | None
    head: str | None
    seq: int
    versions: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "registry": self.registry_id, "head": self.head, "seq": self.seq,
                "versions": self.versions, "ok": self.ok,
                "problems": [p.as_dict() for p in self.problems]}  # fmt: skip


def verify_registry(location: str) -> VerifyResult:
    opened = open_registry(location, strict=False)
    state = opened.state
    problems = list(state.problems)
    if opened.history is not None:
        problems.insert(0, opened.history)
    marker = json.loads(opened.snapshot.read(MARKER) or b"{}")
    if marker.get("registry") != state.registry_id:
        problems.append(Problem("REG107", f"{MARKER} names registry {marker.get('registry')}, the log "
                                          f"{state.registry_id}", MARKER))  # fmt: skip
    versions = [v for name in sorted(state.packages) for v in state.packages[name].values()]
    problems.extend(_check_versions(opened, versions))
    problems.extend(_check_gates(opened, versions))
    problems.extend(_check_derived(opened))
    result = VerifyResult(opened.store.location, state.registry_id, state.head, state.seq, len(versions), problems)
    opened.store.tidy()
    if result.ok and state.registry_id is not None and state.head is not None:
        remember(opened.store.location, state.registry_id, state.seq, state.head)
    return result


def _publishing_commits(opened: Opened) -> dict[str, str]:
    """log/<seq>.json → the commit that added it (first-parent history of main)."""
    out = opened.store.git("log", "--first-parent", "--format=%x00%H", "--name-only", "--diff-filter=A",
                           opened.commit, "--", "log/").stdout.decode()  # fmt: skip
    added: dict[str, str] = {}
    for block in out.split("\0")[1:]:
        commit, *paths = block.split()
        for path in paths:
            added.setdefault(path, commit)
    return added


def _tags(opened: Opened) -> dict[str, str]:
    out = opened.store.git("for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)",
                           "refs/tags").stdout.decode()  # fmt: skip
    tags: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            tags[parts[0]] = parts[2] if len(parts) > 2 else parts[1]
    return tags


def _check_versions(opened: Opened, versions: list[Version]) -> list[Problem]:
    snapshot = opened.snapshot
    tree = snapshot.tree()
    logged = {v.path for v in versions}
    problems = [Problem("REG206", "files of a version that no log entry published", path)
                for path in sorted({"/".join(p.split("/")[:3]) for p in tree if p.startswith("packages/")} - logged)]
    commits, tags = _publishing_commits(opened), _tags(opened)
    wanted = [f"{v.path}/{rel}" for v in versions for rel in ("canonical.json", "digest", "signature.sig")]
    data = snapshot.read_many(wanted)
    trees_now, trees_then = _subtrees(opened, versions, commits)
    for version in versions:
        subject = f"{version.name}@{version.version}"
        missing = [rel for rel in _VERSION_FILES if f"{version.path}/{rel}" not in tree]
        if missing:
            problems.append(Problem("REG201", f"missing {', '.join(missing)}", subject))
        canonical = data[f"{version.path}/canonical.json"]
        if canonical is not None and "sha256:" + hashlib.sha256(canonical).hexdigest() != version.digest:
            problems.append(Problem("REG202", f"canonical.json does not hash to the logged {version.digest}", subject))
        digest_line = data[f"{version.path}/digest"]
        if digest_line is not None and digest_line != (version.digest + "\n").encode():
            problems.append(Problem("REG202", "the digest file differs from the logged digest", subject))
        signature = data[f"{version.path}/signature.sig"]
        signer = _signer_key(opened, version)
        if signature is not None and signer is not None:
            try:
                verify(signature.decode(errors="replace"), (version.digest + "\n").encode(), NAMESPACE_PACKAGE, signer)
            except SignatureError as exc:
                problems.append(Problem("REG204", f"signature.sig does not verify: {exc}", subject))
        published_in = commits.get(entry_path(version.seq))
        if tags.get(version.tag) != published_in or published_in is None:
            what = "is missing" if version.tag not in tags else "does not point at the commit that published it"
            problems.append(Problem("REG205", f"tag {version.tag} {what}", subject))
        if published_in is not None and trees_now.get(version.path) != trees_then.get(version.path):
            problems.append(Problem("REG207", "the version's files changed after it was published", subject))
    return problems


def _subtrees(opened: Opened, versions: list[Version], commits: dict[str, str]) -> tuple[dict[str, str], ...]:
    pairs = [(v.path, commits.get(entry_path(v.seq))) for v in versions]
    names = [f"{opened.commit}:{path}" for path, _ in pairs] + [f"{c or opened.commit}:{p}" for p, c in pairs]
    out = opened.store.git("cat-file", "--batch-check=%(objectname)",
                           stdin="".join(f"{n}\n" for n in names).encode()).stdout.decode().splitlines()  # fmt: skip
    now = {path: out[i] for i, (path, _) in enumerate(pairs)}
    then = {path: out[len(pairs) + i] for i, (path, _) in enumerate(pairs)}
    return now, then


def _signer_key(opened: Opened, version: Version) -> str | None:
    key = version.provenance.get("signer", {}).get("key") if isinstance(version.provenance, dict) else None
    signer = opened.state.signers.get(str(key))
    if signer is None or signer.identity != version.signer:
        entry = opened.state.entries[version.seq - 1] if version.seq <= len(opened.state.entries) else {}
        signer = opened.state.signers.get(str(entry.get("signer", {}).get("key")))
    return signer.public_key if signer is not None else None


def _check_gates(opened: Opened, versions: list[Version]) -> list[Problem]:
    from crmctl.registry.publish import breaking_problems, lint_problems
    from crmctl.registry.versions import load_version

    problems: list[Problem] = []
    loaded: dict[str, Package] = {}
    # One `cat-file --batch` for every version's artifacts instead of a git process per version.
    opened.snapshot.read_many([f"{v.path}/artifacts/{rel}" for v in versions
                               for rel in opened.snapshot.files_under(f"{v.path}/artifacts")])  # fmt: skip
    for version in versions:
        subject = f"{version.name}@{version.version}"
        try:
            loaded[subject] = load_version(opened.snapshot, version)
        except UserError as exc:
            problems.append(Problem("REG203", exc.message, subject))
            continue
        problems.extend(lint_problems(loaded[subject], subject))
    by_name: dict[str, list[Version]] = {}
    for version in versions:
        by_name.setdefault(version.name, []).append(version)
    for name, group in by_name.items():
        ordered = sorted(group, key=lambda v: v.seq)
        for index, new in enumerate(ordered):
            new_pkg = loaded.get(f"{name}@{new.version}")
            if new_pkg is None:
                continue
            for old in ordered[:index]:
                if version_key(old.version) >= version_key(new.version):
                    continue  # reported by the log replay (REG302)
                old_pkg = loaded.get(f"{name}@{old.version}")
                if old_pkg is not None:
                    problems.extend(breaking_problems(old_pkg, new_pkg, f"{name}@{new.version}", old.version))
    return problems


def _check_derived(opened: Opened) -> list[Problem]:
    state = opened.state
    problems: list[Problem] = []
    found = opened.snapshot.read_many(["index.json", "trust/allowed_signers"])
    if found["index.json"] != state.index_bytes():
        problems.append(Problem("REG401", "index.json differs from what the log says", "index.json"))
    if found["trust/allowed_signers"] != state.allowed_signers():
        problems.append(Problem("REG402", "trust/allowed_signers differs from what the log says",
                                "trust/allowed_signers"))  # fmt: skip
    return problems
