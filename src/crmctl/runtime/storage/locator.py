"""Where a store is: a DuckDB file (a path), or a PostgreSQL database (a `postgresql://` URL, libpq's syntax). The
one place that tells them apart, so every command, `CRMCTL_STORE` and `[tool.crmctl] store` accept both."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from crmctl.errors import UsageError

__all__ = ["SCHEMES", "StoreURL", "locate"]

SCHEMES = ("postgresql", "postgres")
_PASSWORD = re.compile(r"(?i)(^|&)password=[^&]*")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_SECRETS = re.compile(r"^[^:]*://(?:[^:@/?#]*:(?P<netloc>[^@/?#]*)@)?|[?&](?i:password)=(?P<query>[^&#]*)")


@dataclass(frozen=True)
class StoreURL:
    """A PostgreSQL store: a libpq connection URL (`postgresql://user@host:5432/db?sslmode=...`; a socket directory
    as `host=/path` in the query). Its password, if any, never appears in messages (`shown`)."""

    url: str

    @property
    def shown(self) -> str:
        """The URL without its password: what messages, `store info` and logs show."""
        try:
            parts = urlsplit(self.url)
        except ValueError:  # no URL urllib can read (`[::1` with no `]`): whatever it holds, its password is hidden
            return self.hide(self.url)
        user, at, where = parts.netloc.rpartition("@")  # not .port: a port that is no number must still be shown
        netloc = f"{user.split(':', 1)[0]}:***@{where}" if at and ":" in user else parts.netloc
        query = _PASSWORD.sub(r"\1password=***", parts.query)  # libpq takes one in the query too
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def hide(self, text: str) -> str:
        """`text` (a driver's message: libpq quotes the piece of a URL it cannot read, password and all) with the
        URL's password, as written and decoded, replaced by `***`."""
        secrets = set()
        for found in _SECRETS.finditer(self.url):
            written = found["netloc"] or found["query"]
            if written:
                secrets |= {written, unquote(written)}
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

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
