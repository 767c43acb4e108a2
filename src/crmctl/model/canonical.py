"""Canonical JSON form of a package and its sha256 digest: the ground signing and publishing rest on.

Rules: artifacts are keyed by kind (`package`, `schema`, ..., `localization/<locale>`); values are the
validated models dumped by alias with defaults omitted (writing a default explicitly changes nothing);
strings and keys are NFC-normalized; integral floats become integers and other floats use the shortest
round-trip form; keys are sorted by code point; output is UTF-8 JSON without insignificant whitespace.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmctl.model.package import Package

__all__ = ["canonical_bytes", "canonical_document", "digest", "normalize"]


def normalize(value: Any) -> Any:
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


def canonical_document(package: Package) -> dict[str, Any]:
    return {
        kind: normalize(model.model_dump(mode="json", by_alias=True, exclude_defaults=True))
        for kind, model in package.models().items()
    }


def canonical_bytes(package: Package) -> bytes:
    text = json.dumps(
        canonical_document(package), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return text.encode("utf-8")


def digest(package: Package) -> str:
    return "sha256:" + hashlib.sha256(canonical_bytes(package)).hexdigest()
