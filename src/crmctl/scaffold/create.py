"""`new_package`: a new package directory from a template, written atomically."""

from __future__ import annotations

import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

from crmctl.errors import InputError, InternalError
from crmctl.model.files import write_atomic
from crmctl.scaffold._documents import SCHEMAS_DIR, find_artifact, load_editable, with_schema_header
from crmctl.scaffold.result import ScaffoldResult
from crmctl.scaffold.templates import available_templates, render_template

__all__ = ["new_package", "package_name_pattern"]


@cache
def package_name_pattern() -> str:
    """The manifest's `name` pattern, read from the model so the two can never disagree."""
    from crmctl.model.artifacts import Manifest

    pattern: str = Manifest.model_json_schema()["properties"]["name"]["pattern"]
    return pattern


def new_package(
    name: str, template: str = "blank", directory: Path | None = None, *, dry_run: bool = False
) -> ScaffoldResult:
    """Create package `name` from `template` in `directory` (default `./<name>`).

    The target must not exist or be an empty directory. The package is built in a hidden temporary directory
    next to the target, checked to load without structural errors, then renamed into place, so an
    interrupted run leaves either nothing or the complete package.
    """
    if not re.fullmatch(package_name_pattern(), name):
        raise InputError(
            f"{name!r} is not a valid package name",
            hint="start with a letter; then letters, digits, '_' or '-' (at most 64 characters)",
        )
    templates = available_templates()
    if template not in templates:
        raise InputError(f"unknown template {template!r}; available: {', '.join(templates) or '(none installed)'}")
    target = directory if directory is not None else Path.cwd() / name
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise InputError(f"{target}: directory exists and is not empty", hint="choose another --dir or name")
    files = _with_editor_schemas(render_template(template, name))
    summary = f"created package {name} from template {template!r}"
    if dry_run:
        return ScaffoldResult(summary=summary, root=target, created=tuple(sorted(files)), dry_run=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise InputError(f"{target}: cannot create the package: {exc.strerror}") from None
    try:
        for rel, data in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        _set_manifest_name(staging, name)
        _check_loads(staging, template)
        staging.chmod(0o755)
        if target.is_dir():
            target.rmdir()
        staging.replace(target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"{target}: cannot create the package: {exc.strerror}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ScaffoldResult(summary=summary, root=target, created=tuple(sorted(files)))


# Folders of a template holding files crmctl reads besides the artifacts: example scenarios and scripts.
_DOCUMENT_FOLDERS = {"scenarios": "scenario", "scripts": "script"}


def _with_editor_schemas(files: dict[str, bytes]) -> dict[str, bytes]:
    """Point every YAML artifact, scenario (`scenarios/`) and script (`scripts/`) at the package's own copy of the
    JSON Schemas, and add that copy.

    The schemas' canonical URLs are not served anywhere an editor could fetch them, so a scaffolded package
    carries them in `.crmctl/schemas/` (ignored by the loader and the digest) and its headers use relative paths.
    """
    import json

    from crmctl.model.jsonschemas import ARTIFACT_MODELS, DOCUMENT_MODELS, schema_file_name, shipped_schema

    out: dict[str, bytes] = {}
    for rel, data in files.items():
        stem = rel.rsplit(".", 1)[0]
        folder, _, name = stem.partition("/")
        kind = f"{_DOCUMENT_FOLDERS[folder]}/{name}" if folder in _DOCUMENT_FOLDERS and name else stem
        if rel.endswith((".yaml", ".yml")) and (
            stem in ARTIFACT_MODELS or stem.startswith("localization/") or kind != stem
        ):
            data = with_schema_header(data.decode("utf-8"), kind).encode("utf-8")
        out[rel] = data
    for kind in (*ARTIFACT_MODELS, *DOCUMENT_MODELS):
        text = json.dumps(shipped_schema(kind), indent=2, ensure_ascii=False) + "\n"
        out[f"{SCHEMAS_DIR}/{schema_file_name(kind)}"] = text.encode("utf-8")
    return out


def _set_manifest_name(root: Path, name: str) -> None:
    """Templates are valid packages with a name of their own; give the copy the requested one in place."""
    path = find_artifact(root, "package")
    if path is None:
        raise InternalError("template has no package.yaml")
    doc = load_editable(path, path.name)
    doc.data["name"] = name
    if doc.changed:
        write_atomic(path, doc.render(), parents=True)


def _check_loads(root: Path, template: str) -> None:
    from crmctl.model.package import load_package

    package = load_package(root, label=root.name)
    errors = [d for d in package.diagnostics if d.severity.value == "error"]
    if errors:
        first = errors[0]
        raise InternalError(f"template {template!r} is broken: {first.location}: {first.message} ({first.code})")
