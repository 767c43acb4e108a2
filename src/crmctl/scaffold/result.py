"""What a scaffolding operation did, for reporters to render."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ScaffoldResult"]


@dataclass(frozen=True)
class ScaffoldResult:
    """The outcome of `new_package`, `add_entity`, `add_field` or `add_rule`.

    `summary` is one sentence for people; `created` and `changed` list files relative to `root`, in the order
    they were (or, with `dry_run`, would be) written; `diff` is the edit as a unified diff (`a/<file>`, `b/<file>`;
    None for a new package, whose files are the template's).
    """

    summary: str
    root: Path
    created: tuple[str, ...] = field(default_factory=tuple)
    changed: tuple[str, ...] = field(default_factory=tuple)
    diff: str | None = None
    dry_run: bool = False
