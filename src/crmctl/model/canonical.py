"""Canonical JSON form of a package and its digest: the ground signing, publishing and pinning rest on.

A digest names the form it was computed over: `<algorithm>:<hex>`, the hex being the sha256 of the canonical
bytes. Two forms exist, and a digest is always checked with the form its prefix names (docs/formats.md):

* `jcs-sha256` (format 2, what crmctl computes now): RFC 8785, the JSON Canonicalization Scheme: keys sorted
  by their UTF-16 code units, numbers as ECMAScript prints doubles, minimal string escaping, UTF-8, no
  insignificant whitespace. Any stock JCS library recomputes it. Integers beyond ±(2^53 - 1) have no exact
  double and are refused (`CanonicalError`, located), as are NaN, infinities and unpaired surrogates; -0 is 0.
* `sha256` (format 1, crmctl before the change): Python's `json.dumps(sort_keys=True, ensure_ascii=False,
  separators=(",", ":"))`: keys sorted by code point, floats in Python's `repr`. Kept so every digest already
  stamped on a record, logged in a registry or filed in a store keeps verifying.

In both, the document is the same: artifacts keyed by kind (`package`, `schema`, ..., `localization/<locale>`),
each the validated model dumped by alias with defaults omitted (writing a default explicitly changes nothing);
strings and keys NFC-normalized; integral floats written as integers.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from typing import TYPE_CHECKING, Any, Protocol

from crmctl.errors import InputError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from crmctl.model.diagnostics import Location


class Package(Protocol):
    """What the canonical form reads of a package (`model.package.Package` is one): its artifact models by kind,
    the digest form it is known by, and where a value sits in its files (to locate a value no form can hold)."""

    @property
    def digest_algorithm(self) -> str: ...

    def models(self) -> dict[str, BaseModel]: ...

    def locate(self, kind: str, path: tuple[str | int, ...], *, key: bool = False) -> Location: ...


__all__ = [
    "ALGORITHMS",
    "CURRENT",
    "JCS",
    "LEGACY",
    "CanonicalError",
    "algorithm_of",
    "bytes_digest",
    "canonical_bytes",
    "canonical_document",
    "digest",
    "digest_like",
    "jcs_dumps",
    "jcs_loads",
    "normalize",
]

LEGACY = "sha256"
JCS = "jcs-sha256"
ALGORITHMS = (LEGACY, JCS)
CURRENT = JCS

# The largest integer every JSON reader holds exactly (an IEEE 754 double's 53-bit significand; RFC 8785 3.2.2.3).
_SAFE = 2**53 - 1
# Python's `repr` and ECMAScript print a float alike in fixed notation, from 1e-4 up to 1e16 (exclusive).
_FIXED_LOW, _FIXED_HIGH = 1e-4, 1e16
_ASTRAL_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")


class CanonicalError(InputError):
    """A value without an exact JCS form: a big integer, NaN or infinity, an unpaired surrogate."""


def normalize(value: Any) -> Any:
    """The value as the format-1 (`sha256`) form writes it: NFC strings and keys, integral floats as integers."""
    kind = type(value)
    if kind is str:
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if kind is dict:
        return {_nfc(str(k)): normalize(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [normalize(v) for v in value]
    if kind is float and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _jcs(value: Any, nfc: bool) -> Any:
    """The value as the JCS form holds it: integral floats within ±(2^53 - 1) as integers (JCS prints both alike;
    -0.0 becomes 0), floats that Python prints otherwise than ECMAScript wrapped in `_Exact`, and with `nfc`
    strings and keys in NFC (the package document's rule, not JCS's). Raises _Unrepresentable."""
    kind = type(value)
    if kind is str:
        return value if not nfc or value.isascii() else unicodedata.normalize("NFC", value)
    if kind is dict:
        if nfc:
            return {_nfc(str(k)): _jcs(v, nfc) for k, v in value.items()}
        return {str(k): _jcs(v, nfc) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_jcs(v, nfc) for v in value]
    if kind is int:
        if -_SAFE <= value <= _SAFE:
            return value
        raise _Unrepresentable(value, "an integer beyond ±(2^53 - 1)")
    if kind is float:
        if value.is_integer():
            if -_SAFE <= value <= _SAFE:
                return int(value)
        elif _FIXED_LOW <= abs(value) < _FIXED_HIGH:
            return value
        if not math.isfinite(value):
            raise _Unrepresentable(value, "NaN or an infinity")
        return _Exact(value)  # 2.0**53 (Python: 9007199254740992.0), 1e-7 (Python: 1e-07), ...
    return value


class _Exact:
    """A float `json.dumps` would print otherwise than ECMAScript: it refuses the wrapper, and the document goes
    through the `rfc8785` library instead (`_encode`)."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


def _unwrapped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrapped(v) for v in value]
    return value.value if isinstance(value, _Exact) else value


class _Unrepresentable(ValueError):
    def __init__(self, value: Any, what: str) -> None:
        super().__init__(what)
        self.value = value
        self.what = what


def jcs_dumps(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value (integral floats within ±(2^53 - 1) are integers, as JCS prints them).

    Raises ValueError for what JCS cannot represent exactly: integers beyond ±(2^53 - 1), NaN, infinities,
    unpaired surrogates, non-JSON types."""
    return _encode(value, nfc=False)


def jcs_loads(data: bytes | str) -> Any:
    """A JSON text read as JCS means it: a number beyond ±(2^53 - 1) written without a fraction or exponent is a
    double (JCS writes 1e17 as 100000000000000000), so it is read as a float, never as an integer JCS refuses.
    Hence `jcs_dumps(jcs_loads(b)) == b` for canonical bytes `b`."""
    return json.loads(data, parse_int=_read_int)


def _read_int(text: str) -> int | float:
    number = int(text)
    return number if -_SAFE <= number <= _SAFE else float(number)


def _encode(value: Any, *, nfc: bool) -> bytes:
    """JCS bytes. The common case (no float printed otherwise by Python and ECMAScript, no character outside the
    BMP) is `json.dumps` in C; anything else goes through the `rfc8785` library, the reference the tests compare
    both with."""
    document = _jcs(value, nfc)
    try:
        try:
            text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except TypeError:  # an _Exact float (or a value without a JSON form, which rfc8785 refuses below)
            text = None
        if text is not None:
            data = text.encode("utf-8")
            # Code-point and UTF-16 key orders differ only for characters outside the BMP, whose UTF-8 starts with
            # F0-F4 (looked for in the whole text at memchr speed: a value with an emoji takes the slower path,
            # never a wrong one).
            if not any(lead in data for lead in _ASTRAL_LEADS):
                return data
        import rfc8785

        return rfc8785.dumps(_unwrapped(document))
    except UnicodeEncodeError as exc:
        raise _Unrepresentable(None, "an unpaired surrogate") from exc
    except ValueError as exc:  # rfc8785.CanonicalizationError: a non-JSON type, a surrogate
        raise _Unrepresentable(None, f"a value without a JSON form ({exc})") from exc


def _dumped(package: Package) -> dict[str, Any]:
    return {
        kind: model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        for kind, model in package.models().items()
    }


def canonical_document(package: Package, algorithm: str | None = None) -> dict[str, Any]:
    """The package as one JSON object keyed by artifact kind, normalized for `algorithm` (default: the package's).

    Raises CanonicalError, located at the offending value's file:line:col, for a value JCS cannot represent."""
    chosen = algorithm or package.digest_algorithm
    _check_algorithm(chosen)
    dumped = _dumped(package)
    if chosen == LEGACY:
        return dict(normalize(dumped))
    try:
        return dict(_unwrapped(_jcs(dumped, True)))
    except _Unrepresentable as exc:
        raise _located(package, dumped, exc) from None


def canonical_bytes(package: Package, algorithm: str | None = None) -> bytes:
    """The bytes a digest hashes, in the form `algorithm` names (default: the package's, normally `CURRENT`).

    Raises CanonicalError, located at the offending value's file:line:col, for a value JCS cannot represent."""
    chosen = algorithm or package.digest_algorithm
    _check_algorithm(chosen)
    dumped = _dumped(package)
    if chosen == LEGACY:
        text = json.dumps(normalize(dumped), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    try:
        return _encode(dumped, nfc=True)
    except _Unrepresentable as exc:
        raise _located(package, dumped, exc) from None


def digest(package: Package, algorithm: str | None = None) -> str:
    """`<algorithm>:<sha256 hex of the canonical bytes>`; the algorithm defaults to the package's own (`CURRENT`
    unless the package was loaded from a copy pinned to an older digest)."""
    chosen = algorithm or package.digest_algorithm
    return bytes_digest(canonical_bytes(package, chosen), chosen)


def bytes_digest(data: bytes, algorithm: str) -> str:
    """The digest of canonical bytes already in the form `algorithm` names."""
    return f"{algorithm}:{hashlib.sha256(data).hexdigest()}"


def digest_like(data: bytes, expected: str) -> str:
    """The digest of canonical bytes `data` in the algorithm `expected` names (`CURRENT` if it names none): what
    a stored or published copy must equal `expected` by."""
    algorithm = expected.partition(":")[0]
    return bytes_digest(data, algorithm if algorithm in ALGORITHMS else CURRENT)


def algorithm_of(value: str) -> str:
    """The algorithm a digest names (`sha256:…` or `jcs-sha256:…`); ValueError for any other text."""
    algorithm, colon, hexdigest = value.partition(":")
    if not colon or algorithm not in ALGORITHMS or len(hexdigest) != 64 or hexdigest.strip("0123456789abcdef"):
        raise ValueError(f"not a package digest: {value[:80]!r} (expected sha256:<hex> or jcs-sha256:<hex>)")
    return algorithm


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown digest algorithm {algorithm!r}")


def _located(package: Package, document: dict[str, Any], exc: _Unrepresentable) -> CanonicalError:
    """The error for a value JCS cannot hold, at the first such value (searched only when one was found)."""
    found = _find(document, ())
    kind, path, shown = found if found is not None else ("package", (), "")
    where = package.locate(kind, path) if path else None
    location = str(where) if where is not None else kind
    dotted = ".".join(str(p) for p in path)
    return CanonicalError(
        f"{location}: {dotted + ': ' if dotted else ''}{shown or exc.what} has no exact form in canonical JSON "
        "(RFC 8785: numbers are IEEE 754 doubles, strings valid Unicode)",
        hint="write integers within ±9007199254740991 (2^53 - 1); a larger quantity fits a number with a "
        "fraction or exponent (a double), an identifier a string",
    )


def _find(value: Any, path: tuple[str | int, ...]) -> tuple[str, tuple[str | int, ...], str] | None:
    """(artifact kind, path within it, what is wrong) of the first value without a JCS form, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find(item, (*path, key))
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, (*path, index))
            if found is not None:
                return found
        return None
    problem = ""
    if type(value) is int and abs(value) > _SAFE:
        problem = f"the integer {value}" if len(str(value)) <= 40 else "an integer of more than 40 digits"
    elif type(value) is float and not math.isfinite(value):
        problem = str(value)
    elif isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
        problem = "a string with an unpaired surrogate"
    if not problem or not path:
        return None
    return str(path[0]), path[1:], problem
