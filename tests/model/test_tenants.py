"""Tenant ids: one grammar (issue 9 §3: `""`, `"default\n"` and look-alike letters were accepted as tenants)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.errors import UsageError
from crmctl.model.tenants import TENANT_ID, check_tenant

BAD = {
    "": "empty",
    "default\n": "'\\n' is not a letter, digit or '-'",
    "default ": "' ' is not a letter, digit or '-'",
    "d\x1bfault": "'\\x1b' is not a letter, digit or '-'",
    "dеfault": "'е' is U+0435 CYRILLIC SMALL LETTER IE, not an ASCII letter or digit",
    "ａcme": "U+FF41 FULLWIDTH LATIN SMALL LETTER A",
    "Default": "tenant ids are lower case",
    "-acme": "it starts with '-'",
    "acme_eu": "'_' is not a letter, digit or '-'",
    "a" * 64: "longer than 63 characters",
    "../acme": "'.' is not a letter, digit or '-'",
}


@pytest.mark.parametrize("tenant", ["default", "acme", "acme-eu-2", "0", "a" * 63, "a-"])
def test_valid_tenant_ids(tenant: str) -> None:
    assert check_tenant(tenant) == tenant


@pytest.mark.parametrize("tenant", BAD)
def test_invalid_tenant_ids_say_what_is_wrong(tenant: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_tenant(tenant)
    assert caught.value.message.startswith(f"{tenant!r} is not a valid tenant id: ")
    assert BAD[tenant] in caught.value.message
    assert caught.value.hint is not None and "lower-case ASCII" in caught.value.hint


@settings(derandomize=True, max_examples=400)
@given(st.text(max_size=70) | st.from_regex(re.compile(TENANT_ID), fullmatch=True))
def test_accepted_exactly_when_the_grammar_matches(text: str) -> None:
    ascii_grammar = re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", text, flags=re.ASCII) is not None
    try:
        accepted = check_tenant(text) == text
    except UsageError:
        accepted = False
    assert accepted is ascii_grammar


@settings(derandomize=True, max_examples=200)
@given(st.text(max_size=70) | st.from_regex(re.compile(TENANT_ID), fullmatch=True))
def test_a_registry_scope_names_exactly_the_tenants_the_runtime_accepts(text: str) -> None:
    from crmctl.registry.names import check_scope

    try:
        accepted = check_scope(f"tenant:{text}") == f"tenant:{text}"
    except UsageError:
        accepted = False
    try:
        tenant = check_tenant(text) == text
    except UsageError:
        tenant = False
    assert accepted is tenant
