"""Property: random sequences of honest changes and tamperings; `verify` reports exactly the tamperings.

Each example starts from the same small registry, then interleaves honest crmctl changes (publish a new
package's versions, promote) with tamperings pushed with git by someone with write access (edit or add files in a
published version, forge its provenance, plant files where a future version will go, add unknown files, delete
and re-add a log entry, move a tag). A model says what each tampering must make `verify` report; honest changes
must add nothing, and a publish at a path where files were planted must leave no trace of them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crmctl.registry.log import entry_path
from crmctl.registry.ops import init_registry, promote
from crmctl.registry.publish import publish
from crmctl.registry.verify import verify_registry
from crmctl.signing import SigningKey, generate_key
from tests.registry import rogue
from tests.registry.conftest import NOW, demo

VERSIONS = ["Demo@1.0.0", "Demo@1.1.0", "Other@1.0.0"]
THIRD = ["1.0.0", "1.1.0", "1.2.0"]
ENTRIES = [2, 3, 4, 5]  # the template's entries after init


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Entries: 1 init, 2-3 publish Demo 1.0.0 and 1.1.0, 4 publish Other 1.0.0, 5 promote Demo 1.1.0 -> prod."""
    root = tmp_path_factory.mktemp("properties")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CRMCTL_CACHE_DIR", str(root / "cache"))
        env.setenv("CRMCTL_STATE_DIR", str(root / "state"))
        alice = generate_key(root / "keys" / "alice", "alice@example.com")
        location = str(root / "reg")
        init_registry(location, alice, "alice@example.com", NOW)
        publish(location, demo(root / "p" / "d1", "1.0.0"), alice, NOW)
        publish(location, demo(root / "p" / "d2", "1.1.0"), alice, NOW)
        publish(location, demo(root / "p" / "o1", "1.0.0", name="Other"), alice, NOW)
        promote(location, alice, NOW, name="Demo", version="1.1.0", channel="prod")
        for version in THIRD:
            demo(root / "p" / f"third-{version}", version, name="Third")
    return root


def _path(version: str) -> str:
    name, _, number = version.partition("@")
    return f"packages/{name}/{number}"


STEPS = st.one_of(
    st.tuples(st.just("promote"), st.sampled_from(VERSIONS), st.sampled_from(["prod", "staging"])),
    st.tuples(st.just("publish-third"), st.just(""), st.just("")),
    st.tuples(
        st.sampled_from(["edit-artifact", "extra-file", "forge-provenance", "move-tag"]),
        st.sampled_from(VERSIONS),
        st.just(""),
    ),
    st.tuples(st.just("plant-third"), st.sampled_from(THIRD), st.just("")),
    st.tuples(st.just("root-file"), st.sampled_from([".gitattributes", "README.md", "log/NOTES"]), st.just("")),
    st.tuples(st.just("delete-and-re-add"), st.sampled_from([str(n) for n in ENTRIES]), st.just("")),
)


class Model:
    """What verify must report, given the steps so far."""

    def __init__(self) -> None:
        self.expected: set[tuple[str, str]] = set()
        self.history = 0  # REG502 problems (one per offending commit; their subjects are commit ids)
        self.planted: set[str] = set()
        self.third = 0  # Third versions published honestly

    def report(self) -> set[tuple[str, str]]:
        return self.expected | {("REG206", f"packages/Third/{v}") for v in self.planted}


def _apply(step: tuple[str, str, str], repo: Path, registry: str, key: SigningKey, model: Model, root: Path) -> None:
    kind, target, extra = step
    if kind == "promote":
        name, _, version = target.partition("@")
        promote(registry, key, NOW, name=name, version=version, channel=extra)
        return
    if kind == "publish-third":
        if model.third == len(THIRD):
            return
        version = THIRD[model.third]
        publish(registry, root / "p" / f"third-{version}", key, NOW)
        model.third += 1
        model.planted.discard(version)  # a publish writes its directory from nothing
        return
    rogue.git(repo, "pull", "-q", "--ff-only", "origin", "main")
    rogue.git(repo, "fetch", "-q", "-f", "origin", "refs/tags/*:refs/tags/*")
    if kind == "edit-artifact":
        schema = repo / _path(target) / "artifacts" / "schema.json"
        document = json.loads(schema.read_text())
        document["entities"]["Lead"]["fields"]["backdoor"] = {"type": "text"}
        schema.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        model.expected |= {("REG203", target), ("REG207", target)}
    elif kind == "extra-file":
        (repo / _path(target) / "artifacts" / "notes.txt").write_text("planted\n")
        model.expected |= {("REG206", f"{_path(target)}/artifacts/notes.txt"), ("REG207", target)}
    elif kind == "forge-provenance":
        provenance = repo / _path(target) / "provenance.json"
        provenance.write_text(provenance.read_text().replace('"source": null', '"source": {"path": "."}'))
        model.expected |= {("REG208", target), ("REG207", target)}
    elif kind == "move-tag":
        name, _, version = target.partition("@")
        rogue.git(repo, "tag", "-f", "-a", "-m", "moved", f"{name}/v{version}", "HEAD")
        rogue.git(repo, "push", "-q", "-f", "origin", f"refs/tags/{name}/v{version}")
        model.expected.add(("REG205", target))
        return
    elif kind == "plant-third":
        if THIRD.index(target) < model.third:
            return  # already published: that would be an edit, not a plant
        planted = repo / "packages" / "Third" / target
        planted.mkdir(parents=True, exist_ok=True)
        (planted / "canonical.json").write_text("{}")
        model.planted.add(target)
    elif kind == "root-file":
        (repo / target).write_text("* text eol=crlf\n")
        model.expected.add(("REG403", target))
    else:  # delete-and-re-add
        path = repo / entry_path(int(target))
        data = path.read_bytes()
        path.unlink()
        rogue.push(repo, "delete")
        path.write_bytes(data)
        model.history += 2
    rogue.push(repo, kind)


@settings(
    max_examples=16,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEPS, min_size=2, max_size=6))
@example(
    steps=[
        ("plant-third", "1.0.0", ""),
        ("edit-artifact", "Demo@1.0.0", ""),
        ("publish-third", "", ""),
        ("plant-third", "1.2.0", ""),
        ("publish-third", "", ""),
        ("root-file", "log/NOTES", ""),
    ]
)
@example(
    steps=[
        ("forge-provenance", "Other@1.0.0", ""),
        ("delete-and-re-add", "4", ""),
        ("move-tag", "Other@1.0.0", ""),
        ("promote", "Other@1.0.0", "staging"),
        ("extra-file", "Other@1.0.0", ""),
    ]
)
def test_verify_reports_exactly_the_tamperings(template: Path, steps: list[tuple[str, str, str]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="crmctl-tamper-"))
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("CRMCTL_CACHE_DIR", str(root / "cache"))
            env.setenv("CRMCTL_STATE_DIR", str(root / "state"))
            registry = str(root / "reg")
            shutil.copytree(template / "reg", registry)
            shutil.copytree(template / "keys", root / "keys")
            key = SigningKey.load(root / "keys" / "alice")
            repo = rogue.clone(registry, root / "rogue")
            model = Model()
            for step in steps:
                _apply(step, repo, registry, key, model, template)
            problems = verify_registry(registry, NOW).problems
            found: dict[str, Any] = {
                "other": {(p.code, p.subject) for p in problems if p.code != "REG502"},
                "history": sum(p.code == "REG502" for p in problems),
            }
            assert found == {"other": model.report(), "history": model.history}, (steps, problems)
    finally:
        shutil.rmtree(root, ignore_errors=True)
