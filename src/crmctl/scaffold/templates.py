"""Where package templates live and how one is rendered into files.

An installed wheel carries the repository's `templates/` directory as `crmctl/_templates`; an editable
install reads the repository's top-level `templates/` directly. Each template is a complete, lint-clean package
in its own right; text files may contain `{{name}}`, replaced by the new package's name.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["NAME_PLACEHOLDER", "available_templates", "render_template", "templates_root"]

NAME_PLACEHOLDER = "{{name}}"
_TEXT_SUFFIXES = (".yaml", ".yml", ".json", ".md", ".txt")


def templates_root() -> Traversable:
    """The directory holding one sub-directory per template."""
    try:
        packaged = resources.files("crmctl") / "_templates"
        if packaged.is_dir():
            return packaged
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - crmctl itself is importable here
        pass
    return Path(__file__).resolve().parents[3] / "templates"


def available_templates() -> list[str]:
    root = templates_root()
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))


def render_template(template: str, name: str) -> dict[str, bytes]:
    """Every file of `template` by relative POSIX path, with `{{name}}` replaced in text files."""
    files: dict[str, bytes] = {}
    _collect(templates_root() / template, "", name, files)
    return files


def _collect(directory: Traversable, prefix: str, name: str, files: dict[str, bytes]) -> None:
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            _collect(entry, rel + "/", name, files)
            continue
        data = entry.read_bytes()
        if rel.endswith(_TEXT_SUFFIXES):
            data = data.decode("utf-8").replace(NAME_PLACEHOLDER, name).encode("utf-8")
        files[rel] = data
