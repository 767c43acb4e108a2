"""Tenant ids: the one grammar, shared by the runtime (`--tenant`, every stored row) and package scopes
(`tenant:<id>`).

A tenant id is 1 to 63 characters of lower-case ASCII letters, digits and `-`, starting with a letter or a digit
(a DNS label without the trailing-hyphen rule): `default`, `acme`, `acme-eu-2`. No empty id, no upper case (ids
that differ only by case would be two tenants on a database and one in a file name), no whitespace or control
character (`"default\\n"` is not `default`), nothing outside ASCII (a Cyrillic `а` looks exactly like `a`).
"""

from __future__ import annotations

import re
import unicodedata

from crmctl.errors import UsageError

__all__ = ["TENANT_ID", "check_tenant"]

TENANT_ID = r"[a-z0-9][a-z0-9-]{0,62}"
_TENANT = re.compile(TENANT_ID)
_HINT = "1 to 63 lower-case ASCII letters, digits and '-', starting with a letter or digit, e.g. default or acme-eu"


def check_tenant(tenant: object) -> str:
    """`tenant` if it is a valid tenant id, else a `UsageError` saying what is wrong with it."""
    if isinstance(tenant, str) and _TENANT.fullmatch(tenant):
        return tenant
    if not isinstance(tenant, str):
        problem = f"not a string but {type(tenant).__name__}"
    elif not tenant:
        problem = "empty"
    else:
        odd = next((c for c in tenant if not (c.isascii() and (c.isalnum() or c == "-"))), None)
        if odd is not None and not odd.isascii():
            name = unicodedata.name(odd, "a character without a name")
            problem = f"{odd!r} is U+{ord(odd):04X} {name}, not an ASCII letter or digit"
        elif odd is not None:
            problem = f"{odd!r} is not a letter, digit or '-'"
        elif tenant != tenant.lower():
            problem = "tenant ids are lower case"
        elif tenant.startswith("-"):
            problem = "it starts with '-'"
        else:
            problem = "longer than 63 characters"
    raise UsageError(f"{tenant!r} is not a valid tenant id: {problem}", hint=_HINT)
