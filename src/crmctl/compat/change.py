"""`Change`, the result object of a diff, and the collector the comparers append to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmctl.compat.kinds import ChangeClass, ChangeKind, kind

if TYPE_CHECKING:
    from crmctl.model.diagnostics import Location
    from crmctl.model.package import Package
    from crmctl.model.source import JsonPath

__all__ = ["Change", "Collector"]


@dataclass(frozen=True)
class Change:
    """One classified change. `path` is semantic (`Lead.email`, `rule:showCompany`, `workflow:main.state:won`)."""

    kind: ChangeKind
    path: str
    message: str
    old: Location | None = None
    new: Location | None = None
    hint: str | None = None
    anchor: Location | None = None

    @property
    def code(self) -> str:
        return self.kind.code

    @property
    def cls(self) -> ChangeClass:
        return self.kind.cls

    @property
    def reason(self) -> str:
        return self.kind.reason

    @property
    def location(self) -> Location | None:
        """Where to annotate: the new location; for removals the nearest surviving place in the new files
        (so CI annotations land on a file of the pull request), else the old location."""
        return self.new or self.anchor or self.old

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "kind": self.kind.id,
            "class": self.cls.value,
            "path": self.path,
            "message": self.message,
            "reason": self.reason,
            "hint": self.hint,
            "old": str(self.old) if self.old else None,
            "new": str(self.new) if self.new else None,
        }


@dataclass
class Collector:
    """Gathers changes between two packages, resolving artifact positions to locations.

    `old_pkg` is the old package as the comparers see it: through the new version's renames, so a reference that
    only follows a rename compares equal (`crmctl.compat.renames.follow_renames`); its documents, and so the old
    locations, are the old files."""

    old_pkg: Package
    new_pkg: Package
    changes: list[Change] = field(default_factory=list)

    def add(
        self,
        kind_id: str,
        path: str,
        message: str,
        *,
        old: tuple[str, JsonPath] | None = None,
        new: tuple[str, JsonPath] | None = None,
        hint: str | None = None,
        key: bool = True,
    ) -> None:
        old_loc = self.old_pkg.locate(old[0], old[1], key=key) if old else None
        new_loc = self.new_pkg.locate(new[0], new[1], key=key) if new else None
        anchor = None
        if new is None and old is not None and old[0] in self.new_pkg.docs:
            anchor = self.new_pkg.locate(old[0], old[1], key=key)
        self.changes.append(Change(kind(kind_id), path, message, old_loc, new_loc, hint, anchor))
