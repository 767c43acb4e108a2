"""The registry's tree holds the documented layout and nothing else; a publish writes its directory from nothing.

- Files planted at a future version's path were adopted by the legitimate publish of that version (signed and
  tagged with it). A publish now removes whatever its directory held: afterwards the directory holds exactly the
  files the publish wrote.
- An unknown file anywhere (a `.gitattributes` with `eol=crlf` breaks the documented `ssh-keygen` check in every
  clone) went unreported. `verify` now reports every file outside the layout (REG403; REG206 below `packages/`)
  and every entry that is not a plain file (a symlink, an executable, a submodule).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from crmctl.registry.publish import prepare, publish
from crmctl.registry.query import resolve
from crmctl.registry.verify import verify_registry
from crmctl.signing import SigningKey
from tests.registry import rogue
from tests.registry.conftest import NOW, demo

V1 = "packages/Demo/1.0.0"
V2 = "packages/Demo/2.0.0"


@pytest.fixture
def clone(registry: str, alice: SigningKey, tmp_path: Path) -> Path:
    publish(registry, demo(tmp_path / "v1", "1.0.0"), alice, NOW)
    return rogue.clone(registry, tmp_path / "rogue")


def _write(repo: Path, rel: str, data: bytes | str = "planted\n") -> None:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_bytes(data.encode() if isinstance(data, str) else data)


def _submodule(repo: Path, rel: str) -> None:
    (repo / rel).mkdir(parents=True)  # as an uninitialized submodule is checked out: an empty directory
    commit = rogue.git(repo, "rev-parse", "HEAD")
    rogue.git(repo, "update-index", "--add", "--cacheinfo", f"160000,{commit},{rel}")


def _tree(registry: str, directory: str) -> set[str]:
    out = rogue.git(Path(registry), "ls-tree", "-r", "--name-only", "main", "--", directory)
    return {line.removeprefix(directory + "/") for line in out.splitlines()}


def _published_files(package: Path) -> set[str]:
    rels = {"canonical.json", "digest", "signature.sig", "provenance.json"}
    return rels | {f"artifacts/{rel}" for rel in prepare(package).artifacts}


PLANTS: dict[str, Callable[[Path], None]] = {
    "extra-files": lambda r: [_write(r, f"{V2}/{rel}") for rel in ("install.sh", "artifacts/notes.txt", ".keep")],
    "forged-files": lambda r: [
        _write(r, f"{V2}/{rel}", "{}") for rel in ("canonical.json", "provenance.json", "artifacts/rules.json")
    ],
    "gitattributes": lambda r: _write(r, f"{V2}/.gitattributes", "* text eol=crlf\n"),
    "a-file-in-the-directory's-place": lambda r: _write(r, V2),
    "a-file-in-the-package's-place": lambda r: _write(r, "packages/Other"),
    "symlink": lambda r: (r / V2).mkdir(parents=True) or (r / V2 / "canonical.json").symlink_to("../1.0.0/digest"),
    "submodule": lambda r: _submodule(r, f"{V2}/artifacts/vendor"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_files_planted_at_a_future_version_are_not_adopted_by_its_publish(
    registry: str, clone: Path, alice: SigningKey, tmp_path: Path, plant: str
) -> None:
    PLANTS[plant](clone)
    rogue.push(clone, "plant")
    before = {p.code for p in verify_registry(registry, NOW).problems}
    assert before and before <= {"REG206", "REG403"}, before
    name = "Other" if "package" in plant else "Demo"
    package = demo(tmp_path / "v2", "2.0.0" if name == "Demo" else "1.0.0", name=name)
    publish(registry, package, alice, NOW)
    directory = V2 if name == "Demo" else "packages/Other/1.0.0"
    assert _tree(registry, directory) == _published_files(package)
    assert verify_registry(registry, NOW).ok
    assert resolve(registry, name).version == ("2.0.0" if name == "Demo" else "1.0.0")


LAYOUT: dict[str, tuple[Callable[[Path], None], set[tuple[str, str]]]] = {
    "root-gitattributes": (lambda r: _write(r, ".gitattributes", "* text eol=crlf\n"), {("REG403", ".gitattributes")}),
    "root-readme": (lambda r: _write(r, "README.md"), {("REG403", "README.md")}),
    "trust-extra": (lambda r: _write(r, "trust/allowed_signers.orig"), {("REG403", "trust/allowed_signers.orig")}),
    "log-readme": (lambda r: _write(r, "log/README"), {("REG403", "log/README")}),
    "log-backup": (lambda r: _write(r, "log/00000001.json.bak"), {("REG403", "log/00000001.json.bak")}),
    "log-subdirectory": (lambda r: _write(r, "log/old/00000009.json"), {("REG403", "log/old/00000009.json")}),
    "log-gitattributes": (
        lambda r: _write(r, "log/.gitattributes", "*.json -text\n"),
        {("REG403", "log/.gitattributes")},
    ),
    "version-gitattributes": (
        lambda r: _write(r, f"{V1}/.gitattributes", "* text eol=crlf\n"),
        {("REG206", f"{V1}/.gitattributes"), ("REG207", "Demo@1.0.0")},
    ),
    "version-notes": (
        lambda r: _write(r, f"{V1}/artifacts/notes.txt"),
        {("REG206", f"{V1}/artifacts/notes.txt"), ("REG207", "Demo@1.0.0")},
    ),
    "version-yaml-artifact": (
        lambda r: _write(r, f"{V1}/artifacts/rules.yaml", "rules: []\n"),
        {("REG206", f"{V1}/artifacts/rules.yaml"), ("REG207", "Demo@1.0.0"), ("REG203", "Demo@1.0.0")},
    ),
    "packages-readme": (lambda r: _write(r, "packages/README"), {("REG206", "packages/README")}),
    "executable": (lambda r: (r / V1 / "digest").chmod(0o755), {("REG403", f"{V1}/digest"), ("REG207", "Demo@1.0.0")}),
    "symlink": (
        lambda r: (
            (r / "trust" / "allowed_signers").unlink()
            or (r / "trust" / "allowed_signers").symlink_to("../log/00000001.json")
        ),
        {("REG403", "trust/allowed_signers"), ("REG402", "trust/allowed_signers")},
    ),
    "submodule": (lambda r: _submodule(r, "vendor"), {("REG403", "vendor")}),
}


@pytest.mark.parametrize("case", sorted(LAYOUT))
def test_anything_outside_the_layout_is_reported(registry: str, clone: Path, case: str) -> None:
    plant, expected = LAYOUT[case]
    plant(clone)
    rogue.push(clone, "add a file")
    problems = verify_registry(registry, NOW).problems
    assert {(p.code, p.subject) for p in problems} == expected, problems
    # Nothing of this damages the log: readers go on (a file in log/ used to be read as an entry and refused).
    assert resolve(registry, "Demo").version == "1.0.0"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_a_gitattributes_that_breaks_the_documented_signature_check_is_reported(
    registry: str, clone: Path, tmp_path: Path
) -> None:
    """The README's check (`ssh-keygen -Y verify ... < digest`) in a fresh clone: it works, then a `.gitattributes`
    makes every checkout rewrite `digest` with CRLF and the check fails for everyone; verify names the file."""

    def check() -> int:
        target = tmp_path / f"check-{len(list(tmp_path.glob('check-*')))}"
        subprocess.run(["git", "clone", "-q", registry, str(target)], check=True)
        with (target / V1 / "digest").open("rb") as digest:
            return subprocess.run(
                [
                    "ssh-keygen",
                    "-Y",
                    "verify",
                    "-f",
                    str(target / "trust" / "allowed_signers"),
                    "-I",
                    "alice@example.com",
                    "-n",
                    "crmctl-package",
                    "-s",
                    str(target / V1 / "signature.sig"),
                ],
                stdin=digest,
                capture_output=True,
                check=False,
            ).returncode

    assert check() == 0
    _write(clone, ".gitattributes", "* text eol=crlf\n")
    rogue.push(clone, "normalize line endings")
    assert check() != 0
    assert [(p.code, p.subject) for p in verify_registry(registry, NOW).problems] == [("REG403", ".gitattributes")]


def test_the_marker_must_be_exactly_what_init_wrote(registry: str, clone: Path) -> None:
    marker = clone / "crmctl-registry.json"
    data = marker.read_text()
    marker.write_text(data.replace("\n}", ',\n  "mirror": "https://evil.example/reg.git"\n}'))
    rogue.push(clone, "add a mirror")
    problems = verify_registry(registry, NOW).problems
    assert [(p.code, p.subject) for p in problems] == [("REG107", "crmctl-registry.json")], problems
    assert "not exactly what `registry init` writes" in problems[0].message
    marker.write_text(data.replace('"sha256:', '"sha256:0'))
    rogue.push(clone, "another registry")
    assert "names registry sha256:0" in verify_registry(registry, NOW).problems[0].message
