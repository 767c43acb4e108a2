"""Reading YAML and JSON documents into plain data while keeping every value's source position.

Loading goes through ruamel.yaml's composer (libyaml-backed when ruamel.yaml.clib is present) and builds plain
dicts/lists ourselves, so that duplicate keys, alias bombs, excessive depth, over-long integers and non-finite
numbers are caught with a location instead of surfacing later as confusing errors.

The C composer recurses on the C stack (about 350 bytes a level), so a document nested tens of thousands of
levels deep would crash the interpreter before any depth check ran. `_may_nest_too_deep` bounds the depth of a text
in linear time from its characters alone; only a text whose bound exceeds `_COMPOSER_SAFE_DEPTH` has its depth
measured exactly, from the parser's events (the parsers keep explicit stacks and never recurse), before a composer
sees it.
"""

from __future__ import annotations

import gc
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from crmctl.errors import InputError
from crmctl.model.diagnostics import Location
from crmctl.model.files import MAX_FILE_BYTES, read_regular
from crmctl.model.numbers import JSON_NUMBER

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "JsonPath",
    "SourceDoc",
    "decode_text",
    "load_document",
    "parse_json",
    "parse_text",
]

JsonPath = tuple[str | int, ...]

MAX_DEPTH = 64
MAX_NODES = 2_000_000
# Python's own default for int/str conversion, fixed here so that which files load does not depend on the
# interpreter's settings (converting longer digit strings is quadratic).
MAX_INT_DIGITS = 4_300
# Deepest nesting handed to a composer without measuring it first: the C composer needs about 350 bytes of C
# stack a level, so 2,000 levels stay under 1 MiB (a thread's stack is 8 MiB on Linux).
_COMPOSER_SAFE_DEPTH = 2_000

_SCALAR_TAGS = "tag:yaml.org,2002:"
_STR_TAG = _SCALAR_TAGS + "str"
_MERGE_TAG = _SCALAR_TAGS + "merge"
_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@dataclass
class SourceDoc:
    """One artifact file: its plain data, and the composed YAML node tree that says where each value came from.

    Positions are looked up on demand by walking the node tree, so loading pays nothing per value for them.
    """

    file: str
    data: Any
    text: str
    root: Any = None
    lazy: bool = False  # JSON read by the json module: compose the node tree on the first position asked for
    _children: dict[int, dict[str, tuple[Any, Any]]] = field(default_factory=dict, repr=False, compare=False)

    def loc(self, path: JsonPath, *, key: bool = False) -> Location:
        """Location of the value at `path` (or of its key).

        A path that does not exist (e.g. a field removed in this version) falls back to the key of its nearest
        existing ancestor, such as the `fields:` line of the entity, so annotations land on a real line.
        """
        node = self._node(path, key=key)
        if node is None:
            return Location(self.file, 1, 1)
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def span(self, path: JsonPath, *, key: bool = False) -> Location:
        """Like `loc`, with the end of the value (or key) too: `end_line`/`end_column` point just past its last
        character, so that an editor can underline exactly the text (a quoted scalar includes its quotes)."""
        node = self._node(path, key=key)
        if node is None:
            return Location(self.file, 1, 1, 1, 1)
        start, end = node.start_mark, node.end_mark
        if node.id == "scalar" and end.line > start.line and getattr(node, "style", None) not in ("|", ">"):
            end = _trimmed_end(self.text, end)
        return Location(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def path_at(self, line: int, column: int) -> tuple[JsonPath, bool] | None:
        """The path of the innermost value or key under the 1-based `line`/`column` (a character index within the
        line), and whether it is a key. A position on no value or key (blank space, a comment) gives the path of
        the innermost collection around it (`()` for the document); a document without a node tree gives None.
        A position just past a scalar's last character still counts as on it, as an editor's cursor at the end of
        a word does."""
        node = self._root()
        if node is None:
            return None
        at = (line - 1, column - 1)
        path: list[str | int] = []
        if not _covers(node, at):
            return None
        while node.id != "scalar":
            pairs: list[tuple[str | int, Any]] = []
            for i, item in enumerate(node.value):
                if node.id == "mapping":
                    key_node, value = item
                    if _covers(key_node, at):
                        return (*path, str(key_node.value)), True
                    pairs.append((str(key_node.value), value))
                else:
                    pairs.append((i, item))
            inner = next(((step, value) for step, value in pairs if _covers(value, at)), None)
            if inner is None:
                break
            path.append(inner[0])
            node = inner[1]
        return tuple(path), False

    def _root(self) -> Any:
        if self.lazy:
            self.lazy = False
            try:
                self.root = _compose_and_build(_safe_yaml(), _json_for_yaml(self.text), self.file).root
            except InputError:  # valid JSON that YAML cannot read (e.g. a leading tab): positions fall back to 1:1
                self.root = None
        return self.root

    def _node(self, path: JsonPath, *, key: bool) -> Any:
        node = self._root()
        if node is None:
            return None
        entered_by: Any = None
        last = len(path) - 1
        for i, part in enumerate(path):
            if node.id == "mapping":
                pair = self._child(node, str(part))
                if pair is None:
                    node = entered_by or node
                    break
                if key and i == last:
                    node = pair[0]
                    break
                entered_by, node = pair
            elif node.id == "sequence" and isinstance(part, int) and 0 <= part < len(node.value):
                entered_by, node = None, node.value[part]
            else:
                node = entered_by or node
                break
        return node

    def _child(self, node: Any, name: str) -> tuple[Any, Any] | None:
        index = self._children.get(id(node))
        if index is None:
            index = {str(k.value): (k, v) for k, v in node.value}
            self._children[id(node)] = index
        return index.get(name)

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def _covers(node: Any, at: tuple[int, int]) -> bool:
    """Whether the 0-based (line, column) `at` lies within `node`'s text: a scalar's end included (a cursor just
    after a word is on it), a collection's excluded (a block collection ends where the next key begins)."""
    start, end = (node.start_mark.line, node.start_mark.column), (node.end_mark.line, node.end_mark.column)
    return start <= at <= end if node.id == "scalar" else start <= at < end


def _trimmed_end(text: str, end: Any) -> Any:
    """A multi-line plain or quoted scalar's end mark moved back over the line breaks and indentation the parser
    consumed after its last character (where the next key begins)."""
    from types import SimpleNamespace

    index = end.index
    while index > 0 and text[index - 1] in " \t\r\n":
        index -= 1
    before = text[:index]
    line = before.count("\n")
    return SimpleNamespace(line=line, column=index - (before.rfind("\n") + 1), index=index)


def load_document(path: Path, rel: str, *, what: str = "file") -> SourceDoc:
    """Read (a regular file, within `MAX_FILE_BYTES`) and parse one file, JSON by its suffix, else YAML; every
    problem is an `InputError` naming `rel:line:col`."""
    return parse_text(decode_text(read_regular(path, rel, what=what), rel), rel, as_json=path.suffix.lower() == ".json")


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
        data = _load_json(text, rel)
        if data is not _DUPLICATE:
            # The data comes from the json module (C, 30x faster than composing); positions are composed only
            # when a finding needs one.
            return SourceDoc(file=rel, data=data, text=text, root=None, lazy=True)
        text = _json_for_yaml(text)  # a duplicate key: let the YAML pass say where
    was_enabled = gc.isenabled()
    # The composer allocates one object per value and none of them form cycles; pausing the cyclic GC avoids
    # repeated full traversals of a growing heap (a third of the parse time of a large package).
    gc.disable()
    try:
        return _compose_and_build(_safe_yaml(), text, rel)
    finally:
        if was_enabled:
            gc.enable()


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a surrogate escape, paired or not


def parse_json(text: str, where: str, *, line: int = 1) -> Any:
    """One JSON value from outside a package (a record row, a `--data` argument), or an `InputError`.

    Errors read `where:line:column: ...`, with `line` the line the text starts on. As in package files: nesting
    deeper than `MAX_DEPTH`, integers longer than `MAX_INT_DIGITS` digits, NaN and infinities are refused, and so is
    an object that repeats a key (at any depth; JSON would keep the last value).
    """
    try:
        value = _guarded_loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant, parse_float=_finite_float
        )
        if "\\u" in text and _SURROGATE_ESCAPE.search(text):  # only then pay for the exact check
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError:  # the store's canonical JSON has no form for it: it crashed `records create`
        raise InputError(f"{where}:{line}: a string holds an unpaired surrogate escape (\\ud800-\\udfff)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}:{line + exc.lineno - 1}:{exc.colno}: JSON syntax: {exc.msg}") from None
    except _JsonLimit as exc:
        row, column = _line_column(text, exc.offset)
        raise InputError(f"{where}:{line + row - 1}:{column}: {exc.message}") from None
    except _DuplicateKey:
        # Only now pay for the parser that knows positions: it names the repeated key and where it stands.
        parse_text("\n" * (line - 1) + text, where, as_json=True)
        raise InputError(f"{where}:{line}: an object repeats a key") from None  # pragma: no cover - located above
    except ValueError as exc:
        raise InputError(f"{where}:{line}: {exc}") from None


def _json_for_yaml(text: str) -> str:
    """libyaml rejects JSON's surrogate-pair escapes; the literal character is the same string (columns after
    it on that line shift, which only affects positions, never data)."""
    return _SURROGATE_PAIR.sub(lambda m: json.loads(f'"{m.group(0)}"'), text)


def _safe_yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=False)
    yaml.Resolver = _fast_resolver()
    return yaml


def _compose_and_build(yaml: Any, text: str, rel: str) -> SourceDoc:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        try:
            if _may_nest_too_deep(text):
                _refuse_deep_events(_events(yaml, text), rel)
            node = yaml.compose(io.StringIO(text))
        except MarkedYAMLError:
            # libyaml is stricter than YAML 1.2 in corners (e.g. `{a: 0?}`); the pure parser decides. It reads
            # U+0085, U+2028 and U+2029 as characters, not line breaks (YAML 1.2), so the bound does not hold
            # for it: its depth is always measured (its composer would stop at Python's recursion limit).
            yaml = YAML(typ="safe", pure=True)
            _refuse_deep_events(_events(yaml, text), rel)
            node = yaml.compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{rel}:{mark.line + 1}:{mark.column + 1}" if mark else rel
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    except ReaderError as exc:  # a character YAML does not allow
        # The reader stops at the first one; its `position` counts characters or (libyaml) UTF-8 bytes, so the
        # character itself is looked up: its first occurrence is the one reported.
        found = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
        line, column = _line_column(text, found if found >= 0 else min(max(int(exc.position), 0), len(text)))
        raise InputError(
            f"{rel}:{line}:{column}: invalid YAML: unacceptable character U+{int(exc.character):04X} ({exc.reason})",
            hint="remove the character, or write it as an escape sequence inside a double-quoted string",
        ) from None
    except YAMLError as exc:
        raise InputError(f"{rel}: invalid YAML: {exc}") from None
    if node is None:
        return SourceDoc(file=rel, data={}, text=text)
    return SourceDoc(file=rel, data=_Builder(rel, yaml).build(node, 0), text=text, root=node)


# A line's block prefix: indentation and the indicators of compact nested collections (`- - a`, `? - a`). Block
# collections only start inside it, at a column at least one right of their parent's (a sequence may share its
# mapping's column, once), so lines whose prefixes are shorter than N open at most 2N nested block collections.
_LONG_PREFIX = _COMPOSER_SAFE_DEPTH // 8
_PREFIX = rf"[ \t?:\-\ufeff]{{{_LONG_PREFIX}}}"
# One pattern per YAML line break, each starting with that literal character, which the regex engine finds
# with a fast scan (an anchored `^` pattern is ten times slower on a large file).
_LONG_PREFIX_AFTER = {brk: re.compile(re.escape(brk) + _PREFIX) for brk in ("\n", "\r", "\x85", "\u2028", "\u2029")}
_LONG_PREFIX_FIRST = re.compile(_PREFIX)


def _may_nest_too_deep(text: str) -> bool:
    """False when `text` certainly nests at most `_COMPOSER_SAFE_DEPTH` levels as YAML (or JSON).

    Linear in the text and without parsing: flow collections nest at most once per `[` or `{`, block
    collections at most twice per column of the longest block prefix.
    """
    if _brackets(text) > _COMPOSER_SAFE_DEPTH - 2 * _LONG_PREFIX:
        return True
    return bool(_LONG_PREFIX_FIRST.match(text)) or any(
        brk in text and pattern.search(text) is not None for brk, pattern in _LONG_PREFIX_AFTER.items()
    )


def _brackets(text: str) -> int:
    return text.count("[") + text.count("{")


def _events(yaml: Any, text: str) -> Iterator[Any]:
    """The events of `yaml`'s parser, without composing (the parsers keep explicit stacks: no recursion)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.parser import Parser

    if yaml.Parser is Parser:
        yield from YAML(typ="safe", pure=True).parse(io.StringIO(text))
        return
    parser = yaml.Parser(io.StringIO(text))  # libyaml's, which reads the stream itself
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


_OPENS = frozenset({"SequenceStartEvent", "MappingStartEvent"})
_CLOSES = frozenset({"SequenceEndEvent", "MappingEndEvent"})
_NODES = _OPENS | {"ScalarEvent", "AliasEvent"}


def _refuse_deep_events(events: Iterator[Any], rel: str) -> None:
    """Raise where the builder would: at the first value (not key) nested deeper than `MAX_DEPTH`."""
    open_collections: list[list[int]] = []  # per open collection: [is a mapping, nodes seen in it]
    for event in events:
        kind = type(event).__name__
        if kind in _NODES:
            is_key = False
            if open_collections:
                parent = open_collections[-1]
                is_key = bool(parent[0]) and parent[1] % 2 == 0
                parent[1] += 1
            if len(open_collections) > MAX_DEPTH and not is_key:
                mark = event.start_mark
                raise InputError(f"{rel}:{mark.line + 1}:{mark.column + 1}: nesting is deeper than {MAX_DEPTH} levels")
            if kind in _OPENS:
                open_collections.append([kind == "MappingStartEvent", 0])
        elif kind in _CLOSES:
            open_collections.pop()


@cache
def _fast_resolver() -> type:
    """ruamel's resolver re-derives the YAML version for every scalar (half of all parse time on big files)."""
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tag import Tag

    rules_by_first_char: dict[str, tuple[tuple[str, Any], ...]] = {}
    tags: dict[str, Any] = {}  # shared Tag objects, so their cached string form is computed once per kind

    class FastResolver(VersionedResolver):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is not ScalarNode or not implicit[0]:
                return super().resolve(kind, value, implicit)
            first = value[0] if value else ""
            rules = rules_by_first_char.get(first)
            if rules is None:
                table = self.versioned_resolver
                rules = tuple(table.get(first, ())) + tuple(table.get(None, ()))
                rules_by_first_char[first] = rules
            for tag, regexp in rules:
                if regexp.match(value):
                    found = tags.get(tag)
                    if found is None:
                        found = tags[tag] = Tag(suffix=tag)
                    return found
            return self.DEFAULT_SCALAR_TAG

    return FastResolver


_DUPLICATE: Any = object()


def _load_json(text: str, rel: str) -> Any:
    """The document's data, or `_DUPLICATE` when an object repeats a key (located by the YAML pass)."""
    try:
        return _guarded_loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant, parse_float=_finite_float
        )
    except json.JSONDecodeError as exc:
        raise InputError(f"{rel}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except _DuplicateKey:
        return _DUPLICATE
    except _JsonLimit as exc:
        line, column = _line_column(text, exc.offset)
        raise InputError(f"{rel}:{line}:{column}: {exc.message}") from None
    except ValueError as exc:
        raise InputError(f"{rel}: invalid JSON: {exc}") from None


def _guarded_loads(text: str, **hooks: Any) -> Any:
    """`json.loads`, refusing (`_JsonLimit`) nesting deeper than `MAX_DEPTH` before the json module recurses
    into it, and integers longer than `MAX_INT_DIGITS` digits before converting them."""
    if _brackets(text) > MAX_DEPTH:
        _refuse_json_limits(text)
    try:
        return json.loads(text, parse_int=_bounded_int, **hooks)
    except _IntegerTooLong:
        _refuse_json_limits(text)
        raise  # pragma: no cover - the scan finds every integer literal the json module converts


# JSON strings (skipped), brackets (counted) and integer literals too long to convert. Valid JSON tokenizes
# exactly; on invalid JSON the json module fails before reaching a place where the two could disagree.
_JSON_SCAN = re.compile(rf'"(?:[^"\\\n]|\\.)*"|[\[\]{{}}]|(?<![\w.+-])-?[0-9]{{{MAX_INT_DIGITS + 1},}}(?![\w.])')


def _refuse_json_limits(text: str) -> None:
    """Raise `_JsonLimit` at the first collection nested deeper than `MAX_DEPTH` (the top level is 0, as in the
    builder) or integer longer than `MAX_INT_DIGITS` digits."""
    depth = 0
    for match in _JSON_SCAN.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            if depth > MAX_DEPTH:
                raise _JsonLimit(match.start(), f"nesting is deeper than {MAX_DEPTH} levels")
            depth += 1
        elif token == "]" or token == "}":
            depth -= 1
        elif token[0] != '"':
            digits = len(token.lstrip("-"))
            raise _JsonLimit(match.start(), f"integer has {digits} digits; the limit is {MAX_INT_DIGITS}")


class _JsonLimit(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_INT_DIGITS and len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise _IntegerTooLong
    return int(literal)


class _IntegerTooLong(Exception):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text if len(text) <= 40 else text[:37] + '...'} is not a finite number")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


class _DuplicateKey(Exception):
    pass


class _Builder:
    def __init__(self, file: str, yaml: Any) -> None:
        self.file = file
        self.constructor = yaml.constructor
        self.nodes = 0

    def _fail(self, node: Any, message: str) -> InputError:
        mark = node.start_mark
        return InputError(f"{self.file}:{mark.line + 1}:{mark.column + 1}: {message}")

    def build(self, node: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._fail(node, f"document expands to more than {MAX_NODES} values (alias bomb?)")
        if depth > MAX_DEPTH:
            raise self._fail(node, f"nesting is deeper than {MAX_DEPTH} levels")
        kind = node.id
        if kind == "scalar":
            return self._scalar(node)
        if kind == "sequence":
            return [self.build(item, depth + 1) for item in node.value]
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            if key in result:
                raise self._fail(key_node, f"duplicate key {key!r}")
            result[key] = self.build(value_node, depth + 1)
        return result

    def _key(self, node: Any) -> str:
        if node.id != "scalar":
            raise self._fail(node, "mapping keys must be plain strings")
        if node.ctag is not None and node.ctag.trval == _MERGE_TAG:
            raise self._fail(node, "YAML merge keys (<<) are not supported in packages")
        self._scalar(node)  # refuses unsupported tags on keys too
        # Positions are looked up by the key's source text, so keys keep the text the author wrote.
        return str(node.value)

    def _scalar(self, node: Any) -> Any:
        tag = (node.ctag.trval if node.ctag is not None else None) or ""
        if tag == _STR_TAG:
            return node.value
        if not tag.startswith(_SCALAR_TAGS):
            raise self._fail(node, f"unsupported YAML tag {tag!r}")
        name = tag[len(_SCALAR_TAGS) :]
        if name == "timestamp":
            return node.value
        if name in ("int", "float", "bool", "null"):
            if name == "int" and len(node.value) > MAX_INT_DIGITS:
                digits = len(node.value.lstrip("+-"))
                raise self._fail(node, f"integer has {digits} digits; the limit is {MAX_INT_DIGITS}")
            value = self.constructor.construct_object(node, deep=False)
            if isinstance(value, float) and not math.isfinite(value):
                raise self._fail(node, f"{node.value!r} is not a finite number")
            if name != "bool" and name != "null" and not JSON_NUMBER.fullmatch(node.value):
                # YAML's own spellings (1_000, 0x1F, 0o17, 007, +5, .5, 12.) read as numbers nobody wrote: refused,
                # as in every other input (crmctl.model.numbers).
                raise self._fail(
                    node,
                    f"{node.value!r} is not a number crmctl reads: write it as in JSON (e.g. "
                    "1000, -2.5, 1e6), or quote it if it is text",
                )
            return value
        raise self._fail(node, f"unsupported YAML type {name!r}")
