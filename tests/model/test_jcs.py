"""RFC 8785 canonical JSON: the RFC's own test vectors, the reference library as an oracle, pinned digests of both
forms, and what JCS cannot represent (docs/formats.md)."""

from __future__ import annotations

import hashlib
import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from crmctl.errors import InputError
from crmctl.model.canonical import (
    JCS,
    LEGACY,
    CanonicalError,
    algorithm_of,
    bytes_digest,
    canonical_bytes,
    digest,
    digest_like,
    jcs_dumps,
    jcs_loads,
)
from crmctl.model.package import load_package
from crmctl.registry.log import canonical_json
from tests.conftest import MINIMAL, REPO, write_package

FORMATS = REPO / "tests" / "fixtures" / "formats"

# RFC 8785 Appendix B: IEEE 754 bit patterns and the text every JCS implementation writes for them.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    return float(struct.unpack(">d", bytes.fromhex(bits))[0])


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    assert jcs_dumps(_double(bits)) == text.encode()
    assert jcs_dumps([_double(bits)]) == f"[{text}]".encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_nan_and_infinity_are_refused(bits: str) -> None:
    with pytest.raises(ValueError, match="NaN or an infinity"):
        jcs_dumps({"x": _double(bits)})


def test_rfc8785_section_3_2_2_example() -> None:
    value = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert jcs_dumps(value) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = [k for k in json.loads(jcs_dumps(value))]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # Code-point order (the format-1 form's) puts the emoji last: the two orders differ exactly here.
    assert sorted(value)[-1] == "\U0001f600"


def test_integers_beyond_2_53_are_refused_and_2_53_minus_1_is_not() -> None:
    assert jcs_dumps([2**53 - 1, -(2**53 - 1)]) == b"[9007199254740991,-9007199254740991]"
    for big in (2**53, -(2**53), 10**30):
        with pytest.raises(ValueError, match="integer beyond"):
            jcs_dumps({"n": big})
    # A double of that size is a double: written as ECMAScript writes it, never refused.
    assert jcs_dumps(float(2**60)) == b"1152921504606847000"  # shortest digits, then zeros


def test_minus_zero_integral_floats_and_unpaired_surrogates() -> None:
    assert jcs_dumps([-0.0, 0.0, 1.0, -3.0, 0.5]) == b"[0,0,1,-3,0.5]"
    with pytest.raises(ValueError, match="surrogate"):
        jcs_dumps({"s": "\ud800"})
    with pytest.raises(ValueError, match="without a JSON form"):
        jcs_dumps({"s": object()})


# --- property tests: the fast path agrees with the reference library, bytes parse back, key order is irrelevant ---

_floats = st.floats(allow_nan=False, allow_infinity=False)
_ints = st.integers(-(2**53 - 1), 2**53 - 1)
_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
_keys = st.one_of(_texts, st.sampled_from(["\U0001f600", "\ufb33", "\uff21", "\u20ac", "a", "\ue000"]))
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), _ints, _floats, _texts),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=20,
)


def _reordered(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _reordered(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_reordered(v, rng) for v in value]
    return value


@settings(max_examples=400, derandomize=True, deadline=None)
@given(value=_values, seed=st.integers(0, 2**16))
def test_jcs_matches_the_reference_parses_back_and_ignores_key_order(value: Any, seed: int) -> None:
    data = jcs_dumps(value)
    assert data == rfc8785.dumps(value)
    assert jcs_loads(data) == value  # as doubles: 1e17 comes back as a float, 2.0 as 2 (equal in Python)
    assert jcs_dumps(_reordered(value, random.Random(seed))) == data
    assert jcs_dumps(jcs_loads(data)) == data  # canonical bytes are a fixed point


@settings(max_examples=300, derandomize=True, deadline=None)
@given(number=_floats)
def test_every_finite_double_prints_as_the_reference_and_round_trips(number: float) -> None:
    assert jcs_dumps(number) == rfc8785.dumps(number)
    assert float(json.loads(jcs_dumps(number))) == number == jcs_loads(jcs_dumps(number))


# --- digests: pinned in both forms ---------------------------------------------------------------------------------


def test_digest_of_the_formats_package_is_pinned_in_both_forms() -> None:
    """Guards the canonical forms: signatures, registries and every stored record depend on them. The package has
    a default of 1e-7 (Python writes 1e-07) and message keys outside the BMP, so the two forms differ."""
    package = load_package(FORMATS / "package")
    jcs = (FORMATS / "canonical-jcs.json").read_bytes()
    legacy = (FORMATS / "canonical-v1.json").read_bytes()
    assert canonical_bytes(package) == jcs and canonical_bytes(package, LEGACY) == legacy
    assert digest(package) == "jcs-sha256:bc2aa65740c646abe63f803b98a455406d1ceaa41776ea8c42ff39131e84fb38"
    assert digest(package, LEGACY) == "sha256:09bf048c7e6b0f9841c9826885a5f79cf4c7f0086fb34fc1579b829a2fa771bb"
    assert digest(package) == "jcs-sha256:" + hashlib.sha256(jcs).hexdigest()
    assert rfc8785.dumps(json.loads(jcs)) == jcs  # what a service in another language recomputes
    assert b'"default":1e-7' in jcs and b'"default":1e-07' in legacy


def test_digest_algorithm_helpers() -> None:
    hexdigest = "0a" * 32
    assert algorithm_of(f"sha256:{hexdigest}") == LEGACY and algorithm_of(f"jcs-sha256:{hexdigest}") == JCS
    for bad in ("sha256:xyz", f"md5:{hexdigest}", hexdigest, f"sha256:{hexdigest.upper()}", f"jcs-sha256:{hexdigest}0"):
        with pytest.raises(ValueError, match="not a package digest"):
            algorithm_of(bad)
    assert digest_like(b"x", f"sha256:{hexdigest}") == bytes_digest(b"x", LEGACY)
    assert digest_like(b"x", "garbage") == bytes_digest(b"x", JCS)
    with pytest.raises(ValueError, match="unknown digest algorithm"):
        canonical_bytes(load_package(FORMATS / "package"), "md5")


def test_a_package_keeps_the_algorithm_it_is_known_by() -> None:
    package = load_package(FORMATS / "package")
    assert package.digest_algorithm == JCS
    package.digest_algorithm = LEGACY
    assert digest(package) == "sha256:09bf048c7e6b0f9841c9826885a5f79cf4c7f0086fb34fc1579b829a2fa771bb"
    assert digest(package, JCS).startswith("jcs-sha256:bc2aa657")


@pytest.mark.parametrize(
    ("default", "shown"),
    [
        ("9007199254740993", "the integer 9007199254740993"),
        ("-9007199254740992", "the integer -9007199254740992"),
        ("1" + "0" * 50, "an integer of more than 40 digits"),
    ],
)
def test_an_integer_jcs_cannot_hold_is_refused_where_it_is_written(tmp_path: Path, default: str, shown: str) -> None:
    files = dict(MINIMAL)
    files["schema.yaml"] = (
        "entities:\n  Lead:\n    fields:\n      firstName: {type: text, required: true}\n"
        f"      amount: {{type: number, integer: true, default: {default}}}\n"
    )
    package = load_package(write_package(tmp_path / "p", files))
    assert package.valid
    with pytest.raises(CanonicalError) as caught:
        digest(package)
    error = caught.value
    assert isinstance(error, InputError)
    assert error.message.split(": ")[0].endswith("/schema.yaml:5:54"), error.message
    assert f"entities.Lead.fields.amount.default: {shown} has no exact form" in error.message
    assert error.hint is not None and "9007199254740991" in error.hint
    # The format-1 form held it, so a digest stamped before stays recomputable.
    assert digest(package, LEGACY).startswith("sha256:")


def test_canonical_bytes_are_the_reference_librarys_for_every_reference_package() -> None:
    for path in sorted((REPO / "packages").glob("**/package.yaml")):
        package = load_package(path.parent)
        data = canonical_bytes(package)
        assert data == rfc8785.dumps(json.loads(data)), path


_entry_like = st.recursive(
    st.one_of(st.none(), st.booleans(), _ints, _texts),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=6), inner),
    ),
    max_leaves=20,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(value=_entry_like)
def test_without_floats_and_with_bmp_keys_the_format_1_form_is_jcs(value: Any) -> None:
    """Why a stock JCS library also verifies format-1 registry entries (docs/formats.md): they hold no floats,
    and their keys are ASCII."""
    assert canonical_json(value).encode("utf-8") == jcs_dumps(value)


def test_the_formats_doc_quotes_the_pinned_digests() -> None:
    text = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    assert "jcs-sha256:bc2aa65740c646abe63f803b98a455406d1ceaa41776ea8c42ff39131e84fb38" in text
    assert "sha256:09bf048c7e6b0f9841c9826885a5f79cf4c7f0086fb34fc1579b829a2fa771bb" in text
