"""`publish`: the gates (lint, monotonic version, transitive compatibility, data-dependent changes answered,
signer scope) and the version's files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError
from crmctl.model.tree import MemoryTree
from crmctl.registry.data_gate import DataGate
from crmctl.registry.log import format_time
from crmctl.registry.names import check_version, version_key
from crmctl.registry.trust import Problem
from crmctl.registry.versions import artifact_files, load_version, provenance_bytes
from crmctl.registry.writing import (
    Change,
    Refused,
    WriteResult,
    entry_time,
    signer_identity,
    unchanged,
    write_change,
)
from crmctl.signing import NAMESPACE_PACKAGE

if TYPE_CHECKING:
    from crmctl.model.package import Package
    from crmctl.registry.opening import Opened
    from crmctl.signing import SigningKey

__all__ = ["Prepared", "breaking_problems", "lint_problems", "prepare", "publish"]


@dataclass(frozen=True)
class Prepared:
    """A package turned into the bytes a registry stores, before any registry is read."""

    name: str
    version: str
    scope: str
    digest: str
    canonical: bytes
    artifacts: dict[str, bytes]
    package: Package
    source: dict[str, Any] | None


def prepare(directory: Path) -> Prepared:
    """Load the package, build its canonical form and artifacts, and reload those (what verify will see)."""
    from crmctl.model.canonical import bytes_digest, canonical_bytes, digest
    from crmctl.model.package import load_package, load_tree
    from crmctl.registry.provenance import source_provenance

    source = load_package(directory)
    if not source.valid or source.manifest is None:
        problems = [
            Problem("REG301", f"{d.location}: {d.message} ({d.code})", source.label)
            for d in source.diagnostics
            if d.severity.value == "error"
        ]
        raise Refused(f"{directory}: the package does not load cleanly; run `crmctl lint {directory}`", problems)
    check_version(source.manifest.version)  # a valid package version that git cannot tag (`1.0.0-a.lock`)
    canonical = canonical_bytes(source)
    value = bytes_digest(canonical, source.digest_algorithm)
    artifacts = artifact_files(source)
    package = load_tree(MemoryTree(artifacts, f"{source.manifest.name}@{source.manifest.version}"))
    if not package.valid or digest(package) != value:
        raise InputError(f"{directory}: the package's artifacts do not reload to its digest (a crmctl bug)")
    manifest = source.manifest
    return Prepared(
        manifest.name,
        manifest.version,
        manifest.scope,
        value,
        canonical,
        artifacts,
        package,
        source_provenance(directory),
    )


def _digest_as(package: Package, published: str) -> str:
    """The package's digest in the algorithm of `published` (a version published under a format-1 `sha256:`
    digest is the same version when its content is: publishing it again changes nothing)."""
    from crmctl.model.canonical import algorithm_of, digest

    return digest(package, algorithm_of(published))


def lint_problems(package: Package, subject: str) -> list[Problem]:
    from crmctl.lint import LintConfig, lint_package

    return [
        Problem("REG301", f"lint: {d.location}: {d.message} ({d.code})", subject)
        for d in lint_package(package, LintConfig())
        if d.severity.value == "error"
    ]


def breaking_problems(
    old: Package, new: Package, subject: str, old_version: str, data: DataGate | None = None
) -> list[Problem]:
    """The breaking changes of `new` against published `old_version`; `data` also gates the data-dependent ones."""
    from crmctl.compat.classify import diff_packages
    from crmctl.compat.kinds import ChangeClass

    result = diff_packages(old, new)
    if data is not None:
        data.check(result, subject, old_version)
    return [
        Problem("REG303", f"breaking change against {old_version}: {c.code} {c.path}: {c.message}", subject)
        for c in result.changes
        if c.cls is ChangeClass.BREAKING
    ]


def publish(
    location: str, directory: Path, key: SigningKey, now: datetime, *, data: DataGate | None = None
) -> WriteResult:
    """Publish the package at `directory`, or refuse with every failing gate (`Refused`). `data` is the answer to
    data-dependent changes (evidence, acknowledgement); without one they are refused (`registry.data_gate`)."""
    prepared = prepare(directory)
    gate = data or DataGate()
    return write_change(location, key, now, lambda opened: _plan(opened, prepared, key, now, gate.fresh()))


def _plan(opened: Opened, prepared: Prepared, key: SigningKey, now: datetime, data: DataGate) -> Change | WriteResult:
    state = opened.state
    subject = f"{prepared.name}@{prepared.version}"
    published = state.packages.get(prepared.name, {})
    existing = published.get(prepared.version)
    if existing is not None:
        if existing.digest in (prepared.digest, _digest_as(prepared.package, existing.digest)):
            return unchanged(opened, f"{subject} is already published with digest {existing.digest}; nothing to do")
        raise Refused(
            f"{subject} is already published with a different digest; a published version never "
            "changes: publish a new version",
            [Problem("REG202", f"published digest {existing.digest}, this one {prepared.digest}", subject)],
        )
    identity = signer_identity(state, key)
    problems = lint_problems(prepared.package, subject)
    signer = state.active(key.fingerprint())
    if signer is not None and not signer.allows(prepared.scope):
        problems.append(Problem("REG105", f"{identity} may not publish into scope {prepared.scope}", subject))
    if published:
        scope = next(iter(published.values())).scope
        if scope != prepared.scope:
            problems.append(
                Problem("REG304", f"{prepared.name} is a {scope} package; cannot move it to {prepared.scope}", subject)
            )
        latest = max(published, key=version_key)
        if version_key(prepared.version) <= version_key(latest):
            problems.append(
                Problem("REG302", f"version {prepared.version} is not higher than the published {latest}", subject)
            )
        for version in sorted(published.values(), key=lambda v: version_key(v.version)):
            old = load_version(opened.snapshot, version)
            problems.extend(breaking_problems(old, prepared.package, subject, version.version, data))
    problems.extend(data.problems)
    if problems:
        raise Refused(f"{subject}: {len(problems)} problem{'s' * (len(problems) != 1)}", problems)
    path = f"packages/{prepared.name}/{prepared.version}"
    tag = f"{prepared.name}/v{prepared.version}"
    provenance = {
        "signer": {"identity": identity, "key": key.fingerprint()},
        "time": format_time(entry_time(state, now)),
        "source": prepared.source,
    }
    digest_line = (prepared.digest + "\n").encode()
    files = {
        f"{path}/canonical.json": prepared.canonical,
        f"{path}/digest": digest_line,
        f"{path}/signature.sig": key.sign(digest_line, NAMESPACE_PACKAGE).encode(),
        f"{path}/provenance.json": provenance_bytes(provenance),
        **{f"{path}/artifacts/{rel}": data for rel, data in prepared.artifacts.items()},
    }
    body = {
        "name": prepared.name,
        "version": prepared.version,
        "scope": prepared.scope,
        "digest": prepared.digest,
        "path": path,
        "tag": tag,
        "provenance": provenance,
    }
    answered = data.record()
    if answered is not None:
        body["data_dependent"] = answered
    return Change("publish", body, files, f"publish {prepared.name} {prepared.version}", tag, fresh=(path,))
