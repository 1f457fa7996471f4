"""How members treat each other: what each sent when (for the sending limits), who has
written to whom, and the blocks members set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.errors import Conflict
from trademail.store.db import Connection, Database, Duplicate, in_list


@dataclass(frozen=True)
class Window:
    """At most `limit` of something within `seconds`; `name` says which limit it is."""

    name: str
    seconds: float
    limit: int
    new_correspondents: bool = False  # counts first messages to members, not messages


@dataclass(frozen=True)
class BlockRow:
    member_id: str
    id: str
    kind: str      # member (target: a member id) or address (target: its keyed digest)
    target: str
    label_ct: bytes
    mode: str      # refuse or file
    created_at: float


_BLOCK = "member_id, id, kind, target, label_ct, mode, created_at"


@dataclass(frozen=True)
class SendCount:
    """One message counted against its sender's limits, in the transaction that writes
    it: a message that is not delivered is not counted."""

    member_id: str
    recipients: tuple[str, ...]  # member ids
    now: float
    windows: tuple[Window, ...]


class LimitFull(Exception):
    """A window is full: nothing of the message may be written (the transaction is rolled
    back). `wait` is the seconds until it frees enough places, infinite when the message
    alone is more than the window takes."""

    def __init__(self, window: Window, wait: float) -> None:
        super().__init__(window.name)
        self.window = window
        self.wait = wait


async def count_send(tx: Connection, count: SendCount, *, lock: bool) -> None:
    """Count one message, or raise LimitFull. With a limit to keep, the sender's row is
    locked first (`lock`: PostgreSQL; SQLite has one writer anyway), so parallel sends see
    each other; with none, nothing waits."""
    member_id, windows = count.member_id, [w for w in count.windows if w.limit]
    if windows:
        if lock:
            await tx.fetch("SELECT id FROM members WHERE id = $1 FOR UPDATE", member_id)
        await _check(tx, count, windows)
    await tx.execute("INSERT INTO send_log (member_id, created_at) VALUES ($1, $2)",
                     member_id, count.now)
    # A first message either way makes the pair; an answer makes none.
    await tx.executemany("INSERT INTO pairs (member_id, other_id, first_at) "
                         "SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM pairs "
                         "WHERE member_id = $2 AND other_id = $1) ON CONFLICT DO NOTHING",
                         [(member_id, other, count.now) for other in count.recipients
                          if other != member_id])


async def _check(tx: Connection, count: SendCount, windows: Sequence[Window]) -> None:
    member_id, recipients, now = count.member_id, count.recipients, count.now
    # Who has written to whom, either way: answering someone is no first message.
    marks = in_list(2, len(recipients))
    known = {r["id"] for r in await tx.fetch(
        f"SELECT other_id AS id FROM pairs WHERE member_id = $1 AND other_id IN "
        f"({marks}) UNION SELECT member_id AS id FROM pairs WHERE other_id = $1 AND "
        f"member_id IN ({marks})", member_id, *recipients)} if recipients else set()
    new = sorted(set(recipients) - known - {member_id})
    for window in windows:
        if window.new_correspondents and not new:
            continue
        table, column = (("pairs", "first_at") if window.new_correspondents
                         else ("send_log", "created_at"))
        times = [r[column] for r in await tx.fetch(
            f"SELECT {column} FROM {table} WHERE member_id = $1 AND {column} > $2 "
            f"ORDER BY {column}", member_id, now - window.seconds)]
        adding = len(new) if window.new_correspondents else 1
        if adding > window.limit:  # this message alone is too much: it never fits
            raise LimitFull(window, float("inf"))
        if len(times) + adding > window.limit:
            frees = times[max(0, len(times) + adding - window.limit - 1)]
            raise LimitFull(window, max(1.0, frees + window.seconds - now))


class ConductStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget_sends(self, before: float) -> None:
        await self.db.execute("DELETE FROM send_log WHERE created_at < $1", before)

    # ------------------------------------------------------------------ blocks

    async def add_block(self, block: BlockRow) -> None:
        try:
            await self.db.execute(
                f"INSERT INTO blocks ({_BLOCK}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                block.member_id, block.id, block.kind, block.target, block.label_ct,
                block.mode, block.created_at)
        except Duplicate:
            raise Conflict("you block them already", "who") from None

    async def remove_block(self, member_id: str, block_id: str) -> bool:
        async with self.db.transaction() as tx:
            rows = await tx.fetch("DELETE FROM blocks WHERE member_id = $1 AND id = $2 "
                                  "RETURNING id", member_id, block_id)
        return bool(rows)

    async def blocks_of(self, member_id: str) -> list[BlockRow]:
        rows = await self.db.fetch(
            f"SELECT {_BLOCK} FROM blocks WHERE member_id = $1 ORDER BY created_at, id",
            member_id)
        return [BlockRow(r["member_id"], r["id"], r["kind"], r["target"], bytes(r["label_ct"]),
                         r["mode"], r["created_at"]) for r in rows]

    async def blocked_by(self, member_ids: Sequence[str], kind: str,
                         target: str) -> dict[str, str]:
        """Which of `member_ids` block this member or address, and how (refuse or file)."""
        if not member_ids:
            return {}
        rows = await self.db.fetch(
            "SELECT member_id, mode FROM blocks WHERE kind = $1 AND target = $2 AND "
            f"member_id IN ({in_list(3, len(member_ids))})", kind, target, *member_ids)
        return {r["member_id"]: r["mode"] for r in rows}
