"""Work for the process pool's tests (`test_pool.py`): module-level functions, so spawned workers import them."""

from __future__ import annotations

import os

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
