"""`crmctl events dlq list|retry`: the webhook deliveries that failed every attempt (the dead-letter queue), and
putting them back in the queue (`crmctl serve` delivers them: the running one, or the next one started).

The store is the sandbox's (`crmctl serve`'s default, `.crm/sandbox.duckdb`) unless --store names another: the
outbox lives where the server delivered from. While `crmctl serve` holds the store, DuckDB lets no other process
open it: the commands say so (exit 2) and name the server's `/_sandbox/dlq` endpoint, which does the same."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from crmctl.cli.console import out
from crmctl.cli.contract import emit
from crmctl.cli.inputs import instant, open_store, sandbox_store
from crmctl.errors import UsageError

if TYPE_CHECKING:
    from crmctl.runtime.storage.outbox import Delivery
    from crmctl.runtime.store import Store

__all__ = ["run_list", "run_retry"]


@contextmanager
def _opened(given: str | None, *, read_only: bool) -> Iterator[Store]:
    """The sandbox's store (or --store); held by a running `crmctl serve`, a usage error saying so."""
    from crmctl.runtime.store import StoreLockedError

    try:
        # Never created: a retry in a store that is not there (a mistyped --store) re-queues nothing, as list
        # finds nothing, and leaves no empty store behind.
        with open_store(sandbox_store(given)[0], read_only=read_only, create=False) as store:
            yield store
    except StoreLockedError as error:
        hint = "stop `crmctl serve`, or use its endpoint: GET /_sandbox/dlq (list), POST /_sandbox/dlq (retry)"
        raise UsageError(str(error), hint=hint) from None


def _line(delivery: Delivery) -> str:
    shown = delivery.to_json()
    return (
        f"{shown['id']}  seq {shown['seq']}  {shown['type']}  → {shown['webhook']}  "
        f"{shown['attempts']} attempts, last: {shown['lastError']}"
    )


def run_list(store: str | None, tenant: str, output_format: str) -> int:
    with _opened(store, read_only=True) as opened:
        dead = opened.outbox.dead(tenant)
    if output_format == "json":
        return emit({"tenant": tenant, "deliveries": [d.to_json() for d in dead]})
    if not dead:
        out(f"no dead webhook deliveries in tenant {tenant}")
    for delivery in dead:
        out(_line(delivery))
    return 0


def run_retry(store: str | None, tenant: str, ids: list[str], every: bool, output_format: str) -> int:
    """Re-queue the dead deliveries `ids` (or all of them); an id that is no dead delivery re-queues nothing."""
    if every == bool(ids):
        raise UsageError("name the deliveries to retry, or pass --all", hint="crmctl events dlq list shows them")
    with _opened(store, read_only=False) as opened:
        dead = {d.event_id for d in opened.outbox.dead(tenant)}
        missing = [i for i in dict.fromkeys(ids) if i not in dead]
        if missing:
            raise UsageError(
                f"not a dead delivery in tenant {tenant}: {', '.join(missing)}; nothing was re-queued",
                hint="crmctl events dlq list shows them",
            )
        chosen = opened.outbox.retry(tenant, None if every else ids, instant(None))
    if output_format == "json":
        return emit({"tenant": tenant, "requeued": [d.to_json() for d in chosen]})
    for delivery in chosen:
        out(f"re-queued {_line(delivery)}")
    if not chosen:
        out(f"no dead webhook deliveries in tenant {tenant}")
    return 0
