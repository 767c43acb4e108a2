"""Record files at their limits: deep JSON, over-long integers and any bytes give rows or a located error."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crmctl.errors import InputError, UserError
from crmctl.runtime.record_files import read_rows
from crmctl.runtime.records import RecordEngine
from tests.runtime.test_records import AT, shop

DEEP = 100_000  # far past the json module's recursion limit: a RecursionError traceback (exit 3) before


@pytest.fixture(scope="module")
def engine() -> RecordEngine:
    return RecordEngine(shop(), "Order")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"customer": "x"}\n{"tags": ' + "[" * DEEP + "]" * DEEP + "}\n", "a.jsonl:2:74: nesting is deeper than 64"),
        ('{"customer": "x", "quantity": ' + "9" * 5000 + "}\n", "a.jsonl:1:31: integer has 5000 digits; the limit"),
        ('\n{"quantity": -' + "1" * 4301 + "}\n", "a.jsonl:2:14: integer has 4301 digits; the limit is 4300"),
    ],
)
def test_jsonl_rows_past_the_limits_are_located(tmp_path: Path, engine: RecordEngine, text: str, message: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_rows(path, engine))
    assert caught.value.message.startswith(f"{tmp_path}/{message}")


def test_a_csv_cell_too_deep_for_json_stays_text(tmp_path: Path, engine: RecordEngine) -> None:
    path = tmp_path / "a.csv"
    deep = "[" * 30_000 + "]" * 30_000  # within the csv module's field limit
    path.write_text(f"customer,tags,quantity\nx,{deep},1\n", encoding="utf-8")
    [(_, _, values)] = list(read_rows(path, engine))
    assert values["tags"] == deep
    assert [(f["field"], f["code"]) for f in engine.check(values, AT).errors] == [("tags", "type")]


_CELLS = st.text(alphabet=st.sampled_from([*'ab1-.e,"[]{}:\\ \n\r\t', "é", "\x00"]), max_size=30)


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["csv", "jsonl"]),
    header=st.lists(
        st.sampled_from(["id", "customer", "client", "quantity", "price", "tags", "address", "x"]),
        min_size=1,
        max_size=4,
    ),
    lines=st.lists(_CELLS, max_size=6),
)
@example(kind="jsonl", header=["id"], lines=['{"quantity": 1e999, "tags": [[[]]]}'])
@example(kind="csv", header=["quantity", "tags"], lines=["99999999999999999999999,[1"])
def test_any_record_file_gives_rows_or_a_located_error(
    tmp_path_factory: pytest.TempPathFactory, engine: RecordEngine, kind: str, header: list[str], lines: list[str]
) -> None:
    path = tmp_path_factory.mktemp("rows") / f"rows.{kind}"
    body = "\n".join(lines) + "\n"
    path.write_text((",".join(header) + "\n" + body) if kind == "csv" else body, encoding="utf-8")
    try:
        rows = list(read_rows(path, engine))
    except InputError as exc:
        assert exc.message.startswith(str(path))
        return
    for number, record_id, values in rows:
        assert number >= 1 and (record_id is None or isinstance(record_id, str))
        with contextlib.suppress(UserError):  # a key the entity does not declare: refused by name
            engine.check(values, AT)


def _csv_module_rows(path: Path) -> list[tuple[int, int, list[str]]] | str:
    """What reading `path` whole with the csv module gives: (row, line number, cells) after the header, or the
    message of the first error (CSV syntax, a row with more cells than the header), as `RowFile` locates it."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        out = []
        try:
            width = len(next(reader, None) or [])
            for number, cells in enumerate(reader, start=1):
                if len(cells) > width:
                    return (
                        f"{path}:{reader.line_num}:{width + 1}: row {number} has {len(cells)} cells; the header "
                        f"names {width} columns"
                    )
                out.append((number, reader.line_num, cells))
        except csv.Error as exc:
            return f"{path}:{reader.line_num}: CSV syntax: {exc}"
    return out


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet='a,"\n\r\0 é', max_size=60), width=st.integers(1, 3))
@example(text='a,"b\nc",d\n\n\r\na"b,c\n"\r', width=3)
@example(text='"a"b\n', width=2)
@example(text='a\r\nb"\n,\n', width=2)
@example(text="a," + "b" * 140_000 + "\nc\n", width=2)  # a cell over the csv module's field limit
def test_csv_rows_are_the_csv_modules(
    tmp_path_factory: pytest.TempPathFactory, engine: RecordEngine, text: str, width: int
) -> None:
    """A line without quotes is split at its commas, any other record read by the csv module (`RowFile._csv`):
    the rows, their line numbers, cells and errors are exactly those of the csv module reading the whole file."""
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    path.write_text(",".join(["customer", "quantity", "tags"][:width]) + "\n" + text, encoding="utf-8", newline="")
    rows = read_rows(path, engine)
    got: list[tuple[int, int, list[str]]] | str = []
    try:
        for number, line, cells in rows.items():
            assert isinstance(got, list)
            got.append((number, line, cells.split(",") if isinstance(cells, str) else cells))
    except InputError as exc:
        got = exc.message
    assert got == _csv_module_rows(path)
