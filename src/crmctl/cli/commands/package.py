"""`crmctl package digest` and `crmctl schema export`."""

from __future__ import annotations

from pathlib import Path

from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.errors import InputError

__all__ = ["run_digest", "run_schema_export"]


def run_digest(path: Path, output_format: str) -> int:
    from crmctl.model.canonical import digest
    from crmctl.model.package import load_package

    package = load_package(path)
    if not package.valid:
        first = next(d for d in package.diagnostics if d.severity.value == "error")
        raise InputError(
            f"{first.location}: {first.message} ({first.code})",
            hint=f"a package with structural errors has no canonical form; run `crmctl lint {path}`",
        )
    value = digest(package)
    if output_format == "json":
        manifest = package.manifest
        return emit({"name": package.name, "version": manifest.version if manifest else None, "digest": value})
    out(value)
    return 0


def run_schema_export(directory: Path, output_format: str = "text") -> int:
    from crmctl.cli.contract import write_command_schemas
    from crmctl.model.jsonschemas import write_schemas

    try:
        written = write_schemas(directory) + write_command_schemas(directory / "commands")
    except OSError as exc:
        raise InputError(f"{directory}: cannot write schemas: {exc.strerror}") from None
    if output_format == "json":
        return emit({"directory": str(directory), "files": [str(path) for path in written]})
    for path in written:
        out(str(path))
    return 0
