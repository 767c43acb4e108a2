"""Events to webhooks, the server's part: the background deliverer and the `/_sandbox/dlq` endpoint.

`deliver(sandbox)` runs beside the server while it has webhooks: each round it relays the new log entries into
the outbox (`Store.outbox.relay`), then, for each webhook in turn, POSTs its due deliveries as CloudEvents in
structured JSON mode (`application/cloudevents+json`) and books every attempt. Order per webhook is strict: a
webhook gets its events in log order, one request at a time, and a failing event holds back the later ones until
it is delivered or dead (dead ones no longer hold anything back). Webhooks do not wait for each other's retries.
Delivery is at least once: a receiver that answered 2xx but whose answer was lost, or a server stopped between
the request and its booking, gets the event again, with the same `id` to deduplicate by.

Every store use goes through `sandbox.call`; the clock is the sandbox's, the jitter a function injected by the
CLI (`crmctl serve` seeds a `random.Random`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from crmctl.runtime.webhooks import CONTENT_TYPE, DEFAULT_POLICY, RetryPolicy
from crmctl.web.problems import ProblemError, read_json

if TYPE_CHECKING:
    import httpx2 as httpx

    from crmctl.runtime.storage.outbox import Attempt, Delivery
    from crmctl.web.sandbox import Sandbox

__all__ = ["BATCH", "BOOK_SECONDS", "POLL_SECONDS", "TIMEOUT_SECONDS", "deliver", "deliver_once", "routes"]

log = logging.getLogger("crmctl.serve.webhooks")

POLL_SECONDS = 0.5
"""How often the deliverer looks for new log entries and due retries when it has nothing to do."""
TIMEOUT_SECONDS = 10.0
"""A webhook's answer must come within this (connect, write, read); a slower one is a failed attempt."""
BATCH = 100
"""Deliveries read from the outbox per webhook per round."""
BOOK_SECONDS = 0.5
"""Attempts are booked in batches (one store write each) at least this often within a round."""
_ANSWER_BYTES = 1024  # read of an answer at most, for the error text; the rest is never read


async def _post(client: httpx.AsyncClient, url: str, delivery: Delivery, at: Any, limit: float) -> Attempt:
    import httpx2 as httpx

    from crmctl.runtime.eventlog import dumps
    from crmctl.runtime.storage.outbox import Attempt

    started = time.monotonic()
    code, error = None, None
    try:
        async with asyncio.timeout(limit):  # the whole attempt: a receiver trickling its answer a byte at a time
            code, error = await _exchange(client, url, dumps(delivery.event).encode("utf-8"))
    except TimeoutError:
        code, error = None, "timed out"
    except httpx.TimeoutException:
        error = "timed out"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    duration = (time.monotonic() - started) * 1000
    return Attempt(url, delivery.event_id, at, code, error, duration)


async def _exchange(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[int, str | None]:
    """POST `body`; the status code, and the error text of a failure (the answer's first KiB)."""
    request = client.build_request("POST", url, content=body, headers={"content-type": CONTENT_TYPE})
    response = await client.send(request, stream=True)
    try:
        code = response.status_code
        if 200 <= code < 300:
            return code, None
        answer = b""
        async for chunk in response.aiter_bytes():
            answer += chunk
            if len(answer) >= _ANSWER_BYTES:
                break
        text = answer[:_ANSWER_BYTES].decode("utf-8", "replace").strip()
        return code, f"HTTP {code}" + (f": {text}" if text else "")
    finally:
        await response.aclose()


async def deliver_once(
    sandbox: Sandbox,
    client: httpx.AsyncClient,
    policy: RetryPolicy,
    jitter: Callable[[], float],
    timeout: float = TIMEOUT_SECONDS,
) -> int:
    """One round: relay new entries, then deliver what is due to each webhook in order; the attempts made. The
    webhooks are served side by side, so one that hangs (up to `timeout` per attempt) holds up no other."""
    store, tenant, webhooks = sandbox.store, sandbox.settings.tenant, sandbox.settings.webhooks
    await sandbox.call(store.outbox.relay, tenant, webhooks, sandbox.clock())

    async def one(url: str) -> int:
        due = await sandbox.call(store.outbox.due, tenant, url, sandbox.clock(), BATCH)
        pending: list[Attempt] = []
        made, booked_at = 0, time.monotonic()

        async def book() -> None:
            nonlocal pending, made, booked_at
            if pending:
                batch, pending = pending, []
                await sandbox.call(store.outbox.record, tenant, batch, policy, [jitter() for _ in batch])
                made += len(batch)
            booked_at = time.monotonic()

        try:
            for delivery in due:
                pending.append(await _post(client, url, delivery, sandbox.clock(), timeout))
                if not pending[-1].ok:
                    break  # strict order: the later ones wait for this one
                if time.monotonic() - booked_at >= BOOK_SECONDS:
                    await book()  # a server killed mid-round sends again only what it sent since
        finally:
            await book()  # also when the server stops mid-round: what was sent is booked, not sent again
        return made

    # every webhook's round ends (booked) before the next round: none is left running beside it
    made = await asyncio.gather(*(one(url) for url in webhooks), return_exceptions=True)
    for outcome in made:
        if isinstance(outcome, BaseException):
            raise outcome
    return sum(n for n in made if isinstance(n, int))


async def deliver(
    sandbox: Sandbox,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    jitter: Callable[[], float] | None = None,
    poll: float = POLL_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    """Deliver the sandbox's events to its webhooks until cancelled (started by `build_app` as a background job).
    `jitter` draws the backoff's jitter in [0, 1) (default: none, 0.0)."""
    import httpx2 as httpx

    draw = jitter or (lambda: 0.0)
    limits = httpx.Timeout(timeout)
    async with httpx.AsyncClient(timeout=limits, follow_redirects=False, trust_env=False) as client:
        while True:
            try:
                made = await deliver_once(sandbox, client, policy, draw, timeout)
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; the server keeps serving
                log.exception("webhook delivery failed")
                made = 0
            if not made:
                await asyncio.sleep(poll)


# -- /_sandbox/dlq -----------------------------------------------------------------------------------------------


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    """`GET /_sandbox/dlq`: the dead deliveries; `POST /_sandbox/dlq` with `{"ids": [...]}` or `{"all": true}`:
    re-queue them (the running deliverer sends them again)."""

    async def dead(_: Request) -> JSONResponse:
        found = await sandbox.call(sandbox.store.outbox.dead, sandbox.settings.tenant)
        return JSONResponse({"tenant": sandbox.settings.tenant, "deliveries": [d.to_json() for d in found]})

    async def retry(request: Request) -> JSONResponse:
        body = await read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        every = isinstance(body, dict) and body.get("all") is True
        if every == (ids is not None) or (ids is not None and not _strings(ids)):
            raise ProblemError(
                400, "bad-retry", "Bad retry request", 'send {"ids": ["<event id>", ...]} or {"all": true}'
            )
        chosen = await sandbox.call(
            sandbox.store.outbox.retry, sandbox.settings.tenant, None if every else ids, sandbox.clock()
        )
        requeued = {d.event_id for d in chosen}
        missing = [i for i in ids or () if i not in requeued]
        return JSONResponse({"requeued": [d.to_json() for d in chosen], "notDead": missing})

    return [Route("/_sandbox/dlq", dead, methods=["GET"]), Route("/_sandbox/dlq", retry, methods=["POST"])]


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
