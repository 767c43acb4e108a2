"""Where a store is: a DuckDB file (a path), or a PostgreSQL database (a `postgresql://` URL, libpq's syntax). The
one place that tells them apart, so every command, `CRMCTL_STORE` and `[tool.crmctl] store` accept both."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from crmctl.errors import UsageError

__all__ = ["SCHEMES", "StoreURL", "locate"]

SCHEMES = ("postgresql", "postgres")
_PASSWORD = re.compile(r"(?i)(^|&)password=[^&]*")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class StoreURL:
    """A PostgreSQL store: a libpq connection URL (`postgresql://user@host:5432/db?sslmode=...`; a socket directory
    as `host=/path` in the query). Its password, if any, never appears in messages (`shown`)."""

    url: str

    @property
    def shown(self) -> str:
        """The URL without its password: what messages, `store info` and logs show."""
        parts = urlsplit(self.url)
        user, at, where = parts.netloc.rpartition("@")  # not .port: a port that is no number must still be shown
        netloc = f"{user.split(':', 1)[0]}:***@{where}" if at and ":" in user else parts.netloc
        query = _PASSWORD.sub(r"\1password=***", parts.query)  # libpq takes one in the query too
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def __str__(self) -> str:
        return self.shown


def locate(text: str) -> Path | StoreURL:
    """`text` as a store location: a `postgresql://` (or `postgres://`) URL, or a path. Any other `scheme://` is
    refused (it would have become a directory named after the scheme)."""
    found = _SCHEME.match(text)
    if found is None:
        return Path(text).expanduser()
    if found["scheme"].lower() in SCHEMES:
        try:
            urlsplit(text).port  # noqa: B018 - a port that is no number raises here, not in the driver
        except ValueError as error:
            raise UsageError(f"{StoreURL(text).shown}: {error}") from None
        return StoreURL(text)
    raise UsageError(
        f"{found['scheme']}:// stores are not supported",
        hint="a store is a DuckDB file (a path) or a PostgreSQL database (postgresql://user@host/db)",
    )
