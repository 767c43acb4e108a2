"""Option types and callbacks shared by the command modules (`crmctl.cli.main`, `crmctl.cli.main_runtime`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["ListFormat", "ListFormatOpt", "count", "percentage", "tenant_id"]


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
