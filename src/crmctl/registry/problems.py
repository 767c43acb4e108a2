"""A problem found in a registry (by `verify`, or by a command reading it), and the format this crmctl writes."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["FORMAT", "Problem"]

FORMAT = 1


class Problem(NamedTuple):
    """One thing `verify` (or a command reading the registry) found wrong."""

    code: str
    message: str
    subject: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "subject": self.subject}
