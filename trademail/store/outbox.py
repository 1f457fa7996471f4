"""The transactional outbox: deliveries written with what caused them, claimed by relay
workers under a lease, and what became of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trademail.store.db import Connection, Database
from trademail.store.inserts import Insert, insert_all


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


def outbox_rows(rows: Sequence[NewOutboxRow]) -> Insert:
    """Outbox rows to write with whatever causes them (due at once)."""
    return Insert("outbox", (("id", "text"), ("kind", "text"), ("member_id", "text"),
                             ("created_at", "float8"), ("next_attempt_at", "float8"),
                             ("payload_ct", "bytea")),
                  [(r.id, r.kind, r.member_id, r.created_at, r.created_at, r.payload_ct)
                   for r in rows])


async def insert_outbox(tx: Connection, rows: Sequence[NewOutboxRow]) -> None:
    await insert_all(tx, [outbox_rows(rows)])


class OutboxStore:
    """Outbox rows; the payload is sealed, and dropped once the row is done."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, rows: Sequence[NewOutboxRow]) -> None:
        async with self.db.transaction() as tx:
            await insert_outbox(tx, rows)

    async def claim_outbox(self, now: float, lease_seconds: float, limit: int) -> list[OutboxRow]:
        """Lease up to `limit` due rows to this worker; no other worker gets them meanwhile.

        On PostgreSQL, SKIP LOCKED lets many workers in many processes claim side by side;
        SQLite's single writer serialises the claims anyway.
        """
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        rows = await self.db.write(
            "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' "
            "AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) "
            f"ORDER BY next_attempt_at LIMIT $3{lock}) "
            "RETURNING id, kind, member_id, created_at, attempts, payload_ct",
            now, now + lease_seconds, limit)
        return [OutboxRow(r["id"], r["kind"], r["member_id"], r["created_at"], r["attempts"],
                          bytes(r["payload_ct"]), now + lease_seconds) for r in rows]

    async def backlog(self) -> tuple[int, float | None]:
        """How many rows wait to be delivered, and when the oldest of them was made."""
        row = await self.db.fetchrow(
            "SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE state = 'pending'")
        return (int(row["n"]), row["oldest"]) if row else (0, None)

    async def outbox_sent(self, row: OutboxRow) -> bool:
        return await self._outbox_outcome(
            "UPDATE outbox SET state = 'sent', payload_ct = NULL, claimed_until = NULL, "
            "last_error = NULL WHERE id = $1 AND claimed_until = $2 RETURNING id",
            row.id, row.lease)

    async def outbox_retry(self, row: OutboxRow, next_attempt_at: float, error: str) -> bool:
        return await self._outbox_outcome(
            "UPDATE outbox SET next_attempt_at = $3, claimed_until = NULL, last_error = $4 "
            "WHERE id = $1 AND claimed_until = $2 RETURNING id",
            row.id, row.lease, next_attempt_at, error)

    async def outbox_failed(self, row: OutboxRow, error: str) -> bool:
        return await self._outbox_outcome(
            "UPDATE outbox SET state = 'failed', payload_ct = NULL, claimed_until = NULL, "
            "last_error = $3 WHERE id = $1 AND claimed_until = $2 RETURNING id",
            row.id, row.lease, error)

    async def _outbox_outcome(self, sql: str, *args: Any) -> bool:
        return bool(await self.db.write(sql, *args))

    async def forget_delivered(self, older_than: float) -> None:
        """Delivered and given-up rows hold no payload; keep their trace for a while only."""
        await self.db.execute("DELETE FROM outbox WHERE state <> 'pending' AND created_at < $1",
                              older_than)

    async def outbox_state(self, outbox_id: str) -> tuple[str, int, str | None] | None:
        row = await self.db.fetchrow(
            "SELECT state, attempts, last_error FROM outbox WHERE id = $1", outbox_id)
        return None if row is None else (row["state"], row["attempts"], row["last_error"])

    async def outbox_member(self, outbox_id: str) -> str | None:
        return await self.db.fetchval("SELECT member_id FROM outbox WHERE id = $1", outbox_id)
