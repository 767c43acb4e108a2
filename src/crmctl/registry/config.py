"""Which registry and which signing key: command line, environment, `[tool.crmctl]`, then defaults."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from crmctl.errors import InputError, UsageError
from crmctl.model.config import read_config

__all__ = ["default_identity", "registry_location", "signing_key_path"]


def _config_value(key: str, start: Path) -> tuple[str, Path] | None:
    found = read_config(None, start)
    value = found.values.get(key) if found is not None else None
    if found is None or value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{found.path}: [tool.crmctl] {key}: expected a non-empty string")
    return value, found.path


def registry_location(explicit: str | None, start: Path | None = None) -> str:
    """--registry, then CRMCTL_REGISTRY, then `registry` in [tool.crmctl] (a path relative to that file)."""
    if explicit:
        return explicit
    env = os.environ.get("CRMCTL_REGISTRY")
    if env:
        return env
    found = _config_value("registry", start or Path.cwd())
    if found is not None:
        from crmctl.registry.store import normalize_location

        return normalize_location(found[0], found[1].parent)
    raise UsageError(
        "no registry given",
        hint='pass --registry LOCATION, set CRMCTL_REGISTRY, or set registry = "..." in [tool.crmctl]',
    )


def signing_key_path(explicit: Path | None, start: Path | None = None) -> Path:
    """--key, CRMCTL_KEY, `signing-key` in [tool.crmctl], then the first that exists of `crmctl keys generate`'s
    default key and ~/.ssh/id_ed25519."""
    if explicit is not None:
        return explicit
    env = os.environ.get("CRMCTL_KEY")
    if env:
        return Path(env).expanduser()
    found = _config_value("signing-key", start or Path.cwd())
    if found is not None:
        path = Path(found[0]).expanduser()
        return path if path.is_absolute() else found[1].parent / path
    for default in (default_key_path(), Path.home() / ".ssh" / "id_ed25519"):
        if default.is_file():
            return default
    raise UsageError(
        "no signing key given",
        hint="pass --key PATH, set CRMCTL_KEY, set signing-key in "
        "[tool.crmctl], or create one with `crmctl keys generate`",
    )


def default_key_path() -> Path:
    """Where `crmctl keys generate` puts a key when given no path ($XDG_CONFIG_HOME/crmctl/keys/id_ed25519)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "crmctl" / "keys" / "id_ed25519"


def default_identity() -> str | None:
    """`git config user.email`, the identity `registry init` uses when none is given."""
    try:
        result = subprocess.run(["git", "config", "user.email"], capture_output=True, check=False)
    except OSError:
        return None
    return result.stdout.decode().strip() or None
