"""Delivery: what is queued (mail, webhooks, work left for later) sealed into the
transactional outbox with whatever caused it, and the relay workers that claim it, hand it
to a transport (the gateway's SMTP or Maildir, its webhook HTTP), retry with back-off on a
temporary failure and give up in time. Which failure is which, and when to give up, is
decided here; the transports only report."""


from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from trademail import metrics
from trademail.clock import Clock
from trademail.config import RelayConfig
from trademail.crypto import Keyring
from trademail.errors import PermanentFailure, TemporaryFailure
from trademail.events import Events
from trademail.ids import new_id
from trademail.store import NewOutboxRow, OutboxRow, OutboxStore

log = structlog.get_logger(__name__)

LEASE_SECONDS = 300.0  # longer than any one delivery may take (the SMTP timeout is 60 s)
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class OutboundMail:
    """One SMTP transaction: envelope sender, recipients and the finished message bytes."""

    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes


@dataclass(frozen=True)
class Webhook:
    """One signed HTTP POST to a member's endpoint."""

    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class Job:
    """Work a request leaves for later, so its answer takes the same time whatever the
    work turns out to be (a password reset for an account that may not exist)."""

    name: str
    arguments: dict[str, str]


@dataclass(frozen=True)
class Letter:
    """A mail the relay composes when it delivers it: the request that causes it writes
    only what the mail will say, and the costly MIME work leaves the request's path."""

    envelope_from: str
    recipients: tuple[str, ...]
    template: str  # what renders it: see Relay's `render`
    fields: dict[str, object]
    written_at: float  # the mail's Date, whenever it is composed


Delivery = OutboundMail | Webhook | Job | Letter
Render = Callable[[Letter], bytes]
Sign = Callable[[bytes], Awaitable[bytes]]  # a finished mail, with its DKIM signatures


class Outbox:
    def __init__(self, store: OutboxStore, keyring: Keyring, clock: Clock, events: Events) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock
        self._events = events

    def seal(self, delivery: Delivery, member_id: str | None,
             outbox_id: str | None = None) -> NewOutboxRow:
        """The row to write with whatever caused it, in the same transaction."""
        now = self._clock.now()
        outbox_id = outbox_id or new_id(now)
        payload: dict[str, object]
        if isinstance(delivery, OutboundMail):
            kind = "mail"
            payload = {"from": delivery.envelope_from, "to": list(delivery.recipients),
                       "data": delivery.data.decode("latin-1")}
        elif isinstance(delivery, Job):
            kind = "job"
            payload = {"name": delivery.name, "arguments": delivery.arguments}
        elif isinstance(delivery, Letter):
            kind = "letter"
            payload = {"from": delivery.envelope_from, "to": list(delivery.recipients),
                       "template": delivery.template, "fields": delivery.fields,
                       "at": delivery.written_at}
        else:
            kind = "webhook"
            payload = {"url": delivery.url, "headers": [list(h) for h in delivery.headers],
                       "body": delivery.body.decode("latin-1")}
        sealed = self._keyring.seal_outbound(outbox_id, json.dumps(payload).encode())
        return NewOutboxRow(outbox_id, kind, member_id, now, sealed)

    async def enqueue(self, delivery: Delivery, member_id: str | None) -> str:
        """Queue one delivery in a transaction of its own; returns the outbox id."""
        row = self.seal(delivery, member_id)
        await self.enqueue_rows([row])
        return row.id

    async def enqueue_rows(self, rows: Sequence[NewOutboxRow]) -> None:
        """Queue sealed deliveries in a transaction of their own, and wake the relay."""
        await self._store.enqueue(rows)
        await self.wake()

    async def sender_of(self, outbox_id: str) -> str | None:
        """The member a queued delivery was made for (or on behalf of), if it is known."""
        return await self._store.outbox_member(outbox_id)

    async def wake(self) -> None:
        """Tell the relay workers (in every server process) that rows were committed."""
        await self._events.publish("outbox", "")

    def open(self, row: OutboxRow) -> Delivery:
        payload = json.loads(self._keyring.open_outbound(row.id, row.payload_ct))
        if row.kind == "mail":
            return OutboundMail(payload["from"], tuple(payload["to"]),
                                payload["data"].encode("latin-1"))
        if row.kind == "job":
            return Job(payload["name"], payload["arguments"])
        if row.kind == "letter":
            return Letter(payload["from"], tuple(payload["to"]), payload["template"],
                          payload["fields"], payload["at"])
        return Webhook(payload["url"], tuple((k, v) for k, v in payload["headers"]),
                       payload["body"].encode("latin-1"))


class MailTransport(Protocol):
    """Where outbound mail goes (the gateway's smarthost or Maildir). Raises
    TemporaryFailure or PermanentFailure."""

    async def send(self, mail: OutboundMail) -> None: ...


class WebhookSender(Protocol):
    """Posts a webhook (the gateway's HTTP client). Raises TemporaryFailure or
    PermanentFailure."""

    async def post(self, hook: Webhook) -> None: ...


# Told of a delivery that failed for good, with the enhanced status code of the mail
# server's refusal ("" when it was no mail server's).
FailureHook = Callable[[OutboxRow, str], Awaitable[None]]
JobWorker = Callable[[dict[str, str]], Awaitable[None]]


class Relay:
    def __init__(self, store: OutboxStore, outbox: Outbox, mail: MailTransport, clock: Clock,
                 config: RelayConfig, *, render: Render,
                 webhooks: WebhookSender | None = None,
                 jobs: Mapping[str, JobWorker] | None = None,
                 on_permanent_failure: FailureHook | None = None,
                 sign: Sign | None = None) -> None:
        self._jobs = dict(jobs or {})
        self._sign = sign
        self._render = render
        self._store = store
        self._outbox = outbox
        self._mail = mail
        self._webhooks = webhooks
        self._clock = clock
        self._config = config
        self._on_permanent_failure = on_permanent_failure

    async def run_once(self) -> int:
        """Claim what is due and deliver it; the number of rows attempted."""
        rows = await self._claim(self._config.workers)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _claim(self, limit: int) -> list[OutboxRow]:
        return await self._store.claim_outbox(self._clock.now(), LEASE_SECONDS, limit)

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            delivery = self._outbox.open(row)
            if isinstance(delivery, Letter):
                delivery = OutboundMail(delivery.envelope_from, delivery.recipients,
                                        self._render(delivery))
            if isinstance(delivery, OutboundMail):
                if self._sign is not None:  # every mail, as it leaves: signed by today's keys
                    delivery = OutboundMail(delivery.envelope_from, delivery.recipients,
                                            await self._sign(delivery.data))
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
            await self._fail(row, str(exc), exc.status)
        except Exception as exc:  # a bug must not wedge the queue: retry like a 4xx
            log.exception("delivery crashed", outbox_id=row.id)
            await self._retry_or_give_up(row, f"internal: {exc.__class__.__name__}")
        else:
            await self._store.outbox_sent(row)
            metrics.RELAY_DELIVERED.labels(row.kind).inc()
            log.info("delivered", outbox_id=row.id, kind=row.kind, attempts=row.attempts)

    async def _retry_or_give_up(self, row: OutboxRow, error: str) -> None:
        now = self._clock.now()
        if now - row.created_at >= self._config.give_up_after_seconds:
            await self._fail(row, f"gave up after {row.attempts} attempts: {error}")
            return
        wait = min(self._config.retry_base_seconds * 2 ** (row.attempts - 1),
                   self._config.retry_max_seconds)
        await self._store.outbox_retry(row, now + wait, error)
        metrics.RELAY_FAILURES.labels(row.kind, "deferred").inc()
        log.info("delivery deferred", outbox_id=row.id, kind=row.kind, error=error,
                 retry_in=wait)

    async def _fail(self, row: OutboxRow, error: str, status: str = "") -> None:
        if not await self._store.outbox_failed(row, error):
            return  # another worker owns the row now
        metrics.RELAY_FAILURES.labels(row.kind, "failed").inc()
        log.warning("delivery failed for good", outbox_id=row.id, kind=row.kind, error=error)
        if self._on_permanent_failure is not None:
            await self._on_permanent_failure(row, status)

    async def run(self, events: Events) -> None:
        """Deliver until cancelled, up to `workers` at once: a slot that frees is filled
        at once with the next due row (a slow delivery holds up no other); with nothing
        due, wait to be woken, or look again every few seconds."""
        running: set[asyncio.Task[None]] = set()
        try:
            async with events.subscribe("outbox") as wake:
                while True:
                    free = self._config.workers - len(running)
                    rows = await self._claim_logged(free) if free > 0 else []
                    for row in rows:
                        task = asyncio.create_task(self._deliver_logged(row))
                        running.add(task)
                        task.add_done_callback(running.discard)
                    if free > 0 and len(rows) < free:  # nothing more is due now
                        await _first_of(running, wake)
                    elif running:  # every slot busy: go on when one frees
                        await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Stopping: deliveries in flight are cancelled; their rows stay claimed until
            # the lease runs out and are delivered again then (at least once, as ever).
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _claim_logged(self, limit: int) -> list[OutboxRow]:
        try:
            return await self._claim(limit)
        except Exception:  # the database away for a moment: look again later
            log.exception("relay could not claim outbox rows")
            return []

    async def _deliver_logged(self, row: OutboxRow) -> None:
        try:
            await self._deliver(row)
        except Exception:  # the outcome could not be written: the lease runs out, retried
            log.exception("relay could not record a delivery", outbox_id=row.id)


async def _first_of(running: set[asyncio.Task[None]], wake: asyncio.Queue[str]) -> None:
    """Wait for a wake-up, a delivery that finishes (its slot is free) or the poll
    interval, whichever comes first."""
    woken = asyncio.ensure_future(wake.get())
    try:
        await asyncio.wait({woken, *running}, timeout=POLL_SECONDS,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
    while not wake.empty():
        wake.get_nowait()
