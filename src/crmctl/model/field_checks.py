"""What a field validation (`required`, `regex`, `range`) refuses, as one test over a field's value.

Shared by compat (the stored records a new validation would refuse) and lint (a default its own package's
validation refuses), so both answer as the runtime's checks do (`runtime.checks`): `required` refuses no value
(`is_blank`), `regex` and `range` do not apply to no value, a `regex` refuses anything but a text matching the
whole pattern, a `range` what `in_range` refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmctl.model.fields import is_blank
from crmctl.model.ranges import in_range

__all__ = ["FIELD_CHECKS", "refuses"]

FIELD_CHECKS = ("required", "regex", "range")


def refuses(
    kind: str,
    low: float | str | None = None,
    high: float | str | None = None,
    fullmatch: Callable[[str], bool] | None = None,
) -> Callable[[Any], bool]:
    """The test a value fails a `kind` validation by (`low`/`high` for a range, `fullmatch` for a regex)."""
    if kind == "required":
        return is_blank
    if kind == "range":
        return lambda v: not is_blank(v) and not in_range(v, low, high)
    if kind == "regex" and fullmatch is not None:
        return lambda v: not is_blank(v) and not (isinstance(v, str) and fullmatch(v))
    raise ValueError(f"no field test for a {kind} validation")
