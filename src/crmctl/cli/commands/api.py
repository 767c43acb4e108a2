"""`crmctl api openapi|jsonschema|graphql`: the API documents a package describes (see docs/api.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.errors import InputError, UserError

if TYPE_CHECKING:
    from crmctl.model.package import Package

__all__ = ["run_graphql", "run_jsonschema", "run_openapi"]


def _load(path: Path) -> Package:
    """The package at `path`, structurally valid and declaring at least one entity."""
    from crmctl.api.documents import entities
    from crmctl.model.package import load_package

    package = load_package(path)
    errors = [d for d in package.diagnostics if d.severity.value == "error"]
    if errors:
        raise InputError(
            f"{errors[0].location}: {errors[0].message} ({errors[0].code})",
            hint=f"a package with structural errors describes no API; run `crmctl lint {path}`",
        )
    if not entities(package):
        raise InputError(f"{path}: the package declares no entities, so it has no records API")
    return package


def _finish(package: Package, kind: str, text: str, document: Any, output: Path | None, output_format: str) -> int:
    """Write `text` to `output` (atomically) or stdout; in JSON mode answer with the document itself."""
    from crmctl.api.documents import entities
    from crmctl.model.files import write_atomic

    if output is not None:
        try:
            write_atomic(output, text)
        except OSError as exc:
            raise InputError(f"{output}: cannot write: {exc.strerror}") from None
    if output_format == "json":
        manifest = package.manifest
        return emit(
            {
                "package": package.name,
                "version": manifest.version if manifest else None,
                "kind": kind,
                "entities": list(entities(package)),
                "output": None if output is None else str(output),
                "document": document,
            }
        )
    if output is None:
        out(text.removesuffix("\n"))
    return 0


def run_openapi(path: Path, output: Path | None, server: str | None, output_format: str) -> int:
    from crmctl.api.documents import dumps, openapi

    package = _load(path)
    document = openapi(package, server)
    return _finish(package, "openapi", dumps(document), document, output, output_format)


def run_jsonschema(path: Path, entity: str | None, output: Path | None, output_format: str) -> int:
    from crmctl.api.documents import dumps, json_schemas

    package = _load(path)
    schemas = json_schemas(package)
    if entity is not None:
        if entity not in schemas:
            raise UserError(f"{path}: no entity {entity!r}", hint=f"the package declares {', '.join(schemas)}")
        document: dict[str, Any] = schemas[entity]
    else:
        version = package.manifest.version if package.manifest else None
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:crmctl:{package.name}:{version}",
            "title": f"{package.name} records",
            "$defs": schemas,
        }
    return _finish(package, "jsonschema", dumps(document), document, output, output_format)


def run_graphql(path: Path, output: Path | None, output_format: str) -> int:
    from crmctl.api.documents import NameClash, graphql_sdl

    package = _load(path)
    try:
        sdl = graphql_sdl(package)
    except NameClash as exc:
        raise UserError(f"{path}: {exc}", hint="rename one of the entities or fields involved") from None
    return _finish(package, "graphql", sdl, sdl, output, output_format)
