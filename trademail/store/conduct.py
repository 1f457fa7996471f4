"""How members treat each other: what each sent when (for the sending limits), who has
written to whom, and the blocks members set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trademail.errors import Conflict
from trademail.store.caps import insert_capped
from trademail.store.db import Connection, Database, Duplicate, in_list
from trademail.store.inserts import Insert


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

    @property
    def limited(self) -> list[Window]:
        """The windows with a limit to keep (a limit of 0 is none)."""
        return [w for w in self.windows if w.limit]


class LimitFull(Exception):
    """A window is full: nothing of the message may be written (the transaction is rolled
    back). `wait` is the seconds until it frees enough places, infinite when the message
    alone is more than the window takes."""

    def __init__(self, window: Window, wait: float) -> None:
        super().__init__(window.name)
        self.window = window
        self.wait = wait


async def check_send(tx: Connection, count: SendCount, *, lock: bool) -> None:
    """Raise LimitFull if the message does not fit the sender's limits. The sender's row
    is locked first (`lock`: PostgreSQL; SQLite has one writer anyway), so parallel sends
    see each other; with no limit to keep, nothing is read and nothing waits."""
    if count.limited:
        if lock:
            await tx.fetch("SELECT id FROM members WHERE id = $1 FOR UPDATE", count.member_id)
        await _check(tx, count, count.limited)


def send_rows(count: SendCount) -> list[Insert]:
    """The rows that count one message, written with it."""
    member_id = count.member_id
    return [
        Insert("send_log", (("member_id", "text"), ("created_at", "float8")),
               [(member_id, count.now)]),
        # A first message either way makes the pair; an answer makes none.
        Insert("pairs", (("member_id", "text"), ("other_id", "text"), ("first_at", "float8")),
               [(member_id, other, count.now) for other in count.recipients
                if other != member_id],
               where="NOT EXISTS (SELECT 1 FROM pairs p WHERE p.member_id = u.other_id "
                     "AND p.other_id = u.member_id)",
               tail="ON CONFLICT DO NOTHING"),
    ]


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

    async def partners(self, member_id: str, limit: int) -> list[str]:
        """The members this member has written with (either side first), most recently
        met first."""
        rows = await self.db.fetch(
            "SELECT id FROM (SELECT other_id AS id, first_at FROM pairs WHERE member_id = $1 "
            "UNION ALL SELECT member_id AS id, first_at FROM pairs WHERE other_id = $1) AS p "
            "GROUP BY id ORDER BY max(first_at) DESC, id LIMIT $2", member_id, limit)
        return [r["id"] for r in rows]

    async def forget_sends(self, before: float) -> None:
        await self.db.execute("DELETE FROM send_log WHERE created_at < $1", before)

    # ------------------------------------------------------------------ blocks

    async def add_block(self, block: BlockRow, limit: int) -> bool:
        """Whether the block was added: not when the member has `limit` already."""
        try:
            return await insert_capped(
                self.db, "blocks", block.member_id, limit,
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
