"""Time CEL evaluation with cel-expr-python raw, through crmctl's adapter, and with cel-python, side by side.

    python benchmarks/cel_bench.py [--n 50000] [--n-celpy 2000] [--repeat 5] [--no-check]

The same expressions over the same record are compiled once per library, then evaluated in a loop on one core
(the process is pinned to one CPU where the platform allows). Shapes: field comparisons, membership, arithmetic,
string functions, timestamps and durations, lists, maps (an object field), and results other than bool (a string,
a timestamp). Columns:

- `raw, all variables`: the library's own `Expression.eval(data=...)` on the whole binding `bind` made (every
  field and the context), the call the issue measured; it returns a `cel.Value`, not yet a Python value;
- `raw, read variables`: `Expression.eval(None, {...})` with only the variables the expression reads (prepared
  before the loop), positionally: the cheapest call the library offers for one evaluation;
- `raw, read, value`: the same and the result's `plain_value()`, the least any caller does to get the answer;
- `crmctl bound`: `CompiledProgram.evaluate_bound` over the same binding (cel-expr-python through crmctl's adapter:
  lookup by expression id, cost check where one applies, the variables it reads, errors mapped, the result as
  JSON-like data), as the engines run several rules over one bound record;
- `crmctl evaluate`: `CompiledProgram.evaluate`, which also binds the record (converts every field) each time;
- `cel-python`: `celpy` evaluating its compiled program with an activation of celpy values.

Figures are evaluations per second, the best of REPEAT timed loops after a warm-up, the columns of a row timed
in turns (one loop each, REPEAT rounds) so that load from elsewhere falls on all of them alike; the `bound /`
columns divide `crmctl bound` by another column (above 1: the adapter is faster). The target (>= 200,000/s for every
expression in the `crmctl bound` column) fails the run with exit 1 unless --no-check.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

TARGET = 200_000
EXPRESSIONS = {
    "threshold+membership+size": "amount > 1000.0 && status in ['new', 'open'] && size(name) > 2",
    "arithmetic": "(amount * 1.19) - discount > 500.0",
    "or+and": "score >= 50.0 || (industry == 'tech' && size > 100)",
    "ternary score": "(amount >= 100000.0 ? 40.0 : 0.0) + (size >= 50 ? 15.0 : 0.0)"
    " + (industry == 'tech' ? 20.0 : 0.0)",
    "string functions": "name.startsWith('A') && email.endsWith('.com') && email.contains('@')",
    "field compare (native)": "score >= 50.0",
    "timestamps+durations": "now - created > duration('720h') && due > now",
    "list": "'vip' in tags && tags.exists(t, t.startsWith('key')) && size(tags) >= 2",
    "map": "address.city == 'Berlin' && has(address.zip) && address.zip.size() == 5",
    "string result": "name + ' <' + email + '>'",
    "timestamp result": "created + duration('48h')",
}
FIELDS = {
    "amount": {"type": "currency", "currency": "EUR"},
    "discount": {"type": "currency", "currency": "EUR"},
    "score": {"type": "number"},
    "size": {"type": "number", "integer": True},
    "status": {"type": "enum", "values": ["new", "open", "won", "lost"]},
    "industry": {"type": "text"},
    "name": {"type": "text"},
    "email": {"type": "text"},
    "created": {"type": "datetime"},
    "due": {"type": "date"},
    "tags": {"type": "array", "items": {"type": "text"}},
    "address": {"type": "object", "fields": {"city": {"type": "text"}, "zip": {"type": "text"}}},
}
RECORD = {
    "amount": 1500.0,
    "discount": 20.0,
    "score": 42.0,
    "size": 250,
    "status": "open",
    "industry": "tech",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "created": "2025-10-01T09:30:00+02:00",
    "due": "2026-02-01",
    "tags": ["vip", "key account", "emea"],
    "address": {"city": "Berlin", "zip": "10115"},
}


def _rates(calls: list[tuple[Callable[[], Any], int]], repeat: int) -> list[float]:
    """Evaluations per second of each (call, loop size): the best of `repeat` timed loops, taken in turns (one loop
    of each call, then the next round), so that a busy machine slows every column alike."""
    for call, n in calls:
        for _ in range(min(n, 1000)):
            call()
    best = [0.0] * len(calls)
    for _ in range(repeat):
        for i, (call, n) in enumerate(calls):
            start = time.perf_counter()
            for _ in range(n):
                call()
            best[i] = max(best[i], n / (time.perf_counter() - start))
    return best


def _celpy_programs(bound: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """cel-python's programs, and the binding as celpy values."""
    import celpy
    from celpy import celtypes

    env = celpy.Environment()
    programs = {name: env.program(env.compile(src)) for name, src in EXPRESSIONS.items()}

    def wrap(value: Any) -> Any:
        if isinstance(value, bool):
            return celtypes.BoolType(value)
        if isinstance(value, float):
            return celtypes.DoubleType(value)
        if isinstance(value, int):
            return celtypes.IntType(value)
        if isinstance(value, datetime):
            return celtypes.TimestampType(value)
        if isinstance(value, list):
            return celtypes.ListType([wrap(item) for item in value])
        if isinstance(value, dict):
            return celtypes.MapType({celtypes.StringType(k): wrap(v) for k, v in value.items()})
        return celtypes.StringType(value)

    return programs, {name: wrap(value) for name, value in bound.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=50_000, help="evaluations per timed loop (cel-expr-python)")
    parser.add_argument("--n-celpy", type=int, default=2_000, help="evaluations per timed loop (cel-python)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-check", action="store_true", help="do not fail when the target is missed")
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    from crmctl.model.cel_cost import CheckedAst
    from crmctl.model.fields import SchemaArtifact
    from crmctl.runtime.cel import CompiledProgram, Context
    from crmctl.runtime.values import from_cel

    schema = SchemaArtifact.model_validate({"entities": {"Lead": {"fields": FIELDS}}})
    program = CompiledProgram.build("bench", schema, "Lead", EXPRESSIONS)
    context = Context("details", "sales", datetime(2026, 1, 1, tzinfo=UTC), "en")
    bound = program.bind(RECORD, context)
    celpy_programs, activation = _celpy_programs(bound)

    rows = []
    for name in EXPRESSIONS:
        ours = program.evaluate_bound(name, bound)
        theirs = from_cel(celpy_programs[name].evaluate(activation))
        if ours != theirs:
            print(f"results differ on {name}: {ours!r} vs {theirs!r}", file=sys.stderr)
            return 1
        raw = program._programs[name]
        read = {var: bound[var] for var in CheckedAst.of(raw).variables}
        rates = _rates(
            [
                (lambda raw=raw: raw.eval(data=bound), args.n),
                (lambda raw=raw, read=read: raw.eval(None, read), args.n),
                (lambda raw=raw, read=read: raw.eval(None, read).plain_value(), args.n),
                (lambda name=name: program.evaluate_bound(name, bound), args.n),
                (lambda name=name: program.evaluate(name, RECORD, context), args.n),
                (lambda name=name: celpy_programs[name].evaluate(activation), args.n_celpy),
            ],
            args.repeat,
        )
        rows.append((name, EXPRESSIONS[name], *rates))

    print(
        f"Python {platform.python_version()} on {platform.machine()}, one core; evaluations per second "
        f"(best of {args.repeat} loops, taken in turns)\n"
    )
    print(
        "| rule | expression | raw, all variables | raw, read variables | raw, read, value | crmctl bound "
        "| bound / raw all | bound / raw read, value | crmctl evaluate | cel-python | bound / cel-python |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, src, raw_all, raw_read, raw_value, bound_rate, full_rate, celpy_rate in rows:
        cell = src.replace("|", "\\|")
        print(
            f"| {name} | `{cell}` | {raw_all:,.0f} | {raw_read:,.0f} | {raw_value:,.0f} | {bound_rate:,.0f} | "
            f"{bound_rate / raw_all:.2f} | {bound_rate / raw_value:.2f} | {full_rate:,.0f} | {celpy_rate:,.0f} | "
            f"{bound_rate / celpy_rate:,.0f}× |"
        )
    slowest = min(row[5] for row in rows)
    verdict = "met" if slowest >= TARGET else "MISSED"
    print(f"\ntarget: crmctl bound >= {TARGET:,}/s for every rule; slowest {slowest:,.0f}/s: {verdict}")
    return 0 if slowest >= TARGET or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())
