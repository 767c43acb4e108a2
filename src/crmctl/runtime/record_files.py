"""Rows to import from CSV or JSONL files (chosen by suffix: `.csv`, `.jsonl`/`.ndjson`).

CSV: the first row names the columns: fields of the entity (former names follow `aliases`) and optionally
`id`. Cells are converted by the field's type: numbers in JSON syntax and ASCII digits (`1_000`, `+5`, `١٢`,
`nan` stay text; `integer` fields as int, others as float), booleans
`true`/`false` (any case), arrays and objects as JSON text, everything else as text; an empty cell is absent.
A cell that does not convert stays text, so the record engine rejects that row with a located finding that says
why the text is no number (too many digits, beyond the range of a double, not JSON syntax). JSONL:
one JSON object per line (blank lines are skipped); an `id` key, when a string, is the record id.

Rows are numbered from 1 in file order (the CSV header and JSONL blank lines do not count); a row without an
id gets `<entity>-<row>`. Unreadable files, CSV syntax, rows with more cells than the header, unknown or
calculated columns, and JSONL lines with JSON syntax errors, nesting deeper than 64 levels or integers over 4,300
digits become `InputError`s located by `file:line[:column]`.

A field is named once: a CSV header that repeats a column, or names a field and one of its former names, and a
JSONL object (at any depth) that repeats a key are refused, located, instead of keeping the last value; so is a
JSONL row naming a field and one of its former names (at any depth: `model.aliases`). `json_object` is the one
parser of a JSON object of field values (JSONL rows, `records create --data/--file`, `records update --data`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from crmctl.errors import InputError
from crmctl.model.aliases import NamedTwice
from crmctl.model.fields import ArrayField, BooleanField, CurrencyField, NumberField, ObjectField
from crmctl.model.files import MAX_FILE_BYTES, open_regular
from crmctl.model.numbers import parse_number
from crmctl.model.source import parse_json

if TYPE_CHECKING:
    from pathlib import Path

    from crmctl.model.fields import FieldDef
    from crmctl.runtime.record_service import Row
    from crmctl.runtime.records import RecordEngine

__all__ = ["json_object", "read_rows"]

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_rows(path: Path, engine: RecordEngine) -> Iterator[Row]:
    """The rows of `path` for `engine`'s entity, read lazily (errors surface while iterating)."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: import reads .csv or .jsonl files, not {path.suffix or 'files without a suffix'}")
    handle = io.TextIOWrapper(open_regular(path, str(path)), encoding="utf-8", newline="")
    lines = _lines(path, handle)
    return _guard(path, handle, _csv(path, lines, engine) if kind == "csv" else _jsonl(path, lines, engine))


def _lines(path: Path, handle: Any) -> Iterator[str]:
    """The lines of `handle`, each at most `MAX_FILE_BYTES` characters: a file without line breaks is refused
    where the long line starts instead of being read into memory whole."""
    number = 0
    while line := handle.readline(MAX_FILE_BYTES + 1):
        number += 1
        if len(line) > MAX_FILE_BYTES:
            raise InputError(f"{path}:{number}: a line longer than {MAX_FILE_BYTES} characters")
        yield line


def _guard(path: Path, handle: Any, rows: Iterator[Row]) -> Iterator[Row]:
    with handle:
        try:
            yield from rows
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start} of a read chunk)") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _number(integer: bool) -> Callable[[str], Any]:
    def convert_int(cell: str) -> Any:
        try:
            return parse_number(cell)  # a fraction stays a float: the engine then says the field takes whole numbers
        except ValueError:
            return cell

    return convert_int if integer else _float


def _float(cell: str) -> Any:
    try:
        return float(parse_number(cell))
    except (ValueError, OverflowError):  # OverflowError: an integer beyond the range of a double
        return cell


def _boolean(cell: str) -> Any:
    lowered = cell.lower()
    return True if lowered == "true" else False if lowered == "false" else cell


def _json(cell: str) -> Any:
    try:
        return parse_json(cell, "cell")
    except InputError:
        return cell


def _text(cell: str) -> Any:
    return cell


def _converter(fdef: FieldDef) -> Callable[[str], Any]:
    if isinstance(fdef, NumberField):
        return _number(fdef.integer)
    if isinstance(fdef, CurrencyField):
        return _number(False)
    if isinstance(fdef, BooleanField):
        return _boolean
    if isinstance(fdef, ArrayField | ObjectField):
        return _json
    return _text


def _csv(path: Path, handle: Any, engine: RecordEngine) -> Iterator[Row]:
    reader = csv.reader(handle, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        columns: list[tuple[str, Callable[[str], Any]] | None] = []
        named: dict[str, tuple[int, str]] = {}  # field (or "id") → (column number, header name)
        for number, name in enumerate(header, start=1):
            target = name if name == "id" or name in engine.inputs else engine.aliases.get(name, name)
            if target in named:
                first, as_named = named[target]
                former = f" (a former name of {target!r})" if {name, as_named} != {target} else ""
                raise InputError(
                    f"{path}:1:{number}: column {name!r}{former} names the same field as column "
                    f"{first} ({as_named!r}); each field is one column"
                )
            named[target] = (number, name)
            if name == "id":
                columns.append(None)
                continue
            plan = engine.inputs.get(target)
            if plan is None:
                what = "a calculated field (never imported)" if target in engine.calculated_names else "unknown"
                known = ", ".join(["id", *engine.inputs])
                raise InputError(f"{path}:1:{number}: column {name!r} is {what}; {engine.entity} columns are {known}")
            columns.append((target, _converter(plan.fdef)))
        id_column = header.index("id") if "id" in header else None
        width = len(header)
        for row_number, cells in enumerate(reader, start=1):
            if len(cells) > width:
                raise InputError(
                    f"{path}:{reader.line_num}:{width + 1}: row {row_number} has {len(cells)} cells; "
                    f"the header names {width} columns"
                )
            values = {}
            for column, cell in zip(columns, cells, strict=False):
                if column is not None and cell != "":
                    values[column[0]] = column[1](cell)
            record_id = cells[id_column] or None if id_column is not None and id_column < len(cells) else None
            yield row_number, record_id, values
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: CSV syntax: {exc}") from None


def json_object(text: str, where: str, *, line: int = 1) -> dict[str, Any]:
    """The JSON object of field values in `text` (which starts on `line` of `where`): `parse_json`'s limits and
    located errors (syntax, depth, long integers, NaN, a key an object repeats at any depth), and an `InputError`
    for a value that is no object."""
    value = parse_json(text, where, line=line)
    if not isinstance(value, dict):
        raise InputError(f"{where}:{line}:1: expected a JSON object of field values, got {type(value).__name__}")
    return value


def _jsonl(path: Path, handle: Any, engine: RecordEngine) -> Iterator[Row]:
    row_number = 0
    for line_number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        value = json_object(line.rstrip("\r\n"), str(path), line=line_number)
        if engine.rename is not None:
            try:
                engine.rename(value)
            except NamedTwice as exc:
                raise InputError(f"{path}:{line_number}: {exc.message}") from None
        row_number += 1
        record_id = value.pop("id", None)
        if record_id is not None and not isinstance(record_id, str):
            raise InputError(f"{path}:{line_number}: id must be a string, got {type(record_id).__name__}")
        yield row_number, record_id, value
