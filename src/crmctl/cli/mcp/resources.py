"""The MCP server's resources: what an agent reads to understand packages before it changes one.

- `file://...` the artifacts of every package under the server's working directory (found as `crmctl lint`
  finds them, [tool.crmctl] `exclude` honoured): package.yaml, schema.yaml, ..., localization/*.yaml;
- `crmctl://schemas/artifacts/<kind>` the JSON Schema of each artifact kind, script and scenario;
- `crmctl://schemas/commands/<command>` the JSON Schema of each command's `--format json` envelope;
- `crmctl://catalogue/lint-rules` every lint rule (docs/lint-rules.md, generated from the rules);
- `crmctl://catalogue/change-kinds` every change kind `crmctl diff` classifies (docs/compatibility.md);
- `crmctl://docs/package-format`, `crmctl://docs/agents`: the package format and how agents work with crmctl.

Only these can be read: a `file://` URI outside the listed artifacts is refused, whatever path it names, and an
artifact symlinked out of the working directory is not listed. A configuration crmctl cannot read hides the
artifacts (reading one says why), not the other resources.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["Entry", "ResourceNotFound", "docs_root", "list_resources", "read_resource"]

_ARTIFACT_SUFFIXES = (".yaml", ".yml", ".json")


class ResourceNotFound(Exception):
    """A URI that names no resource of this server."""


@dataclass(frozen=True)
class Entry:
    uri: str
    name: str
    description: str
    mime_type: str
    read: Callable[[], str]


def docs_root() -> Traversable:
    """crmctl's documentation: shipped in the wheel as `crmctl/_docs`, else the repository's `docs/`."""
    packaged = resources.files("crmctl") / "_docs"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[4] / "docs"


def _doc(name: str) -> Callable[[], str]:
    def read() -> str:
        entry = docs_root() / name
        if not entry.is_file():
            raise ResourceNotFound(f"{name} is not installed with this crmctl")
        return entry.read_text("utf-8")

    return read


def _lint_catalogue() -> str:
    from crmctl.lint.docs import render_catalogue_markdown

    return render_catalogue_markdown()


def _change_kinds() -> str:
    entry = docs_root() / "compatibility.md"
    if entry.is_file():
        return entry.read_text("utf-8")
    from crmctl.compat.catalogue_doc import render_table

    return render_table()


def _json_text(build: Callable[[], object]) -> Callable[[], str]:
    return lambda: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def _fixed_entries() -> list[Entry]:
    from crmctl.cli.contract import command_schema, command_slug, contract_commands
    from crmctl.model.jsonschemas import ARTIFACT_MODELS, DOCUMENT_MODELS, shipped_schema

    entries = [
        Entry(
            "crmctl://docs/package-format",
            "package format",
            "The package format: artifacts, fields, rules, validations, workflows, localization "
            "(docs/package-format.md).",
            "text/markdown",
            _doc("package-format.md"),
        ),
        Entry(
            "crmctl://docs/agents",
            "working with crmctl as an agent",
            "The tools, resources and write policy of this server, and the lint/diff loop (docs/agents.md).",
            "text/markdown",
            _doc("agents.md"),
        ),
        Entry(
            "crmctl://catalogue/lint-rules",
            "lint rules",
            "Every lint rule: code, severity, what it checks and how to fix a finding.",
            "text/markdown",
            _lint_catalogue,
        ),
        Entry(
            "crmctl://catalogue/change-kinds",
            "change kinds",
            "Every change kind `crmctl diff` classifies, its class and the semver bump it needs.",
            "text/markdown",
            _change_kinds,
        ),
    ]
    entries += [
        Entry(
            f"crmctl://schemas/artifacts/{kind}",
            f"{kind} schema",
            f"JSON Schema (draft 2020-12) of the {kind} {'artifact' if kind in ARTIFACT_MODELS else 'document'}.",
            "application/schema+json",
            _json_text(partial(shipped_schema, kind)),
        )
        for kind in (*ARTIFACT_MODELS, *DOCUMENT_MODELS)
    ]
    entries += [
        Entry(
            f"crmctl://schemas/commands/{command_slug(command)}",
            f"crmctl {command} --format json",
            f"JSON Schema of the envelope `crmctl {command} --format json` prints (the tool's output schema).",
            "application/schema+json",
            _json_text(partial(command_schema, command)),
        )
        for command in contract_commands()
    ]
    return entries


def _artifact_entries(root: Path) -> list[Entry]:
    from crmctl.lint.config import load_config
    from crmctl.lint.discovery import discover_packages

    inside = root.resolve()
    entries = []
    for package in discover_packages(root, load_config(None, root).excluded):
        files = [p for p in sorted(package.iterdir()) if p.is_file() and p.suffix in _ARTIFACT_SUFFIXES]
        localization = package / "localization"
        if localization.is_dir():
            files += [p for p in sorted(localization.iterdir()) if p.is_file() and p.suffix in _ARTIFACT_SUFFIXES]
        where = package.relative_to(root).as_posix()
        entries += [
            Entry(
                path.resolve().as_uri(),
                path.relative_to(root).as_posix(),
                f"Artifact {path.relative_to(package).as_posix()} of package {where}",
                "application/json" if path.suffix == ".json" else "application/yaml",
                partial(_read_text, path.resolve(), path.relative_to(root).as_posix()),
            )
            for path in files
            # a symlink out of the working directory (to ~/.ssh/..., /etc/...) is not the project's to show
            if path.resolve().is_relative_to(inside)
        ]
    return entries


def _read_text(path: Path, name: str) -> str:
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ResourceNotFound(f"{name}: not UTF-8 text (byte {exc.start})") from None


def _artifact_entries_or_none(root: Path) -> tuple[list[Entry], str | None]:
    """The artifacts under `root`, or none and why when they cannot be found (a configuration crmctl cannot
    read): the fixed resources stay listed and readable, the documentation first of all."""
    from crmctl.errors import CrmctlError

    try:
        return _artifact_entries(root), None
    except CrmctlError as exc:
        return [], str(exc)


def list_resources(root: Path) -> list[Entry]:
    """Every resource, the artifacts as they are now under `root` (none when they cannot be found)."""
    return [*_fixed_entries(), *_artifact_entries_or_none(root)[0]]


def read_resource(root: Path, uri: str) -> Entry:
    """The resource `uri` names (listed by `list_resources`), else `ResourceNotFound`."""
    for entry in _fixed_entries():
        if entry.uri == uri:
            return entry
    artifacts, why = _artifact_entries_or_none(root)
    for entry in artifacts:
        if entry.uri == uri:
            return entry
    if why is not None:
        raise ResourceNotFound(f"no resource {uri}: the packages cannot be listed: {why}")
    raise ResourceNotFound(f"no resource {uri}: list the resources to see which there are")
