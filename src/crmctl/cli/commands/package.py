"""`crmctl package digest` and `crmctl schema export`."""

from __future__ import annotations

import json
from pathlib import Path

from crmctl.cli.console import out
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
        body = {"name": package.name, "version": manifest.version if manifest else None, "digest": value}
        out(json.dumps(body, sort_keys=True))
    else:
        out(value)
    return 0


def run_schema_export(directory: Path) -> int:
    from crmctl.model.jsonschemas import write_schemas

    try:
        written = write_schemas(directory)
    except OSError as exc:
        raise InputError(f"{directory}: cannot write schemas: {exc.strerror}") from None
    for path in written:
        out(str(path))
    return 0
