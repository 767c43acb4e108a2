"""`crmctl.runtime.pool`: results in input order, errors where one process would raise them, no hang, no orphan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmctl.errors import InternalError
from crmctl.runtime.pool import chunked, ordered_map
from tests.runtime import pool_work


def test_chunked_keeps_the_items_read_before_a_failure() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise OSError("disk gone")

    out = chunked(items(), 2)
    assert [next(out), next(out), next(out)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(OSError, match="disk gone"):
        next(out)
    assert list(chunked(range(4), 2)) == [[0, 1], [2, 3]] and list(chunked([], 3)) == []


def test_results_come_in_input_order_from_set_up_workers() -> None:
    chunks = list(chunked(range(100, 300), 7))
    got = list(ordered_map(pool_work.shifted, chunks, jobs=2, setup=pool_work.setup, setup_args=(1000,)))
    assert [chunk for chunk, _ in got] == chunks
    assert [item for _, result in got for item in result] == [i + 1000 for i in range(100, 300)]


def test_a_work_error_is_raised_at_its_place_in_the_order() -> None:
    seen: list[list[int]] = []
    with pytest.raises(ValueError, match="13 is unlucky"):
        for _, result in ordered_map(
            pool_work.shifted, chunked(range(100), 5), jobs=2, setup=pool_work.setup, setup_args=(0,)
        ):
            seen.append(result)
    assert seen == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # every chunk before the failing one, none after


def test_a_read_error_comes_after_the_chunks_read_before_it() -> None:
    def chunks() -> Iterator[list[int]]:
        yield [1, 2]
        yield [3]
        raise OSError("disk gone")

    seen: list[list[int]] = []
    with pytest.raises(OSError, match="disk gone"):
        for _, result in ordered_map(pool_work.shifted, chunks(), jobs=2, setup=pool_work.setup, setup_args=(0,)):
            seen.append(result)
    assert seen == [[1, 2], [3]]


def test_a_dead_worker_is_an_internal_error_not_a_hang() -> None:
    with pytest.raises(InternalError, match="a worker process stopped unexpectedly"):
        list(ordered_map(pool_work.shifted, [[1], [666], [2]], jobs=2, setup=pool_work.setup, setup_args=(0,)))
