"""Rows of the transactional outbox, and the one insert every transaction that queues
a delivery shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.store.db import Connection


@dataclass(frozen=True)
class NewOutboxRow:
    id: str
    kind: str
    member_id: str | None
    created_at: float
    payload_ct: bytes


@dataclass(frozen=True)
class OutboxRow:
    id: str
    kind: str
    member_id: str | None
    created_at: float
    attempts: int
    payload_ct: bytes
    lease: float = 0.0  # the claim this worker holds; outcomes only count while it holds


async def insert_outbox(tx: Connection, rows: Sequence[NewOutboxRow]) -> None:
    if rows:
        await tx.executemany(
            "INSERT INTO outbox (id, kind, member_id, created_at, next_attempt_at, payload_ct) "
            "VALUES ($1, $2, $3, $4, $4, $5)",
            [(r.id, r.kind, r.member_id, r.created_at, r.payload_ct) for r in rows])
