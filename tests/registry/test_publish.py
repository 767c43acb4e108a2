"""Publishing through the core API: gates, immutability, scopes, promotion and resolution."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crmctl.errors import UserError
from crmctl.model.canonical import digest
from crmctl.model.package import load_package, load_tree
from crmctl.registry import open_version_tree
from crmctl.registry.ops import add_signer, promote, remove_signer
from crmctl.registry.publish import publish
from crmctl.registry.query import list_packages, log_entries, resolve, show
from crmctl.registry.verify import verify_registry
from crmctl.registry.writing import Refused
from crmctl.signing import SigningKey
from tests.registry.conftest import LEAD_V1, LEAD_V2, NOW, demo, make_key

SCHEMA = "entities:\n  Lead:\n    fields:\n      firstName: {type: text, required: true}\n"


def codes(refused: pytest.ExceptionInfo[Refused]) -> list[str]:
    return [p.code for p in refused.value.problems]


def test_publish_v1_v2_promote_resolve_and_verify(registry: str, alice: SigningKey) -> None:
    first = publish(registry, LEAD_V1, alice, NOW)
    second = publish(registry, LEAD_V2, alice, NOW)
    assert (first.status, second.status, second.seq) == ("written", "written", 3)
    promote(registry, alice, NOW, name="LeadLifecycle", version="1.0.0", channel="prod")
    assert resolve(registry, "LeadLifecycle").version == "1.1.0"
    prod = resolve(registry, "LeadLifecycle", channel="prod")
    assert prod.as_dict() == {
        "name": "LeadLifecycle",
        "version": "1.0.0",
        "channel": "prod",
        "digest": digest(load_package(LEAD_V1)),
    }
    tree = open_version_tree(registry, "LeadLifecycle", "prod")
    assert digest(load_tree(tree)) == prod.digest
    assert open_version_tree(registry, "LeadLifecycle", "1.1.0").label == "registry:LeadLifecycle@1.1.0"
    assert [e["type"] for e in log_entries(registry)] == ["init", "publish", "publish", "promote"]
    assert list_packages(registry)[0]["channels"] == {"prod": "1.0.0"}
    assert show(registry, "LeadLifecycle@1.0.0")["provenance"]["source"]["path"] == "packages/LeadLifecycle/v1"
    result = verify_registry(registry, NOW)
    assert result.ok, result.problems
    assert (result.versions, result.seq) == (2, 4)


def test_republish_same_digest_is_a_noop_and_a_different_digest_is_refused(
    registry: str, alice: SigningKey, tmp_path: Path
) -> None:
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    again = publish(registry, demo(tmp_path / "b", "1.0.0"), alice, NOW)
    assert again.status == "unchanged"
    changed = demo(tmp_path / "c", "1.0.0", labels="labels:\n  Lead.firstName: Given name\n")
    with pytest.raises(Refused, match="already published with a different digest"):
        publish(registry, changed, alice, NOW)
    assert len(log_entries(registry)) == 2


def test_gates_lint_and_lower_version(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    publish(registry, demo(tmp_path / "a", "1.1.0"), alice, NOW)
    with pytest.raises(Refused) as lower:
        publish(registry, demo(tmp_path / "b", "1.0.5"), alice, NOW)
    assert codes(lower) == ["REG302"]
    no_german = demo(tmp_path / "c", "1.2.0")
    manifest = no_german / "package.yaml"
    manifest.write_text(manifest.read_text().replace("[en]", "[en, de]"), encoding="utf-8")
    with pytest.raises(Refused) as lint:
        publish(registry, no_german, alice, NOW)
    assert "REG301" in codes(lint)


def test_breaking_change_against_an_older_version_is_refused(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    """1.1.0 renames phone (alias kept); 1.2.0 adds a number field `phone`: fine against 1.1.0, breaking
    against 1.0.0, so only the transitive check catches the type change."""
    publish(
        registry,
        demo(
            tmp_path / "a",
            "1.0.0",
            schema=SCHEMA + "      phone: {type: text}\n",
            labels="labels:\n  Lead.firstName: F\n  Lead.phone: P\n",
        ),
        alice,
        NOW,
    )
    publish(
        registry,
        demo(
            tmp_path / "b",
            "1.1.0",
            schema=SCHEMA + "      mobile: {type: text, aliases: [phone]}\n",
            labels="labels:\n  Lead.firstName: F\n  Lead.mobile: P\n",
        ),
        alice,
        NOW,
    )
    third = demo(
        tmp_path / "c",
        "1.2.0",
        schema=SCHEMA + "      mobile: {type: text, aliases: [phone]}\n      phone: {type: number}\n",
        labels="labels:\n  Lead.firstName: F\n  Lead.mobile: P\n  Lead.phone: P\n",
    )
    with pytest.raises(Refused) as refused:
        publish(registry, third, alice, NOW)
    breaking = [p.message for p in refused.value.problems if p.code == "REG303"]
    assert breaking and all("against 1.0.0" in m for m in breaking)


def test_breaking_change_against_latest_is_refused_even_with_a_major_bump(
    registry: str, alice: SigningKey, tmp_path: Path
) -> None:
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    removed = demo(
        tmp_path / "b",
        "2.0.0",
        schema="entities:\n  Lead:\n    fields:\n      other: {type: text}\n",
        labels="labels:\n  Lead.other: O\n",
    )
    with pytest.raises(Refused) as refused:
        publish(registry, removed, alice, NOW)
    assert "REG303" in codes(refused)


def test_tenant_signer_is_confined_to_its_tenant(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    bob = make_key(tmp_path, "bob")
    add_signer(
        registry, alice, NOW, identity="bob@example.com", public_key=bob.public_key(), scopes=["tenant:a"], admin=False
    )
    assert publish(registry, demo(tmp_path / "a", "1.0.0", scope="tenant:a"), bob, NOW).status == "written"
    for scope in ("global", "tenant:b"):
        with pytest.raises(Refused) as refused:
            package = demo(tmp_path / scope.replace(":", "-"), "1.0.0", scope=scope, name="Other")
            publish(registry, package, bob, NOW)
        assert codes(refused) == ["REG105"]
    with pytest.raises(Refused, match="not an admin"):
        add_signer(
            registry,
            bob,
            NOW,
            identity="carol@example.com",
            public_key=alice.public_key(),
            scopes=["tenant:a"],
            admin=False,
        )


def test_removed_signer_cannot_publish_but_its_versions_stay_valid(
    registry: str, alice: SigningKey, tmp_path: Path
) -> None:
    bob = make_key(tmp_path, "bob")
    add_signer(
        registry, alice, NOW, identity="bob@example.com", public_key=bob.public_key(), scopes=["global"], admin=False
    )
    publish(registry, demo(tmp_path / "a", "1.0.0"), bob, NOW)
    remove_signer(registry, alice, NOW, identity="bob@example.com", reason="left")
    with pytest.raises(Refused, match="was removed"):
        publish(registry, demo(tmp_path / "b", "1.1.0"), bob, NOW)
    assert verify_registry(registry, NOW).ok
    with pytest.raises(Refused, match="last admin"):
        remove_signer(registry, alice, NOW, identity="alice@example.com")


def test_unknown_key_cannot_publish(registry: str, tmp_path: Path) -> None:
    with pytest.raises(Refused, match="is not a signer"):
        publish(registry, demo(tmp_path / "a", "1.0.0"), make_key(tmp_path, "mallory"), NOW)


def test_promote_and_resolve_errors(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    with pytest.raises(UserError, match="not published"):
        promote(registry, alice, NOW, name="Demo", version="9.0.0", channel="prod")
    promote(registry, alice, NOW, name="Demo", version="1.0.0", channel="prod")
    assert promote(registry, alice, NOW, name="Demo", version="1.0.0", channel="prod").status == "unchanged"
    with pytest.raises(UserError, match="no channel"):
        resolve(registry, "Demo", channel="sandbox")
    with pytest.raises(UserError, match="not published"):
        resolve(registry, "Other")
    with pytest.raises(UserError, match="not published"):
        open_version_tree(registry, "Demo", "2.0.0")
    with pytest.raises(UserError, match="not a valid package name"):
        open_version_tree(registry, "../x", "1.0.0")


def test_publish_records_git_provenance(registry: str, alice: SigningKey, tmp_path: Path) -> None:
    source = tmp_path / "src"
    package = demo(source / "pkgs" / "Demo", "1.0.0")
    for args in (
        ["init", "-q"],
        ["remote", "add", "origin", "https://user:secret@example.com/x.git"],
        ["add", "."],
        ["commit", "-q", "-m", "demo"],
    ):
        subprocess.run(["git", "-C", str(source), *args], check=True)
    (package / "schema.yaml").write_text(SCHEMA + "      extra: {type: text}\n", encoding="utf-8")
    (package / "localization" / "en.yaml").write_text("labels:\n  Lead.firstName: F\n  Lead.extra: E\n")
    publish(registry, package, alice, NOW)
    source_info = show(registry, "Demo@1.0.0")["provenance"]["source"]
    assert source_info["repository"] == "https://example.com/x.git"
    assert source_info["path"] == "pkgs/Demo"
    assert source_info["dirty"] is True
    assert len(source_info["commit"]) == 40


def test_verify_holds_published_versions_to_the_running_crmctls_rules(
    registry: str, alice: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule that got stricter applies to the whole history (docs/registry.md, "Gates re-checked with today's
    rules"): a pair published as compatible is reported as a gate problem (REG303), and only as that."""
    import dataclasses

    from crmctl.compat import kinds
    from crmctl.compat.kinds import ChangeClass

    publish(registry, demo(tmp_path / "a", "1.0.0"), alice, NOW)
    publish(
        registry,
        demo(
            tmp_path / "b",
            "1.1.0",
            schema=SCHEMA + "      phone: {type: text}\n",
            labels="labels:\n  Lead.firstName: F\n  Lead.phone: P\n",
        ),
        alice,
        NOW,
    )
    assert verify_registry(registry, NOW).ok
    stricter = dataclasses.replace(kinds.KINDS_BY_ID["field-added"], cls=ChangeClass.BREAKING)
    monkeypatch.setitem(kinds.KINDS_BY_ID, "field-added", stricter)  # as if a later crmctl classified it so
    result = verify_registry(registry, NOW)
    assert [(p.code, p.subject) for p in result.problems] == [("REG303", "Demo@1.1.0")]
    assert result.problems[0].message.startswith("breaking change against 1.0.0: CMP102 Lead.phone: ")
