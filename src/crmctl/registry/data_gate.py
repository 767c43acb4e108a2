"""The publish gate for data-dependent changes: safe only if the stored data satisfies the new contract.

`crmctl diff` calls a change data-dependent when it is safe for some stored data and not for other (a field made
required, a limit tightened, a hard validation added, a default changed). The registry cannot see anyone's
records, so a publish with such a change against any published version needs one of:

* **evidence**: stored records read through the records-impact probes (`crmctl publish --records STORE`) show
  that no record is affected by any of the changes (a change the probes cannot check is not shown safe, and
  neither is one whose entity has no stored record: an empty store or a mistyped tenant proves nothing);
* **an acknowledgement**: the publisher's reason (`--accept-data-dependent REASON`), which also covers changes
  the records show to affect stored data (the counts are recorded next to it).

Whatever was used is written into the signed `publish` log entry body as `data_dependent` (see
docs/registry.md), so the log shows who accepted which changes, why, and what the records said. A publish without
data-dependent changes writes no such key, so entry bodies stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmctl.compat.kinds import ChangeClass
from crmctl.errors import UsageError
from crmctl.registry.problems import Problem

if TYPE_CHECKING:
    from crmctl.compat.classify import DiffResult
    from crmctl.compat.records_impact import RecordsImpact

__all__ = ["MAX_REASON", "DataGate", "check_record", "describe"]

MAX_REASON = 500


@dataclass
class DataGate:
    """The publisher's answer to data-dependent changes, and what the gate found (`changes`, `problems`)."""

    evidence: Callable[[DiffResult], RecordsImpact] | None = None
    accept: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    tenant: str | None = None

    def __post_init__(self) -> None:
        if self.accept is not None:
            reason = self.accept.strip()
            if not is_reason(reason):
                raise UsageError(
                    f"--accept-data-dependent: give a reason of 1 to {MAX_REASON} printable characters "
                    "on one line, e.g. 'every stored Lead got a phone in the May backfill'"
                )
            self.accept = reason

    def fresh(self) -> DataGate:
        """The same answer with nothing found yet (a publish re-checks its gates after losing a race)."""
        return DataGate(self.evidence, self.accept)

    def check(self, result: DiffResult, subject: str, against: str) -> None:
        """Gate the data-dependent changes of one diff (the new version against published `against`)."""
        changes = result.by_class(ChangeClass.DATA_DEPENDENT)
        if not changes:
            return
        impact = self.evidence(result) if self.evidence is not None else None
        if impact is not None:
            self.tenant = impact.tenant
        for change in changes:
            item = impact.for_change(change) if impact is not None else None
            entry: dict[str, Any] = {
                "against": against,
                "code": change.code,
                "kind": change.kind.id,
                "path": change.path,
            }
            where = f"{change.code} {change.path} against {against}"
            if item is not None and item.checked:
                entry["records"] = {"total": item.total, "affected": item.affected}
            # No stored record of the entity shows nothing: an empty store, or a mistyped tenant, is no evidence.
            if item is not None and item.checked and item.total and not item.affected:
                entry["shown_safe"] = True
            elif item is not None and item.checked and item.total:
                if self.accept is None:
                    self.problems.append(
                        Problem(
                            "REG306",
                            f"data-dependent change {where} affects stored records: {item.describe()}",
                            subject,
                        )
                    )
            elif self.accept is None:
                why = "" if impact is None else f" (the stored records cannot show it safe: {_unchecked(item, impact)})"
                self.problems.append(
                    Problem("REG305", f"data-dependent change {where}: {change.message}{why}", subject)
                )
            self.changes.append(entry)

    def record(self) -> dict[str, Any] | None:
        """The `data_dependent` key of the publish entry body, or None when there was nothing to answer."""
        if not self.changes:
            return None
        accepted = self.accept if any(not c.get("shown_safe") for c in self.changes) else None
        evidence = {"tenant": self.tenant or ""} if self.evidence is not None else None
        return {"changes": self.changes, "evidence": evidence, "accepted": accepted}


def _unchecked(item: Any, impact: RecordsImpact) -> str:
    if item is None:
        return "no probe answers this kind of change"
    if item.checked:
        return (
            f"tenant {impact.tenant or '-'} of {impact.store or 'the store'} holds no {item.entity} records of "
            f"{impact.package}"
        )
    return str(item.note or "not checked")


def check_record(value: Any) -> None:
    """Raise ValueError when a publish body's `data_dependent` is not exactly the shape `DataGate.record` writes.

    The key is signed, so only a signer can write it; but a signer who bypasses crmctl could otherwise record counts
    that contradict themselves, claim a change shown safe without evidence, or smuggle keys and control characters
    into what reviewers read.
    """
    from crmctl.registry.log import exact_fields, text
    from crmctl.registry.names import check_version

    exact_fields(value, "data_dependent", ("changes", "evidence", "accepted"))
    changes, accepted, evidence = value["changes"], value["accepted"], value["evidence"]
    if not isinstance(changes, list) or not changes:
        raise ValueError("data_dependent.changes must be a non-empty list")
    if evidence is not None:
        text(exact_fields(evidence, "data_dependent.evidence", ("tenant",))["tenant"], "data_dependent.evidence.tenant")
    for change in changes:
        exact_fields(change, "a data_dependent change", ("against", "code", "kind", "path"), ("records", "shown_safe"))
        for key in ("against", "code", "kind", "path"):
            text(change[key], f"data_dependent change {key}")
        try:
            check_version(change["against"])
        except UsageError as exc:
            raise ValueError(f"data_dependent change against: {exc.message}") from None
        records = change.get("records")
        if records is not None:
            exact_fields(records, "data_dependent change records", ("total", "affected"))
            total, affected = records["total"], records["affected"]
            if type(total) is not int or type(affected) is not int or not 0 <= affected <= total:
                raise ValueError("data_dependent change records: 0 <= affected <= total, whole numbers")
            if evidence is None:
                raise ValueError("data_dependent change records without evidence")
        claimed, none_hit = "shown_safe" in change, records is not None and records["affected"] == 0 < records["total"]
        if (claimed and change["shown_safe"] is not True) or claimed != none_hit:
            raise ValueError("data_dependent change shown_safe: true exactly when stored records show none of them hit")
    if accepted is not None and not (isinstance(accepted, str) and is_reason(accepted)):
        raise ValueError(f"data_dependent.accepted must be null or one printable line of 1 to {MAX_REASON} characters")
    if (accepted is None) != all(c.get("shown_safe") is True for c in changes):
        raise ValueError("data_dependent.accepted must be the reason exactly when a change was not shown safe")


def is_reason(text: str) -> bool:
    """One printable line of 1 to MAX_REASON characters, without surrounding spaces (an accepted reason)."""
    return 0 < len(text) <= MAX_REASON and text == text.strip() and text.isprintable()


def describe(value: Any) -> str:
    """One line for people: how many changes, how many stored records showed safe, what was accepted and why."""
    changes = value.get("changes") if isinstance(value, dict) else None
    if not isinstance(changes, list):
        return "data-dependent changes: malformed record"
    safe = sum(1 for c in changes if isinstance(c, dict) and c.get("shown_safe") is True)
    parts = [f"{len(changes)} data-dependent change{'s' * (len(changes) != 1)}"]
    evidence = value.get("evidence")
    if safe:
        tenant = evidence.get("tenant") if isinstance(evidence, dict) else None
        parts.append(f"{safe} shown safe by stored records (tenant {tenant or '-'})")
    if value.get("accepted"):
        parts.append(f"{len(changes) - safe} accepted: {str(value['accepted'])!r}")
    return "; ".join(parts)
