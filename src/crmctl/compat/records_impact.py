"""Answering a diff's data-dependent changes from stored records: how many records each change hits, by version.

Pure analysis: it takes the `DiffResult` and an iterable of records (anything with `entity`, `id`, `package_name`,
`package_version` and `data`, which the runtime store's `StoredRecord` has) and never opens a store, so the compat
plane stays below the runtime. The CLI opens the store and feeds it; see `crmctl.cli.commands.diff`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crmctl.compat.record_probes import PatternCompiler, Probe, plan_probes
from crmctl.model.versions import version_key

if TYPE_CHECKING:
    from crmctl.compat.change import Change
    from crmctl.compat.classify import DiffResult

__all__ = ["DEFAULT_EXAMPLES", "RecordImpact", "RecordLike", "RecordsCheck", "RecordsImpact"]

DEFAULT_EXAMPLES = 10


class RecordLike(Protocol):
    """One stored record, as far as the analysis reads it."""

    @property
    def entity(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def package_name(self) -> str: ...
    @property
    def package_version(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass
class RecordImpact:
    """What the stored records of `entity` say about one change."""

    change: Change
    entity: str
    question: str
    checked: bool = True
    note: str | None = None
    total: int = 0
    affected: int = 0
    by_version: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """`412 of 1,030 records lack a value (1.0.0: 400, 1.1.0: 12); e.g. lead-0001, lead-0007, …`."""
        if not self.checked:
            return f"not checked against {self.total:,} stored {self.entity} records: {self.note}"
        if not self.total:
            return f"no stored {self.entity} records"
        text = f"{self.affected:,} of {self.total:,} {self.entity} records {self.question}"
        if self.by_version:
            text += " (" + ", ".join(f"{v}: {n:,}" for v, n in self.by_version.items()) + ")"
        if self.examples:
            more = ", …" if self.affected > len(self.examples) else ""
            text += f"; e.g. {', '.join(self.examples)}{more}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.change.code,
            "kind": self.change.kind.id,
            "path": self.change.path,
            "entity": self.entity,
            "question": self.question,
            "checked": self.checked,
            "note": self.note,
            "total": self.total,
            "affected": self.affected,
            "by_version": dict(self.by_version),
            "examples": list(self.examples),
            "text": self.describe(),
        }


@dataclass
class RecordsImpact:
    """Every change's impact, and how many records of the package were read; the caller names their source."""

    package: str
    impacts: list[RecordImpact]
    records: int
    limit: int
    store: str | None = None
    tenant: str | None = None

    def for_change(self, change: Change) -> RecordImpact | None:
        return next((i for i in self.impacts if i.change is change), None)

    def harms(self, change: Change) -> bool:
        """Whether the stored records show `change` to break some of them: it was checked and hits at least one."""
        impact = self.for_change(change)
        return impact is not None and impact.checked and impact.affected > 0

    def as_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "tenant": self.tenant,
            "package": self.package,
            "records": self.records,
            "examples_limit": self.limit,
            "impacts": [i.as_dict() for i in self.impacts],
        }


class RecordsCheck:
    """The probes of one diff: `entities` tells the caller which records to read, `measure` counts them."""

    def __init__(self, result: DiffResult, compile_pattern: PatternCompiler | None = None) -> None:
        self.package = result.old.name
        self.probes: list[Probe] = plan_probes(result, compile_pattern)

    @property
    def entities(self) -> list[str]:
        """The entities whose records the probes read, sorted."""
        return sorted({p.entity for p in self.probes})

    def measure(self, records: Iterable[RecordLike], *, limit: int = DEFAULT_EXAMPLES) -> RecordsImpact:
        """Run every probe over `records`, counting only records of the diffed (old) package's name; examples are
        the first `limit` ids in the order the records come (the store yields them by entity and id)."""
        by_entity: dict[str, list[tuple[Probe, RecordImpact, Counter[str]]]] = {}
        impacts: list[RecordImpact] = []
        for probe in self.probes:
            impact = RecordImpact(probe.change, probe.entity, probe.question, probe.test is not None, probe.note)
            impacts.append(impact)
            by_entity.setdefault(probe.entity, []).append((probe, impact, Counter()))
        seen = 0
        for record in records:
            if record.package_name != self.package:
                continue
            seen += 1
            for probe, impact, versions in by_entity.get(record.entity, ()):
                impact.total += 1
                if probe.test is None or not probe.test(record.data):
                    continue
                impact.affected += 1
                versions[record.package_version] += 1
                if len(impact.examples) < limit:
                    impact.examples.append(record.id)
        for entries in by_entity.values():
            for _, impact, versions in entries:
                # Semver precedence; the text breaks ties (build metadata, labels that are not versions).
                impact.by_version = {v: versions[v] for v in sorted(versions, key=lambda v: (version_key(v), v))}
        return RecordsImpact(self.package, impacts, seen, limit)
