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
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from itertools import chain
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
    from crmctl.runtime.records import RecordEngine

__all__ = ["RawRow", "Row", "RowFile", "RowPlan", "json_object", "read_rows", "row_converter"]

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

Row = tuple[int, str | None, Mapping[str, Any]]  # row number (from 1), id or None, field values
RawRow = tuple[int, int, Any]
"""A row as split from its file: (row number, line number of its last line, the line's text (JSONL); CSV: the
line's text when it has no quotes, else the record's cells)."""
RowPlan = tuple[str, str, tuple[str | None, ...], int | None]
"""How raw rows convert: (kind, the file's name for messages, CSV: each column's field (None: the id column),
CSV: the id column's index)."""


class RowFile:
    """The rows of a file to import, read in two steps. `items` splits the file (lines, CSV records: the cheap
    part, and every error of the file's shape); `row_converter(plan, engine)` turns each raw row into a `Row`
    (JSON parsing, cell conversion: per row, so in any process). Iterating gives the rows, both steps here."""

    def __init__(self, path: Path, kind: str, engine: RecordEngine) -> None:
        self.path = path
        self.kind = kind
        self.engine = engine
        self._plan: RowPlan | None = (kind, str(path), (), None) if kind == "jsonl" else None

    def items(self) -> Generator[RawRow, None, None]:
        """The raw rows, read lazily (errors surface while iterating): for a CSV file `plan` is known from the first."""
        handle = io.TextIOWrapper(open_regular(self.path, str(self.path)), encoding="utf-8", newline="")
        lines = _lines(self.path, handle)
        return _guard(self.path, handle, self._csv(lines) if self.kind == "csv" else _jsonl(lines))

    @property
    def plan(self) -> RowPlan:
        """How the raw rows convert (a CSV file's: once `items` has read its header)."""
        if self._plan is None:
            raise RuntimeError("the plan of a CSV file is known once its header is read")
        return self._plan

    def __iter__(self) -> Iterator[Row]:
        convert: Callable[[RawRow], Row] | None = None
        with closing(self.items()) as items:  # a row that does not convert closes the file at once
            for item in items:
                if convert is None:
                    convert = row_converter(self.plan, self.engine)
                yield convert(item)

    def _csv(self, lines: Iterator[str]) -> Iterator[RawRow]:
        """The header, then each record: the text of a line without quotes (its cells are split where it is
        converted: `row_converter`), the cells of any other record as the csv module reads it (a quoted cell may
        span lines). Both give exactly the csv module's cells and errors; the plain lines, most of a file, cost
        a membership test here and travel to a worker as one string."""
        path, engine = self.path, self.engine
        limit = csv.field_size_limit()
        number = 0  # lines read before the record being read

        def parsed(first: str) -> list[str]:
            """The record starting with the line `first`, read by the csv module (and the lines it needs)."""
            nonlocal number
            reader = csv.reader(chain([first], lines), strict=True)
            try:
                cells = next(reader)
            except csv.Error as exc:
                raise InputError(f"{path}:{number + reader.line_num}: CSV syntax: {exc}") from None
            number += reader.line_num
            return cells

        first = next(lines, None)
        if first is None:
            return
        header = parsed(first)
        targets: list[str | None] = []
        named: dict[str, tuple[int, str]] = {}  # field (or "id") → (column number, header name)
        for column, name in enumerate(header, start=1):
            target = name if name == "id" or name in engine.inputs else engine.aliases.get(name, name)
            if target in named:
                first_column, as_named = named[target]
                former = f" (a former name of {target!r})" if {name, as_named} != {target} else ""
                raise InputError(
                    f"{path}:1:{column}: column {name!r}{former} names the same field as column "
                    f"{first_column} ({as_named!r}); each field is one column"
                )
            named[target] = (column, name)
            if name == "id":
                targets.append(None)
                continue
            if target not in engine.inputs:
                what = "a calculated field (never imported)" if target in engine.calculated_names else "unknown"
                known = ", ".join(["id", *engine.inputs])
                raise InputError(f"{path}:1:{column}: column {name!r} is {what}; {engine.entity} columns are {known}")
            targets.append(target)
        self._plan = ("csv", str(path), tuple(targets), header.index("id") if "id" in header else None)
        width = len(header)
        for row_number, line in enumerate(lines, start=1):
            if '"' in line or len(line) > limit:  # quotes, or a cell that may be over the csv module's limit
                cells: list[str] | str = parsed(line)
                count = len(cells)
            else:
                number += 1
                cells = line.rstrip("\r\n")
                count = cells.count(",") + 1 if cells else 0
                if not count:  # the csv module reads a blank line as no cells
                    cells = []
            if count > width:
                raise InputError(
                    f"{path}:{number}:{width + 1}: row {row_number} has {count} cells; the header names {width} columns"
                )
            yield row_number, number, cells


def read_rows(path: Path, engine: RecordEngine) -> RowFile:
    """The rows of `path` for `engine`'s entity, read lazily (errors surface while iterating)."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: import reads .csv or .jsonl files, not {path.suffix or 'files without a suffix'}")
    return RowFile(path, kind, engine)


def row_converter(plan: RowPlan, engine: RecordEngine) -> Callable[[RawRow], Row]:
    """The conversion of raw rows of `plan` into rows for `engine` (`InputError`s located as reading reports them)."""
    kind, where, targets, id_column = plan
    if kind == "jsonl":
        return lambda item: _jsonl_row(where, engine, item)
    columns = [None if target is None else (target, _converter(engine.inputs[target].fdef)) for target in targets]

    def convert(item: RawRow) -> Row:
        row_number, _, cells = item
        if isinstance(cells, str):  # a line without quotes (`RowFile._csv`): its cells are between its commas
            cells = cells.split(",")
        values = {}
        for column, cell in zip(columns, cells, strict=False):
            if column is not None and cell != "":
                values[column[0]] = column[1](cell)
        record_id = cells[id_column] or None if id_column is not None and id_column < len(cells) else None
        return row_number, record_id, values

    return convert


def _lines(path: Path, handle: Any) -> Iterator[str]:
    """The lines of `handle`, each at most `MAX_FILE_BYTES` characters: a file without line breaks is refused
    where the long line starts instead of being read into memory whole."""
    number = 0
    while line := handle.readline(MAX_FILE_BYTES + 1):
        number += 1
        if len(line) > MAX_FILE_BYTES:
            raise InputError(f"{path}:{number}: a line longer than {MAX_FILE_BYTES} characters")
        yield line


def _guard(path: Path, handle: Any, rows: Iterator[RawRow]) -> Generator[RawRow, None, None]:
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


def json_object(text: str, where: str, *, line: int = 1) -> dict[str, Any]:
    """The JSON object of field values in `text` (which starts on `line` of `where`): `parse_json`'s limits and
    located errors (syntax, depth, long integers, NaN, a key an object repeats at any depth), and an `InputError`
    for a value that is no object."""
    value = parse_json(text, where, line=line)
    if not isinstance(value, dict):
        raise InputError(f"{where}:{line}:1: expected a JSON object of field values, got {type(value).__name__}")
    return value


def _jsonl(handle: Any) -> Iterator[RawRow]:
    row_number = 0
    for line_number, line in enumerate(handle, start=1):
        if line.strip():
            row_number += 1
            yield row_number, line_number, line


def _jsonl_row(where: str, engine: RecordEngine, item: RawRow) -> Row:
    row_number, line_number, line = item
    value = json_object(line.rstrip("\r\n"), where, line=line_number)
    if engine.rename is not None:
        try:
            engine.rename(value)
        except NamedTwice as exc:
            raise InputError(f"{where}:{line_number}: {exc.message}") from None
    record_id = value.pop("id", None)
    if record_id is not None and not isinstance(record_id, str):
        raise InputError(f"{where}:{line_number}: id must be a string, got {type(record_id).__name__}")
    return row_number, record_id, value
