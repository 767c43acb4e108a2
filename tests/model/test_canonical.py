"""The canonical digest: identical for any authoring of the same package, different for any real change."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from crmctl.model.canonical import digest
from crmctl.model.package import load_package
from tests.conftest import write_package

names = st.from_regex(r"[a-z][A-Za-z0-9]{0,8}", fullmatch=True)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)

simple_field = st.one_of(
    st.fixed_dictionaries({"type": st.just("text")}, optional={"maxLength": st.integers(1, 500), "description": texts}),
    st.fixed_dictionaries({"type": st.just("number")}, optional={"integer": st.booleans(), "required": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("enum"), "values": st.lists(names, min_size=1, max_size=4, unique=True)}),
    st.fixed_dictionaries({"type": st.just("currency"), "currency": st.sampled_from(["EUR", "USD", "JPY"])}),
    st.fixed_dictionaries({"type": st.sampled_from(["boolean", "date", "datetime"])}),
)
schemas = st.dictionaries(names, simple_field, min_size=1, max_size=6).map(
    lambda fields: {"entities": {"Lead": {"fields": fields}}}
)

MANIFEST = {"name": "Demo", "version": "1.0.0", "scope": "global", "description": "Démo", "locales": ["en"]}


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _yaml(value: Any, flow: bool) -> str:
    import io

    yaml = YAML()
    yaml.default_flow_style = flow
    yaml.allow_unicode = True
    buf = io.StringIO()
    yaml.dump(value, buf)
    text = buf.getvalue()
    try:  # ruamel's flow emitter occasionally writes YAML it cannot read back (e.g. `{a: ?0}`); not our bug
        YAML(typ="safe", pure=True).load(text)
    except Exception:
        assume(False)
    return text


def _package(root: Path, schema: dict[str, Any], *, as_json: bool, flow: bool, seed: int) -> str:
    rng = random.Random(seed)
    schema = _shuffled(schema, rng)
    manifest = _shuffled(MANIFEST, rng)
    files = {
        "package.json" if as_json else "package.yaml": json.dumps(manifest) if as_json else _yaml(manifest, flow),
        "schema.json" if as_json else "schema.yaml": json.dumps(schema, indent=seed % 4)
        if as_json
        else _yaml(schema, flow),
    }
    package = load_package(write_package(root, files))
    assert package.valid, package.diagnostics
    return digest(package)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=schemas, seed=st.integers(0, 1000))
def test_digest_ignores_format_key_order_and_yaml_vs_json(
    tmp_path_factory: Any, schema: dict[str, Any], seed: int
) -> None:
    base = tmp_path_factory.mktemp("digest")
    reference = _package(base / "a", schema, as_json=False, flow=False, seed=0)
    assert _package(base / "b", schema, as_json=True, flow=False, seed=seed) == reference
    assert _package(base / "c", schema, as_json=False, flow=True, seed=seed + 1) == reference


def test_digest_ignores_explicit_defaults_number_spelling_and_unicode_form(tmp_path: Path) -> None:
    plain = {"entities": {"Lead": {"fields": {"n": {"type": "text", "maxLength": 10, "description": "caf\u00e9"}}}}}
    spelled = {
        "entities": {
            "Lead": {
                "fields": {
                    "n": {
                        "type": "text",
                        "maxLength": 10,
                        "required": False,
                        "aliases": [],
                        "description": "cafe\u0301",
                    }
                }
            }
        }
    }
    a = _package(tmp_path / "a", plain, as_json=False, flow=False, seed=1)
    b = _package(tmp_path / "b", spelled, as_json=True, flow=False, seed=2)
    assert a == b
    assert a.startswith("jcs-sha256:") and len(a) == len("jcs-sha256:") + 64


def test_digest_changes_with_content(tmp_path: Path) -> None:
    one = {"entities": {"Lead": {"fields": {"n": {"type": "text"}}}}}
    two = {"entities": {"Lead": {"fields": {"n": {"type": "text", "required": True}}}}}
    assert _package(tmp_path / "a", one, as_json=False, flow=False, seed=1) != _package(
        tmp_path / "b", two, as_json=False, flow=False, seed=1
    )


def test_digest_is_pinned_for_a_known_package(tmp_path: Path) -> None:
    """Guards against accidental changes to the canonical form: signatures depend on it."""
    schema = {"entities": {"Lead": {"fields": {"firstName": {"type": "text", "required": True}}}}}
    value = _package(tmp_path / "a", schema, as_json=False, flow=False, seed=3)
    canonical = (
        '{"package":{"description":"Démo","locales":["en"],"name":"Demo","scope":"global","version":"1.0.0"},'
        '"schema":{"entities":{"Lead":{"fields":{"firstName":{"required":true,"type":"text"}}}}}}'
    )
    import hashlib

    # RFC 8785 since registry format 2 (docs/formats.md); for this package its bytes equal the format-1 form's.
    assert value == "jcs-sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
