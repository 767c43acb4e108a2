"""Option types and callbacks shared by the command modules (`crmctl.cli.main`, `crmctl.cli.main_runtime`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = [
    "MAX_JOBS_PER_CORE",
    "JobsOpt",
    "ListFormat",
    "ListFormatOpt",
    "available_cores",
    "count",
    "jobs",
    "percentage",
    "tenant_id",
]


class ListFormat(StrEnum):
    """`--format` of commands that print a list or a record: text for people, JSON for tools."""

    text = "text"
    json = "json"


ListFormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


def tenant_id(value: str | None) -> str | None:
    """Every `--tenant` option: a tenant id (`crmctl.model.tenants`), checked before the command runs."""
    if value is None:
        return None
    from crmctl.model.tenants import check_tenant

    return check_tenant(value)


def count(text: str | int) -> int:
    """Options that count (`--limit`, ...): a whole number from 0, in ASCII digits (`crmctl.model.numbers`: click's
    int() would read `1_000`, `+5` and `١٢`)."""
    from crmctl.model.numbers import parse_number

    try:
        value = text if isinstance(text, int) else parse_number(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not isinstance(value, int) or value < 0:
        raise typer.BadParameter(f"{text!r} is not a whole number from 0")
    return value


def percentage(text: str | float) -> float:
    """`--fail-under`: a number from 0 to 100 (float() would take `nan`, which no coverage is below)."""
    from crmctl.model.numbers import parse_number

    try:
        value = float(text if isinstance(text, int | float) else parse_number(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not 0 <= value <= 100:
        raise typer.BadParameter(f"{text!r} is not a percentage from 0 to 100")
    return value


# `--jobs` above this many processes a core is taken as this many: the work is CPU-bound, and `--jobs 100000` must
# not start a process for every chunk in flight (a fork bomb that ends in the out-of-memory killer).
MAX_JOBS_PER_CORE = 4


def jobs(text: str | int | None) -> int | None:
    """`--jobs`: a number of worker processes from 1, at most `MAX_JOBS_PER_CORE` a core (None: not given, the
    command uses `available_cores`)."""
    if text is None:
        return None
    value = count(text)
    if value < 1:
        raise typer.BadParameter(f"{text!r}: give at least 1 process")
    return min(value, MAX_JOBS_PER_CORE * available_cores())


def available_cores() -> int:
    """The default of `--jobs`: the cores this process may run on (its CPU affinity where the platform has one)."""
    import os

    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        parser=jobs,
        metavar="N",
        help="Worker processes (default: the number of cores; 1 works in this process alone; at most 4 a core).",
    ),
]
