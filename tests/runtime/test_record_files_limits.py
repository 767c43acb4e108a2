"""Record files at their limits: deep JSON, over-long integers and any bytes give rows or a located error."""

from __future__ import annotations

import contextlib
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
