"""Control plane: Ed25519 keys and SSH signatures (SSHSIG), so that `ssh-keygen -Y verify` checks what crmctl signs."""

from crmctl.signing.keys import SigningKey, generate_key
from crmctl.signing.public_keys import fingerprint, load_public_key
from crmctl.signing.sshsig import (
    NAMESPACE_LOG,
    NAMESPACE_PACKAGE,
    SignatureError,
    allowed_signers_line,
    signature_key,
    verify,
)

__all__ = [
    "NAMESPACE_LOG",
    "NAMESPACE_PACKAGE",
    "SignatureError",
    "SigningKey",
    "allowed_signers_line",
    "fingerprint",
    "generate_key",
    "load_public_key",
    "signature_key",
    "verify",
]
