"""`crmctl.runtime.pool`: results in input order, errors where one process would raise them, no hang, no orphan."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

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


@pytest.mark.parametrize("ahead", [0, 10])
def test_workers_go_on_while_the_consumer_holds_a_result(tmp_path: Path, ahead: int) -> None:
    """Up to `ahead` chunks (at least 2 × jobs) are read and worked on while the consumer is busy with the first
    result (an import writing a batch), and no more are read: the read-ahead is what bounds the memory."""
    read: list[int] = []

    def chunks() -> Iterator[list[int]]:
        for start in range(0, 100, 2):
            read.append(start)
            yield [start, start + 1]

    expected = max(ahead, 4)
    results = ordered_map(
        pool_work.marked, chunks(), jobs=2, setup=pool_work.mark_in, setup_args=(str(tmp_path),), ahead=ahead
    )
    with closing(results):
        first = next(results)
        assert first == ([0, 1], [0, 1]) and len(read) == expected
        deadline = time.monotonic() + 30
        while len(list(tmp_path.iterdir())) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(int(p.name) for p in tmp_path.iterdir()) == read == list(range(0, 2 * expected, 2))
        assert [chunk for chunk, _ in results] == [[i, i + 1] for i in range(2, 100, 2)]
