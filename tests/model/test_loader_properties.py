"""Whatever bytes a package file holds, loading ends in data or a located InputError, never a crash."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crmctl.errors import InputError
from crmctl.model.package import load_package
from crmctl.model.source import _COMPOSER_SAFE_DEPTH, _may_nest_too_deep, parse_text
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


# libyaml's composer recurses on the C stack; the loader measures a text's depth before composing only when a
# linear bound (brackets, plus two per column of the longest block prefix) exceeds `_COMPOSER_SAFE_DEPTH`. That
# bound must never be below the depth libyaml actually builds, however the text is written.
_BREAKS = "\n\r\x85\u2028\u2029"
_BLOCK_PREFIX = re.compile(r"[ \t?:\-\ufeff]*")
_pieces = st.sampled_from(
    [
        "- ",
        "? ",
        ": ",
        "-",
        "?",
        ":",
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "\x85",
        "\u2028",
        "\u2029",
        "\ufeff",
        "a",
        "a:",
        "a: ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "#",
        "'",
        '"',
        "&x ",
        "!t ",
        "*x",
        "|",
        ">",
        "---",
        "...",
    ]
)
_lines = st.tuples(
    st.integers(0, 8),
    st.lists(st.sampled_from(["- ", "? ", ": ", "-\t", "a: ", "&a ", "[", "{"]), max_size=6),
    st.sampled_from(["", "x", "x:", "[a]", "{a: b}", "|", ">-"]),
    st.sampled_from(["\n", "\r", "\r\n", "\u2028"]),
).map(lambda t: " " * t[0] + "".join(t[1]) + t[2] + t[3])


def _bound(text: str) -> int:
    starts = [0] + [i + 1 for i, char in enumerate(text) if char in _BREAKS]
    longest = max(len(_BLOCK_PREFIX.match(text, start).group()) for start in starts)  # type: ignore[union-attr]
    return text.count("[") + text.count("{") + 2 * (longest + 1)


def _libyaml_depth(text: str) -> int:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    depth = deepest = 0
    try:
        for event in YAML(typ="safe", pure=False).parse(io.StringIO(text)):
            kind = type(event).__name__
            if kind in ("SequenceStartEvent", "MappingStartEvent"):
                depth += 1
                deepest = max(deepest, depth)
            elif kind in ("SequenceEndEvent", "MappingEndEvent"):
                depth -= 1
    except YAMLError:
        pass
    return deepest


@settings(max_examples=600, deadline=None, derandomize=True)
@given(text=st.one_of(st.lists(_pieces, max_size=60).map("".join), st.lists(_lines, max_size=25).map("".join)))
@example(text="a:\n" + "- " * 30 + "x\n")
@example(text="? " * 30 + "x\n")
def test_the_linear_nesting_bound_never_undercounts_libyaml(text: str) -> None:
    bound = _bound(text)
    assert _libyaml_depth(text) <= bound
    if not _may_nest_too_deep(text):
        assert bound <= _COMPOSER_SAFE_DEPTH


@pytest.mark.parametrize(
    ("text", "unsafe"),
    [
        ("a: " + "[" * 1_500 + "]" * 1_500, False),
        ("a: " + "[" * 1_501 + "]" * 1_501, True),
        (" " * 249 + "a: 1\n", False),
        (" " * 250 + "a: 1\n", True),
        ("b: 1\n" + "- " * 125 + "x\n", True),
        ("b: 1\r" + "? " * 125 + "x\r", True),
        ("b: 1\u2029" + " -" * 125 + "x", True),
        ("b: 1\n" + "- " * 124 + "x\n" + "[" * 1_000, False),
    ],
)
def test_the_fast_bound_check_follows_the_bound(text: str, unsafe: bool) -> None:
    assert _may_nest_too_deep(text) is unsafe
    if not unsafe:
        assert _bound(text) <= _COMPOSER_SAFE_DEPTH


@settings(max_examples=150, deadline=None, derandomize=True)
@given(runs=st.lists(st.tuples(_pieces, st.integers(1, 3_000)), min_size=1, max_size=6), as_json=st.booleans())
def test_long_runs_of_structure_load_or_fail_located(runs: list[tuple[str, int]], as_json: bool) -> None:
    text = "".join(piece * count for piece, count in runs)
    try:
        parse_text(text, "f.yaml", as_json=as_json)
    except InputError as exc:
        assert exc.message.startswith("f.yaml")
