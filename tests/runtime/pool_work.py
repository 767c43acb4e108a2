"""Work for the process pool's tests (`test_pool.py`): module-level functions, so spawned workers import them."""

from __future__ import annotations

import os
from pathlib import Path

_offset = 0


def setup(offset: int) -> None:
    global _offset
    _offset = offset


def shifted(chunk: list[int]) -> list[int]:
    """Each item plus the setup's offset; 13 is unlucky (ValueError), 666 kills the worker."""
    if 666 in chunk:
        os._exit(1)
    if 13 in chunk:
        raise ValueError("13 is unlucky")
    return [item + _offset for item in chunk]


_marks = ""


def mark_in(directory: str) -> None:
    global _marks
    _marks = directory


def marked(chunk: list[int]) -> list[int]:
    """The chunk as it is, after leaving a file named after its first item in the setup's directory."""
    (Path(_marks) / str(chunk[0])).touch()
    return chunk
