"""What structural rules share: they are emitted by the package loader (file layout and JSON Schema).

This module defines no rule code. Each artifact's structural rule (PKG100, SCH100, UI200, ...) is a class in the
module named for its prefix that takes `StructuralRule` as its base, so that it can be explained, selected,
ignored and baselined like any other rule.
"""

from __future__ import annotations

from crmctl.lint.base import LintRule

__all__ = ["StructuralRule"]


class StructuralRule(LintRule):
    """Base of the rules the loader reports: an artifact that does not match its JSON Schema, a duplicate file."""

    structural = True
    why = (
        "Every other check, the runtime and the canonical digest assume artifacts that match their JSON Schema; "
        "a structurally invalid artifact is skipped by the remaining rules."
    )
    fix = "Correct the value named in the message; `crmctl schema export` gives editors the same JSON Schema."
