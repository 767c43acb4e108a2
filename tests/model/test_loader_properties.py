"""Whatever bytes a package file holds, loading ends in data or a located InputError, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crmctl.errors import InputError
from crmctl.model.package import load_package
from crmctl.model.source import parse_text
from tests.conftest import MINIMAL, write_package

yamlish = st.text(
    alphabet=st.sampled_from([*list("abc:-[]{}\"'&*!|>#%@`?,.0123456789 \n\t\\~=<"), "é", "\ufeff", "\x00"]),
    max_size=80,
)


@settings(max_examples=400, deadline=None)
@given(text=yamlish, as_json=st.booleans())
@example(text="a: &x [*x]\n", as_json=False)
@example(text='{"a": "\\ud800"}', as_json=True)
@example(text="? - a\n: b\n", as_json=False)
def test_parse_text_returns_data_or_a_located_input_error(text: str, as_json: bool) -> None:
    try:
        doc = parse_text(text, "f.yaml", as_json=as_json)
    except InputError as exc:
        assert exc.message.startswith("f.yaml")
        return
    assert doc.loc(("anything", 0)).file == "f.yaml"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=120), artifact=st.sampled_from(["schema.yaml", "ui.json", "localization/en.yaml"]))
def test_any_bytes_in_an_artifact_load_or_fail_cleanly(tmp_path_factory: Any, raw: bytes, artifact: str) -> None:
    root = write_package(tmp_path_factory.mktemp("pkg"), MINIMAL)
    target = root / artifact
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(raw)
    try:
        package = load_package(root)
    except InputError as exc:
        assert artifact.split("/")[-1] in exc.message
        return
    for diagnostic in package.diagnostics:
        assert diagnostic.location.line >= 1 and diagnostic.code


def test_loading_never_touches_dot_directories(tmp_path: Path) -> None:
    root = write_package(tmp_path / "p", {**MINIMAL, ".crmctl/schemas/x.yaml": "::: not yaml"})
    assert load_package(root).valid
