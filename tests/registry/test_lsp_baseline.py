"""Compatibility as you type against what is published: `[tool.crmctl] baseline = "registry:NAME@CHANNEL"`, with
the registry named in the same table, checked by the language server's diagnostics (in process)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import cast

from crmctl.lsp.convert import file_uri
from crmctl.lsp.features.diagnostics import publish
from crmctl.lsp.server import CrmctlServer
from crmctl.registry.ops import promote
from crmctl.registry.publish import publish as publish_version
from crmctl.signing import SigningKey
from tests.lsp.test_checks import FakeServer
from tests.registry.conftest import LEAD_V1, LEAD_V2, NOW


def test_a_field_removed_against_the_prod_channel_is_breaking(tmp_path: Path, registry: str, alice: SigningKey) -> None:
    publish_version(registry, LEAD_V1, alice, NOW)
    publish_version(registry, LEAD_V2, alice, NOW)
    promote(registry, alice, NOW, name="LeadLifecycle", version="1.0.0", channel="prod")
    work = tmp_path / "work"
    pkg = Path(shutil.copytree(LEAD_V2, work / "Lead"))
    (work / "pyproject.toml").write_text(
        f'[tool.crmctl]\nregistry = "{registry}"\nbaseline = "registry:LeadLifecycle@prod"\n'
    )
    schema = pkg / "schema.yaml"
    text = schema.read_text()
    start = text.index("      mobilePhone:\n")
    end = text.index("      # New in 1.1.0", start)
    ls = FakeServer()
    server = cast(CrmctlServer, ls)

    publish(server, pkg)  # v2 as published: compatible with prod (1.0.0), nothing to show
    assert not ls.published[file_uri(str(schema))]

    ls.state.workspace.open(schema, text[:start] + text[end:])  # remove mobilePhone (phone in 1.0.0) unsaved
    publish(server, pkg)
    found = ls.published[file_uri(str(schema))]
    # phone (stored under 1.0.0) is gone, whatever the classifier calls it (removed, or renamed without alias)
    (gone,) = [d for d in found if "Lead.phone" in d.message]
    assert str(gone.code).startswith("CMP") and "against registry:LeadLifecycle@prod (1.0.0)" in gone.message
    assert gone.severity is not None and gone.severity.value == 1  # an error: breaking

    ls.state.workspace.open(schema, text)  # put it back: nothing breaking left
    publish(server, pkg)
    assert not ls.published[file_uri(str(schema))]
