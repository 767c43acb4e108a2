"""The editor's view of the packages: open buffers overlaid on the files on disk, loaded package by package.

A document belongs to the package of the nearest directory above it holding a package.yaml, so a workspace may
hold several packages (the repository layout `packages/<Name>/vN/`). A package is loaded with its absolute
directory as label, so every file name in a diagnostic is an absolute path.

Only what changed is parsed again: each file's last parsed document is kept with the bytes it came from. A buffer
that does not parse is reported once, at the position the parser gives, and the package is checked with that
file's last version that parsed, so the other files keep their findings while one is being typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crmctl.errors import InputError
from crmctl.lint.config import LintConfig, load_config
from crmctl.model.package import Package, display_path, load_tree, read_source
from crmctl.model.source import SourceDoc
from crmctl.model.tree import DirTree

__all__ = ["Loaded", "OverlayTree", "Workspace", "package_dir"]


def package_dir(path: Path) -> Path | None:
    """The nearest directory at or above `path`'s directory that holds a package.yaml."""
    for directory in path.parents:
        if (directory / "package.yaml").is_file():
            return directory
    return None


class OverlayTree:
    """A package directory's files with the editor's open buffers over them (a buffer wins; a buffer of a file
    not yet saved is a file too)."""

    def __init__(self, root: Path, buffers: dict[Path, str]) -> None:
        self.label = str(root)
        self._disk = DirTree(root, self.label)
        self._buffers = {p.relative_to(root).as_posix(): text for p, text in buffers.items() if p.is_relative_to(root)}

    def files(self) -> list[str]:
        return sorted(set(self._disk.files()) | set(self._buffers))

    def read(self, rel: str) -> bytes:
        text = self._buffers.get(rel)
        if text is not None:
            return text.encode("utf-8", "surrogatepass")
        return self._disk.read(rel)


@dataclass
class Loaded:
    """One load of a package: the package (None when it could not be loaded at all), the files that did not
    parse with their errors (the package then holds their last good version), and the configuration."""

    root: Path
    package: Package | None
    parse_errors: dict[str, InputError] = field(default_factory=dict)
    error: InputError | None = None
    config: LintConfig = field(default_factory=LintConfig)

    @property
    def manifest_file(self) -> str:
        return display_path(str(self.root), "package.yaml")


def _stand_in(file: str, as_json: bool) -> SourceDoc:
    """What stands in for a file that does not parse and never did in this session: its saved version when that
    parses (the buffer holds unsaved edits), else an empty document (its findings are not shown: the parse
    error is)."""
    try:
        return read_source(Path(file).read_bytes(), file, as_json)
    except (InputError, OSError):
        return SourceDoc(file=file, data={}, text="")


class Workspace:
    """Open buffers and the parsed documents kept between loads."""

    def __init__(self) -> None:
        self.buffers: dict[Path, str] = {}
        # file name → (content, document) of the last version that parsed
        self._parsed: dict[str, tuple[bytes, SourceDoc]] = {}
        # package directory → the last package that loaded
        self.last_good: dict[Path, Package] = {}

    def open(self, path: Path, text: str) -> None:
        self.buffers[path] = text

    def close(self, path: Path) -> None:
        self.buffers.pop(path, None)

    def load(self, root: Path) -> Loaded:
        """Load the package at `root` from disk and buffers. Never raises for bad input: problems are in the
        result (`parse_errors` per file, `error` for the package as a whole)."""
        errors: dict[str, InputError] = {}

        def read_doc(data: bytes, shown: str, as_json: bool) -> SourceDoc:
            known = self._parsed.get(shown)
            if known is not None and known[0] == data:
                return known[1]
            try:
                doc = read_source(data, shown, as_json)
            except InputError as exc:
                errors[shown] = exc
                return known[1] if known is not None else _stand_in(shown, as_json)
            self._parsed[shown] = (data, doc)
            return doc

        try:
            config = load_config(None, root)
        except InputError as exc:
            return Loaded(root, None, errors, exc)
        try:
            package = load_tree(OverlayTree(root, self.buffers), read_doc=read_doc)
        except InputError as exc:
            return Loaded(root, None, errors, exc, config)
        package.root = root
        self.last_good[root] = package
        return Loaded(root, package, errors, None, config)

    def forget(self, file: str) -> None:
        """Drop the parsed document of a file (deleted on disk)."""
        self._parsed.pop(file, None)
