"""Loading a package: discover artifact files, parse them with positions, validate their structure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from crmctl.errors import InputError
from crmctl.model.artifacts import (
    EventsArtifact,
    LocalizationArtifact,
    Manifest,
    RulesArtifact,
    UiArtifact,
    ValidationsArtifact,
    WorkflowArtifact,
)
from crmctl.model.canonical import CURRENT
from crmctl.model.diagnostics import Diagnostic, Location, Severity
from crmctl.model.fields import SchemaArtifact
from crmctl.model.jsonschemas import ARTIFACT_MODELS, validate_doc
from crmctl.model.source import MAX_FILE_BYTES, SourceDoc, decode_text, parse_text
from crmctl.model.tree import DirTree, FileTree, MemoryTree, check_relative

__all__ = [
    "ARTIFACT_KINDS",
    "DocReader",
    "DocValidator",
    "Package",
    "display_path",
    "load_package",
    "load_tree",
    "read_source",
    "validate_artifact",
]

ARTIFACT_KINDS = ("package", "schema", "ui", "rules", "validations", "workflow", "events")
_SUFFIXES = (".yaml", ".yml", ".json")

DocReader = Callable[[bytes, str, bool], "SourceDoc"]
# (artifact base kind, document, package name, findings sink) → the typed model or None
DocValidator = Callable[[str, "SourceDoc", str, "list[Diagnostic]"], Any]
"""(file content, file name as diagnostics show it, whether it is JSON) → the parsed document, or `InputError`."""


@dataclass
class Package:
    """A loaded package. Models are None where the artifact is absent or structurally invalid."""

    label: str
    docs: dict[str, SourceDoc] = field(default_factory=dict)
    manifest: Manifest | None = None
    schema: SchemaArtifact | None = None
    ui: UiArtifact | None = None
    rules: RulesArtifact | None = None
    validations: ValidationsArtifact | None = None
    workflow: WorkflowArtifact | None = None
    events: EventsArtifact | None = None
    localization: dict[str, LocalizationArtifact] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    root: Path | None = None
    # The digest algorithm this package is known by (`model.canonical`): the current one, unless it was loaded
    # from a store copy or a registry version pinned to an older digest, which it keeps matching.
    digest_algorithm: str = CURRENT

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest else self.label

    @property
    def valid(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    def models(self) -> dict[str, BaseModel]:
        """Every present artifact model keyed by kind (`localization/<locale>` for locales)."""
        out: dict[str, BaseModel] = {}
        for kind in ARTIFACT_KINDS:
            model = getattr(self, "manifest" if kind == "package" else kind)
            if model is not None:
                out[kind] = model
        for locale, loc in sorted(self.localization.items()):
            out[f"localization/{locale}"] = loc
        return out

    def doc(self, kind: str) -> SourceDoc | None:
        return self.docs.get(kind)

    def locate(self, kind: str, path: tuple[str | int, ...], *, key: bool = False) -> Location:
        doc = self.docs.get(kind)
        if doc is None:
            return Location(kind)
        return doc.loc(path, key=key)


def load_package(path: Path, label: str | None = None) -> Package:
    package = load_tree(DirTree(path, label))
    package.root = path
    return package


def read_source(data: bytes, shown: str, as_json: bool) -> SourceDoc:
    """Parse one artifact file's content (within `MAX_FILE_BYTES`, UTF-8) into a `SourceDoc`, else `InputError`."""
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{shown}: file is {len(data)} bytes; the limit is {MAX_FILE_BYTES} bytes")
    return parse_text(decode_text(data, shown), shown, as_json=as_json)


def load_tree(tree: FileTree, *, read_doc: DocReader = read_source, validate: DocValidator | None = None) -> Package:
    """Parse and structurally validate every artifact. Unreadable files raise `InputError` (exit 2).

    `read_doc` parses each file and `validate` checks each document against its artifact model
    (`validate_artifact`); the language server passes ones that reuse the documents and models it made before, so
    that an edit re-parses and re-validates only the file that changed."""
    validate = validate or validate_artifact
    files = tree.files()
    package = Package(label=tree.label)
    if isinstance(tree, MemoryTree) and tree.digest_algorithm is not None:
        package.digest_algorithm = tree.digest_algorithm  # a published or stored version keeps its digest's form
    chosen = _choose_files(files, tree.label, package)
    if "package" not in chosen:
        raise InputError(f"{tree.label}: not a package: package.yaml is missing")
    for kind, rel in chosen.items():
        data = tree.read(check_relative(rel, tree.label))
        package.docs[kind] = read_doc(data, display_path(tree.label, rel), rel.endswith(".json"))
    name = _manifest_name(package)
    for kind, doc in package.docs.items():
        base = kind.split("/")[0]
        model = validate(base, doc, name, package.diagnostics)
        if model is None:
            continue
        if base == "localization":
            package.localization[kind.split("/", 1)[1]] = model
        else:
            setattr(package, "manifest" if kind == "package" else kind, model)
    return package


def validate_artifact(base: str, doc: SourceDoc, package_name: str, sink: list[Diagnostic]) -> Any:
    """The typed model of one document, or None with located findings appended to `sink`.

    The strict pydantic model and the shipped JSON Schema (generated from it) accept the same documents, so the
    fast model check runs first and the JSON Schema validator only runs to explain a rejection with locations.
    """
    model_cls, code = ARTIFACT_MODELS[base]
    try:
        return model_cls.model_validate(doc.data, strict=True)
    except ValidationError as exc:
        found = validate_doc(base, doc, package_name)
        if not found:
            # JSON Schema counts 10.0 as an integer where the strict model does not: explain with the model.
            for err in exc.errors():
                loc = _data_path(doc.data, err["loc"])
                where = f"{loc[-1]}: " if loc else ""
                found.append(Diagnostic(code, f"{where}{err['msg']}", doc.loc(loc), package=package_name))
        sink.extend(found)
        return None


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """A pydantic error location as a path into the document, without the union tags pydantic inserts."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part == node.get("type") and (i + 1 == len(loc) or loc[i + 1] in node):
            continue  # the tag of a union, even where a key is called like it (`currency: EUR` of a currency field)
        in_map = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_map or in_list):
            continue
        node = node[part]
        path.append(part)
    return tuple(path)


def display_path(label: str, rel: str) -> str:
    """How a package file is named in diagnostics: relative to where the user pointed, e.g. `pkgs/Lead/ui.yaml`."""
    label = label.rstrip("/")
    return rel if label in ("", ".") else f"{label}/{rel}"


def _manifest_name(package: Package) -> str:
    doc = package.docs.get("package")
    if doc and isinstance(doc.data, dict) and isinstance(doc.data.get("name"), str):
        return str(doc.data["name"])
    return package.label


def _choose_files(files: list[str], label: str, package: Package) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for rel in files:
        stem, dot, suffix = rel.rpartition(".")
        if not dot or f".{suffix.lower()}" not in _SUFFIXES:
            continue
        parts = stem.split("/")
        if len(parts) == 1 and parts[0] in ARTIFACT_KINDS:
            kind = parts[0]
        elif len(parts) == 2 and parts[0] == "localization":
            kind = f"localization/{parts[1]}"
        else:
            continue
        if kind in chosen:
            package.diagnostics.append(
                Diagnostic(
                    "PKG002",
                    f"both {chosen[kind]} and {rel} define the {kind} artifact; keep one",
                    Location(display_path(label, rel)),
                    path=kind,
                )
            )
            continue
        chosen[kind] = rel
    return chosen
