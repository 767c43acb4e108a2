"""`crmctl keys generate` and `crmctl keys show`: Ed25519 signing keys in OpenSSH format."""

from __future__ import annotations

import json
from pathlib import Path

from crmctl.cli.console import out
from crmctl.registry.config import default_key_path

__all__ = ["run_generate", "run_show"]


def _render(path: Path, public_key: str, fp: str, output_format: str) -> None:
    if output_format == "json":
        out(json.dumps({"path": str(path), "public_key": public_key, "fingerprint": fp}, indent=2, sort_keys=True))
    else:
        out(f"{public_key}\n{fp}")


def run_generate(path: Path | None, identity: str, output_format: str) -> int:
    from crmctl.registry.names import check_identity
    from crmctl.signing import generate_key

    target = path or default_key_path()
    key = generate_key(target, check_identity(identity))
    _render(target, key.public_key(), key.fingerprint(), output_format)
    return 0


def run_show(path: Path | None, output_format: str) -> int:
    from crmctl.registry.config import signing_key_path
    from crmctl.signing import SigningKey

    target = path if path is not None else signing_key_path(None)  # the key publish would sign with
    key = SigningKey.load(target)
    _render(target, key.public_key(), key.fingerprint(), output_format)
    return 0
