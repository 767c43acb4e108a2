"""A problem found in a registry (by `verify`, or by a command reading it), and the format this crmctl writes."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["FORMAT", "Problem"]

# The newest registry format this crmctl reads and writes: 2 = log entries and package digests in RFC 8785
# (docs/formats.md). A format-1 registry is read as it is and becomes format 2 with the first entry written to it.
FORMAT = 2


class Problem(NamedTuple):
    """One thing `verify` (or a command reading the registry) found wrong."""

    code: str
    message: str
    subject: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "subject": self.subject}
