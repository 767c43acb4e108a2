"""The one reader of crmctl's configuration file: `[tool.crmctl]` in pyproject.toml, or crmctl.toml (`[tool.crmctl]`
or top-level keys). Found from a directory upward; each plane reads its own keys from the table (lint: `select`,
`ignore`, ...; the registry: `registry`, `signing-key`)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.errors import InputError

__all__ = ["ConfigTable", "find_config", "read_config"]


@dataclass(frozen=True)
class ConfigTable:
    """The crmctl table of one configuration file: its keys, the file, and where in it (`[tool.crmctl]` or `top
    level`) for messages. A pyproject.toml without a `[tool.crmctl]` table gives an empty one."""

    path: Path
    where: str
    values: dict[str, Any] = field(default_factory=dict)


def find_config(start: Path) -> Path | None:
    """The nearest crmctl.toml, or pyproject.toml with a [tool.crmctl] table, from `start` upward."""
    for directory in (start, *start.parents):
        candidate = directory / "crmctl.toml"
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "crmctl" in _read(pyproject).get("tool", {}):
            return pyproject
    return None


def read_config(explicit: Path | None, start: Path) -> ConfigTable | None:
    """The table of `explicit`, else of the file `find_config(start)` finds; None when there is none."""
    path = explicit if explicit is not None else find_config(start)
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"{path}: configuration file not found")
    data = _read(path)
    tool = data.get("tool", {})
    if isinstance(tool, dict) and "crmctl" in tool:
        table, where = tool["crmctl"], "[tool.crmctl]"
    elif path.name == "pyproject.toml":
        table, where = {}, "[tool.crmctl]"
    else:
        table, where = data, "top level"
    if not isinstance(table, dict):
        raise InputError(f"{path}: {where}: expected a table")
    return ConfigTable(path, where, table)


def _read(path: Path) -> dict[str, Any]:
    problem = f"{path}: cannot read configuration"
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(_located_toml_error(path, str(exc))) from None
    except ValueError:  # tomllib converts integers with int(): over 4,300 digits it refuses
        raise InputError(f"{problem}: invalid TOML: an integer has more than 4300 digits") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise InputError(f"{problem}: invalid TOML: arrays or tables nested too deeply") from None
    except OSError as exc:
        raise InputError(f"{problem}: {exc.strerror}") from None


_TOML_AT = re.compile(r"(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)")


def _located_toml_error(path: Path, text: str) -> str:
    """tomllib's "Invalid value (at line 2, column 9)" as crmctl's located form, `path:2:9: invalid TOML: ...`
    (the end of the document is its last character), so editors and the JSON contract can place it."""
    match = _TOML_AT.fullmatch(text)
    if match is None:
        return f"{path}: cannot read configuration: invalid TOML: {text}"
    if match["line"] is not None:
        line, column = int(match["line"]), int(match["column"])
    else:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        except OSError:
            lines = [""]
        line, column = len(lines), len(lines[-1]) + 1
    return f"{path}:{line}:{column}: cannot read configuration: invalid TOML: {match['message']}"
