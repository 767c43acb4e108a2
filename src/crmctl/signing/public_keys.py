"""OpenSSH ed25519 public key lines: their fingerprint and the key they hold (what signatures are checked with)."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from crmctl.errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["fingerprint", "load_public_key"]

_KEY_TYPE = "ssh-ed25519"


def fingerprint(public_key: str) -> str:
    """OpenSSH's fingerprint of a public key line: `SHA256:` and unpadded base64, as `ssh-keygen -l` prints."""
    blob = _public_blob(public_key)
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _public_blob(public_key: str) -> bytes:
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] != _KEY_TYPE:
        raise InputError(f"not an ssh-ed25519 public key: {public_key.strip()[:40]!r}")
    try:
        return base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise InputError("public key is not valid base64") from None


def load_public_key(public_key: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    try:
        key = load_ssh_public_key(" ".join(public_key.strip().split()[:2]).encode())
    except (ValueError, IndexError):
        raise InputError(f"not a valid ssh-ed25519 public key: {public_key.strip()[:40]!r}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("only ssh-ed25519 keys are supported")
    return key
