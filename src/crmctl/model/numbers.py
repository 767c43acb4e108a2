"""Numbers read from text — CSV cells, typed answers, command-line options, durations, YAML and JSON files: JSON's
number syntax in ASCII digits, nothing else.

Python's `int()` and `float()` accept much more: `1_000`, `+5`, ` 5 `, digits of any script (`١٢` is 12), `nan`,
`inf`, `1e999`; YAML adds `0x1F`, `0o17`, `007`, `.5` and `12.`. Each lets a value through that a reader of the
file does not see as that number (or as a number at all), so crmctl refuses them where they come from instead of
guessing.
"""

from __future__ import annotations

import math
import re

__all__ = ["JSON_NUMBER", "parse_number"]

JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_EXAMPLE = "JSON syntax in ASCII digits, e.g. 12, -3.5 or 1e6"


def parse_number(text: str) -> int | float:
    """`text` as an int (no fraction or exponent) or a finite float; a `ValueError` saying why for anything else."""
    match = JSON_NUMBER.fullmatch(text)
    shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "…"
    if match is None:
        raise ValueError(f"{shown} is not a number ({_EXAMPLE})")
    if match.group(1) is None and match.group(2) is None:
        try:
            return int(text)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise ValueError(f"{shown} has {len(text.lstrip('-'))} digits, more than a number crmctl reads") from None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{shown} is beyond the range of a number")
    return value
