"""Reading and writing artifact files for in-place edits.

YAML goes through ruamel.yaml's round-trip mode, which keeps the author's comments, key order, quoting and
the `# yaml-language-server` header; the indentation is guessed from the file so untouched lines come back
byte-identical. JSON artifacts are edited as JSON with their key order kept. Every write is atomic: a
temporary file next to the target, then `os.replace`, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmctl.errors import InputError
from crmctl.model.source import parse_text

__all__ = [
    "SCHEMAS_DIR",
    "EditableDoc",
    "artifact_suffix",
    "find_artifact",
    "load_editable",
    "new_editable",
    "schema_header",
    "to_plain",
    "with_schema_header",
]

SCHEMAS_DIR = ".crmctl/schemas"
_HEADER = re.compile(r"^# yaml-language-server: \$schema=\S*\n?")


def schema_header(kind: str) -> str:
    """The editor line for an artifact of `kind`: a path relative to the file, to the package's exported schemas.
    A kind with a slash names a file one directory down (`localization/de`, `scenario/first-contact`).

    Editors resolve it offline; `crmctl schema export <package>/.crmctl/schemas` refreshes the files.
    """
    up = "../" if "/" in kind else ""
    base = kind.split("/")[0]
    return f"# yaml-language-server: $schema={up}{SCHEMAS_DIR}/{base}.schema.json\n"


def with_schema_header(text: str, kind: str) -> str:
    """`text` whose first line is the editor line for `kind` (replacing any existing one)."""
    return schema_header(kind) + _HEADER.sub("", text, count=1)


_SUFFIXES = (".yaml", ".yml", ".json")
_KEY_LINE = re.compile(r"^( *)[^\s#-][^#]*:\s*(#.*)?$")
_ANY_LINE = re.compile(r"^( *)(- )?\S")


@dataclass
class EditableDoc:
    """One artifact file loaded for editing. `data` is a ruamel CommentedMap (YAML) or a dict (JSON)."""

    path: Path
    data: Any
    is_json: bool
    original: str | None
    indent: tuple[int, int, int] = (2, 4, 2)
    json_indent: int = 2

    def render(self) -> str:
        if self.is_json:
            return json.dumps(self.data, indent=self.json_indent, ensure_ascii=False) + "\n"
        yaml = _yaml(self.indent)
        stream = io.StringIO()
        yaml.dump(self.data, stream)
        return stream.getvalue()

    @property
    def changed(self) -> bool:
        return self.render() != self.original


def find_artifact(root: Path, stem: str) -> Path | None:
    """The file holding artifact `stem` (e.g. `schema`, `localization/de`), whatever its suffix."""
    for suffix in _SUFFIXES:
        candidate = root / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def artifact_suffix(root: Path) -> str:
    """Suffix for a new artifact file: `.json` in packages whose schema is JSON, else `.yaml`."""
    schema = find_artifact(root, "schema")
    return ".json" if schema is not None and schema.suffix.lower() == ".json" else ".yaml"


def load_editable(path: Path, display: str) -> EditableDoc:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{display}: cannot read file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{display}: file is not valid UTF-8", hint="save the file as UTF-8") from None
    # The package loader's limits first (nesting, integer length, ...): the round-trip reader has none of them.
    parse_text(text, display, as_json=path.suffix.lower() == ".json")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{display}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise InputError(f"{display}: expected a JSON object at the top")
        return EditableDoc(path, data, True, text, json_indent=_guess_json_indent(text))
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    indent = _guess_yaml_indent(text)
    try:
        data = _yaml(indent).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
        raise InputError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise InputError(f"{display}: invalid YAML: {exc}") from None
    if data is None:
        data = _new_map()
    if not hasattr(data, "items"):
        raise InputError(f"{display}: expected a mapping at the top of the file")
    return EditableDoc(path, data, False, text, indent=indent)


def new_editable(path: Path, kind: str) -> EditableDoc:
    """A document for an artifact file that does not exist yet, starting with the schema header."""
    if path.suffix.lower() == ".json":
        return EditableDoc(path, {}, True, None)
    fresh = _new_map()
    fresh.yaml_set_start_comment(schema_header(kind)[2:].rstrip("\n"))
    return EditableDoc(path, fresh, False, None)


def to_plain(value: Any) -> Any:
    """ruamel's commented containers and scalar subclasses as plain dict/list/str/int/float/bool/None."""
    if hasattr(value, "items"):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _new_map() -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap()


def _yaml(indent: tuple[int, int, int]) -> Any:
    from ruamel.yaml import YAML

    from crmctl.model.formatting import canonical_emitter

    yaml = YAML(typ="rt")
    yaml.Emitter = canonical_emitter()  # new strings quoted as `crmctl fmt` quotes them; old ones keep theirs
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _guess_yaml_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel.yaml wants them, from the first nested blocks of the file."""
    mapping: int | None = None
    offset: int | None = None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for parent, child in itertools.pairwise(lines):
        key = _KEY_LINE.match(parent)
        nested = _ANY_LINE.match(child)
        if not key or not nested or key.group(0).rstrip().endswith(("|", ">", "|-", ">-")):
            continue
        delta = len(nested.group(1)) - len(key.group(1))
        if parent.lstrip().startswith("- "):
            delta -= 2
        if nested.group(2) and offset is None and delta >= 0:
            offset = delta
        elif not nested.group(2) and mapping is None and delta > 0:
            mapping = delta
        if mapping is not None and offset is not None:
            break
    mapping = mapping or 2
    offset = 2 if offset is None else offset
    return mapping, offset + 2, offset


def _guess_json_indent(text: str) -> int:
    match = re.search(r"\n( +)\S", text)
    return len(match.group(1)) if match else 2
