"""The CEL check and environment caches stay bounded over a long session (a language server checks every
expression text typed and every schema edited) and give the same answers when shared between threads."""

from __future__ import annotations

import threading

import pytest

import crmctl.model.cel as cel_module
from crmctl.model.cel import CelChecker


def test_the_check_cache_is_bounded_and_evicts_the_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cel_module, "_CHECK_CACHE_SIZE", 10)
    checker = CelChecker({"n": "int"})
    first = checker.check("n + 0")
    for i in range(1, 30):
        checker.check(f"n + {i}")
        checker.check("n + 0")  # kept in use: never the least recently used
        assert len(cel_module._CHECK_CACHE) <= 10
    assert checker.check("n + 0") is first
    assert (checker.signature, "n + 1") not in cel_module._CHECK_CACHE
    # an evicted expression is checked again, with the same answer
    again = checker.check("n + 1")
    assert again.ok and again.result_type == first.result_type


def test_the_environment_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cel_module, "_ENV_CACHE_SIZE", 4)
    for i in range(12):
        # a schema edited field by field: a new signature each time
        checker = CelChecker({f"f{j}": "string" for j in range(i + 1)})
        assert checker.check(f"f{i} == 'x'").result_type == "bool"
        assert len(cel_module._ENV_CACHE) <= 4
    assert not CelChecker({"f0": "string"}).check("f1 == 'x'").ok


def test_checks_from_several_threads_agree_with_one_thread() -> None:
    checker = CelChecker({"n": "int", "s": "string"})
    texts = [f"n + {i} > 3" if i % 3 else f"s + {i}" for i in range(60)]
    expected = [CelChecker({"n": "int", "s": "string"})._compile(t) for t in texts]
    found: dict[int, list[object]] = {}

    def work(k: int) -> None:
        found[k] = [checker.check(t) for t in texts]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results == expected for results in found.values())
