"""Outbound deliveries: sealed into the outbox in the caller's transaction, sent later."""

from __future__ import annotations

import json
from dataclasses import dataclass

from trademail.clock import Clock
from trademail.crypto import Keyring
from trademail.ids import new_id
from trademail.store import NewOutboxRow, OutboxRow, Store


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


Delivery = OutboundMail | Webhook


class Outbox:
    def __init__(self, store: Store, keyring: Keyring, clock: Clock) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock

    def seal(self, delivery: Delivery, member_id: str | None,
             outbox_id: str | None = None) -> NewOutboxRow:
        """The row to write with whatever caused it (pass it to `Store.deliver`)."""
        now = self._clock.now()
        outbox_id = outbox_id or new_id(now)
        payload: dict[str, object]
        if isinstance(delivery, OutboundMail):
            kind = "mail"
            payload = {"from": delivery.envelope_from, "to": list(delivery.recipients),
                       "data": delivery.data.decode("latin-1")}
        else:
            kind = "webhook"
            payload = {"url": delivery.url, "headers": [list(h) for h in delivery.headers],
                       "body": delivery.body.decode("latin-1")}
        sealed = self._keyring.seal_outbound(outbox_id, json.dumps(payload).encode())
        return NewOutboxRow(outbox_id, kind, member_id, now, sealed)

    async def enqueue(self, delivery: Delivery, member_id: str | None) -> str:
        """Queue one delivery in a transaction of its own; returns the outbox id."""
        row = self.seal(delivery, member_id)
        await self._store.enqueue([row])
        return row.id

    def open(self, row: OutboxRow) -> Delivery:
        payload = json.loads(self._keyring.open_outbound(row.id, row.payload_ct))
        if row.kind == "mail":
            return OutboundMail(payload["from"], tuple(payload["to"]),
                                payload["data"].encode("latin-1"))
        return Webhook(payload["url"], tuple((k, v) for k, v in payload["headers"]),
                       payload["body"].encode("latin-1"))
