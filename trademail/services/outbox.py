"""Outbound deliveries, and work done later: sealed into the outbox in the caller's
transaction, carried out by the relay workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.events import Events
from trademail.ids import new_id
from trademail.store import NewOutboxRow, OutboxRow, OutboxStore


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


Delivery = OutboundMail | Webhook | Job


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
        return Webhook(payload["url"], tuple((k, v) for k, v in payload["headers"]),
                       payload["body"].encode("latin-1"))
