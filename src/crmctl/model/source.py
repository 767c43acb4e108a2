"""Reading YAML and JSON documents into plain data while keeping every value's source position.

Loading goes through ruamel.yaml's composer (libyaml-backed when ruamel.yaml.clib is present) and builds plain
dicts/lists ourselves, so that duplicate keys, alias bombs, excessive depth and non-finite numbers are caught
with a location instead of surfacing later as confusing errors.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmctl.errors import InputError
from crmctl.model.diagnostics import Location

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "JsonPath",
    "SourceDoc",
    "decode_text",
    "load_document",
    "parse_text",
]

JsonPath = tuple[str | int, ...]

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000

_SCALAR_TAGS = "tag:yaml.org,2002:"
_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@dataclass
class SourceDoc:
    """One artifact file: its plain data and where each value (and each mapping key) came from."""

    file: str
    data: Any
    text: str
    value_pos: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def loc(self, path: JsonPath, *, key: bool = False) -> Location:
        """Location of the value at `path` (or of its key), falling back to the nearest known ancestor."""
        table = self.key_pos if key else self.value_pos
        probe = tuple(path)
        while probe:
            hit = table.get(probe) or self.value_pos.get(probe)
            if hit:
                return Location(self.file, hit[0], hit[1])
            probe = probe[:-1]
        line, col = self.value_pos.get((), (1, 1))
        return Location(self.file, line, col)

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def load_document(path: Path, rel: str) -> SourceDoc:
    """Read and parse one file; every problem is an `InputError` naming `rel:line:col`."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{rel}: cannot read file: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise InputError(f"{rel}: file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{rel}: cannot read file: {exc.strerror}") from None
    return parse_text(decode_text(raw, rel), rel, as_json=path.suffix.lower() == ".json")


def decode_text(raw: bytes, rel: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            f"{rel}:{line}:{col}: file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8",
        ) from None


def parse_text(text: str, rel: str, *, as_json: bool = False) -> SourceDoc:
    if as_json:
        _check_json(text, rel)
        # libyaml rejects JSON's surrogate-pair escapes; the literal character is the same string
        # (columns after it on that line shift, which only affects positions, never data).
        text = _SURROGATE_PAIR.sub(lambda m: json.loads(f'"{m.group(0)}"'), text)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=False)
    try:
        try:
            node = yaml.compose(io.StringIO(text))
        except MarkedYAMLError:
            # libyaml is stricter than YAML 1.2 in corners (e.g. `{a: 0?}`); the pure parser decides.
            yaml = YAML(typ="safe", pure=True)
            node = yaml.compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{rel}:{mark.line + 1}:{mark.column + 1}" if mark else rel
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    except YAMLError as exc:
        raise InputError(f"{rel}: invalid YAML: {exc}") from None
    doc = SourceDoc(file=rel, data=None, text=text)
    if node is None:
        doc.data = {}
        return doc
    builder = _Builder(doc, yaml)
    doc.data = builder.build(node, (), 0)
    return doc


def _check_json(text: str, rel: str) -> None:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen[key] = value
        return seen

    try:
        json.loads(text, object_pairs_hook=no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{rel}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except _DuplicateKey:
        pass  # reported with its position by the YAML pass
    except ValueError as exc:
        raise InputError(f"{rel}: invalid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{rel}: nesting is deeper than {MAX_DEPTH} levels") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid number in a package")


class _DuplicateKey(Exception):
    pass


class _Builder:
    def __init__(self, doc: SourceDoc, yaml: Any) -> None:
        self.doc = doc
        self.constructor = yaml.constructor
        self.nodes = 0

    def _fail(self, node: Any, message: str) -> InputError:
        mark = node.start_mark
        return InputError(f"{self.doc.file}:{mark.line + 1}:{mark.column + 1}: {message}")

    def build(self, node: Any, path: JsonPath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._fail(node, f"document expands to more than {MAX_NODES} values (alias bomb?)")
        if depth > MAX_DEPTH:
            raise self._fail(node, f"nesting is deeper than {MAX_DEPTH} levels")
        self.doc.value_pos[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        kind = node.id
        if kind == "mapping":
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self._fail(key_node, "YAML merge keys (<<) are not supported in packages")
                key = self._key(key_node)
                if key in result:
                    raise self._fail(key_node, f"duplicate key {key!r}")
                child = (*path, key)
                self.doc.key_pos[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key] = self.build(value_node, child, depth + 1)
            return result
        if kind == "sequence":
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _key(self, node: Any) -> str:
        if node.id != "scalar":
            raise self._fail(node, "mapping keys must be plain strings")
        value = self._scalar(node)
        if isinstance(value, bool) or value is None:
            return str(node.value)
        return str(value)

    def _scalar(self, node: Any) -> Any:
        tag = node.tag or ""
        if not tag.startswith(_SCALAR_TAGS):
            raise self._fail(node, f"unsupported YAML tag {tag!r}")
        name = tag[len(_SCALAR_TAGS) :]
        if name in ("str", "timestamp"):
            return node.value
        if name in ("int", "float", "bool", "null"):
            value = self.constructor.construct_object(node, deep=False)
            if isinstance(value, float) and not math.isfinite(value):
                raise self._fail(node, f"{node.value!r} is not a finite number")
            return value
        raise self._fail(node, f"unsupported YAML type {name!r}")
