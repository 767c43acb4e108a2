"""Text edits live in the model (`crmctl.model.edits`), since the formatter there returns them too; this module
keeps the name the language services import."""

from __future__ import annotations

from crmctl.model.edits import TextEdit, apply_edits, group_by_file

__all__ = ["TextEdit", "apply_edits", "group_by_file"]
