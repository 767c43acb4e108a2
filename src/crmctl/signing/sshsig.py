"""SSH signatures (OpenSSH's PROTOCOL.sshsig), the format `ssh-keygen -Y sign` writes and `-Y verify` checks.

Signed data: "SSHSIG" || string(namespace) || string(reserved="") || string("sha512") || string(SHA512(message));
the armored blob: "SSHSIG" || uint32(1) || string(public key) || string(namespace) || string(reserved) ||
string("sha512") || string(ssh signature). Strings are uint32 big-endian length-prefixed.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import TYPE_CHECKING

from crmctl.errors import CrmctlError
from crmctl.signing.public_keys import fingerprint, load_public_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "NAMESPACE_LOG",
    "NAMESPACE_PACKAGE",
    "SignatureError",
    "allowed_signers_line",
    "sign",
    "signature_key",
    "verify",
]

NAMESPACE_PACKAGE = "crmctl-package"
NAMESPACE_LOG = "crmctl-log"

_MAGIC = b"SSHSIG"
_VERSION = 1
_HASH = "sha512"
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"


class SignatureError(CrmctlError):
    """A signature is malformed or does not verify (reported as a finding, not a crash)."""

    exit_code = 1


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _read_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise SignatureError("truncated signature")
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise SignatureError("truncated signature")
    return blob[offset + 4 : end], end


def _signed_data(message: bytes, namespace: str) -> bytes:
    digest = hashlib.sha512(message).digest()
    return _MAGIC + _string(namespace.encode()) + _string(b"") + _string(_HASH.encode()) + _string(digest)


def sign(private: Ed25519PrivateKey, message: bytes, namespace: str) -> str:
    """An armored SSHSIG over `message` that `ssh-keygen -Y verify -n NAMESPACE` accepts."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public_blob = _string(b"ssh-ed25519") + _string(public_raw)
    raw_signature = private.sign(_signed_data(message, namespace))
    ssh_signature = _string(b"ssh-ed25519") + _string(raw_signature)
    blob = (
        _MAGIC
        + struct.pack(">I", _VERSION)
        + _string(public_blob)
        + _string(namespace.encode())
        + _string(b"")
        + _string(_HASH.encode())
        + _string(ssh_signature)
    )
    text = base64.b64encode(blob).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


def _parse(signature: str) -> tuple[bytes, str, str, bytes]:
    """(public key blob, namespace, hash algorithm, raw ed25519 signature)."""
    text = signature.strip()
    if not (text.startswith(_BEGIN) and text.endswith(_END)):
        raise SignatureError("not an SSH signature (missing BEGIN/END SSH SIGNATURE lines)")
    body = "".join(text[len(_BEGIN) : -len(_END)].split())
    try:
        blob = base64.b64decode(body, validate=True)
    except ValueError:
        raise SignatureError("SSH signature is not valid base64") from None
    if not blob.startswith(_MAGIC) or len(blob) < 10:
        raise SignatureError("not an SSHSIG blob")
    (version,) = struct.unpack(">I", blob[6:10])
    if version != _VERSION:
        raise SignatureError(f"unsupported SSHSIG version {version}")
    public_blob, offset = _read_string(blob, 10)
    namespace, offset = _read_string(blob, offset)
    _reserved, offset = _read_string(blob, offset)
    hash_alg, offset = _read_string(blob, offset)
    ssh_signature, offset = _read_string(blob, offset)
    sig_type, inner = _read_string(ssh_signature, 0)
    raw, _ = _read_string(ssh_signature, inner)
    if sig_type != b"ssh-ed25519":
        raise SignatureError(f"unsupported signature type {sig_type.decode(errors='replace')!r}")
    return public_blob, namespace.decode(errors="replace"), hash_alg.decode(errors="replace"), raw


def signature_key(signature: str) -> str:
    """The public key (`ssh-ed25519 AAAA...`) embedded in a signature."""
    public_blob, _, _, _ = _parse(signature)
    return "ssh-ed25519 " + base64.b64encode(public_blob).decode()


def verify(signature: str, message: bytes, namespace: str, public_key: str) -> None:
    """Raise SignatureError unless `signature` is `public_key`'s SSHSIG over `message` in `namespace`."""
    from cryptography.exceptions import InvalidSignature

    public_blob, signed_namespace, hash_alg, raw = _parse(signature)
    if signed_namespace != namespace:
        raise SignatureError(f"signature is for namespace {signed_namespace!r}, expected {namespace!r}")
    embedded = "ssh-ed25519 " + base64.b64encode(public_blob).decode()
    if fingerprint(embedded) != fingerprint(public_key):
        raise SignatureError(f"signed by {fingerprint(embedded)}, expected {fingerprint(public_key)}")
    if hash_alg not in ("sha512", "sha256"):
        raise SignatureError(f"unsupported hash algorithm {hash_alg!r}")
    digest = (hashlib.sha512 if hash_alg == "sha512" else hashlib.sha256)(message).digest()
    data = _MAGIC + _string(namespace.encode()) + _string(b"") + _string(hash_alg.encode()) + _string(digest)
    try:
        load_public_key(public_key).verify(raw, data)
    except InvalidSignature:
        raise SignatureError("signature does not match the signed data") from None


def allowed_signers_line(identity: str, public_key: str, namespaces: tuple[str, ...] = (NAMESPACE_PACKAGE,)) -> str:
    """One line of an ssh-keygen allowed-signers file."""
    key = " ".join(public_key.split()[:2])
    return f'{identity} namespaces="{",".join(namespaces)}" {key}'
