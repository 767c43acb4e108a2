"""Compatibility as you type, end to end: a package in a git repository with `baseline = "git:main"`; removing a
field in the buffer shows the breaking change where the field was, and restoring it clears it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from tests.compat.test_git_sources import git
from tests.lsp.conftest import (
    as_data,
    check_golden,
    codes,
    copy_package,
    open_doc,
    replace_text,
    server_fixture,
    wait_for,
)

client = server_fixture()
pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE = """      phone:
        type: text
        description: Phone number in international format (+49 ...).
        maxLength: 32
"""


def _repo(tmp_path: Path, baseline: str) -> Path:
    repo = tmp_path / "repo"
    pkg = copy_package("LeadLifecycle/v1", repo / "packages" / "LeadLifecycle" / "v1")
    (repo / "pyproject.toml").write_text(f'[tool.crmctl]\nbaseline = "{baseline}"\n')
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    return pkg


async def test_a_removed_field_is_breaking_where_it_was(client: LanguageClient, tmp_path: Path) -> None:
    pkg = _repo(tmp_path, "git:main")
    schema = pkg / "schema.yaml"
    text = schema.read_text()
    assert PHONE in text
    uri = open_doc(client, schema)
    await wait_for(client, uri, lambda d: not d)
    replace_text(client, uri, text.replace(PHONE, ""))
    found = await wait_for(client, uri, lambda d: "CMP101" in codes(d))
    check_golden("compat_field_removed", as_data({uri: found}, tmp_path))
    (removed,) = [d for d in found if d.code == "CMP101"]
    line = text.replace(PHONE, "").splitlines()[removed.range.start.line]
    assert line[removed.range.start.character : removed.range.end.character] == "fields"
    replace_text(client, uri, text, 3)
    await wait_for(client, uri, lambda d: not d)


async def test_a_baseline_that_cannot_be_opened_is_one_diagnostic_on_package_yaml(
    client: LanguageClient, tmp_path: Path
) -> None:
    pkg = _repo(tmp_path, "git:no-such-branch")
    open_doc(client, pkg / "schema.yaml")
    (problem,) = await wait_for(client, (pkg / "package.yaml").as_uri(), lambda d: bool(d))
    assert problem.code == "baseline" and "git:no-such-branch" in problem.message
    # the other files are still linted (each file's diagnostics are a notification of their own: wait for it)
    assert not await wait_for(client, (pkg / "schema.yaml").as_uri(), lambda d: True)
