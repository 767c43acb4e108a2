"""Provenance never carries credentials: the origin URL is cleaned for every form of remote git accepts.

Whatever a publish records stays in the signed log forever. Before, only `scheme://user:password@` was removed;
a scp-like `user:password@host:repo`, a token in the query (`?private_token=...`) or the fragment, and a token
given as the user name of an https URL (`https://<token>@github.com/...`) were kept.
"""

from __future__ import annotations

import string
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.registry.provenance import public_url
from crmctl.registry.publish import publish
from crmctl.registry.query import show
from crmctl.signing import SigningKey
from tests.registry.conftest import NOW, demo

SECRET = "S3CR3T"
HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z][a-z0-9-]{0,8}){0,2}", fullmatch=True) | st.sampled_from(
    ["[::1]", "[2001:db8::7]", "10.0.0.1"]
)
PATHS = st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,10}", fullmatch=True), min_size=1, max_size=4).map("/".join)
USERS = st.from_regex(r"[a-z][a-z0-9_.-]{0,10}", fullmatch=True)
# What may follow the marker inside a secret: anything git would still read as part of it, '@' included.
TAILS = st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=%@", max_size=12)
SCHEMES = st.sampled_from(["https", "http", "HTTPS", "ftp", "ftps", "git", "file", "ssh", "git+ssh", "ssh+git"])


@st.composite
def with_credentials(draw: st.DrawFn) -> tuple[str, str]:
    """(a URL carrying SECRET somewhere credentials travel, its host)."""
    secret = SECRET + draw(TAILS)
    host, path, user, scheme = draw(HOSTS), draw(PATHS), draw(USERS), draw(SCHEMES)
    port = draw(st.sampled_from(["", ":22", ":8443"]))
    form = draw(st.sampled_from(["password", "token-user", "query", "fragment", "scp", "scp-slash", "helper"]))
    if form == "password":
        url = f"{scheme}://{user}:{secret}@{host}{port}/{path}"
    elif form == "token-user":
        scheme = draw(st.sampled_from(["https", "http", "ftp"]))
        url = f"{scheme}://{secret}@{host}{port}/{path}"
    elif form == "query":
        url = f"{scheme}://{host}{port}/{path}?private_token={secret}&x=1"
    elif form == "fragment":
        url = f"{scheme}://{host}/{path}#{secret}"
    elif form == "scp":
        url = f"{user}:{secret}@{host}:{path}"
    elif form == "scp-slash":
        url = f"{user}:{secret}/x@{host}:{path}"
    else:
        url = f"persistent-https::https://{user}:{secret}@{host}/{path}"
    return url, host


@settings(max_examples=500, deadline=None, derandomize=True)
@given(case=with_credentials())
def test_no_credential_survives(case: tuple[str, str]) -> None:
    url, host = case
    cleaned = public_url(url)
    assert SECRET not in cleaned, (url, cleaned)
    assert host in cleaned, (url, cleaned)
    assert public_url(cleaned) == cleaned


@st.composite
def clean(draw: st.DrawFn) -> str:
    host, path, user = draw(HOSTS), draw(PATHS), draw(USERS)
    return draw(
        st.sampled_from(
            [
                f"https://{host}/{path}.git",
                f"http://{host}:8080/{path}",
                f"git://{host}/{path}",
                f"ssh://{user}@{host}:22/{path}",
                f"ssh://{host}/~{user}/{path}",
                f"git+ssh://{user}@{host}/{path}",
                f"{user}@{host}:{path}.git",
                f"{host}:{path}",
                f"/srv/{path}.git",
                f"./{path}",
                f"../{path}",
                f"file:///srv/{path}",
                f"file://{host}/srv/{path}",
                f"{path}",
                f"C:/{path}",
            ]
        )
    )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(url=clean())
def test_a_url_without_credentials_is_kept_as_it_is(url: str) -> None:
    assert public_url(url) == url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("user:pw@host:repo", "user@host:repo"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://x-access-token:ghs_abc@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://ghp_abc@github.com/org/repo", "https://github.com/org/repo"),
        ("https://gitlab.example.com/g/r.git?private_token=glpat-abc#top", "https://gitlab.example.com/g/r.git"),
        ("ssh://git:pw@host:2222/srv/r.git", "ssh://git@host:2222/srv/r.git"),
        ("https://user:p@ss@host/r", "https://host/r"),
        ("persistent-https::https://u:tok@host/r", "persistent-https::https://host/r"),
        ("  https://u:tok@host/r\n", "https://host/r"),
        ("git@host:repo@v1", "git@host:repo@v1"),
        ("host:repo@v1", "host:repo@v1"),
    ],
)
def test_examples(url: str, expected: str) -> None:
    assert public_url(url) == expected


@pytest.mark.parametrize(
    "origin, expected",
    [
        ("user:hunter2@git.example.com:team/crm.git", "user@git.example.com:team/crm.git"),
        (
            "https://ci:hunter2@git.example.com/team/crm.git?token=hunter2#hunter2",
            "https://git.example.com/team/crm.git",
        ),
    ],
)
def test_a_publish_records_no_credential(
    registry: str, alice: SigningKey, tmp_path: Path, origin: str, expected: str
) -> None:
    work = tmp_path / "work"
    package = demo(work / "packages" / "demo", "1.0.0")
    for args in (["init", "-q"], ["remote", "add", "origin", origin]):
        subprocess.run(["git", "-C", str(work), *args], check=True)
    publish(registry, package, alice, NOW)
    source = show(registry, "Demo@1.0.0")["provenance"]["source"]
    assert source["repository"] == expected and source["path"] == "packages/demo"
    everything = subprocess.run(["git", "-C", registry, "log", "-p", "--all"], capture_output=True, check=True).stdout
    assert b"hunter2" not in everything
