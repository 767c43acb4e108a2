"""The canonical style of package files (`crmctl fmt`): pure text in, text out.

YAML goes through ruamel.yaml's round-trip mode, so comments (the header and modelines included), anchors and
block scalars survive; what changes is the layout:

- 2-space indentation, block style; a sequence of scalars is written in flow style (`[a, b]`) when it fits the
  line (120 columns) and nothing is commented inside it, else one item a line;
- the keys of every mapping an artifact model describes come in the model's declaration order (a field
  definition's `type` first, since it says which model applies); maps whose keys the author names (entities,
  fields, steps, locale keys, ...) keep the author's order; keys no model knows follow, in the author's order;
- strings are plain where YAML 1.2 reads them back as the same string, else double-quoted, unless they hold a
  double quote and no single quote (then single-quoted); block scalars (`|`, `>`) stay block scalars;
- line breaks are `\\n` (CRLF is normalized), trailing spaces go, the file ends with exactly one newline.

JSON is written with 2-space indentation, the same key order, non-ASCII characters as they are and a final
newline. Every text is first parsed by the package loader (`crmctl.model.source.parse_text`), so a text `fmt`
accepts is exactly one a package may hold, and a text it refuses gets the loader's `file:line:col` message.
The data never changes: `parse(format_text(x)).data == parse(x).data`, hence package digests do not either.
"""

from __future__ import annotations

import difflib
import io
import itertools
import json
import re
import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel

from crmctl.errors import InputError, InternalError
from crmctl.model.edits import TextEdit
from crmctl.model.jsonschemas import ARTIFACT_MODELS
from crmctl.model.source import parse_text

__all__ = [
    "LINE_WIDTH",
    "artifact_kind",
    "canonical_emitter",
    "canonical_order",
    "format_edits",
    "format_text",
    "line_edits",
]

LINE_WIDTH = 120
_INDENT = 2
_LOCALE_FILE = re.compile(r"(?:^|/)localization/[^/]+$")
_DISCRIMINATOR = "type"


def artifact_kind(file: str) -> str | None:
    """The artifact kind a file holds, from its name relative to the package (`schema.yaml` -> `schema`,
    `localization/de.json` -> `localization`), or None for any other file."""
    name = file.replace("\\", "/")
    stem, dot, suffix = name.rpartition(".")
    if not dot or suffix.lower() not in ("yaml", "yml", "json"):
        return None
    if _LOCALE_FILE.search(stem):
        return "localization"
    base = stem.rsplit("/", 1)[-1]
    return base if base in ARTIFACT_MODELS and base != "localization" else None


def _is_json(file: str) -> bool:
    return file.lower().endswith(".json")


def format_text(text: str, file: str) -> str:
    """`text` (the content of `file`, a name relative to its package or a path ending in it) in the canonical
    style. Raises `InputError` (`file:line:col: ...`) when the package loader refuses the text."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    doc = parse_text(text, file, as_json=_is_json(file))
    model = _model(artifact_kind(file))
    if _is_json(file):
        return json.dumps(_ordered_plain(doc.data, model), indent=_INDENT, ensure_ascii=False) + "\n"
    if doc.root is None:  # nothing but comments and blank lines (or nothing at all)
        return _tidy(_TRAILING_SPACE.sub("", text))
    start = _START.match(text)
    if start is not None:
        # ruamel.yaml drops what stands before `---`: the head is kept as written, the document formatted alone.
        head = _TRAILING_SPACE.sub("", text[: start.end()])
        formatted = head + _format_yaml(text[start.end() :], file, model, line=head.count("\n") + 1)
        return _verified(formatted, doc.data, file)
    return _verified(_format_yaml(text, file, model, line=1), doc.data, file)


def _verified(formatted: str, data: Any, file: str) -> str:
    """`formatted`, once the loader reads it back as `data`: a formatter bug never reaches a file."""
    try:
        same = parse_text(formatted, file).data == data
    except InputError:
        same = False
    if not same:
        raise InternalError(f"{file}: formatting would change the data it holds; the file is left as it is")
    return formatted


def _format_yaml(text: str, file: str, model: type[BaseModel] | None, *, line: int) -> str:
    from ruamel.yaml.error import MarkedYAMLError

    yaml = _yaml()
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        # The loader accepted the text (it was parsed first); ruamel's round-trip parser is stricter in corners
        # (e.g. a tab after `key:`). Refused with its position rather than formatted wrongly.
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + line}:{mark.column + 1}" if mark else file
        raise InputError(
            f"{where}: cannot format: {exc.problem or exc.context}", hint="replace the tab by spaces"
        ) from None
    _restyle(data, model, depth=0, key_width=0)
    out = io.StringIO()
    yaml.dump(data, out)
    return _tidy(out.getvalue())


def format_edits(text: str, file: str, lines: tuple[int, int] | None = None) -> list[TextEdit]:
    """The smallest line-level edits turning `text` into `format_text(text, file)`, in document order.

    With `lines` (1-based, inclusive), only the edits that touch that range are returned (range formatting in an
    editor). An edit is a whole run of changed lines and is returned whole, even when it reaches outside the
    range: half of a reformatted block would not be the canonical style of anything.
    """
    return line_edits(text, format_text(text, file), file, lines)


def line_edits(text: str, formatted: str, file: str, lines: tuple[int, int] | None = None) -> list[TextEdit]:
    """The smallest line-level edits turning `text` into `formatted` (see `format_edits`)."""
    old = text.splitlines(keepends=True)
    new = formatted.splitlines(keepends=True)
    edits: list[TextEdit] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        first, last = i1 + 1, max(i1 + 1, i2)  # lines the edit touches (an insertion touches the line it is at)
        if lines is not None and (last < lines[0] or first > lines[1]):
            continue
        edits.append(TextEdit(file, i1 + 1, 1, i2 + 1, 1, "".join(new[j1:j2])))
    return _fit_last_line(edits, old)


def _fit_last_line(edits: list[TextEdit], old: list[str]) -> list[TextEdit]:
    """An edit ending after the last line of a text without a final newline ends at that line's end instead (a
    position past the text does not exist for an editor)."""
    if not old or old[-1].endswith(("\n", "\r")):
        return edits
    end_line, end_column = len(old), len(old[-1]) + 1
    fitted = []
    for edit in edits:
        if edit.end_line > len(old):
            edit = TextEdit(edit.file, edit.line, edit.column, end_line, end_column, edit.new_text)
            if edit.line > len(old):
                edit = TextEdit(edit.file, end_line, end_column, end_line, end_column, "\n" + edit.new_text)
        fitted.append(edit)
    return fitted


# -- what the models say -----------------------------------------------------------------------------------


@cache
def _model(kind: str | None) -> type[BaseModel] | None:
    return ARTIFACT_MODELS[kind][0] if kind is not None else None


# The shape of a value: a model (its keys ordered), a map of author-named keys, a list, a choice between models
# by `type`, or anything else (kept as it is).
_Shape = Any


def _shape(annotation: Any) -> _Shape:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _shape(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if origin is dict:
        return ("map", _shape(typing.get_args(annotation)[1]))
    if origin is list:
        return ("list", _shape(typing.get_args(annotation)[0]))
    if origin is typing.Union or origin is types.UnionType:
        members = [_shape(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        members = [m for m in members if m is not None]
        if len(members) == 1:
            return members[0]
        models = tuple(m for m in members if isinstance(m, type))
        return ("choice", models) if models else None
    return None


@cache
def _key_order(model: type[BaseModel], chosen: bool) -> dict[str, int]:
    names = [field.alias or name for name, field in model.model_fields.items()]
    if chosen and _DISCRIMINATOR in names:
        names.remove(_DISCRIMINATOR)
        names.insert(0, _DISCRIMINATOR)
    return {name: i for i, name in enumerate(names)}


@cache
def _child_shapes(model: type[BaseModel]) -> dict[str, _Shape]:
    return {field.alias or name: _shape(field.annotation) for name, field in model.model_fields.items()}


def _is_choice(shape: _Shape) -> bool:
    return isinstance(shape, tuple) and shape[0] == "choice"


def _resolve(shape: _Shape, value: Any) -> _Shape:
    """A choice of models resolved by the value's `type` (a field definition), else None."""
    if isinstance(shape, tuple) and shape[0] == "choice":
        wanted = value.get(_DISCRIMINATOR) if hasattr(value, "get") else None
        for model in shape[1]:
            literal = model.model_fields.get(_DISCRIMINATOR)
            if literal is not None and wanted in typing.get_args(literal.annotation):
                return model
        return None
    return shape


def canonical_order(value: Any, annotation: Any) -> Any:
    """`value` (plain data: dicts, lists, scalars) with its keys in the canonical order of what `annotation`
    describes (a model, or a type such as `crmctl.model.fields.FieldDef`): for entries `crmctl new` adds."""
    return _ordered_plain(value, _shape(annotation))


def _ordered_plain(value: Any, shape: _Shape) -> Any:
    chosen = _is_choice(shape)
    shape = _resolve(shape, value)
    if isinstance(value, dict):
        if isinstance(shape, type):
            shapes = _child_shapes(shape)
            return {k: _ordered_plain(value[k], shapes.get(k)) for k in _sorted_keys(list(value), shape, chosen)}
        inner = shape[1] if isinstance(shape, tuple) and shape[0] == "map" else None
        return {k: _ordered_plain(v, inner) for k, v in value.items()}
    if isinstance(value, list):
        inner = shape[1] if isinstance(shape, tuple) and shape[0] == "list" else None
        return [_ordered_plain(v, inner) for v in value]
    return value


def _sorted_keys(keys: list[Any], model: type[BaseModel], chosen: bool) -> list[Any]:
    order = _key_order(model, chosen)
    unknown = len(order)
    return sorted(keys, key=lambda k: order.get(str(k), unknown))  # stable: unknown keys keep their order


# -- YAML ----------------------------------------------------------------------------------------------------


@cache
def canonical_emitter() -> Any:
    """ruamel.yaml's emitter choosing quotes as the canonical style does (for `YAML().Emitter`): a string that
    cannot be plain gets double quotes, unless it holds a double quote or a backslash and no single quote."""
    from ruamel.yaml.emitter import Emitter

    class CanonicalEmitter(Emitter):
        def choose_scalar_style(self) -> Any:
            style = super().choose_scalar_style()
            if style == "" and self.flow_level and not _FLOW_PLAIN.fullmatch(self.event.value):
                style = "'"  # ruamel allows plain scalars in flow context that YAML parsers disagree on (`{a: :0}`)
            if style == "'" and not self.event.style:
                # ruamel's default for a string that cannot be plain is single quotes; ours is double quotes,
                # unless the string holds a double quote or a backslash (a regex) and no single quote.
                value = self.event.value
                return "'" if ('"' in value or "\\" in value) and "'" not in value else '"'
            return style

    return CanonicalEmitter


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.Emitter = canonical_emitter()
    yaml.width = 1 << 20  # never fold a long line: folding is not the formatter's business
    yaml.indent(mapping=_INDENT, sequence=_INDENT + 2, offset=_INDENT)
    yaml.allow_unicode = True
    return yaml


def _restyle(value: Any, shape: _Shape, depth: int, key_width: int) -> None:
    """Order model keys, choose flow or block for each sequence and the quoting of each string, in place."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    chosen = _is_choice(shape)
    shape = _resolve(shape, value)
    if isinstance(value, CommentedMap):
        if isinstance(shape, type):
            _reorder(value, _sorted_keys(list(value), shape, chosen))
        shapes = _child_shapes(shape) if isinstance(shape, type) else {}
        inner = shape[1] if isinstance(shape, tuple) and shape[0] == "map" else None
        for key in list(value):
            _restyle_key(value, key)
            _restyle(value[key], shapes.get(str(key), inner), depth + 1, len(str(key)) + 2)
            value[key] = _restyle_scalar(value[key])
        if value.fa.flow_style() and not _flow_fits(value, depth, key_width):
            value.fa.set_block_style()
    elif isinstance(value, CommentedSeq):
        inner = shape[1] if isinstance(shape, tuple) and shape[0] == "list" else None
        for i, item in enumerate(value):
            _restyle(item, inner, depth + 1, 0)
            value[i] = _restyle_scalar(item)
        _choose_flow(value, depth, key_width)


def _restyle_key(mapping: Any, key: Any) -> None:
    """Keys are strings the author wrote; their quoting follows the same rule as values'."""
    fresh = _restyle_scalar(key)
    if fresh is not key and type(fresh) is not type(key):
        position = list(mapping).index(key)
        mapping.insert(position, fresh, mapping.pop(key))


def _restyle_scalar(value: Any) -> Any:
    """A quoted string as a plain `str` (the emitter then quotes it only where needed); block scalars stay."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, DoubleQuotedScalarString | SingleQuotedScalarString):
        return str(value)
    return value


def _choose_flow(seq: Any, depth: int, key_width: int) -> None:
    """Flow style for a sequence of short scalars that fits the line and carries no comments; block otherwise."""
    if not len(seq):
        seq.fa.set_flow_style()
        return
    if _flow_fits(seq, depth, key_width):
        seq.fa.set_flow_style()
    else:
        seq.fa.set_block_style()


def _flow_fits(collection: Any, depth: int, key_width: int) -> bool:
    """Whether `collection` (a sequence, or a mapping the author wrote in flow style) holds only short scalars,
    no comments and no anchors, and `key: [a, b]` (or `{k: v}`) fits the line at its depth."""
    from ruamel.yaml.scalarstring import ScalarString

    if _has_comment(list(collection.ca.items.values())) or _has_comment(collection.ca.comment):
        return False
    parts = []
    is_map = hasattr(collection, "items")
    for item in collection.values() if is_map else collection:
        rendered = None if isinstance(item, ScalarString) else _flow_scalar(item)
        if rendered is None:  # a collection, a block scalar, a multi-line string, an anchored value
            return False
        parts.append(rendered)
    if is_map:
        keys = [_flow_scalar(str(key)) for key in collection]
        parts = [f"{key}: {value}" for key, value in zip(keys, parts, strict=True)]
    # `key: [a, b]` at its mapping's indentation; as an item of a block sequence, `- [a, b]`.
    width = _INDENT * max(depth - 1, 0) + (key_width or 2) + len("[]") + len(", ".join(parts))
    return width <= LINE_WIDTH


def _has_comment(slots: Any) -> bool:
    """Whether ruamel's comment slots (lists of tokens, lists of them, or None) hold a comment; a slot emptied
    by `yamlcomments.pop_after` stays behind as None."""
    if slots is None:
        return False
    if isinstance(slots, list):
        return any(_has_comment(slot) for slot in slots)
    return True


def _flow_scalar(item: Any) -> str | None:
    """How a scalar reads inside a flow sequence (for measuring), or None if it should not go there."""
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return str(item)
    if isinstance(item, str) and "\n" not in item:
        return json.dumps(item, ensure_ascii=False) if _needs_quotes(item) else item
    return None


# What may stay plain inside `[...]`/`{...}` (besides what ruamel.yaml already quotes): no indicator first, no
# flow indicator, no space or colon last.
_FLOW_PLAIN = re.compile(r"(?![-?:!&*|>%@`'\"#])[^,\[\]{}]*(?<![\s:])", re.DOTALL)
_PLAIN_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+@-]*$")


def _needs_quotes(text: str) -> bool:
    return not _PLAIN_SAFE.match(text) or text.lower() in ("true", "false", "null", "yes", "no", "on", "off")


def _reorder(mapping: Any, keys: list[Any]) -> None:
    """Put `mapping`'s keys in the order `keys`, moving the comment lines that stood before each key with it.

    ruamel.yaml keeps the comment lines before a key on the previous entry (its end-of-line comment slot, or that
    of the last scalar nested in it); they are detached before the move and re-attached after.
    """
    current = list(mapping)
    if current == keys:
        return
    from crmctl.model import yamlcomments

    leading: dict[Any, Any] = {}
    for before, key in itertools.pairwise(current):
        leading[key] = yamlcomments.pop_after(mapping, before)
    tail = yamlcomments.pop_after(mapping, current[-1])
    for key in keys:
        mapping.move_to_end(key)
    if leading.get(keys[0]) is not None:
        # A key moved to the front: the place above it belongs to its parent (the `- ` of an item, the parent
        # key), so its comment follows it instead; it is never dropped.
        yamlcomments.attach_after(mapping, keys[0], leading[keys[0]])
    for before, key in itertools.pairwise(keys):
        if leading.get(key) is not None:
            yamlcomments.attach_after(mapping, before, leading[key])
    if tail is not None:
        yamlcomments.attach_after(mapping, keys[-1], tail)


_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
# Comments and blank lines, then a `---` line (its own end-of-line comment included).
_START = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*---(?:[ \t]+#[^\n]*)?[ \t]*(?:\n|\Z)")


def _tidy(text: str) -> str:
    """One final newline; none for an empty text."""
    text = text.rstrip("\n")
    return text + "\n" if text else ""
