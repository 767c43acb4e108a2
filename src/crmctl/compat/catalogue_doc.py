"""The change-kind table of docs/compatibility.md, generated from `KINDS` so it cannot drift.

Regenerate with `python -m crmctl.compat.catalogue_doc docs/compatibility.md`; a test fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crmctl.compat.kinds import KINDS

__all__ = ["BEGIN", "END", "render_table", "splice"]

BEGIN = "<!-- BEGIN GENERATED CHANGE KINDS (python -m crmctl.compat.catalogue_doc docs/compatibility.md) -->"
END = "<!-- END GENERATED CHANGE KINDS -->"


def render_table() -> str:
    lines = ["| code | kind | class | bump alone | reason |", "|---|---|---|---|---|"]
    for k in KINDS:
        bump = k.bump
        reason = k.reason.replace("|", "\\|")
        lines.append(f"| {k.code} | `{k.id}` | {k.cls.value} | {bump} | {reason} |")
    return "\n".join(lines)


def splice(document: str) -> str:
    """Replace the text between the markers with the current table."""
    head, sep, rest = document.partition(BEGIN)
    if not sep:
        raise ValueError(f"marker {BEGIN!r} not found")
    _, sep, tail = rest.partition(END)
    if not sep:
        raise ValueError(f"marker {END!r} not found")
    return f"{head}{BEGIN}\n{render_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:  # pragma: no cover - a maintenance entry point
    target = Path(argv[0] if argv else "docs/compatibility.md")
    target.write_text(splice(target.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
