"""`crmctl keys generate` and `crmctl keys show`: Ed25519 signing keys in OpenSSH format."""

from __future__ import annotations

from pathlib import Path

from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.registry.config import default_key_path

__all__ = ["run_generate", "run_show"]


def _render(path: Path, public_key: str, fp: str, output_format: str) -> int:
    """The key's public half (never the private key: it stays in its file)."""
    if output_format == "json":
        return emit({"path": str(path), "publicKey": public_key, "fingerprint": fp})
    out(f"{public_key}\n{fp}")
    return 0


def run_generate(path: Path | None, identity: str, output_format: str) -> int:
    from crmctl.registry.names import check_identity
    from crmctl.signing import generate_key

    target = path or default_key_path()
    key = generate_key(target, check_identity(identity))
    return _render(target, key.public_key(), key.fingerprint(), output_format)


def run_show(path: Path | None, output_format: str) -> int:
    from crmctl.registry.config import signing_key_path
    from crmctl.signing import SigningKey

    target = path if path is not None else signing_key_path(None)  # the key publish would sign with
    key = SigningKey.load(target)
    return _render(target, key.public_key(), key.fingerprint(), output_format)
