"""What `crmctl new ...` writes is already in the canonical style: `crmctl fmt --check` finds nothing to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmctl.model.formatting import artifact_kind, format_text
from crmctl.scaffold import add_entity, add_field, add_rule, available_templates, new_package


def unformatted(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and artifact_kind(rel) is not None:
            text = path.read_text(encoding="utf-8")
            if format_text(text, rel) != text:
                found.append(rel)
    return found


@pytest.mark.parametrize("template", available_templates())
def test_new_package_and_edits_come_out_formatted(template: str, tmp_path: Path) -> None:
    root = new_package("Demo", template, tmp_path / "Demo").root
    assert unformatted(root) == []
    add_entity(root, "Account", description="yes: it is")
    add_field(root, "Account.name", "text", required=True, options=["maxLength=20"], description="It's 1.0")
    add_field(root, "Account.kind", "enum", options=["values=a,b"], description='say "no"')
    add_field(root, "Account.tags", "array", options=["items=text"])
    add_rule(root, "showKind", entity="Account", target="kind", when="name != ''", description="Show it")
    add_rule(root, "g1", entity="Account", capability="guard", scope="global", when="true")
    assert unformatted(root) == []
