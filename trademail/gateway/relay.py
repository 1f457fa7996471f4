"""Relay workers: claim due outbox rows, deliver them (or do the job they hold), retry with
back-off, give up in time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import structlog

from trademail.clock import Clock
from trademail.config import RelayConfig
from trademail.events import Events
from trademail.gateway.transports import MailTransport, PermanentFailure, TemporaryFailure
from trademail.services.outbox import Job, OutboundMail, Outbox, Webhook
from trademail.store import OutboxRow, OutboxStore

log = structlog.get_logger(__name__)

LEASE_SECONDS = 300.0  # longer than any one delivery may take (the SMTP timeout is 60 s)
POLL_SECONDS = 5.0


class WebhookSender(Protocol):
    async def post(self, hook: Webhook) -> None: ...


FailureHook = Callable[[OutboxRow, str], Awaitable[None]]
JobWorker = Callable[[dict[str, str]], Awaitable[None]]


class Relay:
    def __init__(self, store: OutboxStore, outbox: Outbox, mail: MailTransport, clock: Clock,
                 config: RelayConfig, *, webhooks: WebhookSender | None = None,
                 jobs: Mapping[str, JobWorker] | None = None,
                 on_permanent_failure: FailureHook | None = None) -> None:
        self._jobs = dict(jobs or {})
        self._store = store
        self._outbox = outbox
        self._mail = mail
        self._webhooks = webhooks
        self._clock = clock
        self._config = config
        self._on_permanent_failure = on_permanent_failure

    async def run_once(self) -> int:
        """Claim what is due and deliver it; the number of rows attempted."""
        rows = await self._store.claim_outbox(self._clock.now(), LEASE_SECONDS,
                                              self._config.workers)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            delivery = self._outbox.open(row)
            if isinstance(delivery, OutboundMail):
                await self._mail.send(delivery)
            elif isinstance(delivery, Job):
                if delivery.name not in self._jobs:
                    raise PermanentFailure(f"no worker for {delivery.name} jobs")
                await self._jobs[delivery.name](delivery.arguments)
            elif self._webhooks is not None:
                await self._webhooks.post(delivery)
            else:
                raise PermanentFailure("no webhook sender configured")
        except TemporaryFailure as exc:
            await self._retry_or_give_up(row, str(exc))
        except PermanentFailure as exc:
            await self._fail(row, str(exc))
        except Exception as exc:  # a bug must not wedge the queue: retry like a 4xx
            log.exception("delivery crashed", outbox_id=row.id)
            await self._retry_or_give_up(row, f"internal: {exc.__class__.__name__}")
        else:
            await self._store.outbox_sent(row)
            log.info("delivered", outbox_id=row.id, kind=row.kind, attempts=row.attempts)

    async def _retry_or_give_up(self, row: OutboxRow, error: str) -> None:
        now = self._clock.now()
        if now - row.created_at >= self._config.give_up_after_seconds:
            await self._fail(row, f"gave up after {row.attempts} attempts: {error}")
            return
        wait = min(self._config.retry_base_seconds * 2 ** (row.attempts - 1),
                   self._config.retry_max_seconds)
        await self._store.outbox_retry(row, now + wait, error)
        log.info("delivery deferred", outbox_id=row.id, kind=row.kind, error=error,
                 retry_in=wait)

    async def _fail(self, row: OutboxRow, error: str) -> None:
        if not await self._store.outbox_failed(row, error):
            return  # another worker owns the row now
        log.warning("delivery failed for good", outbox_id=row.id, kind=row.kind, error=error)
        if self._on_permanent_failure is not None:
            await self._on_permanent_failure(row, error)

    async def run(self, events: Events) -> None:
        """Deliver until cancelled: at once when woken, else every few seconds."""
        async with events.subscribe("outbox") as wake:
            while True:
                try:
                    busy = await self.run_once()
                except Exception:
                    log.exception("relay pass failed")
                    busy = 0
                if busy:
                    continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.get(), POLL_SECONDS)
                while not wake.empty():
                    wake.get_nowait()
