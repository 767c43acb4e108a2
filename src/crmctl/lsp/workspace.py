"""The editor's view of the packages: open buffers overlaid on the files on disk, loaded package by package.

A document belongs to the package of the nearest directory above it holding a package.yaml, so a workspace may
hold several packages (the repository layout `packages/<Name>/vN/`). A package is loaded with its absolute
directory as label, so every file name in a diagnostic is an absolute path.

Only what changed is parsed again: each file's last parsed document is kept with the bytes it came from, and its
typed model with the document it was validated from, so an edit re-parses and re-validates one file. The kept
entries are those of the files of the packages loaded (a file gone from its package is dropped at the next load),
so they do not grow over a long session. A buffer that does not parse is reported once, at the position the parser
gives, and the package is checked with that file's last version that parsed, so the other files keep their findings
while one is being typed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError
from crmctl.lint.config import LintConfig, load_config
from crmctl.model.source import SourceDoc
from crmctl.model.tree import DirTree

if TYPE_CHECKING:
    from crmctl.model.diagnostics import Diagnostic
    from crmctl.model.package import Package

# crmctl.model.package (the artifact models, CEL types, JSON Schemas) is imported by the first load, not by the
# server's start: its `initialize` answer does not need it.

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
        from crmctl.model.package import display_path

        return display_path(str(self.root), "package.yaml")


def _stand_in(file: str, as_json: bool) -> SourceDoc:
    """What stands in for a file that does not parse and never did in this session: its saved version when that
    parses (the buffer holds unsaved edits), else an empty document (its findings are not shown: the parse
    error is)."""
    from crmctl.model.package import read_source

    try:
        return read_source(Path(file).read_bytes(), file, as_json)
    except (InputError, OSError):
        return SourceDoc(file=file, data={}, text="")


@dataclass(frozen=True)
class _Validated:
    """One document's validation: the model (None when rejected) and the findings, for that document object."""

    doc: SourceDoc
    base: str
    package_name: str
    model: Any
    findings: tuple[Diagnostic, ...]


class Workspace:
    """Open buffers and the parsed documents kept between loads.

    The buffers change on the server's event loop; a check loads from a `snapshot` of them in a worker thread
    (`crmctl.lsp.features.diagnostics`). Loads hold a lock, so the kept documents and models are only touched by
    one thread at a time, whichever feature loads. `version` counts the changes to the buffers, so a check knows
    which text it saw."""

    def __init__(self) -> None:
        self.buffers: dict[Path, str] = {}
        self.version = 0
        # file name → (content, document) of the last version that parsed
        self._parsed: dict[str, tuple[bytes, SourceDoc]] = {}
        # file name → its last validation
        self._validated: dict[str, _Validated] = {}
        # package directory → the last package that loaded
        self.last_good: dict[Path, Package] = {}
        self._lock = threading.Lock()

    def open(self, path: Path, text: str) -> None:
        self.buffers[path] = text
        self.version += 1

    def close(self, path: Path) -> None:
        self.buffers.pop(path, None)
        self.version += 1

    def snapshot(self) -> tuple[int, dict[Path, str]]:
        """The buffers as they are now (a copy, for a check running while they change) and their version."""
        return self.version, dict(self.buffers)

    def _validate(self, base: str, doc: SourceDoc, package_name: str, sink: list[Diagnostic]) -> Any:
        """`validate_artifact`, reusing the model of a document validated before (the same parsed object)."""
        from crmctl.model.package import validate_artifact

        known = self._validated.get(doc.file)
        if known is not None and known.doc is doc and known.base == base and known.package_name == package_name:
            sink.extend(known.findings)
            return known.model
        found: list[Diagnostic] = []
        model = validate_artifact(base, doc, package_name, found)
        self._validated[doc.file] = _Validated(doc, base, package_name, model, tuple(found))
        sink.extend(found)
        return model

    def load(self, root: Path, buffers: dict[Path, str] | None = None) -> Loaded:
        """Load the package at `root` from disk and `buffers` (default: the open buffers). Never raises for bad
        input: problems are in the result (`parse_errors` per file, `error` for the package as a whole)."""
        with self._lock:
            return self._load(root, self.buffers if buffers is None else buffers)

    def _load(self, root: Path, buffers: dict[Path, str]) -> Loaded:
        from crmctl.model.package import load_tree, read_source

        errors: dict[str, InputError] = {}
        seen: set[str] = set()

        def read_doc(data: bytes, shown: str, as_json: bool) -> SourceDoc:
            seen.add(shown)
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
            tree = OverlayTree(root, buffers)
            package = load_tree(tree, read_doc=read_doc, validate=self._validate)
        except InputError as exc:
            return Loaded(root, None, errors, exc, config)
        self._prune(root, seen)
        package.root = root
        self.last_good[root] = package
        return Loaded(root, package, errors, None, config)

    def _prune(self, root: Path, kept: set[str]) -> None:
        """Drop what is kept for files of the package at `root` that its last load did not read."""
        prefix = f"{root}/"
        for cache in (self._parsed, self._validated):
            for file in [f for f in cache if f.startswith(prefix) and f not in kept]:
                del cache[file]

    def forget(self, file: str) -> None:
        """Drop the parsed document of a file (deleted on disk)."""
        with self._lock:
            self._parsed.pop(file, None)
            self._validated.pop(file, None)
        self.version += 1
