"""`registry verify`: every check of docs/registry.md, as a list of problems (empty = clean).

Each published version is loaded once from its canonical artifacts and reused for every pair diff, so the
gates are re-checked in full on every run without any cache.

Git history is part of what is verified (`_walk`): `main` is linear, a commit adds at most one log entry file, the
next one, and no commit changes, deletes or re-adds an earlier one. That is what makes "the commit that published
a version" well defined (the one commit that ever added its entry), and a version's directory must not change
after that commit. (A commit that adds no entry is allowed when it touches neither: the next change rewrites the
derived files a stray commit may have broken, and anything else it leaves is reported at the head.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmctl.errors import UserError
from crmctl.model.canonical import digest_like
from crmctl.registry.log import CLOCK_SKEW, entry_path, format_time, parse_time
from crmctl.registry.names import version_key
from crmctl.registry.opening import MARKER, open_registry, remember
from crmctl.registry.trust import Problem
from crmctl.registry.versions import provenance_bytes
from crmctl.registry.writing import marker_bytes
from crmctl.signing import NAMESPACE_PACKAGE, SignatureError, verify

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.registry.opening import Opened
    from crmctl.registry.trust import RegistryState, Version

__all__ = ["VerifyResult", "verify_registry"]

_VERSION_FILES = ("canonical.json", "digest", "signature.sig", "provenance.json", "artifacts/package.json")
# What a publish writes in a version's directory besides the artifacts, and the artifacts' names.
_FIXED_FILES = frozenset(("canonical.json", "digest", "signature.sig", "provenance.json"))
_ARTIFACT = re.compile(r"artifacts/(?:package|schema|ui|rules|validations|workflow|events|localization/[^/]+)\.json")
_TOP_FILES = frozenset((MARKER, "index.json", "trust/allowed_signers"))
_ENTRY_FILE = re.compile(r"log/[0-9]{8}\.json")
_PLAIN_FILE = "100644"


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
        return {
            "location": self.location,
            "registry": self.registry_id,
            "head": self.head,
            "seq": self.seq,
            "versions": self.versions,
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
        }


def verify_registry(location: str, now: datetime) -> VerifyResult:
    """Every check, at the registry's current head; `now` is the verifying clock (entries may not lie ahead of it
    by more than CLOCK_SKEW)."""
    opened = open_registry(location, strict=False)
    state = opened.state
    problems = list(state.problems)
    if opened.history is not None:
        problems.insert(0, opened.history)
    problems.extend(_check_marker(opened))
    problems.extend(_future_entries(state, now))
    versions = [v for name in sorted(state.packages) for v in state.packages[name].values()]
    history = _walk(opened)
    problems.extend(history.problems)
    problems.extend(_check_layout(opened, versions))
    problems.extend(_check_versions(opened, versions, history))
    problems.extend(_check_gates(opened, versions))
    problems.extend(_check_derived(opened))
    result = VerifyResult(opened.store.location, state.registry_id, state.head, state.seq, len(versions), problems)
    opened.store.tidy()
    if result.ok and state.registry_id is not None and state.head is not None:
        remember(opened.store.location, state.registry_id, state.seq, state.head)
    return result


def _check_marker(opened: Opened) -> list[Problem]:
    data = opened.snapshot.read(MARKER) or b""
    registry_id = opened.state.registry_id
    if registry_id is None or data == marker_bytes(registry_id, opened.state.format):
        return []
    try:
        marker = json.loads(data)
    except ValueError:  # pragma: no cover - opening the registry refused a marker that is not JSON
        marker = None
    shown = str(marker.get("registry"))[:80] if isinstance(marker, dict) else None
    if shown != registry_id:
        return [Problem("REG107", f"{MARKER} names registry {shown}, the log {registry_id}", MARKER)]
    return [Problem("REG107", f"{MARKER} is not exactly what `registry init` writes for this registry", MARKER)]


def _future_entries(state: RegistryState, now: datetime) -> list[Problem]:
    """Entries dated after the verifying clock (by more than the allowed skew): by a wrong clock, or forged."""
    limit = now + CLOCK_SKEW
    problems = []
    for entry in state.entries:
        time, seq = entry.get("time"), entry.get("seq")
        when = parse_time(time) if isinstance(time, str) else None
        if when is not None and when > limit:
            subject = entry_path(seq) if isinstance(seq, int) and not isinstance(seq, bool) else "log"
            problems.append(
                Problem(
                    "REG109",
                    f"time {time} is in the future (this clock: {format_time(now)}, "
                    f"allowed skew {int(CLOCK_SKEW.total_seconds() // 60)} minutes)",
                    subject,
                )
            )
    return problems


@dataclass
class _History:
    """What the first-parent history of `main` says: which commit added each entry, who touched each directory."""

    order: dict[str, int]  # commit -> position on main, from 0 (the genesis commit)
    added: dict[str, str]  # log/<seq>.json -> the commit that first added it
    touched: dict[str, list[str]]  # packages/<name>/<version> -> every commit that changed something below it
    problems: list[Problem]


def _walk(opened: Opened) -> _History:
    """Walk `main` from its first commit: a commit adds at most one log entry, the next, and nothing else in `log/`;
    it never changes, deletes or re-adds an earlier entry; and it has one parent (crmctl never merges)."""
    out = opened.store.git(
        "log",
        "--first-parent",
        "-m",
        "--reverse",
        "--root",
        "--no-renames",
        "--name-status",
        "-z",
        "--format=%x01%H %P",
        opened.commit,
    ).stdout
    history = _History({}, {}, {}, [])
    next_seq = 1
    for position, block in enumerate(out.split(b"\x01")[1:]):
        header, _, changes = block.partition(b"\0")
        commit, *parents = header.decode().split()
        history.order[commit] = position
        fields = changes.lstrip(b"\n").decode(errors="surrogateescape").split("\0")
        wrong: list[str] = ["it is a merge commit"] if len(parents) > 1 else []
        new: list[str] = []
        for status, path in zip(fields[0::2], fields[1::2], strict=False):
            if path.startswith("packages/"):
                history.touched.setdefault("/".join(path.split("/")[:3]), []).append(commit)
            if _ENTRY_FILE.fullmatch(path) is None:
                continue  # not an entry's file: reported at the head if it is still there (REG403)
            earlier = history.added.get(path)
            if earlier is None and status == "A":
                history.added[path] = commit
                new.append(path)
            else:
                what = {"A": "re-adds", "D": "deletes"}.get(status, "changes")
                wrong.append(f"it {what} {path}" + (f", first added by commit {earlier[:12]}" if earlier else ""))
        expected = entry_path(next_seq)
        if new and new != [expected]:
            wrong.append(f"it adds {', '.join(new)} where only {expected} was due")
        numbers = [int(path[4:12]) for path in new if _ENTRY_FILE.fullmatch(path)]
        next_seq = max([next_seq, *(n + 1 for n in numbers)])
        if wrong:
            history.problems.append(
                Problem(
                    "REG502",
                    f"{'; '.join(wrong)} (main is linear, and each commit adds "
                    "at most one log entry, the next, and changes no earlier one)",
                    f"commit {commit[:12]}",
                )
            )
    return history


def _tags(opened: Opened) -> dict[str, str]:
    out = opened.store.git(
        "for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", "refs/tags"
    ).stdout.decode(errors="replace")
    tags: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            tags[parts[0]] = parts[2] if len(parts) > 2 else parts[1]
    return tags


def _check_layout(opened: Opened, versions: list[Version]) -> list[Problem]:
    """Every entry of the tree is part of the documented layout and a plain file (no symlink, executable bit,
    submodule): anything else (a `.gitattributes` that rewrites line endings on checkout, say) is reported."""
    published = {v.path for v in versions}
    problems: list[Problem] = []
    unpublished: set[str] = set()
    for path, mode in sorted(opened.snapshot.modes().items()):
        if mode != _PLAIN_FILE:
            what = {"120000": "a symlink", "100755": "an executable file", "160000": "a submodule"}.get(mode, mode)
            problems.append(Problem("REG403", f"{what}, not a plain file", path))
            continue
        if path.startswith("packages/"):
            directory = "/".join(path.split("/")[:3])
            rel = path[len(directory) + 1 :]
            if directory not in published:
                unpublished.add(directory)
            elif rel not in _FIXED_FILES and _ARTIFACT.fullmatch(rel) is None:
                problems.append(
                    Problem("REG206", "a file the publish did not write, in a published version's directory", path)
                )
        elif path not in _TOP_FILES and _ENTRY_FILE.fullmatch(path) is None:
            problems.append(
                Problem("REG403", "a file that is not part of a registry's layout (docs/registry.md)", path)
            )
    problems.extend(
        Problem("REG206", "files of a version that no log entry published", directory)
        for directory in sorted(unpublished)
    )
    return problems


def _check_versions(opened: Opened, versions: list[Version], history: _History) -> list[Problem]:
    snapshot = opened.snapshot
    tree = snapshot.tree()
    problems: list[Problem] = []
    tags = _tags(opened)
    rels = ("canonical.json", "digest", "signature.sig", "provenance.json")
    data = snapshot.read_many([f"{v.path}/{rel}" for v in versions for rel in rels])
    for version in versions:
        subject = f"{version.name}@{version.version}"
        missing = [rel for rel in _VERSION_FILES if f"{version.path}/{rel}" not in tree]
        if missing:
            problems.append(Problem("REG201", f"missing {', '.join(missing)}", subject))
        canonical = data[f"{version.path}/canonical.json"]
        if canonical is not None and digest_like(canonical, version.digest) != version.digest:
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
        provenance = data[f"{version.path}/provenance.json"]
        if provenance is not None and provenance != provenance_bytes(version.provenance):
            problems.append(
                Problem("REG208", "provenance.json differs from the provenance in the publish entry", subject)
            )
        published_in = history.added.get(entry_path(version.seq))
        if tags.get(version.tag) != published_in or published_in is None:
            what = "is missing" if version.tag not in tags else "does not point at the commit that published it"
            problems.append(Problem("REG205", f"tag {version.tag} {what}", subject))
        if published_in is not None:
            later = [c for c in history.touched.get(version.path, []) if history.order[c] > history.order[published_in]]
            if later:
                problems.append(
                    Problem(
                        "REG207",
                        f"the version's files changed after it was published (commit "
                        f"{later[0][:12]}, published by {published_in[:12]})",
                        subject,
                    )
                )
    return problems


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
    opened.snapshot.read_many(
        [f"{v.path}/artifacts/{rel}" for v in versions for rel in opened.snapshot.files_under(f"{v.path}/artifacts")]
    )
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
        problems.append(
            Problem("REG402", "trust/allowed_signers differs from what the log says", "trust/allowed_signers")
        )
    return problems
