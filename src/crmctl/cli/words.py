"""Words for people in text output: counted nouns that agree with their number (`1 row`, `2 rows`, `1,000 rows`)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, one: str, many: str | None = None) -> str:
    """`count` with its noun: `one` for exactly 1, else `many` (default `one` + "s"); thousands separated."""
    return f"{count:,} {one if count == 1 else (many if many is not None else one + 's')}"
